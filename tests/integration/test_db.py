"""The data layer on a real Postgres: concurrent migrations, idempotent writes, an append-only trail, a row
that never moves back, and a case opened again after Temporal's retention that writes its own rows."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest

from activities.case_activities import subject_key
from activities.store import Store, connect, migrate
from activities.store.cases import Message
from referral.case import CaseState
from referral.intake import CaseOpening, PersonalData
from referral.models import Status
from referral.records import CaseEvent, OpenCaseRequest
from tests.conftest import ROOT, fresh_database, make_intake

T0 = datetime(2026, 3, 17, 2, tzinfo=timezone.utc)


async def test_two_workers_migrating_at_once_apply_each_migration_once(admin_url):
    async with fresh_database(admin_url, prefix="referral_migrate") as url:
        # fresh_database migrated once already; drop the bookkeeping to migrate a blank schema again.
        pools = [await connect(url) for _ in range(2)]
        try:
            await pools[0].execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            results = await asyncio.gather(*(migrate(p) for p in pools))
            migrations = len(list((ROOT / "activities/sql").glob("*.sql")))
            assert sorted(map(len, results)) == [0, migrations]  # one worker applied them, the other waited
            assert await pools[0].fetchval("SELECT count(*) FROM schema_migrations") == migrations
        finally:
            for pool in pools:
                await pool.close()


def _event(complaint_id: str, key: str, event: str, sequence: int, status: Status = Status.ASSIGNED,
           notices: bool = False) -> tuple[CaseEvent, list[Message]]:
    intake = make_intake()
    case = CaseState(complaint_id=complaint_id, opening=CaseOpening.of(intake), category=intake.category,
                     bidang="rehabilitasi_sosial", status=status, pendamping_id="PD-34", sequence=sequence)
    event = CaseEvent(complaint_id=complaint_id, workflow_id=f"complaint-{complaint_id}", key=key, event=event,
                      actor="PD-34", occurred_at=T0, opening=case.opening, kecamatan="Kubutambahan",
                      received_at=T0, row=case.row())
    messages = [Message(recipient="head:rehabilitasi_sosial", subject="s", body="b", not_before=T0)] if notices else []
    return event, messages


async def test_a_retried_event_writes_nothing_twice_and_resolves_roles(db: Store):
    event, messages = _event("ADU-DBTEST000001", "0004:acknowledged", "acknowledged", 4, Status.ACKNOWLEDGED, True)
    first = await db.cases.record(event, messages)
    again = await db.cases.record(event, messages)  # the retry
    assert (first.new, again.new) == (True, False)
    assert first.recipients == again.recipients == {"head:rehabilitasi_sosial": "KABID-REHSOS"}
    assert [e.event for e in await db.cases.events("ADU-DBTEST000001")] == ["acknowledged"]
    outbox = await db.pool.fetchval("SELECT count(*) FROM notification_outbox WHERE complaint_id = 'ADU-DBTEST000001'")
    assert outbox == 2  # e-mail and webhook, once each
    assert (await db.cases.complaint("ADU-DBTEST000001")).status == "acknowledged"


async def test_officers_free_text_is_sealed_whether_or_not_the_case_has_a_key_yet(db: Store):
    # The first step makes the key (its intake never wrote a row); the second uses the key the first made.
    for key, sequence in (("0004:acknowledged", 4), ("0005:assessed", 5)):
        event, messages = _event("ADU-DBTEST000007", key, key.split(":")[1], sequence, Status.ACKNOWLEDGED, True)
        event = event.model_copy(update={"detail": {"note": f"catatan {sequence}"}})
        assert (await db.cases.record(event, messages)).new
    stored = await db.pool.fetch("SELECT detail FROM complaint_events WHERE complaint_id = 'ADU-DBTEST000007'")
    assert all("catatan" not in str(r["detail"]) for r in stored)  # encrypted in the table
    assert [e.detail["note"] for e in await db.cases.events("ADU-DBTEST000007", personal=True)] == [
        "catatan 4", "catatan 5"]
    assert await db.pool.fetchval("SELECT count(*) FROM case_keys WHERE complaint_id = 'ADU-DBTEST000007'") == 1
    assert await db.pool.fetchval(
        "SELECT count(*) FROM notification_outbox WHERE complaint_id = 'ADU-DBTEST000007'") == 4


async def test_two_roles_on_one_officer_queue_one_message_the_earliest(db: Store):
    event, _ = _event("ADU-DBTEST000008", "0004:escalated", "escalated", 4, Status.ACKNOWLEDGED)
    messages = [Message(recipient="kepala_dinas", subject="later", body="b", not_before=T0 + timedelta(hours=1)),
                Message(recipient="KADIS", subject="first", body="b", not_before=T0)]
    await db.cases.record(event, messages)
    rows = await db.pool.fetch("SELECT recipient_id, channel, subject FROM notification_outbox"
                               " WHERE complaint_id = 'ADU-DBTEST000008' ORDER BY channel")
    assert [tuple(r) for r in rows] == [("KADIS", "email", "first"), ("KADIS", "webhook", "first")]


async def test_an_older_write_never_moves_the_row_back(db: Store):
    await db.cases.record(*_event("ADU-DBTEST000003", "0005:assessed", "assessed", 5, Status.ASSESSED))
    await db.cases.record(*_event("ADU-DBTEST000003", "0004:acknowledged", "acknowledged", 4, Status.ACKNOWLEDGED))
    row = await db.cases.complaint("ADU-DBTEST000003")
    assert (row.status, row.sequence) == ("assessed", 5)


async def test_the_audit_trail_refuses_update_delete_and_truncate(db: Store):
    await db.cases.record(*_event("ADU-DBTEST000002", "0001:x", "x", 1))
    for statement in ("UPDATE complaint_events SET actor = 'KADIS' WHERE complaint_id = 'ADU-DBTEST000002'",
                      "DELETE FROM complaint_events WHERE complaint_id = 'ADU-DBTEST000002'",
                      "TRUNCATE complaint_events CASCADE"):
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await db.pool.execute(statement)


async def test_a_case_opened_again_after_retention_writes_its_own_rows(db: Store):
    """Temporal forgot the first run; the same sender's reference starts a new run of the same workflow id."""
    intake = make_intake(external_ref="2026-0001")
    personal = PersonalData.of(intake)
    key = subject_key(None, personal.subject.name, None, "salt")

    def request(run_id: str, at: datetime) -> OpenCaseRequest:
        return OpenCaseRequest(complaint_id="ADU-RETAINED0001", workflow_id="complaint-ADU-RETAINED0001",
                               run_id=run_id, opening=CaseOpening.of(intake), personal=personal, received_at=at,
                               assign_on=at.date())

    first = await db.cases.record_intake(request("run-1", T0), personal, key, "Kubutambahan", "rehabilitasi_sosial", [])
    retry = await db.cases.record_intake(request("run-1", T0), personal, key, "Kubutambahan", "rehabilitasi_sosial", [])
    later = await db.cases.record_intake(request("run-2", T0 + timedelta(days=400)), personal, key, "Kubutambahan",
                                         "rehabilitasi_sosial", [])
    assert (first.complaint_id, retry.complaint_id, later.complaint_id) == (
        "ADU-RETAINED0001", "ADU-RETAINED0001", "ADU-RETAINED0001-2")
    rows = await db.pool.fetch("SELECT complaint_id, run_id FROM complaints WHERE workflow_id = 'complaint-ADU-RETAINED0001'"
                               " ORDER BY received_at")
    assert [(r["complaint_id"], r["run_id"]) for r in rows] == [("ADU-RETAINED0001", "run-1"), ("ADU-RETAINED0001-2", "run-2")]
    for complaint_id in ("ADU-RETAINED0001", "ADU-RETAINED0001-2"):
        assert [e.event for e in await db.cases.events(complaint_id)] == ["received"]
