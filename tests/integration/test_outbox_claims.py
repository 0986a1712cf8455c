"""Claims: a slow send keeps its row, a lost claim changes nothing, a dead dispatcher's row is resent."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
from structlog.testing import capture_logs

from activities.store.outbox import OutboxStore, Outcome
from tests.integration.test_outbox_support import (  # noqa: F401 (fixtures)
    Inbox, dispatcher, empty_outbox, eventually, open_case, outbox_url, pool, queue, rows_by_id, running, seconds,
    settings, smtp_server, webhook_receiver,
)

RECIPIENTS = ("PD-01", "PD-02", "PD-03")


async def test_two_dispatchers_and_a_slow_smtp_server_send_each_row_once(pool: asyncpg.Pool, outbox_url: str) -> None:
    await open_case(pool, "C-SLOW")
    ids = await queue(pool, "C-SLOW", "001:assigned", recipients=RECIPIENTS, channels=("email",))
    inbox = Inbox(delay=1.5)  # each message takes 2.5 leases to accept
    other_pool = await asyncpg.create_pool(outbox_url, min_size=1, max_size=4)  # a second worker
    try:
        with smtp_server(inbox) as port:
            options = dict(lease=seconds(0.6), poll_seconds=0.1)
            first = dispatcher(pool, settings(smtp_port=port), **options)
            second = dispatcher(other_pool, settings(smtp_port=port), **options)
            async with running(first, second):
                await eventually(lambda: len(inbox.received) >= len(ids))
                await asyncio.sleep(2.0)  # time enough for a wrongly resent copy to arrive
    finally:
        await other_pool.close()

    assert sorted(inbox.events()) == ["C-SLOW/001:assigned"] * 3
    assert sorted(r for m in inbox.received for r in m["rcpt_tos"]) == [
        "pd01@dinsos.example", "pd02@dinsos.example", "pd03@dinsos.example"]
    rows = await rows_by_id(pool)
    assert {(r["status"], r["attempts"], r["claim_token"]) for r in rows.values()} == {("sent", 0, None)}


async def test_without_the_heartbeat_a_slow_send_is_taken_over_and_only_one_finish_counts(
        pool: asyncpg.Pool) -> None:
    """What the claim renewal prevents: a stalled claimer's row is sent again (at-least-once)."""
    await open_case(pool, "C-STALL")
    [row_id] = await queue(pool, "C-STALL", "001:assigned", channels=("email",))
    inbox = Inbox(delay=1.0)
    with smtp_server(inbox) as port, capture_logs() as logs:
        stalled = dispatcher(pool, settings(smtp_port=port), lease=seconds(0.3), renew_every=seconds(60))
        first = asyncio.create_task(stalled.deliver_due())
        await asyncio.sleep(0.5)  # the claim has expired, the send is still going
        taker = dispatcher(pool, settings(smtp_port=port), lease=seconds(5))
        assert await taker.deliver_due() == 1
        assert await first == 0
    assert len(inbox.received) == 2  # at-least-once: the receiver de-duplicates on X-Referral-Event
    assert len(set(inbox.events())) == 1
    row = (await rows_by_id(pool))[row_id]
    assert (row["status"], row["claim_token"]) == ("sent", None)
    assert [e["outbox_id"] for e in logs if "claim lost" in e["event"]] == [row_id]


async def test_a_late_failure_does_not_turn_sent_back_to_pending(pool: asyncpg.Pool) -> None:
    await open_case(pool, "C-LATE")
    [row_id] = await queue(pool, "C-LATE", "001:assigned")
    calls = 0

    async def slow_failure_then_success(_: dict[str, Any]) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(1.2)
            return 500
        return 200

    async with webhook_receiver(slow_failure_then_success) as receiver:
        with capture_logs() as logs:
            stalled = dispatcher(pool, settings(webhook_url=receiver.url), lease=seconds(0.3),
                                 renew_every=seconds(60))
            late = asyncio.create_task(stalled.deliver_due())
            await asyncio.sleep(0.6)
            assert await dispatcher(pool, settings(webhook_url=receiver.url)).deliver_due() == 1
            assert await late == 0  # its 500 arrives after the other dispatcher's 200

    row = (await rows_by_id(pool))[row_id]
    assert (row["status"], row["attempts"], row["last_error"], row["claim_token"]) == ("sent", 0, None, None)
    assert [e["outcome"] for e in logs if "claim lost" in e["event"]] == ["pending"]
    assert len(receiver.requests) == 2


async def test_finish_and_renew_need_the_current_claim(pool: asyncpg.Pool) -> None:
    store, t0, lease = OutboxStore(pool), datetime.now(timezone.utc), timedelta(minutes=1)
    await open_case(pool, "C-TOKEN")
    [row_id] = await queue(pool, "C-TOKEN", "001:assigned", not_before=t0)

    [mine] = await store.claim(t0, 10, lease)
    assert await store.claim(t0 + timedelta(seconds=30), 10, lease) == []  # held: nobody else gets it
    assert await store.renew([mine.claim], t0 + timedelta(minutes=2)) == {row_id}
    assert await store.claim(t0 + timedelta(seconds=90), 10, lease) == []  # the renewal counted
    [theirs] = await store.claim(t0 + timedelta(minutes=3), 10, lease)  # expired: taken over
    assert theirs.claim.token != mine.claim.token and theirs.outbox_id == row_id

    assert await store.renew([mine.claim], t0 + timedelta(minutes=9)) == set()
    assert not await store.finish(mine.claim, Outcome("pending", 1, "E", not_before=t0))
    assert await store.finish(theirs.claim, Outcome("sent", 0, sent_at=t0 + timedelta(minutes=3)))
    assert not await store.finish(mine.claim, Outcome("failed", 8, "E"))
    assert not await store.finish(theirs.claim, Outcome("pending", 1, "E", not_before=t0))  # already sent
    row = (await rows_by_id(pool))[row_id]
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 0, None)


async def test_a_dispatcher_that_dies_mid_send_loses_the_row_after_the_lease(pool: asyncpg.Pool) -> None:
    await open_case(pool, "C-DEAD")
    [row_id] = await queue(pool, "C-DEAD", "001:assigned")
    hang = asyncio.Event()

    async def first_hangs(request: dict[str, Any]) -> int:
        if len(receiver.requests) == 1:
            await hang.wait()
        return 200

    async with webhook_receiver(first_hangs) as receiver:
        try:
            doomed = asyncio.create_task(
                dispatcher(pool, settings(webhook_url=receiver.url), lease=seconds(1)).deliver_due())
            await eventually(lambda: len(receiver.requests) == 1)
            doomed.cancel()  # the worker dies mid-send: no finish, no more renewals
            await asyncio.gather(doomed, return_exceptions=True)
            successor = dispatcher(pool, settings(webhook_url=receiver.url), lease=seconds(1))
            assert await successor.deliver_due() == 0  # still claimed by the dead dispatcher
            await asyncio.sleep(1.1)
            assert await successor.deliver_due() == 1
        finally:
            hang.set()

    [first, second] = receiver.requests
    assert first["headers"]["idempotency-key"] == second["headers"]["idempotency-key"] == "C-DEAD/001:assigned/PD-34"
    assert (await rows_by_id(pool))[row_id]["status"] == "sent"


async def test_stopping_finishes_the_send_in_flight_and_gives_the_rest_back(pool: asyncpg.Pool) -> None:
    await open_case(pool, "C-STOP")
    ids = [(await queue(pool, "C-STOP", f"00{step}:sla_warning"))[0] for step in range(3)]  # one recipient

    async def slow(_: dict[str, Any]) -> int:
        await asyncio.sleep(1.0)
        return 200

    async with webhook_receiver(slow) as receiver:
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher(pool, settings(webhook_url=receiver.url)).run(stop))
        try:
            await eventually(lambda: len(receiver.requests) == 1)
            stop.set()
            await asyncio.wait_for(task, 1.8)  # not the 3 s the whole stream would take
        finally:
            stop.set()
            await asyncio.gather(task, return_exceptions=True)

    rows = await rows_by_id(pool)
    assert [(rows[i]["status"], rows[i]["claim_token"], rows[i]["attempts"]) for i in ids] == [
        ("sent", None, 0), ("pending", None, 0), ("pending", None, 0)]
