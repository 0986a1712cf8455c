"""Shared pieces of the outbox tests: a fresh database, minimal cases written by SQL, real servers.

Test modules import the fixtures they use (`from tests.integration.test_outbox_support import pool, ...`).
This module holds no tests itself.
"""

from __future__ import annotations

import asyncio
import email
import json
import socket
import time
from collections import Counter
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

import asyncpg
import pytest
from aiosmtpd.controller import Controller

from activities.notify import DispatchOptions, Dispatcher
from activities.store.schema import connect
from referral.config import Settings
from tests.conftest import fresh_database

VILLAGE = "51.08.08.2010"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- database ----

@pytest.fixture(scope="module")
async def outbox_url(admin_url: str) -> AsyncIterator[str]:
    async with fresh_database(admin_url, prefix="referral_test_outbox") as url:
        yield url


@pytest.fixture(scope="module")
async def pool(outbox_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await connect(outbox_url)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture(autouse=True)
async def empty_outbox(pool: asyncpg.Pool) -> None:
    """Each test starts with an empty outbox; cases and events stay (the trail is append-only), so every
    test of a module uses complaint ids of its own."""
    await pool.execute("DELETE FROM notification_outbox")


async def open_case(pool: asyncpg.Pool, complaint_id: str, at: datetime | None = None) -> None:
    """A minimal case row (for the foreign keys), open and assigned."""
    at = at or datetime.now(timezone.utc)
    await pool.execute(
        "INSERT INTO complaints (complaint_id, workflow_id, channel, status, village_code, kecamatan, category,"
        " bidang, urgency, subject, reporter, description, reported_at, received_at)"
        " VALUES ($1, $2, 'puskesos', 'assigned', $3, 'Kubutambahan', 'penyandang_disabilitas',"
        " 'rehabilitasi_sosial', 'normal', '{}', '{}', 'test', $4, $4)",
        complaint_id, f"complaint-{complaint_id}", VILLAGE, at,
    )


async def set_case_status(pool: asyncpg.Pool, complaint_id: str, status: str, closed_at: datetime | None) -> None:
    await pool.execute("UPDATE complaints SET status = $2, closed_at = $3 WHERE complaint_id = $1",
                       complaint_id, status, closed_at)


async def queue(pool: asyncpg.Pool, complaint_id: str, event_key: str, *, event: str = "assigned",
                recipients: tuple[str, ...] = ("PD-34",), channels: tuple[str, ...] = ("webhook",),
                not_before: datetime | None = None, occurred_at: datetime | None = None) -> list[int]:
    """An event and its outbox rows, with the columns CaseStore.record (activities/store/cases.py) writes."""
    not_before = not_before or datetime.now(timezone.utc)
    await pool.execute(
        "INSERT INTO complaint_events (complaint_id, event_key, event, actor, occurred_at)"
        " VALUES ($1, $2, $3, 'system', $4) ON CONFLICT DO NOTHING",
        complaint_id, event_key, event, occurred_at or not_before,
    )
    ids = []
    for recipient in recipients:
        for channel in channels:
            ids.append(await pool.fetchval(
                "INSERT INTO notification_outbox (complaint_id, event_key, recipient_id, channel, subject, body,"
                " not_before) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                complaint_id, event_key, recipient, channel, f"Subjek {event}", f"Isi {event}", not_before,
            ))
    return ids


async def rows_by_id(pool: asyncpg.Pool) -> dict[int, dict[str, Any]]:
    return {r["id"]: dict(r) for r in await pool.fetch("SELECT * FROM notification_outbox ORDER BY id")}


def dispatcher(pool: asyncpg.Pool, settings: Settings, **options: Any) -> Dispatcher:
    """A dispatcher on its own pool-holder, with options independent of the environment."""
    return Dispatcher(SimpleNamespace(pool=pool), settings, DispatchOptions(), **options)


def settings(smtp_port: int | None = None, webhook_url: str | None = None) -> Settings:
    return replace(Settings(), smtp_host="127.0.0.1" if smtp_port else None, smtp_port=smtp_port or 25,
                   webhook_url=webhook_url)


@asynccontextmanager
async def running(*dispatchers: Dispatcher) -> AsyncIterator[None]:
    """Run dispatchers' poll loops for the duration of the block, then stop them."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(d.run(stop)) for d in dispatchers]
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)


async def eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


# ---- SMTP ----

class Inbox:
    """aiosmtpd handler: keeps every message with whether it came over TLS; may answer slowly."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.received: list[dict[str, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.received.append({
            "message": email.message_from_bytes(envelope.content), "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None, "peer": session.peer,
            "login": session.auth_data.login.decode() if session.authenticated else None,
        })
        return "250 Message accepted for delivery"

    def events(self) -> list[str]:
        return [m["message"]["X-Referral-Event"] for m in self.received]


@contextmanager
def smtp_server(inbox: Inbox, **smtp_options: Any) -> Iterator[int]:
    """A real aiosmtpd server in its own thread; yields its port."""
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **smtp_options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


# ---- webhook receiver ----

Respond = Callable[[dict[str, Any]], Awaitable[int]]


async def ok(_: dict[str, Any]) -> int:
    return 200


@dataclass
class WebhookReceiver:
    """A keep-alive HTTP/1.1 server. `respond` (awaited per request) may take its time and picks the status,
    unless `statuses` holds answers queued by the test, given in turn."""

    respond: Respond = ok
    statuses: list[int] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    in_flight: Counter = field(default_factory=Counter)
    max_in_flight: Counter = field(default_factory=Counter)
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in head[1:] if h)}
                raw = await reader.readexactly(int(headers.get("content-length", "0")))
                request = {"line": head[0], "headers": headers, "raw": raw, "payload": json.loads(raw),
                           "received": time.time()}
                status = await self._answer(request)
                try:
                    writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())
                    await writer.drain()
                except ConnectionError:  # the client gave up on this request
                    return
        finally:
            writer.close()

    async def _answer(self, request: dict[str, Any]) -> int:
        recipient = request["payload"]["recipient_id"]
        self.in_flight[recipient] += 1
        self.in_flight["*"] += 1
        for key in (recipient, "*"):
            self.max_in_flight[key] = max(self.max_in_flight[key], self.in_flight[key])
        try:
            self.requests.append(request)
            status = await self.respond(request)
            return self.statuses.pop(0) if self.statuses else status
        finally:
            self.in_flight[recipient] -= 1
            self.in_flight["*"] -= 1

    def outbox_ids(self) -> list[int]:
        return [r["payload"]["outbox_id"] for r in self.requests]


@asynccontextmanager
async def webhook_receiver(respond: Respond = ok) -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver(respond)
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    try:
        receiver.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
        yield receiver
    finally:
        server.close()
        await server.wait_closed()


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)
