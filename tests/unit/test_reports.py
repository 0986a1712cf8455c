"""Unit tests for referral.reports (pure: hand-built rows, no database)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta, timezone

import pytest

from referral import reports
from referral.calendar import FLAT_0800_1600
from referral.holiday_source import build_calendar

WITA = timezone(timedelta(hours=8))
CAL = build_calendar(2026, office_hours=FLAT_0800_1600)  # the flat day these dates were worked out on
APR_1, APR_30 = date(2026, 4, 1), date(2026, 4, 30)


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=WITA)


def case(cid: str, received: datetime, status: str = "assigned", kecamatan: str = "Gerokgak",
         pendamping: str | None = "PD-01", **times: datetime | str | None) -> dict:
    return {"complaint_id": cid, "status": status, "kecamatan": kecamatan, "village_code": "51.08.01.2001",
            "category": "fakir_miskin", "bidang": "pemberdayaan_sosial", "pendamping_id": pendamping,
            "received_at": received, "acknowledged_at": None, "resolved_at": None, "closed_at": None, **times}


def breach(cid: str, clock: str, due: datetime | str, kecamatan: str = "Gerokgak", pendamping: str | None = "PD-01") -> dict:
    return {"complaint_id": cid, "clock": clock, "due_at": due, "kecamatan": kecamatan, "village_code": "51.08.01.2001",
            "category": "fakir_miskin", "bidang": "pemberdayaan_sosial", "pendamping_id": pendamping}


def test_nearest_rank() -> None:
    assert reports.nearest_rank([], 50) is None
    assert reports.nearest_rank([7.0], 90) == 7.0
    ten = [float(x) for x in range(10, 0, -1)]  # unsorted input
    assert reports.nearest_rank(ten, 50) == 5.0  # rank ceil(5.0) = 5
    assert reports.nearest_rank(ten, 90) == 9.0  # rank ceil(9.0) = 9
    assert reports.nearest_rank([1.0, 2.0, 3.0, 4.0], 50) == 2.0  # even n: the lower middle value
    assert reports.nearest_rank([1.0, 2.0, 3.0, 4.0], 90) == 4.0  # rank ceil(3.6) = 4
    assert reports.nearest_rank([3.0, 1.0, 2.0], 100) == 3.0


def test_working_days_skip_good_friday_and_weekend() -> None:
    # Thu 2 Apr 14:00 -> Mon 6 Apr 10:00: 2 h Thursday, Good Friday and the weekend off, 2 h Monday = 0.5 day.
    rows = [case("A", at(4, 2, 14), status="acknowledged", acknowledged_at=at(4, 6, 10))]
    r = reports.build_report(rows, [], CAL, APR_1, APR_30)
    assert (r.totals.ack_n, r.totals.ack_median, r.totals.ack_p90) == (1, 0.5, 0.5)


def test_period_is_whole_local_days() -> None:
    rows = [
        case("in-first", at(4, 1, 0, 0)),
        case("in-last", at(4, 30, 23, 30)),
        case("before", at(3, 31, 23, 59), status="closed", closed_at=at(3, 31, 23, 59, )),
        case("after", at(5, 1, 0, 0)),
        # 1 May 07:30 WITA is 30 Apr 23:30 UTC: outside, though the UTC date is inside.
        case("after-utc", datetime(2026, 4, 30, 23, 30, tzinfo=timezone.utc)),
    ]
    r = reports.build_report(rows, [], CAL, APR_1, APR_30)
    assert (r.totals.opened, r.totals.open_at_end) == (2, 2)
    assert r.caseload == {"PD-01": 2}


def test_figures_by_kecamatan_with_totals() -> None:
    rows = [
        # Gerokgak: opened and closed in April; ack 1.00 wd; resolved Wed 8 Apr 12:00 = 34 office hours = 4.25 wd.
        case("G1", at(4, 1, 10), status="closed", acknowledged_at=at(4, 2, 10), resolved_at=at(4, 8, 12),
             closed_at=at(4, 9, 10)),
        # Gerokgak: received in March, acknowledged in March (not counted), closed in May: open at end.
        case("G2", at(3, 30, 9), status="closed", acknowledged_at=at(3, 31, 9), closed_at=at(5, 4, 9),
             pendamping="PD-02"),
        # Seririt: rejected in April: opened, not closed, not open.
        case("S1", at(4, 10, 15), status="rejected", kecamatan="Seririt", pendamping="PD-05", closed_at=at(4, 13, 9)),
        # Seririt: acknowledged Tue 7 Apr 15:00 after 11:00 receipt = 0.5 wd, still open.
        case("S2", at(4, 7, 11), status="acknowledged", kecamatan="Seririt", pendamping=None,
             acknowledged_at=at(4, 7, 15)),
        # Closed before the period: ignored entirely.
        case("old", at(3, 2, 9), status="closed", kecamatan="Buleleng", closed_at=at(3, 20, 10)),
    ]
    bs = [
        breach("G1", "acknowledgement", at(4, 2, 8).isoformat()),
        breach("G2", "verification", at(4, 14, 8), pendamping="PD-02"),
        breach("S2", "acknowledgement", at(4, 30, 23), kecamatan="Seririt", pendamping=None),
        breach("S2", "completion", at(5, 1, 0, 30), kecamatan="Seririt", pendamping=None),  # May 1: outside
        breach("old", "completion", at(3, 15, 9), kecamatan="Buleleng"),  # March: outside
    ]
    r = reports.build_report(rows, bs, CAL, APR_1, APR_30, by="kecamatan")
    g, s = r.groups
    assert [x.group for x in r.groups] == ["Gerokgak", "Seririt"]
    assert (g.opened, g.closed, g.open_at_end) == (1, 1, 1)
    assert (g.ack_n, g.ack_median, g.ack_p90) == (1, 1.0, 1.0)
    assert (g.resolve_n, g.resolve_median, g.resolve_p90) == (1, 4.25, 4.25)
    assert g.breaches == {"acknowledgement": 1, "verification": 1}
    assert (s.opened, s.closed, s.open_at_end, s.ack_n, s.ack_median, s.resolve_n) == (2, 0, 1, 1, 0.5, 0)
    assert s.resolve_median is None and s.breaches == {"acknowledgement": 1}
    t = r.totals
    assert (t.group, t.opened, t.closed, t.open_at_end, t.ack_n, t.ack_median, t.ack_p90) == ("TOTAL", 3, 1, 2, 2, 0.5, 1.0)
    assert t.breaches == {"acknowledgement": 2, "verification": 1} and t.breaches_total == 3
    assert r.caseload == {"(unassigned)": 1, "PD-02": 1}


def test_pendamping_grouping_uses_owner_at_end_and_breach_owner() -> None:
    rows = [case("A", at(4, 6, 9), pendamping="PD-02", pendamping_at_end="PD-01")]
    bs = [breach("A", "acknowledgement", at(4, 7, 9), pendamping="PD-03")]
    r = reports.build_report(rows, bs, CAL, APR_1, APR_30, by="pendamping")
    assert {g.group: (g.opened, g.open_at_end, g.breaches_total) for g in r.groups} == {
        "PD-01": (1, 1, 0), "PD-03": (0, 0, 1)}
    assert r.caseload == {"PD-01": 1}


@pytest.mark.parametrize("by,key", [("village", "51.08.01.2001 Sumberklampok"), ("bidang", "pemberdayaan_sosial"),
                                    ("category", "fakir_miskin")])
def test_other_groupings(by: str, key: str) -> None:
    r = reports.build_report([case("A", at(4, 6, 9))], [], CAL, APR_1, APR_30, by=by)
    assert [g.group for g in r.groups] == [key]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="by must be"):
        reports.build_report([], [], CAL, APR_1, APR_30, by="desa")
    with pytest.raises(ValueError, match="before"):
        reports.build_report([], [], CAL, APR_30, APR_1)
    empty = reports.build_report([], [], CAL, APR_1, APR_30)
    with pytest.raises(ValueError, match="format"):
        reports.render(empty, "xml")
    with pytest.raises(ValueError, match="png needs a path"):
        reports.render(empty, "png")


def _sample() -> reports.Report:
    rows = [case("G1", at(4, 1, 10), status="closed", acknowledged_at=at(4, 2, 10), closed_at=at(4, 9, 10)),
            case("S1", at(4, 7, 11), kecamatan="Seririt", pendamping="PD-05")]
    return reports.build_report(rows, [breach("S1", "verification", at(4, 9, 11), kecamatan="Seririt")],
                                CAL, APR_1, APR_30)


def test_renderers(tmp_path) -> None:
    r = _sample()
    table = reports.render(r, "table")
    lines = table.splitlines()
    assert lines[0] == "Dinas Sosial Buleleng — 2026-04-01 to 2026-04-30"
    header = next(line for line in lines if line.startswith("kecamatan"))
    total = next(line for line in lines if line.startswith("TOTAL"))
    assert len(header) == len(total)  # aligned columns
    assert "PD-05  1" in table
    parsed = list(csv.DictReader(io.StringIO(reports.render(r, "csv"))))
    assert [p["kecamatan"] for p in parsed] == ["Gerokgak", "Seririt", "TOTAL"]
    assert parsed[0]["ack_median_wd"] == "1.0" and parsed[1]["ack_median_wd"] == ""
    assert (parsed[2]["opened"], parsed[2]["closed"], parsed[2]["breach_verification"], parsed[2]["breaches"]) == (
        "2", "1", "1", "1")
    data = json.loads(reports.render(r, "json"))
    assert data["percentile_method"] == "nearest-rank" and data["totals"]["opened"] == 2
    assert data["open_caseload_by_pendamping"] == {"PD-05": 1}
    png = tmp_path / "r.png"
    assert reports.render(r, "png", str(png)) == str(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    empty = tmp_path / "empty.png"
    reports.render_png(reports.build_report([], [], CAL, APR_1, APR_30), str(empty))
    assert empty.exists()
