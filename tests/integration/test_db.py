"""The data layer on a real Postgres: concurrent migrations, idempotent writes, an append-only trail."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import asyncpg
import pytest

from activities.db import Database, connect
from referral.records import CaseEvent, Notification
from tests.conftest import ROOT, fresh_database


async def test_two_workers_migrating_at_once_apply_each_migration_once(admin_url):
    async with fresh_database(admin_url, prefix="referral_migrate") as url:
        # fresh_database migrated once already; drop the bookkeeping to migrate a blank schema again.
        pools = [await connect(url) for _ in range(2)]
        try:
            await pools[0].execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            results = await asyncio.gather(*(Database(p).migrate() for p in pools))
            migrations = len(list((ROOT / "activities/sql").glob("*.sql")))
            assert sorted(map(len, results)) == [0, migrations]  # one worker applied them, the other waited
            assert await pools[0].fetchval("SELECT count(*) FROM schema_migrations") == migrations
        finally:
            for pool in pools:
                await pool.close()


async def _a_case(db: Database, complaint_id: str) -> None:
    await db.pool.execute(
        "INSERT INTO complaints (complaint_id, workflow_id, channel, status, village_code, kecamatan, category,"
        " bidang, urgency, subject, reporter, description, reported_at, received_at) VALUES ($1, $2, 'hotline',"
        " 'assigned', '51.08.08.2010', 'Kubutambahan', 'penyandang_disabilitas', 'rehabilitasi_sosial', 'normal',"
        " '{}', '{}', 'uji', now(), now())", complaint_id, f"complaint-{complaint_id}")


async def test_a_retried_event_writes_nothing_twice(db: Database):
    await _a_case(db, "ADU-DBTEST000001")
    event = CaseEvent(
        complaint_id="ADU-DBTEST000001", key="004:acknowledged", event="acknowledged", actor="PD-34",
        occurred_at=datetime(2026, 3, 17, 3, tzinfo=timezone.utc), case={"status": "acknowledged",
        "acknowledged_at": "2026-03-17T03:00:00+00:00"},
        notifications=[Notification(recipient_id="KABID-PJS", subject="s", body="b",
                                    not_before=datetime(2026, 3, 17, 3, tzinfo=timezone.utc))],
    )
    assert await db.record_event(event) is True
    assert await db.record_event(event) is False  # the retry
    assert [e["event"] for e in await db.events("ADU-DBTEST000001")] == ["acknowledged"]
    outbox = await db.pool.fetchval("SELECT count(*) FROM notification_outbox WHERE complaint_id = 'ADU-DBTEST000001'")
    assert outbox == 2  # e-mail and webhook, once each
    assert (await db.complaint("ADU-DBTEST000001"))["status"] == "acknowledged"


async def test_the_audit_trail_refuses_updates_and_deletes(db: Database):
    await _a_case(db, "ADU-DBTEST000002")
    await db.record_event(CaseEvent(complaint_id="ADU-DBTEST000002", key="001:x", event="x", actor="PD-34",
                                    occurred_at=datetime.now(timezone.utc)))
    for statement in ("UPDATE complaint_events SET actor = 'KADIS' WHERE complaint_id = 'ADU-DBTEST000002'",
                      "DELETE FROM complaint_events WHERE complaint_id = 'ADU-DBTEST000002'"):
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await db.pool.execute(statement)
