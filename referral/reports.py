"""Period reports for Dinas Sosial Buleleng: caseload, response times, SLA breaches and outcomes. Pure.

The period is whole local days, ``[date_from 00:00, date_to + 1 day 00:00)`` in the calendar's
timezone (WITA). Durations are WORKING DAYS (`working_seconds_between / office_seconds_per_day`) counted
from the report (`reported_at`, the legal start of every clock; `received_at` only for rows without it).
Median and p90 use the NEAREST-RANK method: the value at 1-based rank ``ceil(p/100 * n)`` of the sorted
values, so always an observed value (for an even n the median is the lower middle value); rounded to 2
decimals. A resolution is on time when it comes by the deadline the policy's overall clock gives the case
(report -> resolution: 14 working days, 60 when the assessment needs an investigation, calendar time for
urgent cases), pauses and extensions not counted. Breaches are counted per clock, the overall clock
included. By pendamping, a case counts under whoever held it at the end of the period
(``pendamping_at_end``, else ``pendamping_id``), a breach under the ``pendamping_id`` of its row (who held
the case when the clock breached). By condition, a case with several conditions counts under each, and
the totals count it once. Outcomes: the cases resolved in the period, by `outcome` code.

Rendering: the table and the chart speak the reader's language (Bahasa Indonesia by default, REFERRAL_LANGUAGE);
CSV and JSON keep stable English column codes for tools, with each group's label beside its code.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from referral import i18n, reference
from referral.calendar import WorkingCalendar
from referral.sla import Clock, ClockName, SlaPolicy, Urgency

GROUPINGS = ("kecamatan", "village", "pendamping", "bidang", "category", "condition", "outcome")
FORMATS = ("table", "csv", "json", "png")
CLOCKS = ("acknowledgement", "verification", "follow_up_plan", "completion", "overall")
UNASSIGNED = "(unassigned)"
NONE = "(none)"  # a case without a condition, or not resolved with an outcome
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
    resolve_on_time: int | None = None  # None without a policy to judge by
    breaches: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)

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
    policy_version: str | None = None
    targets: dict[str, str] = field(default_factory=dict)  # "normal" / "normal_investigation" -> "14 working_days"

    @property
    def clocks(self) -> list[str]:
        """The five SLA clocks, then any other clock name found in the data."""
        seen = {c for g in self.groups for c in g.breaches}
        return [*CLOCKS, *sorted(seen - set(CLOCKS))]

    @property
    def outcomes(self) -> list[str]:
        """Outcome codes found, in the catalogue's order, then any other code, then `(none)`."""
        seen = set(self.totals.outcomes)
        ordered = [code for code in outcome_catalogue() if code in seen]
        return ordered + sorted(seen - set(ordered) - {NONE}) + ([NONE] if NONE in seen else [])


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


def group_keys(row: Row, by: str, breach: bool = False) -> list[str]:
    """The groups a case (or breach) row belongs to under grouping `by`: one, or one per condition."""
    if by == "condition":
        return sorted(set(row.get("conditions") or ())) or [NONE]
    if by == "pendamping":
        owner = row.get("pendamping_id") if breach else row.get("pendamping_at_end", row.get("pendamping_id"))
        return [owner or UNASSIGNED]
    if by == "village":
        code = row["village_code"]
        village = reference.villages().get(code)
        return [f"{code} {village.name}" if village else code]
    if by == "outcome":
        return [row.get("outcome") or NONE]
    return [str(row[by])]


def group_key(row: Row, by: str, breach: bool = False) -> str:
    """The first group of `group_keys` (every grouping but `condition` has exactly one)."""
    return group_keys(row, by, breach)[0]


def resolution_deadline(row: Row, calendar: WorkingCalendar, policy: SlaPolicy) -> datetime | None:
    """The overall clock's deadline for a case, from its report, urgency and investigation flag."""
    if not policy.has(ClockName.OVERALL):
        return None
    start = _moment(row.get("reported_at")) or _moment(row["received_at"])
    rule = policy.rule(ClockName.OVERALL, Urgency(row.get("urgency") or "normal"), bool(row.get("needs_investigation")))
    return Clock.start(ClockName.OVERALL, rule, calendar, start, semantics=policy.deadline_semantics).deadline(calendar)


def targets(policy: SlaPolicy | None) -> dict[str, str]:
    """The overall clock's due time per urgency, with and without an investigation, as in the policy file."""
    if policy is None or not policy.has(ClockName.OVERALL):
        return {}
    due = {(u, inv): policy.rule(ClockName.OVERALL, u, inv).due for u in Urgency for inv in (False, True)}
    return {f"{u.value}{'_investigation' if inv else ''}": f"{d.amount:g} {d.unit}" for (u, inv), d in due.items()}


def build_report(
    cases: Iterable[Row], breaches: Iterable[Row], calendar: WorkingCalendar,
    date_from: date, date_to: date, by: str = "kecamatan", policy: SlaPolicy | None = None,
) -> Report:
    """The report for the period, from case rows and 'breach' event rows (`due_at`, `clock`, group columns).

    opened: received in the period; closed: status closed and closed_at in the period; open_at_end:
    received before the end and not closed/rejected by then; ack/resolve: reported_at ->
    acknowledged_at/resolved_at in working days, for cases acknowledged/resolved in the period (on time:
    by the overall deadline, when a `policy` is given); outcomes: cases resolved in the period;
    breaches: per clock, for breaches whose due_at is in the period.
    """
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    start, end = period_bounds(date_from, date_to, calendar)
    inside = lambda t: t is not None and start <= t < end  # noqa: E731
    acc: dict[str, dict[str, Any]] = {}

    def bucket(key: str) -> dict[str, Any]:
        return acc.setdefault(key, {"opened": 0, "closed": 0, "open": 0, "ack": [], "res": [], "on_time": 0,
                                    "breaches": {}, "outcomes": {}})

    caseload: dict[str, int] = {}
    per_day = calendar.office_seconds_per_day
    for row in cases:
        received, closed_at = _moment(row["received_at"]), _moment(row.get("closed_at"))
        reported = _moment(row.get("reported_at")) or received
        acked, resolved = _moment(row.get("acknowledged_at")), _moment(row.get("resolved_at"))
        status = row["status"]
        finished = closed_at < end if closed_at is not None else status in ("closed", "rejected")
        figures = {"opened": inside(received), "closed": status == "closed" and inside(closed_at),
                   "open": received < end and not finished}
        ack = calendar.working_seconds_between(reported, acked) / per_day if inside(acked) else None
        res = calendar.working_seconds_between(reported, resolved) / per_day if inside(resolved) else None
        if not (any(figures.values()) or ack is not None or res is not None):
            continue
        due = resolution_deadline(row, calendar, policy) if res is not None and policy is not None else None
        for key in (*group_keys(row, by), TOTAL):
            b = bucket(key)
            for name, hit in figures.items():
                b[name] += int(hit)
            if ack is not None:
                b["ack"].append(ack)
            if res is not None:
                b["res"].append(res)
                b["on_time"] += int(due is not None and resolved <= due)
                outcome = row.get("outcome") or NONE
                b["outcomes"][outcome] = b["outcomes"].get(outcome, 0) + 1
        if figures["open"]:
            owner = group_key(row, "pendamping")
            caseload[owner] = caseload.get(owner, 0) + 1

    for row in (b for b in breaches if inside(_moment(b["due_at"]))):
        for key in (*group_keys(row, by, breach=True), TOTAL):
            counts = bucket(key)["breaches"]
            counts[row["clock"]] = counts.get(row["clock"], 0) + 1

    def stats(key: str) -> GroupStats:
        b = acc.get(key) or bucket(key)
        return GroupStats(
            key, b["opened"], b["closed"], b["open"], len(b["ack"]), _pct(b["ack"], 50), _pct(b["ack"], 90),
            len(b["res"]), _pct(b["res"], 50), _pct(b["res"], 90), b["on_time"] if policy is not None else None,
            dict(sorted(b["breaches"].items())), dict(sorted(b["outcomes"].items())),
        )

    return Report(
        date_from=date_from, date_to=date_to, by=by, calendar_version=calendar.version,
        groups=[stats(k) for k in sorted(acc) if k != TOTAL], totals=stats(TOTAL),
        caseload=dict(sorted(caseload.items())), policy_version=policy.version if policy else None,
        targets=targets(policy),
    )


# ---- labels (shared by the renderers) ----

def outcome_catalogue() -> dict[str, Any]:
    """referral/data/outcomes.csv by code; empty where this build has no catalogue."""
    load = getattr(reference, "outcomes", None)
    try:
        return load() if load else {}
    except FileNotFoundError:
        return {}


def outcome_label(code: str | None, tr: i18n.Translator) -> str:
    """The catalogue's name (English: its `english` column), else the built-in label, else the code."""
    if code in (None, "", NONE):
        return tr.gettext("(no outcome)")
    kind = outcome_catalogue().get(code)
    if kind is not None:
        return (getattr(kind, "english", "") if tr.language == "en" else getattr(kind, "name", "")) or code
    return tr.label(i18n.OUTCOMES, code)


def group_label(report: Report, key: str, tr: i18n.Translator) -> str:
    """How a group reads in the table and the chart: names for codes, the reader's words for the markers."""
    if key == TOTAL:
        return tr.gettext("TOTAL")
    if key == UNASSIGNED:
        return tr.gettext("(unassigned)")
    by = report.by
    if by == "outcome":
        return outcome_label(key, tr)
    if key == NONE:
        return tr.gettext("(no condition)")
    if by == "condition":
        condition = reference.conditions().get(key)
        return condition.label if condition else key
    if by == "category":
        category = reference.categories().get(key)
        return (category.english if tr.language == "en" else category.name) if category else key
    if by == "bidang":
        return reference.bidang_names().get(key, key)
    return key


# ---- rendering ----

_CLOCK_SHORT = {  # the table's narrow column heads
    "acknowledgement": i18n.N_("ack"), "verification": i18n.N_("verif"), "follow_up_plan": i18n.N_("plan"),
    "completion": i18n.N_("compl"), "overall": i18n.N_("overall"), "referral": i18n.N_("partner"),
}
_BY_HEADINGS = {
    "kecamatan": i18n.N_("Kecamatan"), "village": i18n.N_("Village"), "pendamping": i18n.N_("Pendamping"),
    "bidang": i18n.N_("Bidang"), "category": i18n.N_("PPKS category"), "condition": i18n.N_("Condition"),
    "outcome": i18n.N_("Outcome"),
}
_CSV_COLUMNS = ["opened", "closed", "open_at_end", "ack_n", "ack_median_wd", "ack_p90_wd", "resolve_n",
                "resolve_median_wd", "resolve_p90_wd", "resolve_on_time"]


def _short_columns(report: Report, tr: i18n.Translator) -> list[str]:
    heads = [tr.gettext("opened"), tr.gettext("closed"), tr.gettext("open@end"), tr.gettext("ack n"),
             tr.gettext("ack med"), tr.gettext("ack p90"), tr.gettext("res n"), tr.gettext("res med"),
             tr.gettext("res p90"), tr.gettext("on time")]
    breach = [tr.gettext("br {clock}", clock=tr.label(_CLOCK_SHORT, c)) for c in report.clocks]
    return [tr.label(_BY_HEADINGS, report.by), *heads, *breach, tr.gettext("breaches")]


def _cells(g: GroupStats, clocks: list[str]) -> list[Any]:
    return [g.opened, g.closed, g.open_at_end, g.ack_n, g.ack_median, g.ack_p90, g.resolve_n,
            g.resolve_median, g.resolve_p90, g.resolve_on_time, *(g.breaches.get(c, 0) for c in clocks),
            g.breaches_total]


def _day(d: date, tr: i18n.Translator) -> str:
    from babel.dates import format_date

    return format_date(d, "d MMM y", locale=tr.locale)


def title(report: Report, language: str | None = None) -> str:
    """'Dinas Sosial Buleleng — laporan 1 Apr 2026 s.d. 30 Apr 2026'."""
    tr = i18n.translator(language)
    return tr.gettext("Dinas Sosial Buleleng — report {start} to {end}", start=_day(report.date_from, tr),
                      end=_day(report.date_to, tr))


def notes(report: Report, language: str | None = None) -> list[str]:
    """What the figures mean, one sentence a line."""
    tr = i18n.translator(language)
    lines = [tr.gettext("Durations in working days from the report (reported_at); median and p90 by nearest rank.")]
    if report.targets:
        lines.append(tr.gettext(
            "On time: resolved by the overall deadline of policy {version} ({normal}, {investigation} when the"
            " assessment needs an investigation; calendar time for urgent cases).", version=report.policy_version,
            normal=_duration(report.targets["normal"], tr),
            investigation=_duration(report.targets["normal_investigation"], tr)))
    clocks = ", ".join(f"{tr.label(_CLOCK_SHORT, c)} = {i18n.lower_first(tr.label(i18n.CLOCKS, c))}"
                       for c in report.clocks)
    lines.append(tr.gettext("br = SLA deadlines passed per clock ({clocks}).", clocks=clocks))
    if report.by == "condition":
        lines.append(tr.gettext("A case with several conditions counts under each of them; the total counts it once."))
    return lines


def _duration(text: str, tr: i18n.Translator) -> str:
    """'14 working_days' -> '14 hari kerja'."""
    amount, _, unit = text.partition(" ")
    units = {"working_days": i18n.N_("working days"), "working_hours": i18n.N_("working hours"),
             "calendar_days": i18n.N_("calendar days"), "calendar_hours": i18n.N_("calendar hours")}
    return f"{amount} {tr.label(units, unit)}"


def _aligned(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
            for r in rows]


def render_table(report: Report, language: str | None = None) -> str:
    """Aligned plain text: the group table with its totals row, outcomes per group, open caseload per pendamping."""
    tr = i18n.translator(language)
    show = lambda v: "-" if v is None else tr.number(v) if isinstance(v, float) else str(v)  # noqa: E731
    body = [[group_label(report, g.group, tr), *map(show, _cells(g, report.clocks))]
            for g in [*report.groups, report.totals]]
    lines = _aligned([_short_columns(report, tr), *body])
    rule = "-" * len(max(lines, key=len))
    out = [title(report, tr.language), *notes(report, tr.language), "", lines[0], rule, *lines[1:-1], rule, lines[-1]]
    if report.outcomes:
        codes = report.outcomes
        rows = [[tr.label(_BY_HEADINGS, report.by), *(outcome_label(c, tr) for c in codes)]]
        rows += [[group_label(report, g.group, tr), *(str(g.outcomes.get(c, 0)) for c in codes)]
                 for g in [*report.groups, report.totals] if g.resolve_n]
        out += ["", tr.gettext("Outcomes of the cases resolved in the period:"), *_aligned(rows)]
    out += ["", tr.gettext("Open caseload per pendamping at the end of {day}:", day=_day(report.date_to, tr))]
    width = max(map(len, (group_label(report, k, tr) for k in report.caseload)), default=0)
    out += [f"  {group_label(report, k, tr).ljust(width)}  {v}" for k, v in report.caseload.items()] or [
        "  " + tr.gettext("(none)")]
    return "\n".join(out) + "\n"


def render_csv(report: Report, language: str | None = None) -> str:
    """One header line (stable codes), one line per group, then the totals row (group ``TOTAL``)."""
    tr = i18n.translator(language)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    codes = report.outcomes
    writer.writerow([report.by, "label", *_CSV_COLUMNS, *(f"breach_{c}" for c in report.clocks), "breaches",
                     *(f"outcome_{c}" for c in codes)])
    for g in [*report.groups, report.totals]:
        cells = [g.group, group_label(report, g.group, tr), *_cells(g, report.clocks),
                 *(g.outcomes.get(c, 0) for c in codes)]
        writer.writerow(["" if v is None else v for v in cells])
    return buffer.getvalue()


def to_dict(report: Report, language: str | None = None) -> dict[str, Any]:
    """A JSON-ready dict: groups, totals, open caseload per pendamping, and what the figures mean."""
    tr = i18n.translator(language)

    def group(g: GroupStats) -> dict[str, Any]:
        return {**asdict(g), "label": group_label(report, g.group, tr), "breaches_total": g.breaches_total}

    return {
        "title": title(report, tr.language), "notes": notes(report, tr.language), "language": tr.language,
        "from": report.date_from.isoformat(), "to": report.date_to.isoformat(), "by": report.by,
        "unit": "working_days", "measured_from": "reported_at", "percentile_method": "nearest-rank",
        "calendar_version": report.calendar_version, "policy_version": report.policy_version,
        "resolution_targets": report.targets, "clocks": report.clocks,
        "outcome_labels": {c: outcome_label(c, tr) for c in report.outcomes},
        "groups": [group(g) for g in report.groups], "totals": group(report.totals),
        "open_caseload_by_pendamping": report.caseload,
    }


def render_json(report: Report, language: str | None = None) -> str:
    """The report as indented JSON (see `to_dict`)."""
    return json.dumps(to_dict(report, language), indent=2, ensure_ascii=False) + "\n"


def render_png(report: Report, path: str, language: str | None = None) -> str:
    """Bar charts saved to `path` (Agg backend): opened, closed and deadlines passed per group; beside it,
    the outcomes of the cases resolved in the period. The chart's texts also go into the PNG's metadata."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    tr = i18n.translator(language)
    names = [group_label(report, g.group, tr) for g in report.groups] or [tr.gettext("(no cases)")]
    series = {tr.gettext("Opened"): [g.opened for g in report.groups],
              tr.gettext("Closed"): [g.closed for g in report.groups],
              tr.gettext("SLA deadlines passed"): [g.breaches_total for g in report.groups]}
    codes = report.outcomes
    panels = 2 if codes else 1
    fig = Figure(figsize=(max(8.0, 0.9 * len(names) + 3) * (1.6 if panels == 2 else 1), 6.0), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, panels, 1)
    width, slanted = 0.27, len(names) > 6 or max(map(len, names)) > 14
    for i, (label, values) in enumerate(series.items()):
        bars = ax.bar([x + (i - 1) * width for x in range(len(values))], values, width, label=label,
                      color=("#2b6cb0", "#38a169", "#e53e3e")[i])
        ax.bar_label(bars, fontsize=8)
    ax.set_xticks(range(len(names)), names, rotation=30 if slanted else 0, ha="right" if slanted else "center")
    ax.set(ylabel=tr.gettext("cases / deadlines passed"), xlabel=tr.label(_BY_HEADINGS, report.by),
           title=tr.gettext("Cases and SLA deadlines passed"))
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.margins(y=0.2)  # room for the legend above the tallest bar
    ax.legend(loc="upper center", ncols=3, fontsize=8, frameon=False)
    texts = [*series, ax.get_ylabel(), ax.get_xlabel(), ax.get_title()]
    if codes:
        out = fig.add_subplot(1, panels, 2)
        bottom = [0] * len(report.groups)
        for code in codes:
            values = [g.outcomes.get(code, 0) for g in report.groups]
            out.bar(range(len(values)), values, 0.6, bottom=bottom, label=outcome_label(code, tr))
            bottom = [b + v for b, v in zip(bottom, values)]
        out.set_xticks(range(len(names)), names, rotation=30 if slanted else 0, ha="right" if slanted else "center")
        out.set(ylabel=tr.gettext("cases resolved"), xlabel=tr.label(_BY_HEADINGS, report.by),
                title=tr.gettext("Outcomes of the cases resolved"))
        out.yaxis.get_major_locator().set_params(integer=True)
        out.margins(y=0.12)
        out.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
        texts += [outcome_label(c, tr) for c in codes] + [out.get_ylabel(), out.get_title()]
    fig.suptitle(title(report, tr.language))
    fig.savefig(path, dpi=120, metadata={"Title": title(report, tr.language), "Description": " | ".join(texts)})
    return path


def render(report: Report, fmt: str, path: str | None = None, language: str | None = None) -> str:
    """Render as table, csv or json text; png writes `path` and returns it."""
    if fmt not in FORMATS or (fmt == "png" and not path):
        raise ValueError(f"format must be one of {', '.join(FORMATS)} (png needs a path), not {fmt!r}")
    if fmt == "png":
        return render_png(report, path or "", language)
    return {"table": render_table, "csv": render_csv, "json": render_json}[fmt](report, language)
