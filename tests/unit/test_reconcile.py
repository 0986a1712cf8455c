"""`starter.py reconcile`: the comparison of a workflow's record with Postgres (a table of cases), the
lines an operator reads and the exit codes (casework/reconcile.py, casework/reconcile_cli.py)."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest

from activities.store.reconcile import StoredCase
from casework.reconcile import Difference, Kind, Outcome, column_differences, compare, repairable
from casework.reconcile_cli import describe, report
from referral.case import CaseRecord, CaseRow

AT = datetime(2026, 3, 17, 2, 0, tzinfo=timezone.utc)
CASE = "ADU-1A2B3C4D5E6F"
KEYS = ["0001:received", "0002:assigned", "sla:acknowledgement:1:warning_50", "0003:acknowledged"]


def row(**changes) -> CaseRow:
    base = dict(status="acknowledged", category="penyandang_disabilitas", bidang="rehabilitasi_sosial",
                pendamping_id="PD-34", escalation_level=0, needs_investigation=False, outcome=None, duplicate_of=None,
                policy_version="2026.1", calendar_version="ID-2026", needs_attention=None, assigned_at=AT,
                acknowledged_at=AT + timedelta(hours=1), assessed_at=None, referred_at=None, resolved_at=None,
                closed_at=None, sequence=3)
    return CaseRow(**(base | changes))


def record(row_: CaseRow | None = None, keys: list[str] = KEYS, complete: bool = True) -> CaseRecord:
    return CaseRecord(complaint_id=CASE, workflow_id=f"complaint-{CASE}", row=row_, event_keys=keys,
                      timeline_complete=complete)


def stored(row_: CaseRow | None = None, keys: list[str] = KEYS) -> StoredCase:
    return StoredCase(complaint_id=CASE, workflow_id=f"complaint-{CASE}", row=row_ or row(), updated_at=AT,
                      event_keys=keys)


def diff(kind: Kind, subject: str = "", workflow=None, postgres=None) -> Difference:
    return Difference(CASE, kind, subject, workflow, postgres)


# (what, the workflow's record, Postgres, the differences expected)
CASES = [
    ("the same", record(row()), stored(), []),
    ("same instant, other time zone", record(row(assigned_at=AT.astimezone(timezone(timedelta(hours=8))))),
     stored(), []),
    ("status moved behind the workflow's back", record(row()), stored(row(status="assigned")),
     [diff(Kind.COLUMN, "status", "acknowledged", "assigned")]),
    ("two columns, in the row's order", record(row()), stored(row(escalation_level=2, pendamping_id="PD-01")),
     [diff(Kind.COLUMN, "pendamping_id", "PD-34", "PD-01"), diff(Kind.COLUMN, "escalation_level", 0, 2)]),
    ("a time set in Postgres only", record(row()), stored(row(closed_at=AT)),
     [diff(Kind.COLUMN, "closed_at", None, AT)]),
    ("a time one microsecond off", record(row()), stored(row(assigned_at=AT + timedelta(microseconds=1))),
     [diff(Kind.COLUMN, "assigned_at", AT, AT + timedelta(microseconds=1))]),
    ("needs attention only in the workflow", record(row(needs_attention="PostgreSQL unreachable")), stored(),
     [diff(Kind.COLUMN, "needs_attention", "PostgreSQL unreachable", None)]),
    ("an event missing in Postgres", record(row()), stored(keys=KEYS[:3]),
     [diff(Kind.EVENT_MISSING, "0003:acknowledged")]),
    ("an SLA event missing in Postgres", record(row()), stored(keys=[KEYS[0], KEYS[1], KEYS[3]]),
     [diff(Kind.EVENT_MISSING, "sla:acknowledgement:1:warning_50")]),
    ("a key the workflow lists twice is one difference", record(row(), keys=KEYS + ["0003:acknowledged"]),
     stored(keys=KEYS[:3]), [diff(Kind.EVENT_MISSING, "0003:acknowledged")]),
    ("an event only Postgres has", record(row()), stored(keys=KEYS + ["0004:assessed"]),
     [diff(Kind.EVENT_UNKNOWN, "0004:assessed")]),
    ("the workflow forgot its oldest entries: an extra Postgres event says nothing",
     record(row(), keys=KEYS[2:], complete=False), stored(), []),
    ("forgot its oldest, still missing a new one", record(row(), keys=KEYS[2:], complete=False),
     stored(keys=KEYS[:3]), [diff(Kind.EVENT_MISSING, "0003:acknowledged")]),
    ("no row in Postgres, steps recorded", record(row()), None, [diff(Kind.ROW_MISSING, workflow=4)]),
    ("no row in Postgres, set up but nothing recorded yet", record(row(), keys=[]), None,
     [diff(Kind.ROW_MISSING, workflow=0)]),
    ("not set up yet: nothing to compare", record(None, keys=[]), None, []),
    ("not set up yet, Postgres has a row", record(None, keys=[]), stored(keys=[]), []),
    ("row, event and unknown event together", record(row(status="referred")),
     stored(row(), keys=KEYS[:3] + ["0009:closed"]),
     [diff(Kind.COLUMN, "status", "referred", "acknowledged"), diff(Kind.EVENT_MISSING, "0003:acknowledged"),
      diff(Kind.EVENT_UNKNOWN, "0009:closed")]),
]


@pytest.mark.parametrize("what, workflow, postgres, expected", CASES, ids=[c[0] for c in CASES])
def test_compare(what, workflow, postgres, expected):
    assert compare(workflow, postgres) == expected


@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")  # the stand-in values are not of the column types
def test_every_case_row_column_is_compared():
    everything_else = row().model_copy(update={name: object() for name in CaseRow.model_fields})
    assert [name for name, _, _ in column_differences(row(), everything_else)] == list(CaseRow.model_fields)


@pytest.mark.parametrize("kinds, expected", [
    ([Kind.COLUMN], True), ([Kind.EVENT_MISSING, Kind.COLUMN], True), ([Kind.EVENT_MISSING], False),
    ([Kind.ROW_MISSING], False), ([Kind.EVENT_UNKNOWN], False), ([], False),
])
def test_only_column_differences_are_repairable(kinds, expected):
    assert repairable(diff(kind) for kind in kinds) is expected


LINES = [
    (diff(Kind.COLUMN, "status", "acknowledged", "assigned"),
     f"{CASE}: kolom status berbeda: workflow 'acknowledged', PostgreSQL 'assigned'",
     f"{CASE}: column status differs: workflow 'acknowledged', PostgreSQL 'assigned'"),
    (diff(Kind.COLUMN, "closed_at", None, AT),
     f"{CASE}: kolom closed_at berbeda: workflow kosong, PostgreSQL 2026-03-17T02:00:00+00:00",
     f"{CASE}: column closed_at differs: workflow empty, PostgreSQL 2026-03-17T02:00:00+00:00"),
    (diff(Kind.COLUMN, "needs_investigation", True, False),
     f"{CASE}: kolom needs_investigation berbeda: workflow true, PostgreSQL false",
     f"{CASE}: column needs_investigation differs: workflow true, PostgreSQL false"),
    (diff(Kind.EVENT_MISSING, "0003:acknowledged"),
     f"{CASE}: peristiwa 0003:acknowledged dicatat oleh workflow tetapi tidak ada di PostgreSQL",
     f"{CASE}: event 0003:acknowledged recorded by the workflow is missing in PostgreSQL"),
    (diff(Kind.ROW_MISSING, workflow=4),
     f"{CASE}: baris kasus tidak ada di PostgreSQL padahal workflow sudah mencatat 4 langkah",
     f"{CASE}: no case row in PostgreSQL although the workflow recorded 4 step(s)"),
    (diff(Kind.EVENT_UNKNOWN, "0009:closed"),
     f"{CASE}: peristiwa 0009:closed ada di PostgreSQL tetapi tidak dikenal workflow",
     f"{CASE}: event 0009:closed in PostgreSQL is unknown to the workflow"),
]


@pytest.mark.parametrize("difference, indonesian, english", LINES, ids=[d.kind.value + d.subject for d, _, _ in LINES])
def test_one_line_per_difference_in_both_languages(difference, indonesian, english):
    assert describe(difference, "id") == indonesian
    assert describe(difference, "en") == english


# (what, outcome, repair, exit code, stdout lines)
OUTCOMES = [
    ("nothing differs", Outcome(checked=3), False, 0, []),
    ("a difference", Outcome(found=[diff(Kind.EVENT_MISSING, "0003:acknowledged")],
                             remaining=[diff(Kind.EVENT_MISSING, "0003:acknowledged")], checked=3), False, 1,
     [f"{CASE}: event 0003:acknowledged recorded by the workflow is missing in PostgreSQL"]),
    ("repaired, nothing left", Outcome(found=[diff(Kind.COLUMN, "status", "acknowledged", "assigned")],
                                       repaired=[CASE], checked=1), True, 0,
     [f"{CASE}: column status differs: workflow 'acknowledged', PostgreSQL 'assigned'",
      f"{CASE}: row repaired from the workflow's state"]),
    ("repair refused: the row moved on", Outcome(found=[diff(Kind.COLUMN, "status", "acknowledged", "assessed")],
                                                 refused=[CASE], remaining=[diff(Kind.COLUMN, "status")], checked=1),
     True, 1, [f"{CASE}: column status differs: workflow 'acknowledged', PostgreSQL 'assessed'",
               f"{CASE}: row not repaired: in PostgreSQL it has changed or is at a later step"]),
    ("a case that could not be asked", Outcome(unreachable={f"complaint-{CASE}": "timeout"}, checked=2), False, 4, []),
    ("a difference outweighs an unanswered case",
     Outcome(found=[diff(Kind.ROW_MISSING, workflow=2)], remaining=[diff(Kind.ROW_MISSING, workflow=2)],
             unreachable={"complaint-X": "timeout"}, checked=2), False, 1,
     [f"{CASE}: no case row in PostgreSQL although the workflow recorded 2 step(s)"]),
]


@pytest.mark.parametrize("what, outcome, repair, code, lines", OUTCOMES, ids=[o[0] for o in OUTCOMES])
def test_report_lines_and_exit_code(what, outcome, repair, code, lines):
    out, err = io.StringIO(), io.StringIO()
    assert report(outcome, repair, "en", out, err) == code
    assert out.getvalue().splitlines() == lines
    assert f"{outcome.checked} case(s) checked" in err.getvalue()
    for wf_id in outcome.unreachable:
        assert f"{wf_id.removeprefix('complaint-')}: could not be queried" in err.getvalue()
