"""The period report against a real Postgres: a fresh database seeded with April 2026, checked by hand.

Every expected figure below is a literal worked out by hand from the seed (working day = 8 office
hours 08:00-16:00 WITA; Fri 3 Apr 2026 is Good Friday; in March, Nyepi 19 Mar with cuti bersama 18 Mar
and Idul Fitri's cuti bersama 20, 23 and 24 Mar; weekends off). Times count from `reported_at`: G4 is a
paper report of 12 Mar entered on 30 Mar, S1 one of 6 Apr entered on 7 Apr. On time: by the overall
clock's deadline, the close of the 14th working day after the report (G4: Thu 9 Apr, so late; G1: 22 Apr;
S1: 24 Apr; B2: Tue 5 May, 1 May being Labour Day). Percentiles are nearest-rank.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest

from activities.store import connect
from activities.store.reports import fetch_report_rows
from casework.reports_cli import run_report
from referral import reference
from tests.conftest import fresh_database
from dataclasses import replace as _replace
from referral.calendar import FLAT_0800_1600
from referral.config import Settings

FLAT = _replace(Settings(), office_hours=FLAT_0800_1600)  # the hand count was made on a flat 08:00-16:00 day

WITA = timezone(timedelta(hours=8))
APR_1, APR_30 = date(2026, 4, 1), date(2026, 4, 30)


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=WITA)


# (id, village, category, pendamping on the row, status, received, acknowledged, resolved, closed); the
# report's time, conditions and outcome, where not the defaults (reported = received, none, none), in EXTRA.
CASES = [
    # Gerokgak
    ("G1", "51.08.01.2001", "fakir_miskin", "PD-01", "closed", at(4, 1, 10), at(4, 2, 10), at(4, 8, 12), at(4, 9, 10)),
    ("G2", "51.08.01.2001", "fakir_miskin", "PD-02", "acknowledged", at(4, 2, 14), at(4, 6, 10), None, None),
    ("G3", "51.08.01.2005", "lanjut_usia_telantar", "PD-02", "assigned", at(4, 13, 8), None, None, None),
    ("G4", "51.08.01.2005", "lanjut_usia_telantar", "PD-02", "resolved", at(3, 30, 9), at(3, 31, 9), at(4, 15, 15), None),
    # Seririt
    ("S1", "51.08.02.2001", "lanjut_usia_telantar", "PD-05", "closed", at(4, 7, 11), at(4, 7, 15), at(4, 21, 11), at(4, 22, 9)),
    ("S2", "51.08.02.2001", "fakir_miskin", "PD-05", "rejected", at(4, 10, 15), None, None, at(4, 13, 9)),
    ("S3", "51.08.02.2005", "fakir_miskin", "PD-06", "acknowledged", at(4, 20, 8, 30), at(4, 22, 12, 30), None, None),
    ("S4", "51.08.02.2002", "korban_tindak_kekerasan", None, "received", at(4, 30, 23, 30), None, None, None),
    # Buleleng
    ("B1", "51.08.06.1006", "korban_tindak_kekerasan", "PD-22", "closed", at(3, 25, 9), at(3, 25, 13), at(3, 31, 10), at(4, 1, 7, 30)),
    ("B2", "51.08.06.1011", "lanjut_usia_telantar", "PD-23", "closed", at(4, 14, 9), at(4, 16, 9), at(4, 28, 13), at(5, 1, 7)),
    ("B3", "51.08.06.1006", "korban_tindak_kekerasan", "PD-22", "acknowledged", at(4, 24, 16, 30), at(4, 27, 8, 45), None, None),
    ("B4", "51.08.06.1006", "fakir_miskin", "PD-22", "closed", at(3, 2, 9), at(3, 3, 9), at(3, 19, 9), at(3, 20, 10)),
    ("B5", "51.08.06.1011", "fakir_miskin", "PD-23", "received", at(5, 4, 9), None, None, None),
]

# (case, event, detail, occurred_at): assignments, SLA breaches and events the report must ignore.
EVENTS = [
    ("G2", "assigned", {"pendamping_id": "PD-01"}, at(4, 2, 14)),
    ("G2", "reassigned", {"pendamping_id": "PD-02"}, at(5, 4, 9)),  # after the period: PD-01 at its end
    ("B2", "assigned", {"pendamping_id": "PD-22"}, at(4, 14, 9)),
    ("B2", "reassigned", {"pendamping_id": "PD-23"}, at(4, 16, 8)),  # auto-reassignment at the breach instant
    ("B3", "assigned", {"pendamping_id": "PD-23"}, at(4, 24, 16, 30)),
    ("B3", "reassigned", {"pendamping_id": "PD-22"}, at(4, 27, 10)),
    ("G2", "breach", "verification", at(4, 9, 14)),
    ("G3", "breach", "acknowledgement", at(4, 14, 8)),
    ("G3", "breach", "verification", at(4, 30, 20)),
    ("G3", "breach", "follow_up_plan", at(5, 1, 0, 30)),  # 1 May local: outside
    ("G3", "escalation_2", "acknowledgement", at(4, 15, 8)),  # not a breach
    ("G1", "warning_50", "acknowledgement", at(4, 1, 14)),  # sla_warning: ignored
    ("G4", "breach", "verification", at(3, 31, 15)),  # March: outside
    ("S1", "breach", "completion", at(4, 20, 10)),
    ("S3", "breach", "acknowledgement", at(4, 21, 8, 30)),
    ("B2", "breach", "verification", at(4, 16, 8)),  # PD-22 held it until that instant
    ("B3", "breach", "acknowledgement", at(4, 27, 8)),  # PD-23 held it then
    ("G4", "breach", "overall", at(4, 9, 16)),  # report -> resolution: 14 working days from 12 Mar
    ("G4", "escalation_2", "overall", at(4, 14, 16)),  # not a breach
    ("S3", "breach", "overall", at(5, 11, 16)),  # May: outside
]
EXTRA = {  # id -> (reported_at, conditions, outcome)
    "G1": (None, ["odgj"], "assistance_given"),
    "G3": (None, ["odgj", "dipasung"], None),
    "G4": (at(3, 12, 9), [], "served_by_partner"),
    "S1": (at(4, 6, 11), ["lansia_tinggal_sendiri", "sakit_kronis"], "not_eligible"),
    "B2": (None, ["lansia_tinggal_sendiri"], "placed_in_institution"),
}

FIELDS = ("opened", "closed", "open_at_end", "ack_n", "ack_median", "ack_p90",
          "resolve_n", "resolve_median", "resolve_p90", "resolve_on_time", "breaches")
TOTAL = (9, 3, 7, 6, 1.0, 2.5, 4, 10.5, 18.75, 3,
         {"acknowledgement": 3, "completion": 1, "overall": 1, "verification": 3})

BY_KECAMATAN = {
    "Buleleng": (2, 1, 2, 2, 0.09, 2.0, 1, 10.5, 10.5, 1, {"acknowledgement": 1, "verification": 1}),
    "Gerokgak": (3, 1, 3, 2, 0.5, 1.0, 2, 4.25, 18.75, 1, {"acknowledgement": 1, "overall": 1, "verification": 2}),
    "Seririt": (4, 1, 2, 2, 1.5, 2.5, 1, 11.0, 11.0, 1, {"acknowledgement": 1, "completion": 1}),
    "TOTAL": TOTAL,
}
BY_PENDAMPING = {
    "(unassigned)": (1, 0, 1, 0, None, None, 0, None, None, 0, {}),
    "PD-01": (2, 1, 1, 2, 0.5, 1.0, 1, 4.25, 4.25, 1, {"verification": 1}),
    "PD-02": (1, 0, 2, 0, None, None, 1, 18.75, 18.75, 0, {"acknowledgement": 1, "overall": 1, "verification": 1}),
    "PD-05": (2, 1, 0, 1, 1.5, 1.5, 1, 11.0, 11.0, 1, {"completion": 1}),
    "PD-06": (1, 0, 1, 1, 2.5, 2.5, 0, None, None, 0, {"acknowledgement": 1}),
    "PD-22": (1, 1, 1, 1, 0.09, 0.09, 0, None, None, 0, {"verification": 1}),
    "PD-23": (1, 0, 1, 1, 2.0, 2.0, 1, 10.5, 10.5, 1, {"acknowledgement": 1}),
    "TOTAL": TOTAL,
}
# opened and SLA breaches: a case counts under each of its conditions, once in the total.
BY_CONDITION = {"(none)": (5, 4), "dipasung": (1, 2), "lansia_tinggal_sendiri": (2, 2), "odgj": (2, 2),
                "sakit_kronis": (1, 1), "TOTAL": (9, 8)}
OUTCOMES = {"Buleleng": {"placed_in_institution": 1}, "Gerokgak": {"assistance_given": 1, "served_by_partner": 1},
            "Seririt": {"not_eligible": 1}}
CASELOAD = {"(unassigned)": 1, "PD-01": 1, "PD-02": 2, "PD-06": 1, "PD-22": 1, "PD-23": 1}


def _extra(cid: str, received: datetime) -> tuple[datetime, list[str], str | None]:
    reported, conditions, outcome = EXTRA.get(cid, (None, [], None))
    return reported or received, conditions, outcome


async def _seed(pool: asyncpg.Pool) -> None:
    villages, categories = reference.villages(), reference.categories()
    await pool.executemany(
        "INSERT INTO complaints (complaint_id, workflow_id, channel, status, village_code, kecamatan, category, bidang,"
        " pendamping_id, urgency, subject, reporter, description, reported_at, received_at, assigned_at,"
        " acknowledged_at, resolved_at, closed_at, conditions, outcome)"
        " VALUES ($1, $2, 'web', $3, $4, $5, $6, $7, $8, 'normal', $9, $10, 'seeded', $16, $11, $12, $13, $14, $15,"
        " $17, $18)",
        [(cid, f"complaint-{cid}", status, village, villages[village].kecamatan, category,
          categories[category].bidang, pendamping, {"name": "x"}, {"name": "y"}, received,
          received if pendamping else None, acked, resolved, closed, *_extra(cid, received))
         for cid, village, category, pendamping, status, received, acked, resolved, closed in CASES],
    )
    rows = []
    for i, (cid, kind, detail, when) in enumerate(EVENTS):
        if kind in ("assigned", "reassigned"):  # keyed as the workflow keys its steps
            rows.append((cid, f"{i:04d}:{kind}", kind, "system", detail, when))
        else:
            event = "sla_warning" if kind.startswith("warning") else "sla_escalated"
            rows.append((cid, f"sla:{detail}:1:{kind}", event, "sla",
                         {"clock": detail, "run": 1, "milestone": kind, "due_at": when.isoformat()}, when))
    await pool.executemany(
        "INSERT INTO complaint_events (complaint_id, event_key, event, actor, detail, occurred_at)"
        " VALUES ($1, $2, $3, $4, $5, $6)", rows,
    )


@pytest.fixture
async def report_db_url(admin_url: str) -> AsyncIterator[str]:
    """Its own fresh database (migrated, reference data, sample roster; dropped after), seeded above."""
    async with fresh_database(admin_url, prefix="reports_test") as url:
        pool = await connect(url)
        try:
            await _seed(pool)
        finally:
            await pool.close()
        yield url


def _figures(groups: list[dict]) -> dict[str, tuple]:
    return {g["group"]: tuple(g[f] for f in FIELDS) for g in groups}


async def test_report_matches_hand_count(report_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db_url = report_db_url
    pool = await connect(db_url)
    try:
        cases, breaches = await fetch_report_rows(pool, APR_1, APR_30)
    finally:
        await pool.close()
    assert sorted(c["complaint_id"] for c in cases) == [
        "B1", "B2", "B3", "G1", "G2", "G3", "G4", "S1", "S2", "S3", "S4"]  # B4 closed in March, B5 received in May
    owners = {c["complaint_id"]: (c["pendamping_id"], c["pendamping_at_end"]) for c in cases}
    assert owners["G2"] == ("PD-02", "PD-01") and owners["B3"] == ("PD-22", "PD-22") and owners["S4"] == (None, None)
    assert sorted((b["complaint_id"], b["clock"], b["pendamping_id"]) for b in breaches) == [
        ("B2", "verification", "PD-22"), ("B3", "acknowledgement", "PD-23"), ("G2", "verification", "PD-01"),
        ("G3", "acknowledgement", "PD-02"), ("G3", "verification", "PD-02"), ("G4", "overall", "PD-02"),
        ("S1", "completion", "PD-05"), ("S3", "acknowledgement", "PD-06"),
    ]

    by_kec = json.loads(await run_report(db_url, APR_1, APR_30, "kecamatan", "json", None, FLAT))
    assert by_kec["title"] == "Dinas Sosial Buleleng — laporan 1 Apr 2026 s.d. 30 Apr 2026"
    assert _figures([*by_kec["groups"], by_kec["totals"]]) == BY_KECAMATAN
    assert by_kec["totals"]["breaches_total"] == 8
    assert {g["group"]: g["outcomes"] for g in by_kec["groups"]} == OUTCOMES
    assert by_kec["resolution_targets"]["normal"] == "14 working_days"
    assert by_kec["open_caseload_by_pendamping"] == CASELOAD

    by_pd = json.loads(await run_report(db_url, APR_1, APR_30, "pendamping", "json", None, FLAT))
    assert _figures([*by_pd["groups"], by_pd["totals"]]) == BY_PENDAMPING
    assert by_pd["open_caseload_by_pendamping"] == CASELOAD

    by_condition = json.loads(await run_report(db_url, APR_1, APR_30, "condition", "json", None, FLAT))
    assert {g["group"]: (g["opened"], g["breaches_total"]) for g in [*by_condition["groups"], by_condition["totals"]]} \
        == BY_CONDITION
    assert "Kasus dengan beberapa kondisi dihitung di setiap kondisinya; baris JUMLAH menghitungnya sekali." in \
        by_condition["notes"]

    csv_file = tmp_path / "out" / "april.csv"
    assert await run_report(db_url, APR_1, APR_30, "kecamatan", "csv", str(csv_file), FLAT) == str(csv_file)
    text = csv_file.read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("kecamatan,label,opened,closed,open_at_end,ack_n,ack_median_wd")
    assert text.splitlines()[0].endswith("breach_overall,breaches,outcome_assistance_given,"
                                         "outcome_placed_in_institution,outcome_served_by_partner,outcome_not_eligible")
    assert text.splitlines()[-1] == "TOTAL,JUMLAH,9,3,7,6,1.0,2.5,4,10.5,18.75,3,3,3,0,1,1,8,1,1,1,1"
    assert text == await run_report(db_url, APR_1, APR_30, "kecamatan", "csv", None, FLAT) + "\n"
    table = await run_report(db_url, APR_1, APR_30, "pendamping", "table", None, FLAT)
    assert re.search(r"^  PD-02 +2$", table, re.MULTILINE)  # caseload section
    assert "Kasus aktif per pendamping pada akhir 30 Apr 2026:" in table
    english = await run_report(db_url, APR_1, APR_30, "outcome", "table", None, FLAT, language="en")
    assert "Served by a partner office (which one)" in english and "Open caseload per pendamping" in english
    monkeypatch.chdir(tmp_path)
    png = await run_report(db_url, APR_1, APR_30, "kecamatan", "png", None, FLAT)
    assert png == "report-2026-04-01-2026-04-30.png"
    assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
