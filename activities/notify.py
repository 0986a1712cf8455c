"""Delivers `notification_outbox` rows by email and webhook, outside the workflow.

The workflow only writes outbox rows (in the same transaction as its event), so a slow or broken
mail server never blocks a case. Any number of dispatchers (one per worker) share one outbox.

Claims. A dispatcher claims a batch of due rows: each row gets its own claim token (uuid) and an
expiry `lease` ahead, and turns `sending`. While the batch is being delivered a heartbeat renews
the claims every `lease / 3`, so a slow but alive sender keeps its rows however long the send
takes. A finish (sent, retry, failed, skipped) applies only while the row still carries the
dispatcher's token and is not `sent`; a finish that lost its claim is logged and changes nothing.

At-least-once. A dispatcher that dies mid-send stops renewing; after the lease the row is claimed
again and resent. Receivers therefore de-duplicate: emails carry `X-Referral-Event`
(`complaint_id/event_key`), webhooks an `Idempotency-Key` (`complaint_id/event_key/recipient_id`),
both stable across every retry of the row.

Order and throughput. A batch is delivered concurrently (at most `concurrency` sends at a time),
but the rows of one recipient on one channel go out one after another in (not_before, id) order:
no dispatcher claims a recipient's rows while another has a send in flight for them. A full batch
is followed by the next claim at once; a quiet outbox is polled every `poll_seconds`.

Dropped rows. A row whose case has since been closed or rejected is `skipped` with the reason in
`last_error`, except the closing (or rejection) notice itself and anything queued at or after it.

Webhook signature. With `REFERRAL_WEBHOOK_SECRET` set, each POST carries
`X-Referral-Timestamp: <unix seconds>` and `X-Referral-Signature: sha256=<hex HMAC-SHA256 of the raw
body, keyed with the secret>`. The body's `timestamp` field repeats the header, so the signature
covers it and a replay cannot be given a fresh time. A receiver (see `verify_webhook`):
  1. computes the HMAC over the raw request bytes (before any JSON parsing) and compares it with
     the header in constant time;
  2. parses the body and refuses it unless `timestamp` equals the header and lies within 5 minutes
     of its own clock;
  3. drops an `Idempotency-Key` it has already processed (resends and retries reuse it).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import smtplib
import ssl
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from typing import Any, AsyncIterator, Iterable, Mapping, Protocol

import asyncpg
import httpx
import structlog

from activities.store.outbox import Claim, ClaimedNotification, Outcome, OutboxStore
from referral.config import Settings
from referral.models import FINISHED_STATUSES

log = structlog.get_logger(__name__)

TIMEOUT_SECONDS = 10.0
BACKOFF_FIRST, BACKOFF_CAP = timedelta(minutes=1), timedelta(hours=1)
SIGNATURE_TOLERANCE_SECONDS = 300
NOT_CONFIGURED = "channel not configured"
NOT_ON_ROSTER = "recipient is no longer on the roster"
_FINISHED = {s.value for s in FINISHED_STATUSES}


# ---- settings ----

def _env_number(environ: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


def _trusting(ca_file: str | None) -> ssl.SSLContext | None:
    """Certificate checks stay on; a CA file adds the office's own CA (e.g. a self-signed mail server)."""
    if ca_file is None:
        return None
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"REFERRAL_SMTP_CA_FILE: cannot load {ca_file!r} ({exc})") from None


@dataclass(frozen=True)
class DispatchOptions:
    """How the dispatcher paces itself and authenticates; `from_env` reads the REFERRAL_* variables."""

    batch_size: int = 100  # REFERRAL_OUTBOX_BATCH_SIZE: rows per claim
    concurrency: int = 8  # REFERRAL_OUTBOX_CONCURRENCY: sends in flight at once
    poll_seconds: float = 2.0  # REFERRAL_OUTBOX_POLL_SECONDS: pause after a batch that was not full
    lease: timedelta = timedelta(seconds=60)  # REFERRAL_OUTBOX_LEASE_SECONDS: a dead dispatcher's rows wait this
    renew_every: timedelta | None = None  # heartbeat period; None: lease / 3
    max_attempts: int = 8  # REFERRAL_OUTBOX_MAX_ATTEMPTS: then the row is 'failed'
    smtp_connections: int = 4  # REFERRAL_SMTP_CONNECTIONS: pooled SMTP connections (and sending threads)
    smtp_user: str | None = None  # REFERRAL_SMTP_USER
    smtp_password: str | None = field(default=None, repr=False)  # REFERRAL_SMTP_PASSWORD
    smtp_tls: ssl.SSLContext | None = None  # None: system CAs, or REFERRAL_SMTP_CA_FILE
    webhook_secret: str | None = field(default=None, repr=False)  # REFERRAL_WEBHOOK_SECRET

    def __post_init__(self) -> None:
        for name in ("batch_size", "concurrency", "max_attempts", "smtp_connections"):
            if getattr(self, name) < 1:
                raise ValueError(f"DispatchOptions.{name} must be at least 1, got {getattr(self, name)}")
        if self.lease <= timedelta(0):
            raise ValueError(f"DispatchOptions.lease must be positive, got {self.lease}")

    @property
    def heartbeat(self) -> timedelta:
        return self.renew_every or self.lease / 3

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> DispatchOptions:
        return cls(
            batch_size=int(_env_number(environ, "REFERRAL_OUTBOX_BATCH_SIZE", 100, 1)),
            concurrency=int(_env_number(environ, "REFERRAL_OUTBOX_CONCURRENCY", 8, 1)),
            poll_seconds=_env_number(environ, "REFERRAL_OUTBOX_POLL_SECONDS", 2.0, 0.1),
            lease=timedelta(seconds=_env_number(environ, "REFERRAL_OUTBOX_LEASE_SECONDS", 60, 1)),
            max_attempts=int(_env_number(environ, "REFERRAL_OUTBOX_MAX_ATTEMPTS", 8, 1)),
            smtp_connections=int(_env_number(environ, "REFERRAL_SMTP_CONNECTIONS", 4, 1)),
            smtp_user=environ.get("REFERRAL_SMTP_USER") or None,
            smtp_password=environ.get("REFERRAL_SMTP_PASSWORD") or None,
            smtp_tls=_trusting(environ.get("REFERRAL_SMTP_CA_FILE") or None),
            webhook_secret=environ.get("REFERRAL_WEBHOOK_SECRET") or None,
        )


# ---- pure decisions ----

def backoff(attempts: int) -> timedelta:
    """1 min after the first failure, doubling, capped at 1 h."""
    return min(BACKOFF_FIRST * 2 ** min(attempts - 1, 16), BACKOFF_CAP)


def failure_outcome(attempts_before: int, max_attempts: int, now: datetime, error: str) -> Outcome:
    """A failed send: retry later with backoff, or give up once max_attempts sends have failed."""
    attempts = attempts_before + 1
    if attempts >= max_attempts:
        return Outcome("failed", attempts, error[:1000])
    return Outcome("pending", attempts, error[:1000], not_before=now + backoff(attempts))


def finished_case_reason(case_status: str, case_finished_at: datetime | None, event: str | None,
                         event_occurred_at: datetime | None) -> str | None:
    """Why a notification is moot because its case ended, or None if it should still go out."""
    if case_status not in _FINISHED:
        return None
    if event in _FINISHED:  # the closing or rejection notice itself
        return None
    if event_occurred_at and case_finished_at and event_occurred_at >= case_finished_at:
        return None  # queued when the case had already ended: written to be read
    return f"case {case_status} before delivery"


def skip_reason(row: ClaimedNotification, channel_configured: bool) -> str | None:
    if not row.recipient_active:
        return NOT_ON_ROSTER
    finished = finished_case_reason(row.case_status, row.case_finished_at, row.event, row.event_occurred_at)
    return finished or (None if channel_configured else NOT_CONFIGURED)


def delivery_streams(rows: Iterable[ClaimedNotification]) -> list[list[ClaimedNotification]]:
    """Rows grouped per (recipient, channel), each group in (not_before, id) order."""
    streams: dict[tuple[str, str], list[ClaimedNotification]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r.not_before, r.outbox_id)):
        streams[row.stream].append(row)
    return list(streams.values())


def use_starttls(offered: bool, has_credentials: bool) -> bool:
    """STARTTLS whenever the server offers it; credentials never travel over a plain connection."""
    if not offered and has_credentials:
        raise smtplib.SMTPNotSupportedError(
            "the SMTP server offers no STARTTLS: refusing to send REFERRAL_SMTP_PASSWORD in clear text")
    return offered


# ---- webhook signature ----

class WebhookRejected(ValueError):
    """A webhook request that fails verification; the message says which check failed."""


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_request(row: ClaimedNotification, secret: str | None, timestamp: int) -> tuple[bytes, dict[str, str]]:
    """The exact bytes to POST and their headers (signed when a secret is set)."""
    payload = {"complaint_id": row.complaint_id, "event_key": row.event_key, "recipient_id": row.recipient_id,
               "subject": row.subject, "body": row.body, "outbox_id": row.outbox_id, "timestamp": timestamp}
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "X-Referral-Timestamp": str(timestamp),
               "Idempotency-Key": f"{row.complaint_id}/{row.event_key}/{row.recipient_id}"}
    if secret:
        headers["X-Referral-Signature"] = sign(secret, body)
    return body, headers


def verify_webhook(secret: str, body: bytes, headers: Mapping[str, str], now: float,
                   tolerance: int = SIGNATURE_TOLERANCE_SECONDS) -> dict[str, Any]:
    """What a receiver runs on a request: returns the payload, or raises WebhookRejected."""
    lower = {k.lower(): v for k, v in headers.items()}
    signature = lower.get("x-referral-signature", "")
    if not hmac.compare_digest(signature.encode(), sign(secret, body).encode()):
        raise WebhookRejected("X-Referral-Signature does not match the body")
    payload = json.loads(body)
    if str(payload.get("timestamp")) != lower.get("x-referral-timestamp"):
        raise WebhookRejected("X-Referral-Timestamp differs from the signed body's timestamp")
    if abs(now - int(payload["timestamp"])) > tolerance:
        raise WebhookRejected(f"X-Referral-Timestamp is more than {tolerance} s from now: a replay?")
    return payload


# ---- email ----

def email_message(row: ClaimedNotification, sender: str) -> EmailMessage:
    """X-Referral-Event lets the mailbox side drop resends."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = row.recipient_email
    msg["Subject"] = row.subject
    msg["X-Referral-Event"] = f"{row.complaint_id}/{row.event_key}"
    msg.set_content(row.body)
    return msg


class SmtpPool:
    """Blocking smtplib connections kept open between sends, each used by one thread at a time."""

    IDLE_SECONDS = 30.0  # servers drop idle clients after a minute or more; reconnect before that

    def __init__(self, host: str, port: int, options: DispatchOptions) -> None:
        self.host, self.port, self.options = host, port, options
        self._idle: list[tuple[smtplib.SMTP, float]] = []
        self._lock = threading.Lock()
        self._threads = ThreadPoolExecutor(max_workers=options.smtp_connections, thread_name_prefix="smtp")

    async def send(self, msg: EmailMessage) -> None:
        await asyncio.get_running_loop().run_in_executor(self._threads, self._send, msg)

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            _quit(conn)

    def _send(self, msg: EmailMessage) -> None:
        reused = self._take()
        if reused is not None:
            try:
                reused.send_message(msg)
                return self._give(reused)
            except smtplib.SMTPServerDisconnected:
                reused.close()  # dropped while idle: one more try on a fresh connection
            except BaseException:
                reused.close()
                raise
        conn = self._connect()
        try:
            conn.send_message(msg)
        except BaseException:
            conn.close()
            raise
        self._give(conn)

    def _connect(self) -> smtplib.SMTP:
        conn = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_SECONDS)
        try:
            conn.ehlo()
            if use_starttls(conn.has_extn("starttls"), self.options.smtp_user is not None):
                conn.starttls(context=self.options.smtp_tls or ssl.create_default_context())
                conn.ehlo()
            if self.options.smtp_user is not None:
                conn.login(self.options.smtp_user, self.options.smtp_password or "")
        except BaseException:
            conn.close()
            raise
        return conn

    def _take(self) -> smtplib.SMTP | None:
        fresh, stale = None, []
        with self._lock:
            while self._idle and fresh is None:
                conn, since = self._idle.pop()
                if time.monotonic() - since < self.IDLE_SECONDS:
                    fresh = conn
                else:
                    stale.append(conn)
        for conn in stale:
            _quit(conn)
        return fresh

    def _give(self, conn: smtplib.SMTP) -> None:
        with self._lock:
            self._idle.append((conn, time.monotonic()))


def _quit(conn: smtplib.SMTP) -> None:
    with suppress(Exception):
        conn.quit()
    conn.close()


# ---- the dispatcher ----

class _Clock:
    """The batch's time: `start` (a test may pass any instant) moved on by the real time elapsed."""

    def __init__(self, start: datetime | None) -> None:
        self.start = start or datetime.now(timezone.utc)
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self._t0)


class _Batch:
    """The claims of one batch: which are still unfinished, and which the heartbeat found lost."""

    def __init__(self, rows: list[ClaimedNotification]) -> None:
        self.unfinished: dict[int, Claim] = {r.outbox_id: r.claim for r in rows}
        self.lost: set[int] = set()

    def done(self, row: ClaimedNotification) -> None:
        self.unfinished.pop(row.outbox_id, None)

    def mark_lost(self, still_held: set[int], asked: list[Claim]) -> list[int]:
        newly = [c.outbox_id for c in asked if c.outbox_id not in still_held and c.outbox_id in self.unfinished]
        self.lost.update(newly)
        return newly


class HasPool(Protocol):
    """`activities.store.Store` or anything else holding the asyncpg pool."""

    pool: asyncpg.Pool


class Dispatcher:
    """Polls the outbox; several dispatchers (one per worker) may run against one database.

    `Dispatcher(db, settings)` reads its options from the environment (`DispatchOptions.from_env`);
    keyword arguments override single options, e.g. `Dispatcher(db, settings, poll_seconds=60)`.
    """

    def __init__(self, db: HasPool, settings: Settings, options: DispatchOptions | None = None,
                 **overrides: Any) -> None:
        self.store = OutboxStore(db.pool)
        self.settings = settings
        self.options = replace(options or DispatchOptions.from_env(), **overrides)
        self._slots = asyncio.Semaphore(self.options.concurrency)
        self._client: httpx.AsyncClient | None = None
        self._smtp: SmtpPool | None = None
        self._users = 0
        self._stop: asyncio.Event | None = None
        if settings.webhook_url and not self.options.webhook_secret:
            log.warning("webhooks are sent unsigned: set REFERRAL_WEBHOOK_SECRET")

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; a failing round (e.g. Postgres restarting) is logged, not fatal.

        On `stop` the sends in flight finish and the batch's rows not yet started are given back.
        """
        self._stop = stop
        async with self._open():
            while not stop.is_set():
                full = False
                try:
                    claimed, _ = await self._deliver_batch(None, self.options.batch_size)
                    full = claimed >= self.options.batch_size
                except Exception as exc:  # keep the loop alive; the next round retries
                    log.error("outbox round failed", error=type(exc).__name__)
                if full:
                    continue  # a storm: claim the next batch at once
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.options.poll_seconds)

    async def deliver_due(self, now: datetime | None = None, limit: int | None = None) -> int:
        """Claim up to `limit` due rows, deliver them and record the outcomes. Returns rows sent."""
        async with self._open():
            _, sent = await self._deliver_batch(now, limit or self.options.batch_size)
        return sent

    @asynccontextmanager
    async def _open(self) -> AsyncIterator[None]:
        """One HTTP client and one SMTP pool, shared by every batch while anyone is delivering."""
        if self._users == 0:
            limits = httpx.Limits(max_connections=self.options.concurrency,
                                  max_keepalive_connections=self.options.concurrency)
            self._client = httpx.AsyncClient(timeout=TIMEOUT_SECONDS, limits=limits)
            if self.settings.smtp_host:
                self._smtp = SmtpPool(self.settings.smtp_host, self.settings.smtp_port, self.options)
        self._users += 1
        try:
            yield
        finally:
            self._users -= 1
            if self._users == 0:
                client, smtp, self._client, self._smtp = self._client, self._smtp, None, None
                assert client is not None
                await client.aclose()
                if smtp is not None:
                    await asyncio.to_thread(smtp.close)

    async def _deliver_batch(self, now: datetime | None, limit: int) -> tuple[int, int]:
        clock = _Clock(now)
        rows = await self.store.claim(clock.now(), limit, self.options.lease)
        if not rows:
            return 0, 0
        batch = _Batch(rows)
        heartbeat = asyncio.create_task(self._heartbeat(batch, clock))
        try:
            results = await asyncio.gather(
                *(self._deliver_stream(stream, batch, clock) for stream in delivery_streams(rows)),
                return_exceptions=True,
            )
        finally:
            heartbeat.cancel()
            with suppress(asyncio.CancelledError):
                await heartbeat
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        return len(rows), sum(r for r in results if isinstance(r, int))

    async def _heartbeat(self, batch: _Batch, clock: _Clock) -> None:
        """Renew the batch's unfinished claims so a slow send never hands its row to another dispatcher."""
        while True:
            await asyncio.sleep(self.options.heartbeat.total_seconds())
            asked = list(batch.unfinished.values())
            if not asked:
                continue
            try:
                held = await self.store.renew(asked, clock.now() + self.options.lease)
            except Exception as exc:  # Postgres away: the finish guard still protects the rows
                log.warning("outbox claim renewal failed", error=type(exc).__name__)
                continue
            for outbox_id in batch.mark_lost(held, asked):
                log.warning("outbox claim lost before finishing", outbox_id=outbox_id)

    async def _deliver_stream(self, rows: list[ClaimedNotification], batch: _Batch, clock: _Clock) -> int:
        """One recipient's rows on one channel, in order. The rest is given back, untouched, when a
        claim was lost (so another dispatcher can keep the order) or when the dispatcher is stopping."""
        sent = 0
        for position, row in enumerate(rows):
            if self._stop is not None and self._stop.is_set():
                await self._give_back(rows[position:], batch)
                break
            delivered = await self._deliver(row, batch, clock)
            if delivered is None:
                await self._give_back(rows[position + 1:], batch)
                break
            sent += delivered
        return sent

    async def _give_back(self, rows: list[ClaimedNotification], batch: _Batch) -> None:
        for row in rows:
            batch.done(row)
        await self.store.release([r.claim for r in rows])

    async def _deliver(self, row: ClaimedNotification, batch: _Batch, clock: _Clock) -> int | None:
        """Send one row and record the outcome: 1 if sent, 0 if not, None if its claim was lost."""
        ids = {"outbox_id": row.outbox_id, "complaint_id": row.complaint_id, "event_key": row.event_key,
               "recipient_id": row.recipient_id, "channel": row.channel}
        async with self._slots:
            if row.outbox_id in batch.lost:
                batch.done(row)
                return None
            configured = self.settings.smtp_host if row.channel == "email" else self.settings.webhook_url
            reason = skip_reason(row, bool(configured))
            if reason:
                if not await self._finish(row, batch, Outcome("skipped", row.attempts, reason), ids):
                    return None
                log.warning("notification skipped", reason=reason, **ids)
                return 0
            try:
                await self._send(row, clock)
            except Exception as exc:  # any failure is retried; the receiver de-duplicates
                outcome = failure_outcome(row.attempts, self.options.max_attempts, clock.now(),
                                          f"{type(exc).__name__}: {exc}")
                if not await self._finish(row, batch, outcome, ids):
                    return None
                # The exception text may quote addresses or the server's reply: only its type goes to the log.
                log.warning("notification failed", attempt=outcome.attempts, final=outcome.status == "failed",
                            error=type(exc).__name__, **ids)
                return 0
            if not await self._finish(row, batch, Outcome("sent", row.attempts, sent_at=clock.now()), ids):
                return None
            log.info("notification sent", attempt=row.attempts + 1, **ids)
            return 1

    async def _finish(self, row: ClaimedNotification, batch: _Batch, outcome: Outcome, ids: dict[str, Any]) -> bool:
        batch.done(row)
        if await self.store.finish(row.claim, outcome):
            return True
        log.warning("notification outcome dropped: claim lost to another dispatcher", outcome=outcome.status, **ids)
        return False

    async def _send(self, row: ClaimedNotification, clock: _Clock) -> None:
        if row.channel == "email":
            assert self._smtp is not None
            await self._smtp.send(email_message(row, self.settings.smtp_sender))
            return
        assert self._client is not None and self.settings.webhook_url is not None
        body, headers = webhook_request(row, self.options.webhook_secret, int(clock.now().timestamp()))
        response = await self._client.post(self.settings.webhook_url, content=body, headers=headers)
        response.raise_for_status()
