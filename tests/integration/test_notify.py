"""The outbox dispatcher against a real Postgres, a real SMTP server (aiosmtpd) and a real HTTP receiver.

The claims, order, dropped rows, STARTTLS, indexes and throughput have their own test_outbox_* modules.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator, Iterator

import asyncpg
import pytest
from structlog.testing import capture_logs

from activities.notify import NOT_CONFIGURED, NOT_ON_ROSTER, verify_webhook
from activities.store import Store
from activities.store.cases import Message
from referral import reference
from referral.case import CaseRow
from referral.config import Settings
from referral.intake import CaseOpening
from referral.records import CaseEvent
from tests.integration.test_outbox_support import (  # noqa: F401 (fixtures)
    VILLAGE, Inbox, WebhookReceiver, dispatcher, empty_outbox, open_case, outbox_url, pool, queue, rows_by_id,
    settings, smtp_server, webhook_receiver,
)

SUBJECT = "Kasus baru: SUBJECT-MARKER"
BODY = "Detail kasus BODY-MARKER"
RECIPIENT = "PD-33"
RECIPIENT_EMAIL = reference.sample_roster().officers[RECIPIENT].email


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with smtp_server(inbox) as port:
        yield inbox, port


@pytest.fixture
async def webhook() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as receiver:
        yield receiver


def both(smtp: tuple[Inbox, int], webhook: WebhookReceiver) -> Settings:
    return settings(smtp_port=smtp[1], webhook_url=webhook.url)


def close_to(actual: datetime | None, expected: datetime) -> bool:
    """Outcomes are stamped with the batch's clock: the `now` passed in plus the real time elapsed."""
    return actual is not None and expected <= actual < expected + timedelta(seconds=5)


async def record_assignment(pool: asyncpg.Pool, complaint_id: str, at: datetime) -> tuple[CaseEvent, list[Message]]:
    """The real writer (CaseStore.record) queues the notification: the dispatcher must read its rows."""
    await open_case(pool, complaint_id, at)
    opening = CaseOpening(channel="puskesos", village_code=VILLAGE, category="penyandang_disabilitas",
                          urgency="normal", reported_at=at)
    row = CaseRow(status="assigned", category="penyandang_disabilitas", bidang="rehabilitasi_sosial",
                  pendamping_id=RECIPIENT, escalation_level=0, needs_investigation=False, outcome=None,
                  duplicate_of=None, policy_version=None, calendar_version=None, needs_attention=None,
                  assigned_at=at, acknowledged_at=None, assessed_at=None, referred_at=None, resolved_at=None,
                  closed_at=None, sequence=2)
    event = CaseEvent(complaint_id=complaint_id, workflow_id=f"complaint-{complaint_id}", key="0002:assigned",
                      event="assigned", actor="system", occurred_at=at, opening=opening, kecamatan="Kubutambahan",
                      received_at=at, row=row)
    messages = [Message(recipient=RECIPIENT, subject=SUBJECT, body=BODY, not_before=at)]
    assert (await Store(pool).cases.record(event, messages)).new
    return event, messages


async def test_delivers_each_notification_once_per_channel(pool: asyncpg.Pool, smtp, webhook) -> None:
    now = datetime.now(timezone.utc)
    event, messages = await record_assignment(pool, "C-A", now)
    sender = dispatcher(pool, both(smtp, webhook))

    with capture_logs() as logs:
        assert await sender.deliver_due(now=now) == 2

    [received] = smtp[0].received
    msg = received["message"]
    assert received["rcpt_tos"] == [RECIPIENT_EMAIL]
    assert msg["To"] == RECIPIENT_EMAIL and msg["From"] == Settings().smtp_sender
    assert msg["Subject"] == SUBJECT and msg["X-Referral-Event"] == "C-A/0002:assigned"
    assert BODY in msg.get_payload()
    [request] = webhook.requests
    headers, payload = request["headers"], request["payload"]
    assert headers["idempotency-key"] == f"C-A/0002:assigned/{RECIPIENT}"
    assert headers["content-type"] == "application/json"
    rows = await rows_by_id(pool)
    [webhook_id] = [i for i, r in rows.items() if r["channel"] == "webhook"]
    assert payload == {"complaint_id": "C-A", "event_key": "0002:assigned", "recipient_id": RECIPIENT,
                       "subject": SUBJECT, "body": BODY, "outbox_id": webhook_id,
                       "timestamp": int(headers["x-referral-timestamp"])}
    for row in rows.values():
        assert (row["status"], row["attempts"], row["claim_token"]) == ("sent", 0, None)
        assert close_to(row["sent_at"], now)
    # Ids only in the logs, never the (possibly personal) subject or body.
    assert {e["channel"] for e in logs if e["event"] == "notification sent"} == {"email", "webhook"}
    assert "MARKER" not in repr(logs)

    assert await sender.deliver_due(now=now + timedelta(days=1)) == 0
    assert not (await Store(pool).cases.record(event, messages)).new  # a retried activity
    assert await sender.deliver_due(now=now + timedelta(days=1)) == 0
    assert len(smtp[0].received) == 1 and len(webhook.requests) == 1


async def test_webhook_errors_back_off_then_succeed(pool: asyncpg.Pool, smtp, webhook) -> None:
    t0 = datetime.now(timezone.utc)
    await open_case(pool, "C-B", t0)
    [row_id] = await queue(pool, "C-B", "0002:assigned", not_before=t0)
    webhook.statuses.extend([500, 500])
    sender = dispatcher(pool, both(smtp, webhook))

    assert await sender.deliver_due(now=t0) == 0
    row = (await rows_by_id(pool))[row_id]
    assert (row["status"], row["attempts"], row["claim_token"]) == ("pending", 1, None)
    assert close_to(row["not_before"], t0 + timedelta(minutes=1)) and "500" in row["last_error"]

    assert await sender.deliver_due(now=t0 + timedelta(seconds=59)) == 0  # still backing off
    assert len(webhook.requests) == 1

    t1 = row["not_before"]
    assert await sender.deliver_due(now=t1) == 0
    row = (await rows_by_id(pool))[row_id]
    assert (row["status"], row["attempts"]) == ("pending", 2)
    assert close_to(row["not_before"], t1 + timedelta(minutes=2))

    assert await sender.deliver_due(now=t1 + timedelta(minutes=1)) == 0
    t2 = row["not_before"]
    assert await sender.deliver_due(now=t2) == 1
    row = (await rows_by_id(pool))[row_id]
    assert (row["status"], row["attempts"]) == ("sent", 2) and close_to(row["sent_at"], t2)
    assert "500" in row["last_error"]  # kept: a flaky receiver stays visible
    assert len(webhook.requests) == 3
    assert len({r["headers"]["idempotency-key"] for r in webhook.requests}) == 1  # same key on every retry


async def test_gives_up_after_max_attempts(pool: asyncpg.Pool, webhook) -> None:
    t = datetime.now(timezone.utc)
    await open_case(pool, "C-F", t)
    [row_id] = await queue(pool, "C-F", "0002:assigned", not_before=t)
    webhook.statuses.extend([503] * 10)
    sender = dispatcher(pool, settings(webhook_url=webhook.url), max_attempts=3)
    for _ in range(5):
        await sender.deliver_due(now=t)
        t += timedelta(hours=2)
    row = (await rows_by_id(pool))[row_id]
    assert (row["status"], row["attempts"], row["sent_at"]) == ("failed", 3, None)
    assert len(webhook.requests) == 3


async def test_waits_for_not_before(pool: asyncpg.Pool, smtp, webhook) -> None:
    now = datetime.now(timezone.utc)
    due = now + timedelta(hours=2)
    await open_case(pool, "C-C", now)
    await queue(pool, "C-C", "0002:assigned", recipients=(RECIPIENT,), channels=("email", "webhook"), not_before=due)
    sender = dispatcher(pool, both(smtp, webhook))

    assert await sender.deliver_due(now=now) == 0
    assert await sender.deliver_due(now=due - timedelta(seconds=1)) == 0
    assert not smtp[0].received and not webhook.requests
    assert await sender.deliver_due(now=due) == 2
    assert len(smtp[0].received) == 1 and len(webhook.requests) == 1


async def test_concurrent_dispatchers_send_each_row_once(pool: asyncpg.Pool, outbox_url: str, smtp, webhook) -> None:
    now = datetime.now(timezone.utc)
    cases = [f"C-D{i:02}" for i in range(12)]
    for i, complaint_id in enumerate(cases):
        await open_case(pool, complaint_id, now)
        await queue(pool, complaint_id, "0002:assigned", recipients=(f"PD-{i % 4 + 1:02}",),
                    channels=("email", "webhook"), not_before=now)
    other_pool = await asyncpg.create_pool(outbox_url, min_size=1, max_size=4)  # a second worker: its own pool
    try:
        first, second = dispatcher(pool, both(smtp, webhook)), dispatcher(other_pool, both(smtp, webhook))

        async def drain(sender: Any) -> int:
            total = 0
            while sent := await sender.deliver_due(now=now, limit=3):
                total += sent
            return total

        totals = await asyncio.gather(drain(first), drain(second), drain(first), drain(second))
    finally:
        await other_pool.close()

    assert sum(totals) == 2 * len(cases)
    assert sorted(smtp[0].events()) == [f"{c}/0002:assigned" for c in cases]
    assert sorted(r["payload"]["complaint_id"] for r in webhook.requests) == cases
    assert {r["status"] for r in (await rows_by_id(pool)).values()} == {"sent"}


async def test_locked_rows_are_skipped_not_waited_for(pool: asyncpg.Pool, smtp, webhook) -> None:
    now = datetime.now(timezone.utc)
    await open_case(pool, "C-L", now)
    await queue(pool, "C-L", "0002:assigned", channels=("email", "webhook"), not_before=now)
    sender = dispatcher(pool, both(smtp, webhook))
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT id FROM notification_outbox FOR UPDATE")  # another transaction's lock
        assert await asyncio.wait_for(sender.deliver_due(now=now), 5) == 0
    assert await sender.deliver_due(now=now) == 2


async def test_unconfigured_email_is_skipped(pool: asyncpg.Pool, smtp, webhook) -> None:
    now = datetime.now(timezone.utc)
    await open_case(pool, "C-E", now)
    await queue(pool, "C-E", "0002:assigned", channels=("email", "webhook"), not_before=now)
    sender = dispatcher(pool, settings(webhook_url=webhook.url))

    assert await sender.deliver_due(now=now) == 1  # the webhook
    [row] = [r for r in (await rows_by_id(pool)).values() if r["channel"] == "email"]
    assert (row["status"], row["last_error"], row["attempts"], row["sent_at"]) == ("skipped", NOT_CONFIGURED, 0, None)
    assert await sender.deliver_due(now=now + timedelta(days=1)) == 0
    assert not smtp[0].received and len(webhook.requests) == 1


async def test_an_officer_taken_off_the_roster_is_not_notified(pool: asyncpg.Pool, smtp, webhook) -> None:
    now = datetime.now(timezone.utc)
    await open_case(pool, "C-O", now)
    await queue(pool, "C-O", "0002:assigned", recipients=(RECIPIENT,), channels=("email", "webhook"), not_before=now)
    await pool.execute("UPDATE officers SET active = false WHERE officer_id = $1", RECIPIENT)
    try:
        assert await dispatcher(pool, both(smtp, webhook)).deliver_due(now=now) == 0
    finally:
        await pool.execute("UPDATE officers SET active = true WHERE officer_id = $1", RECIPIENT)
    rows = (await rows_by_id(pool)).values()
    assert {(r["status"], r["last_error"]) for r in rows} == {("skipped", NOT_ON_ROSTER)}
    assert not smtp[0].received and not webhook.requests


async def test_run_delivers_and_stops_promptly(pool: asyncpg.Pool, smtp, webhook) -> None:
    await open_case(pool, "C-R")
    await queue(pool, "C-R", "0002:assigned", channels=("email", "webhook"))
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher(pool, both(smtp, webhook), poll_seconds=60).run(stop))
    try:
        for _ in range(100):
            if len(smtp[0].received) == 1 and len(webhook.requests) == 1:
                break
            await asyncio.sleep(0.05)
        assert len(smtp[0].received) == 1 and len(webhook.requests) == 1
        stop.set()
        await asyncio.wait_for(task, 2)  # mid-poll: must not sit out the 60 s
    finally:
        stop.set()
        if not task.done():
            task.cancel()


async def test_webhooks_are_signed_so_the_receiver_can_check_them(pool: asyncpg.Pool, webhook) -> None:
    now = datetime.now(timezone.utc)
    await open_case(pool, "C-S", now)
    await queue(pool, "C-S", "0002:assigned", not_before=now)
    secret = "rahasia-penerima"
    assert await dispatcher(pool, settings(webhook_url=webhook.url), webhook_secret=secret).deliver_due(now=now) == 1

    [request] = webhook.requests
    headers, raw = request["headers"], request["raw"]
    expected = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    assert headers["x-referral-signature"] == expected
    assert abs(int(headers["x-referral-timestamp"]) - now.timestamp()) < 5
    assert verify_webhook(secret, raw, headers, now=time.time()) == request["payload"]
