"""Period reports for Dinas Sosial Buleleng: caseload, response times and SLA breaches. Pure.

The period is whole local days, ``[date_from 00:00, date_to + 1 day 00:00)`` in the calendar's
timezone (WITA). Durations are WORKING DAYS: `working_seconds_between / office_seconds_per_day`.
Median and p90 use the NEAREST-RANK method: the value at 1-based rank ``ceil(p/100 * n)`` of the
sorted values, so always an observed value (for an even n the median is the lower middle value);
rounded to 2 decimals. By pendamping, a case counts under whoever held it at the end of the period
(``pendamping_at_end``, else ``pendamping_id``), a breach under the ``pendamping_id`` of its row.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from referral import reference
from referral.calendar import WorkingCalendar

GROUPINGS = ("kecamatan", "village", "pendamping", "bidang", "category")
FORMATS = ("table", "csv", "json", "png")
CLOCKS = ("acknowledgement", "verification", "follow_up_plan", "completion")
_SHORT = {"acknowledgement": "ack", "verification": "verif", "follow_up_plan": "plan", "completion": "compl"}
UNASSIGNED = "(unassigned)"
TOTAL = "TOTAL"
Row = Mapping[str, Any]


@dataclass
class GroupStats:
    """The figures of one group (or of the totals row)."""

    group: str
    opened: int = 0
    closed: int = 0
    open_at_end: int = 0
    ack_n: int = 0
    ack_median: float | None = None
    ack_p90: float | None = None
    resolve_n: int = 0
    resolve_median: float | None = None
    resolve_p90: float | None = None
    breaches: dict[str, int] = field(default_factory=dict)

    @property
    def breaches_total(self) -> int:
        return sum(self.breaches.values())


@dataclass
class Report:
    date_from: date
    date_to: date
    by: str
    calendar_version: str
    groups: list[GroupStats]
    totals: GroupStats
    caseload: dict[str, int]  # open cases per pendamping at the end of the period (only those > 0)

    @property
    def clocks(self) -> list[str]:
        """The four SLA clocks, then any other clock name found in the data."""
        seen = {c for g in self.groups for c in g.breaches}
        return [*CLOCKS, *sorted(seen - set(CLOCKS))]


def nearest_rank(values: Iterable[float], pct: int) -> float | None:
    """The nearest-rank percentile: sorted(values)[ceil(pct/100 * n) - 1]; None when empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, -(-pct * len(ordered) // 100))  # integer ceil, no float error
    return ordered[rank - 1]


def period_bounds(date_from: date, date_to: date, calendar: WorkingCalendar) -> tuple[datetime, datetime]:
    """Start (inclusive) and end (exclusive) of the period as aware datetimes in local time."""
    if date_to < date_from:
        raise ValueError(f"date_to {date_to} is before date_from {date_from}")
    start = datetime.combine(date_from, time(0), calendar.tz)
    return start, datetime.combine(date_to + timedelta(days=1), time(0), calendar.tz)


def _moment(value: datetime | str | None) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _pct(values: list[float], pct: int) -> float | None:
    found = nearest_rank(values, pct)
    return None if found is None else round(found, 2)


def group_key(row: Row, by: str, breach: bool = False) -> str:
    """The group a case (or breach) row belongs to under grouping `by`."""
    if by == "pendamping":
        owner = row.get("pendamping_id") if breach else row.get("pendamping_at_end", row.get("pendamping_id"))
        return owner or UNASSIGNED
    if by == "village":
        code = row["village_code"]
        village = reference.villages().get(code)
        return f"{code} {village.name}" if village else code
    return str(row[by])


def build_report(
    cases: Iterable[Row], breaches: Iterable[Row], calendar: WorkingCalendar,
    date_from: date, date_to: date, by: str = "kecamatan",
) -> Report:
    """The report for the period, from case rows and 'breach' event rows (`due_at`, `clock`, group columns).

    opened: received in the period; closed: status closed and closed_at in the period; open_at_end:
    received before the end and not closed/rejected by then; ack/resolve: received_at ->
    acknowledged_at/resolved_at in working days, for cases acknowledged/resolved in the period;
    breaches: per clock, for breaches whose due_at is in the period.
    """
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    start, end = period_bounds(date_from, date_to, calendar)
    inside = lambda t: t is not None and start <= t < end  # noqa: E731
    acc: dict[str, dict[str, Any]] = {}

    def bucket(key: str) -> dict[str, Any]:
        return acc.setdefault(key, {"opened": 0, "closed": 0, "open": 0, "ack": [], "res": [], "breaches": {}})

    caseload: dict[str, int] = {}
    for row in cases:
        received, closed_at = _moment(row["received_at"]), _moment(row.get("closed_at"))
        acked, resolved = _moment(row.get("acknowledged_at")), _moment(row.get("resolved_at"))
        status = row["status"]
        finished = closed_at < end if closed_at is not None else status in ("closed", "rejected")
        figures = {"opened": inside(received), "closed": status == "closed" and inside(closed_at),
                   "open": received < end and not finished}
        per_day = calendar.office_seconds_per_day
        ack = calendar.working_seconds_between(received, acked) / per_day if inside(acked) else None
        res = calendar.working_seconds_between(received, resolved) / per_day if inside(resolved) else None
        if not (any(figures.values()) or ack is not None or res is not None):
            continue
        for key in (group_key(row, by), TOTAL):
            b = bucket(key)
            for name, hit in figures.items():
                b[name] += int(hit)
            if ack is not None:
                b["ack"].append(ack)
            if res is not None:
                b["res"].append(res)
        if figures["open"]:
            owner = group_key(row, "pendamping")
            caseload[owner] = caseload.get(owner, 0) + 1

    for row in (b for b in breaches if inside(_moment(b["due_at"]))):
        for key in (group_key(row, by, breach=True), TOTAL):
            counts = bucket(key)["breaches"]
            counts[row["clock"]] = counts.get(row["clock"], 0) + 1

    def stats(key: str) -> GroupStats:
        b = acc.get(key) or bucket(key)
        return GroupStats(
            key, b["opened"], b["closed"], b["open"], len(b["ack"]), _pct(b["ack"], 50), _pct(b["ack"], 90),
            len(b["res"]), _pct(b["res"], 50), _pct(b["res"], 90), dict(sorted(b["breaches"].items())),
        )

    return Report(
        date_from=date_from, date_to=date_to, by=by, calendar_version=calendar.version,
        groups=[stats(k) for k in sorted(acc) if k != TOTAL], totals=stats(TOTAL),
        caseload=dict(sorted(caseload.items())),
    )


# ---- rendering ----

def _columns(report: Report, short: bool = False) -> list[str]:
    names = ["opened", "closed", "open_at_end", "ack_n", "ack_median_wd", "ack_p90_wd", "resolve_n",
             "resolve_median_wd", "resolve_p90_wd"]
    if short:
        names = ["opened", "closed", "open@end", "ack n", "ack med", "ack p90", "res n", "res med", "res p90"]
    return [report.by, *names, *((f"br {_SHORT.get(c, c)}" if short else f"breach_{c}") for c in report.clocks), "breaches"]


def _cells(g: GroupStats, clocks: list[str]) -> list[Any]:
    return [g.group, g.opened, g.closed, g.open_at_end, g.ack_n, g.ack_median, g.ack_p90, g.resolve_n,
            g.resolve_median, g.resolve_p90, *(g.breaches.get(c, 0) for c in clocks), g.breaches_total]


def _rows(report: Report) -> list[list[Any]]:
    return [_cells(g, report.clocks) for g in [*report.groups, report.totals]]


def title(report: Report) -> str:
    return f"Dinas Sosial Buleleng — {report.date_from.isoformat()} to {report.date_to.isoformat()}"


def render_table(report: Report) -> str:
    """Aligned plain text: the group table, the totals row, then open caseload per pendamping."""
    text = [[("-" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v)) for v in row]
            for row in [_columns(report, short=True), *_rows(report)]]
    widths = [max(len(r[i]) for r in text) for i in range(len(text[0]))]
    line = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    out = [title(report), f"by {report.by}; durations in working days, nearest-rank median/p90;"
           " br = SLA breaches per clock", "",
           line(text[0]), "  ".join("-" * w for w in widths), *(line(r) for r in text[1:-1]),
           "  ".join("-" * w for w in widths), line(text[-1]), "",
           f"Open caseload per pendamping at end of {report.date_to.isoformat()}:"]
    out += [f"  {k.ljust(max(map(len, report.caseload)))}  {v}" for k, v in report.caseload.items()] or ["  (none)"]
    return "\n".join(out) + "\n"


def render_csv(report: Report) -> str:
    """One header line, one line per group, then the totals row (group ``TOTAL``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_columns(report))
    writer.writerows([["" if v is None else v for v in row] for row in _rows(report)])
    return buffer.getvalue()


def to_dict(report: Report) -> dict[str, Any]:
    """A JSON-ready dict: groups, totals and open caseload per pendamping."""
    def group(g: GroupStats) -> dict[str, Any]:
        return {**asdict(g), "breaches_total": g.breaches_total}

    return {
        "title": title(report), "from": report.date_from.isoformat(), "to": report.date_to.isoformat(),
        "by": report.by, "unit": "working_days", "percentile_method": "nearest-rank",
        "calendar_version": report.calendar_version, "groups": [group(g) for g in report.groups],
        "totals": group(report.totals), "open_caseload_by_pendamping": report.caseload,
    }


def render_json(report: Report) -> str:
    """The report as indented JSON (see `to_dict`)."""
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False) + "\n"


def render_png(report: Report, path: str) -> str:
    """A grouped bar chart (opened, closed, breaches per group) saved to `path` with the Agg backend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = [g.group for g in report.groups] or ["(no cases)"]
    series = {"Opened": [g.opened for g in report.groups], "Closed": [g.closed for g in report.groups],
              "SLA breaches": [g.breaches_total for g in report.groups]}
    fig = Figure(figsize=(max(8.0, 0.9 * len(names) + 3), 5.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    width = 0.27
    for i, (label, values) in enumerate(series.items()):
        xs = [x + (i - 1) * width for x in range(len(values))]
        bars = ax.bar(xs, values, width, label=label, color=("#2b6cb0", "#38a169", "#e53e3e")[i])
        ax.bar_label(bars, fontsize=8)
    ax.set_xticks(range(len(names)), names, rotation=30 if len(names) > 6 else 0, ha="right" if len(names) > 6 else "center")
    ax.set(ylabel="cases / breaches", xlabel=report.by, title=title(report))
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.margins(y=0.12)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.savefig(path, dpi=120)
    return path


def render(report: Report, fmt: str, path: str | None = None) -> str:
    """Render as table, csv or json text; png writes `path` and returns it."""
    if fmt not in FORMATS or (fmt == "png" and not path):
        raise ValueError(f"format must be one of {', '.join(FORMATS)} (png needs a path), not {fmt!r}")
    if fmt == "png":
        return render_png(report, path or "")
    return {"table": render_table, "csv": render_csv, "json": render_json}[fmt](report)
