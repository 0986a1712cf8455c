"""Delivers `notification_outbox` rows by email and webhook, outside the workflow.

The workflow only writes outbox rows (in the same transaction as its event), so a slow or broken
mail server never blocks a case. Delivery is at-least-once: a crash between sending and marking a
row resends it after its lease, so every message carries a key the receiver can de-duplicate on.
"""

from __future__ import annotations

import asyncio
import smtplib
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from typing import Any

import httpx
import structlog

from activities.db import Database
from referral.config import Settings

log = structlog.get_logger(__name__)

# A claimed row is hidden from other dispatchers this long: longer than a full batch of timeouts.
LEASE = timedelta(minutes=15)
TIMEOUT_SECONDS = 10.0
BACKOFF_FIRST, BACKOFF_CAP = timedelta(minutes=1), timedelta(hours=1)
NOT_CONFIGURED = "channel not configured"
NOT_ON_ROSTER = "recipient is no longer on the roster"


def backoff(attempts: int) -> timedelta:
    """1 min after the first failure, doubling, capped at 1 h."""
    return min(BACKOFF_FIRST * 2 ** min(attempts - 1, 16), BACKOFF_CAP)


class Dispatcher:
    """Polls the outbox; several dispatchers (one per worker) may run against one database."""

    def __init__(
        self, db: Database, settings: Settings, *, poll_seconds: float = 5.0, max_attempts: int = 8
    ) -> None:
        self.db = db
        self.settings = settings
        self.poll_seconds = poll_seconds
        self.max_attempts = max_attempts

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; a failing round (e.g. Postgres restarting) is logged, not fatal."""
        while not stop.is_set():
            try:
                await self.deliver_due()
            except Exception as exc:  # keep the loop alive; the next round retries
                log.error("outbox round failed", error=type(exc).__name__)
            try:
                await asyncio.wait_for(stop.wait(), self.poll_seconds)
            except TimeoutError:
                pass

    async def deliver_due(self, now: datetime | None = None, limit: int = 50) -> int:
        """Claim up to `limit` due rows, deliver each once and record the outcome. Returns rows sent."""
        now = now or datetime.now(timezone.utc)
        rows = await self._claim(now, limit)
        if not rows:
            return 0
        sent = 0
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
            for row in rows:
                sent += await self._deliver(client, row, now)
        return sent

    async def _claim(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Lock due rows (skipping ones another dispatcher holds) and lease them by moving not_before.

        The lock only lasts this short transaction; the lease is what keeps the rows ours while we send.
        """
        async with self.db.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT o.id, o.complaint_id, o.event_key, o.recipient_id, o.channel, o.subject, o.body,"
                " o.attempts, f.email, f.active"
                " FROM notification_outbox o JOIN officers f ON f.officer_id = o.recipient_id"
                " WHERE o.status = 'pending' AND o.not_before <= $1"
                " ORDER BY o.not_before, o.id LIMIT $2"
                " FOR UPDATE OF o SKIP LOCKED",
                now, limit,
            )
            if rows:
                await conn.execute(
                    "UPDATE notification_outbox SET not_before = $2 WHERE id = ANY($1::bigint[])",
                    [r["id"] for r in rows], now + LEASE,
                )
        return [dict(r) for r in rows]

    async def _deliver(self, client: httpx.AsyncClient, row: dict[str, Any], now: datetime) -> int:
        ids = {"outbox_id": row["id"], "complaint_id": row["complaint_id"], "event_key": row["event_key"],
               "recipient_id": row["recipient_id"], "channel": row["channel"]}
        configured = self.settings.smtp_host if row["channel"] == "email" else self.settings.webhook_url
        reason = NOT_ON_ROSTER if not row["active"] else None if configured else NOT_CONFIGURED
        if reason:
            await self._finish(row["id"], "skipped", row["attempts"], reason, None, None)
            log.warning("notification skipped", reason=reason, **ids)
            return 0
        try:
            if row["channel"] == "email":
                await asyncio.to_thread(self._send_email, row)
            else:
                await self._post_webhook(client, row)
        except Exception as exc:  # any failure is retried; the receiver de-duplicates
            attempts = row["attempts"] + 1
            failed = attempts >= self.max_attempts
            retry_at = None if failed else now + backoff(attempts)
            await self._finish(row["id"], "failed" if failed else "pending", attempts,
                               f"{type(exc).__name__}: {exc}"[:1000], retry_at, None)
            # The exception text may quote addresses or the server's reply: only its type goes to the log.
            log.warning("notification failed", attempt=attempts, final=failed, error=type(exc).__name__, **ids)
            return 0
        await self._finish(row["id"], "sent", row["attempts"], None, None, now)
        log.info("notification sent", attempt=row["attempts"] + 1, **ids)
        return 1

    async def _finish(self, outbox_id: int, status: str, attempts: int, error: str | None,
                      not_before: datetime | None, sent_at: datetime | None) -> None:
        """Record an outcome; last_error is kept on success so a flaky receiver stays visible."""
        await self.db.pool.execute(
            "UPDATE notification_outbox SET status = $2, attempts = $3,"
            " last_error = coalesce($4, last_error), not_before = coalesce($5, not_before), sent_at = $6"
            " WHERE id = $1",
            outbox_id, status, attempts, error, not_before, sent_at,
        )

    def _send_email(self, row: dict[str, Any]) -> None:
        """Blocking SMTP (run in a thread); X-Referral-Event lets the mailbox side drop resends."""
        msg = EmailMessage()
        msg["From"] = self.settings.smtp_sender
        msg["To"] = row["email"]
        msg["Subject"] = row["subject"]
        msg["X-Referral-Event"] = f"{row['complaint_id']}/{row['event_key']}"
        msg.set_content(row["body"])
        assert self.settings.smtp_host is not None
        with smtplib.SMTP(self.settings.smtp_host, self.settings.smtp_port, timeout=TIMEOUT_SECONDS) as smtp:
            smtp.send_message(msg)

    async def _post_webhook(self, client: httpx.AsyncClient, row: dict[str, Any]) -> None:
        """POST the notification; Idempotency-Key is stable across retries of the same row."""
        assert self.settings.webhook_url is not None
        response = await client.post(
            self.settings.webhook_url,
            json={"complaint_id": row["complaint_id"], "event_key": row["event_key"],
                  "recipient_id": row["recipient_id"], "subject": row["subject"], "body": row["body"],
                  "outbox_id": row["id"]},
            headers={"Idempotency-Key": f"{row['complaint_id']}/{row['event_key']}/{row['recipient_id']}"},
        )
        response.raise_for_status()
