"""Concurrency keeps each recipient's order; rows of a case that ended since are dropped with a reason."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg

from tests.integration.test_outbox_support import (  # noqa: F401 (fixtures)
    dispatcher, empty_outbox, eventually, open_case, outbox_url, pool, queue, rows_by_id, running, seconds,
    set_case_status, settings, webhook_receiver,
)

RECIPIENTS = ("PD-01", "PD-02", "KABID-PJS", "KADIS")


async def test_each_recipient_hears_in_order_one_at_a_time_while_the_batch_runs_concurrently(
        pool: asyncpg.Pool, outbox_url: str) -> None:
    now = datetime.now(timezone.utc)
    rng = random.Random(7)
    for case in range(12):
        complaint_id = f"C-ORD{case:02}"
        await open_case(pool, complaint_id)
        # Later cases' rows are due earlier for some recipients: order is (not_before, id), not id.
        for step in range(2):
            await queue(pool, complaint_id, f"00{step}:sla_warning", event="sla_warning", recipients=RECIPIENTS,
                        not_before=now - timedelta(seconds=rng.randrange(0, 600)))
    expected = {
        recipient: [r["id"] for r in await pool.fetch(
            "SELECT id FROM notification_outbox WHERE recipient_id = $1 ORDER BY not_before, id", recipient)]
        for recipient in RECIPIENTS
    }

    async def jittery(_: dict[str, Any]) -> int:
        await asyncio.sleep(rng.uniform(0, 0.02))
        return 200

    other_pool = await asyncpg.create_pool(outbox_url, min_size=1, max_size=4)
    try:
        async with webhook_receiver(jittery) as receiver:
            options = dict(batch_size=10, concurrency=8, poll_seconds=0.1)
            async with running(dispatcher(pool, settings(webhook_url=receiver.url), **options),
                               dispatcher(other_pool, settings(webhook_url=receiver.url), **options)):
                await eventually(lambda: len(receiver.requests) == 96)
    finally:
        await other_pool.close()

    heard = {r: [p["payload"]["outbox_id"] for p in receiver.requests if p["payload"]["recipient_id"] == r]
             for r in RECIPIENTS}
    assert heard == expected
    assert {r: receiver.max_in_flight[r] for r in RECIPIENTS} == {r: 1 for r in RECIPIENTS}
    assert receiver.max_in_flight["*"] > 1  # the recipients were served side by side
    assert {r["status"] for r in (await rows_by_id(pool)).values()} == {"sent"}


async def test_a_full_batch_is_followed_at_once_a_quiet_outbox_waits_for_the_poll(pool: asyncpg.Pool) -> None:
    await open_case(pool, "C-FULL")
    for step in range(30):
        await queue(pool, "C-FULL", f"{step:03}:sla_warning", recipients=(f"PD-{step + 1:02}",))
    async with webhook_receiver() as receiver:
        async with running(dispatcher(pool, settings(webhook_url=receiver.url), batch_size=10, poll_seconds=30)):
            await eventually(lambda: len(receiver.requests) == 30, timeout=10)  # three batches, no 30 s pauses
            await open_case(pool, "C-QUIET")
            await queue(pool, "C-QUIET", "001:assigned")
            await asyncio.sleep(1.0)
            assert len(receiver.requests) == 30  # the fourth claim found less than a batch: now polling


async def test_rows_of_a_case_closed_since_are_dropped_but_the_closing_notice_goes_out(pool: asyncpg.Pool) -> None:
    t0 = datetime.now(timezone.utc) - timedelta(days=3)
    closed_at = t0 + timedelta(days=2)
    due = datetime.now(timezone.utc)
    for complaint_id in ("C-CLOSED", "C-REJECTED", "C-OPEN", "C-REOPENED"):
        await open_case(pool, complaint_id, t0)
    ids = {}
    for complaint_id in ("C-CLOSED", "C-REJECTED", "C-OPEN", "C-REOPENED"):
        ids[complaint_id, "warning"] = await queue(pool, complaint_id, "003:sla_warning", event="sla_warning",
                                                   occurred_at=t0 + timedelta(days=1), not_before=due)
    ids["C-CLOSED", "closed"] = await queue(pool, "C-CLOSED", "005:closed", event="closed",
                                            occurred_at=closed_at, not_before=due)
    ids["C-CLOSED", "later"] = await queue(pool, "C-CLOSED", "006:note", event="note",
                                           occurred_at=closed_at + timedelta(hours=1), not_before=due)
    ids["C-REJECTED", "rejected"] = await queue(pool, "C-REJECTED", "004:rejected", event="rejected",
                                                occurred_at=closed_at, not_before=due)
    await set_case_status(pool, "C-CLOSED", "closed", closed_at)
    await set_case_status(pool, "C-REJECTED", "rejected", closed_at)
    await set_case_status(pool, "C-REOPENED", "referred", None)  # closed, then reopened: deliver again

    async with webhook_receiver() as receiver:
        assert await dispatcher(pool, settings(webhook_url=receiver.url)).deliver_due() == 5

    rows = await rows_by_id(pool)
    outcome = {key: (rows[i]["status"], rows[i]["last_error"]) for key, [i] in ids.items()}
    assert outcome == {
        ("C-CLOSED", "warning"): ("skipped", "case closed before delivery"),
        ("C-REJECTED", "warning"): ("skipped", "case rejected before delivery"),
        ("C-OPEN", "warning"): ("sent", None),
        ("C-REOPENED", "warning"): ("sent", None),
        ("C-CLOSED", "closed"): ("sent", None),
        ("C-CLOSED", "later"): ("sent", None),
        ("C-REJECTED", "rejected"): ("sent", None),
    }
    assert sorted(p["payload"]["event_key"] for p in receiver.requests) == [
        "003:sla_warning", "003:sla_warning", "004:rejected", "005:closed", "006:note"]

