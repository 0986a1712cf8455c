"""The outbox dispatcher against a real Postgres, a real SMTP server (aiosmtpd) and a real HTTP receiver."""

from __future__ import annotations

import asyncio
import email
import json
import socket
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator, Iterator

import pytest
from aiosmtpd.controller import Controller
from structlog.testing import capture_logs

from activities.db import Database, connect
from activities.notify import NOT_CONFIGURED, NOT_ON_ROSTER, Dispatcher
from referral import reference
from referral.config import Settings
from referral.records import CaseEvent, Notification
from tests.conftest import fresh_database

VILLAGE = "51.08.08.2010"
SUBJECT = "Kasus baru: SUBJECT-MARKER"
BODY = "Detail kasus BODY-MARKER"


def _recipient() -> str:
    roster = reference.sample_roster()
    return "PD-33" if "PD-33" in roster.officers else roster.coverage[VILLAGE]


RECIPIENT = _recipient()
RECIPIENT_EMAIL = reference.sample_roster().officers[RECIPIENT].email


# ---- servers ----

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler: keeps every message it accepts (appended from the controller's thread)."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[email.message.Message]:
        return [email.message_from_bytes(e.content) for e in self.envelopes]


@dataclass
class WebhookReceiver:
    """Minimal HTTP/1.1 server: answers with `statuses` in turn (then 200), records every request."""

    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in head[1:] if h)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            assert head[0].startswith("POST ")
            self.requests.append((headers, json.loads(body)))
            status = self.statuses.pop(0) if self.statuses else 200
            writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
        finally:
            writer.close()


# ---- fixtures ----

@pytest.fixture(scope="module")
async def db_url(admin_url: str) -> AsyncIterator[str]:
    """A fresh, migrated database with the sample roster for this module (conftest's fresh_database)."""
    async with fresh_database(admin_url, prefix="referral_test_notify") as url:
        yield url


@pytest.fixture(scope="module")
async def db(db_url: str) -> AsyncIterator[Database]:
    pool = await connect(db_url)
    try:
        yield Database(pool)
    finally:
        await pool.close()


@pytest.fixture(autouse=True)
async def clean(db: Database) -> None:
    await db.pool.execute("TRUNCATE notification_outbox, complaint_events, complaints")


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
async def webhook() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    try:
        receiver.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
        yield receiver
    finally:
        server.close()
        await server.wait_closed()


def settings_for(smtp: tuple[Inbox, int], webhook: WebhookReceiver, **overrides: Any) -> Settings:
    base = replace(Settings(), smtp_host="127.0.0.1", smtp_port=smtp[1], webhook_url=webhook.url)
    return replace(base, **overrides)


async def add_case(db: Database, complaint_id: str, not_before: datetime) -> CaseEvent:
    """A complaint row written directly, then one 'assigned' event notifying the pendamping."""
    await db.pool.execute(
        "INSERT INTO complaints (complaint_id, workflow_id, channel, status, village_code, kecamatan, category,"
        " bidang, urgency, subject, reporter, description, reported_at, received_at)"
        " VALUES ($1, $2, 'whatsapp', 'received', $3, 'Kubutambahan', 'penyandang_disabilitas',"
        " 'rehabilitasi_sosial', 'normal', '{}', '{}', 'test', $4, $4)",
        complaint_id, f"complaint-{complaint_id}", VILLAGE, not_before,
    )
    event = CaseEvent(
        complaint_id=complaint_id, key="assigned:1", event="assigned", actor="system", occurred_at=not_before,
        case={"status": "assigned", "pendamping_id": RECIPIENT, "assigned_at": not_before},
        notifications=[Notification(recipient_id=RECIPIENT, subject=SUBJECT, body=BODY, not_before=not_before)],
    )
    assert await db.record_event(event)
    return event


async def outbox(db: Database, channel: str) -> list[dict[str, Any]]:
    rows = await db.pool.fetch("SELECT * FROM notification_outbox WHERE channel = $1 ORDER BY id", channel)
    return [dict(r) for r in rows]


# ---- tests ----

async def test_delivers_each_notification_once_per_channel(db: Database, smtp, webhook) -> None:
    now = datetime.now(timezone.utc)
    event = await add_case(db, "C-A", now)
    dispatcher = Dispatcher(db, settings_for(smtp, webhook))

    with capture_logs() as logs:
        assert await dispatcher.deliver_due(now=now) == 2

    [msg] = smtp[0].messages()
    assert smtp[0].envelopes[0].rcpt_tos == [RECIPIENT_EMAIL]
    assert msg["To"] == RECIPIENT_EMAIL and msg["From"] == Settings().smtp_sender
    assert msg["Subject"] == SUBJECT and msg["X-Referral-Event"] == "C-A/assigned:1"
    assert BODY in msg.get_payload()
    [(headers, payload)] = webhook.requests
    assert headers["idempotency-key"] == f"C-A/assigned:1/{RECIPIENT}"
    assert headers["content-type"] == "application/json"
    [row] = await outbox(db, "webhook")
    assert payload == {"complaint_id": "C-A", "event_key": "assigned:1", "recipient_id": RECIPIENT,
                       "subject": SUBJECT, "body": BODY, "outbox_id": row["id"]}
    for row in await outbox(db, "email") + await outbox(db, "webhook"):
        assert (row["status"], row["attempts"], row["sent_at"]) == ("sent", 0, now)
    # Ids only in the logs, never the (possibly personal) subject or body.
    assert {e["channel"] for e in logs if e["event"] == "notification sent"} == {"email", "webhook"}
    assert "MARKER" not in repr(logs)

    assert await dispatcher.deliver_due(now=now + timedelta(days=1)) == 0
    assert not await db.record_event(event)  # a retried activity
    assert await dispatcher.deliver_due(now=now + timedelta(days=1)) == 0
    assert len(smtp[0].envelopes) == 1 and len(webhook.requests) == 1


async def test_webhook_errors_back_off_then_succeed(db: Database, smtp, webhook) -> None:
    t0 = datetime.now(timezone.utc)
    await add_case(db, "C-B", t0)
    webhook.statuses = [500, 500]
    dispatcher = Dispatcher(db, settings_for(smtp, webhook))

    assert await dispatcher.deliver_due(now=t0) == 1  # the email
    [row] = await outbox(db, "webhook")
    assert (row["status"], row["attempts"], row["not_before"]) == ("pending", 1, t0 + timedelta(minutes=1))
    assert "500" in row["last_error"]

    assert await dispatcher.deliver_due(now=t0 + timedelta(seconds=59)) == 0  # still backing off
    assert len(webhook.requests) == 1

    t1 = t0 + timedelta(minutes=1)
    assert await dispatcher.deliver_due(now=t1) == 0
    [row] = await outbox(db, "webhook")
    assert (row["status"], row["attempts"], row["not_before"]) == ("pending", 2, t1 + timedelta(minutes=2))

    assert await dispatcher.deliver_due(now=t1 + timedelta(minutes=1)) == 0
    t2 = t1 + timedelta(minutes=2)
    assert await dispatcher.deliver_due(now=t2) == 1
    [row] = await outbox(db, "webhook")
    assert (row["status"], row["attempts"], row["sent_at"]) == ("sent", 2, t2)
    assert len(webhook.requests) == 3 and len(smtp[0].envelopes) == 1
    assert len({h["idempotency-key"] for h, _ in webhook.requests}) == 1  # same key on every retry


async def test_gives_up_after_max_attempts(db: Database, smtp, webhook) -> None:
    t = datetime.now(timezone.utc)
    await add_case(db, "C-F", t)
    webhook.statuses = [503] * 10
    dispatcher = Dispatcher(db, settings_for(smtp, webhook, smtp_host=None), max_attempts=3)
    for _ in range(5):
        await dispatcher.deliver_due(now=t)
        t += timedelta(hours=2)
    [row] = await outbox(db, "webhook")
    assert (row["status"], row["attempts"], row["sent_at"]) == ("failed", 3, None)
    assert len(webhook.requests) == 3


async def test_waits_for_not_before(db: Database, smtp, webhook) -> None:
    now = datetime.now(timezone.utc)
    due = now + timedelta(hours=2)
    await add_case(db, "C-C", due)
    dispatcher = Dispatcher(db, settings_for(smtp, webhook))

    assert await dispatcher.deliver_due(now=now) == 0
    assert await dispatcher.deliver_due(now=due - timedelta(seconds=1)) == 0
    assert not smtp[0].envelopes and not webhook.requests
    assert await dispatcher.deliver_due(now=due) == 2
    assert len(smtp[0].envelopes) == 1 and len(webhook.requests) == 1


async def test_concurrent_dispatchers_send_each_row_once(db: Database, db_url: str, smtp, webhook) -> None:
    now = datetime.now(timezone.utc)
    cases = [f"C-D{i:02}" for i in range(12)]
    for complaint_id in cases:
        await add_case(db, complaint_id, now)
    settings = settings_for(smtp, webhook)
    other_pool = await connect(db_url)  # a second worker: its own pool
    try:
        first, second = Dispatcher(db, settings), Dispatcher(Database(other_pool), settings)

        async def drain(dispatcher: Dispatcher) -> int:
            total = 0
            while sent := await dispatcher.deliver_due(now=now, limit=3):
                total += sent
            return total

        totals = await asyncio.gather(drain(first), drain(second), drain(first), drain(second))
    finally:
        await other_pool.close()

    assert sum(totals) == 2 * len(cases)
    assert sorted(m["X-Referral-Event"] for m in smtp[0].messages()) == [f"{c}/assigned:1" for c in cases]
    assert sorted(p["complaint_id"] for _, p in webhook.requests) == cases
    assert {r["status"] for r in await outbox(db, "email") + await outbox(db, "webhook")} == {"sent"}


async def test_locked_rows_are_skipped_not_waited_for(db: Database, smtp, webhook) -> None:
    now = datetime.now(timezone.utc)
    await add_case(db, "C-L", now)
    dispatcher = Dispatcher(db, settings_for(smtp, webhook))
    async with db.pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT id FROM notification_outbox FOR UPDATE")  # another dispatcher's claim
        assert await asyncio.wait_for(dispatcher.deliver_due(now=now), 5) == 0
    assert await dispatcher.deliver_due(now=now) == 2


async def test_unconfigured_email_is_skipped(db: Database, smtp, webhook) -> None:
    now = datetime.now(timezone.utc)
    await add_case(db, "C-E", now)
    dispatcher = Dispatcher(db, settings_for(smtp, webhook, smtp_host=None))

    assert await dispatcher.deliver_due(now=now) == 1  # the webhook
    [row] = await outbox(db, "email")
    assert (row["status"], row["last_error"], row["attempts"], row["sent_at"]) == (
        "skipped", NOT_CONFIGURED, 0, None)
    assert await dispatcher.deliver_due(now=now + timedelta(days=1)) == 0
    assert not smtp[0].envelopes and len(webhook.requests) == 1


async def test_an_officer_taken_off_the_roster_is_not_notified(db: Database, smtp, webhook) -> None:
    now = datetime.now(timezone.utc)
    await add_case(db, "C-O", now)
    await db.pool.execute("UPDATE officers SET active = false WHERE officer_id = $1", RECIPIENT)
    try:
        assert await Dispatcher(db, settings_for(smtp, webhook)).deliver_due(now=now) == 0
    finally:
        await db.pool.execute("UPDATE officers SET active = true WHERE officer_id = $1", RECIPIENT)
    rows = await db.pool.fetch("SELECT status, last_error FROM notification_outbox WHERE complaint_id = 'C-O'")
    assert {(r["status"], r["last_error"]) for r in rows} == {("skipped", NOT_ON_ROSTER)}
    assert not smtp[0].envelopes and not webhook.requests


async def test_run_delivers_and_stops_promptly(db: Database, smtp, webhook) -> None:
    await add_case(db, "C-R", datetime.now(timezone.utc))
    stop = asyncio.Event()
    task = asyncio.create_task(Dispatcher(db, settings_for(smtp, webhook), poll_seconds=60).run(stop))
    try:
        for _ in range(100):
            if len(smtp[0].envelopes) == 1 and len(webhook.requests) == 1:
                break
            await asyncio.sleep(0.05)
        assert len(smtp[0].envelopes) == 1 and len(webhook.requests) == 1
        stop.set()
        await asyncio.wait_for(task, 2)  # mid-poll: must not sit out the 60 s
    finally:
        stop.set()
        if not task.done():
            task.cancel()
