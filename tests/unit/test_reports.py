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
from referral.setup import load_policy

WITA = timezone(timedelta(hours=8))
CAL = build_calendar(2026, office_hours=FLAT_0800_1600)  # the flat day these dates were worked out on
APR_1, APR_30 = date(2026, 4, 1), date(2026, 4, 30)
POLICY = load_policy(None)  # the shipped policy: overall 14 working days (60 with an investigation)


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
                                    ("category", "fakir_miskin"), ("condition", "(none)"), ("outcome", "(none)")])
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
    table = reports.render(r, "table")  # Bahasa Indonesia by default
    lines = table.splitlines()
    assert lines[0] == "Dinas Sosial Buleleng — laporan 1 Apr 2026 s.d. 30 Apr 2026"
    assert lines[1] == "Durasi dalam hari kerja sejak laporan (reported_at); median dan p90 dengan metode peringkat terdekat."
    header = next(line for line in lines if line.startswith("Kecamatan"))
    assert header.split()[:4] == ["Kecamatan", "dibuka", "ditutup", "aktif@akhir"]
    assert "lwt lap-sls" in header  # the overall clock has its column
    total = next(line for line in lines if line.startswith("JUMLAH"))
    assert len(header) == len(total)  # aligned columns
    assert "konf med" in header and "1,00" in table  # Indonesian decimals in the table
    assert "Kasus aktif per pendamping pada akhir 30 Apr 2026:" in table and "PD-05  1" in table
    english = reports.render(r, "table", language="en")
    assert english.splitlines()[0] == "Dinas Sosial Buleleng — report 1 Apr 2026 to 30 Apr 2026"
    assert next(line for line in english.splitlines() if line.startswith("TOTAL")).split()[1] == "2"
    parsed = list(csv.DictReader(io.StringIO(reports.render(r, "csv"))))
    assert [p["kecamatan"] for p in parsed] == ["Gerokgak", "Seririt", "TOTAL"]
    assert [p["label"] for p in parsed] == ["Gerokgak", "Seririt", "JUMLAH"]
    assert parsed[0]["ack_median_wd"] == "1.0" and parsed[1]["ack_median_wd"] == ""
    assert (parsed[2]["opened"], parsed[2]["closed"], parsed[2]["breach_verification"], parsed[2]["breach_overall"],
            parsed[2]["breaches"]) == ("2", "1", "1", "0", "1")
    data = json.loads(reports.render(r, "json"))
    assert data["percentile_method"] == "nearest-rank" and data["totals"]["opened"] == 2
    assert data["measured_from"] == "reported_at" and data["language"] == "id"
    assert data["open_caseload_by_pendamping"] == {"PD-05": 1}
    png = tmp_path / "r.png"
    assert reports.render(r, "png", str(png)) == str(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    from PIL import Image

    texts = Image.open(png).text
    assert texts["Title"] == "Dinas Sosial Buleleng — laporan 1 Apr 2026 s.d. 30 Apr 2026"
    assert {"Dibuka", "Ditutup", "Tenggat SLA terlewati", "Kecamatan"} <= set(texts["Description"].split(" | "))
    empty = tmp_path / "empty.png"
    reports.render_png(reports.build_report([], [], CAL, APR_1, APR_30), str(empty))
    assert empty.exists()


def test_times_count_from_the_report_not_from_its_entry() -> None:
    # A paper report of Wed 1 Apr 10:00 entered Thu 2 Apr 10:00, acknowledged Thu 2 Apr 14:00: 1.5 working days.
    rows = [case("P", at(4, 2, 10), status="resolved", reported_at=at(4, 1, 10), acknowledged_at=at(4, 2, 14),
                 resolved_at=at(4, 6, 10))]
    r = reports.build_report(rows, [], CAL, APR_1, APR_30)
    # resolved Mon 6 Apr 10:00: 6 h on 1 Apr, 8 h on 2 Apr, Good Friday and the weekend off, 2 h on 6 Apr = 2.0.
    assert (r.totals.ack_median, r.totals.resolve_median) == (1.5, 2.0)
    assert r.totals.resolve_on_time is None  # no policy given: not judged


def test_resolution_on_time_against_the_overall_deadline() -> None:
    # Reported Wed 1 Apr 10:00: 14 working days end at the close of Wed 22 Apr (Good Friday off); 60 at 9 Jul;
    # urgent: 10 calendar days, Sat 11 Apr 10:00.
    rows = [
        case("ON", at(4, 1, 10), status="resolved", reported_at=at(4, 1, 10), resolved_at=at(4, 22, 16)),
        case("LATE", at(4, 1, 10), status="resolved", reported_at=at(4, 1, 10), resolved_at=at(4, 23, 9)),
        case("INV", at(4, 1, 10), status="resolved", reported_at=at(4, 1, 10), resolved_at=at(4, 29, 9),
             needs_investigation=True),
        case("URG", at(4, 1, 10), status="resolved", reported_at=at(4, 1, 10), resolved_at=at(4, 13, 9), urgency="urgent"),
    ]
    r = reports.build_report(rows, [], CAL, APR_1, APR_30, policy=POLICY)
    assert (r.totals.resolve_n, r.totals.resolve_on_time) == (4, 2)
    assert r.targets["normal"] == "14 working_days" and r.targets["normal_investigation"] == "60 working_days"
    assert "14 hari kerja, 60 hari kerja bila asesmen memerlukan investigasi" in reports.render(r, "table")


def test_breaches_of_the_overall_clock_count_beside_the_step_clocks() -> None:
    bs = [breach("A", "overall", at(4, 21, 16)), breach("A", "completion", at(4, 21, 16)),
          breach("B", "overall", at(4, 22, 16), kecamatan="Seririt", pendamping="PD-05")]
    r = reports.build_report([], bs, CAL, APR_1, APR_30, by="pendamping")
    assert {g.group: g.breaches for g in r.groups} == {"PD-01": {"completion": 1, "overall": 1},
                                                       "PD-05": {"overall": 1}}
    assert r.clocks == ["acknowledgement", "verification", "follow_up_plan", "completion", "overall"]


def test_by_condition_a_case_counts_under_each_of_its_conditions_and_once_in_the_total() -> None:
    rows = [case("A", at(4, 6, 9), conditions=["odgj", "dipasung"]), case("B", at(4, 7, 9), conditions=["odgj"]),
            case("C", at(4, 8, 9), conditions=[])]
    bs = [breach("A", "acknowledgement", at(4, 7, 9)) | {"conditions": ["odgj", "dipasung"]}]
    r = reports.build_report(rows, bs, CAL, APR_1, APR_30, by="condition")
    assert {g.group: (g.opened, g.breaches_total) for g in r.groups} == {
        "(none)": (1, 0), "dipasung": (1, 1), "odgj": (2, 1)}
    assert (r.totals.opened, r.totals.breaches_total) == (3, 1)
    table = reports.render(r, "table")
    assert "Kasus dengan beberapa kondisi dihitung di setiap kondisinya; baris JUMLAH menghitungnya sekali." in table
    assert "Orang dengan gangguan jiwa (ODGJ)" in table and "(tanpa kondisi)" in table


def test_outcomes_per_group_and_by_outcome() -> None:
    rows = [
        case("A", at(4, 1, 9), status="resolved", resolved_at=at(4, 10, 9), outcome="assistance_given"),
        case("B", at(4, 2, 9), status="closed", resolved_at=at(4, 13, 9), closed_at=at(4, 14, 9),
             outcome="not_eligible", kecamatan="Seririt"),
        case("C", at(4, 2, 9), status="closed", resolved_at=at(4, 14, 9), closed_at=at(4, 15, 9),
             outcome="assistance_given", kecamatan="Seririt"),
        case("D", at(3, 2, 9), status="closed", resolved_at=at(3, 14, 9), closed_at=at(4, 2, 9),
             outcome="not_eligible"),  # resolved in March: not this period's outcome
        case("E", at(4, 3, 9), status="resolved", resolved_at=at(4, 20, 9), outcome="something_old"),
    ]
    r = reports.build_report(rows, [], CAL, APR_1, APR_30, by="kecamatan")
    assert {g.group: g.outcomes for g in r.groups} == {
        "Gerokgak": {"assistance_given": 1, "something_old": 1},
        "Seririt": {"assistance_given": 1, "not_eligible": 1}}
    assert r.outcomes == ["assistance_given", "not_eligible", "something_old"]  # the catalogue's order first
    table = reports.render(r, "table")
    assert "Hasil penanganan kasus yang selesai dalam periode ini:" in table
    assert "Bantuan diberikan" in table and "Tidak memenuhi syarat" in table and "something old" in table
    parsed = list(csv.DictReader(io.StringIO(reports.render(r, "csv"))))
    assert [(p["kecamatan"], p["outcome_assistance_given"], p["outcome_not_eligible"]) for p in parsed] == [
        ("Gerokgak", "1", "0"), ("Seririt", "1", "1"), ("TOTAL", "2", "1")]
    by_outcome = reports.build_report(rows, [], CAL, APR_1, APR_30, by="outcome")
    assert {g.group: (g.resolve_n, g.closed) for g in by_outcome.groups} == {
        "assistance_given": (2, 1), "not_eligible": (1, 2), "something_old": (1, 0)}  # D: closed in April
    assert "Assistance given (which programme)" in reports.render(by_outcome, "table", language="en")
