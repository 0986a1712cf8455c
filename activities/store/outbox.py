"""The notification outbox's SQL: claiming due rows, renewing claims, recording outcomes.

A claim is a per-row uuid token plus an expiry (`claimed_until`). While a row is `sending` under a
live claim nobody else takes it, and no other row of the same recipient and channel is claimed
either, so each recipient's notifications go out one after another in (not_before, id) order. A
claim that is not renewed expires and the row becomes claimable again. Finishing a row only
applies with the row's current token and never to a row already `sent`.

Times are passed in by the caller (the dispatcher's clock), so tests can run the outbox at any
instant; every dispatcher of a deployment must share a reasonably synchronised clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Sequence
from uuid import UUID

import asyncpg

# Claims are taken one dispatcher at a time (a few milliseconds each): without this, two claims
# running together could each take rows of one recipient and break that recipient's order.
CLAIM_LOCK = 0x4F5554424F58  # "OUTBOX"

Channel = Literal["email", "webhook"]
FinalStatus = Literal["pending", "sent", "failed", "skipped"]

CLAIM_SQL = """
WITH picked AS (
    SELECT o.id FROM notification_outbox o
    WHERE o.status IN ('pending', 'sending') AND o.not_before <= $1
      AND (o.status = 'pending' OR o.claimed_until <= $1)
      AND NOT EXISTS (
          SELECT 1 FROM notification_outbox busy
          WHERE busy.status = 'sending' AND busy.claimed_until > $1
            AND busy.recipient_id = o.recipient_id AND busy.channel = o.channel)
    ORDER BY o.not_before, o.id
    LIMIT $2
    FOR UPDATE OF o SKIP LOCKED
), claimed AS (
    UPDATE notification_outbox o
    SET status = 'sending', claim_token = gen_random_uuid(), claimed_until = $1 + $3::interval
    FROM picked WHERE o.id = picked.id
    RETURNING o.id, o.claim_token, o.claimed_until, o.complaint_id, o.event_key, o.recipient_id, o.channel,
              o.subject, o.body, o.not_before, o.attempts
)
SELECT c.*, f.email AS recipient_email, f.active AS recipient_active,
       k.status AS case_status, k.closed_at AS case_finished_at,
       e.event, e.occurred_at AS event_occurred_at
FROM claimed c
JOIN officers f ON f.officer_id = c.recipient_id
JOIN complaints k ON k.complaint_id = c.complaint_id
LEFT JOIN complaint_events e ON e.complaint_id = c.complaint_id AND e.event_key = c.event_key
ORDER BY c.not_before, c.id
"""

_RENEW = """
UPDATE notification_outbox o SET claimed_until = $3
FROM unnest($1::bigint[], $2::uuid[]) AS held (id, token)
WHERE o.id = held.id AND o.claim_token = held.token AND o.status = 'sending'
RETURNING o.id
"""

# last_error is kept on success so a flaky receiver stays visible.
_FINISH = """
UPDATE notification_outbox
SET status = $3, attempts = $4, last_error = coalesce($5, last_error), not_before = coalesce($6, not_before),
    sent_at = $7, claim_token = NULL, claimed_until = NULL
WHERE id = $1 AND claim_token = $2 AND status <> 'sent'
RETURNING id
"""


@dataclass(frozen=True)
class Claim:
    """Proof that this dispatcher holds one outbox row."""

    outbox_id: int
    token: UUID


@dataclass(frozen=True)
class ClaimedNotification:
    """A claimed row with what delivery decides on: the recipient's address and the case's state."""

    claim: Claim
    claimed_until: datetime
    complaint_id: str
    event_key: str
    recipient_id: str
    channel: Channel
    subject: str
    body: str
    not_before: datetime
    attempts: int
    recipient_email: str
    recipient_active: bool
    case_status: str
    case_finished_at: datetime | None
    event: str | None  # the name of the event that queued the row (None if its event row is missing)
    event_occurred_at: datetime | None

    @property
    def outbox_id(self) -> int:
        return self.claim.outbox_id

    @property
    def stream(self) -> tuple[str, str]:
        """Rows of one stream are delivered in order, one at a time."""
        return self.recipient_id, self.channel


@dataclass(frozen=True)
class Outcome:
    """What a delivery attempt leaves on the row. `pending` with `not_before` is a retry."""

    status: FinalStatus
    attempts: int
    last_error: str | None = None
    not_before: datetime | None = None
    sent_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.status == "sent" and self.sent_at is None:
            raise ValueError("Outcome.sent_at is required when status is 'sent'")
        if self.status == "pending" and self.not_before is None:
            raise ValueError("Outcome.not_before is required for a retry (status 'pending')")


def _claimed(row: asyncpg.Record) -> ClaimedNotification:
    return ClaimedNotification(
        claim=Claim(row["id"], row["claim_token"]), claimed_until=row["claimed_until"],
        complaint_id=row["complaint_id"], event_key=row["event_key"], recipient_id=row["recipient_id"],
        channel=row["channel"], subject=row["subject"], body=row["body"], not_before=row["not_before"],
        attempts=row["attempts"], recipient_email=row["recipient_email"], recipient_active=row["recipient_active"],
        case_status=row["case_status"], case_finished_at=row["case_finished_at"], event=row["event"],
        event_occurred_at=row["event_occurred_at"],
    )


class OutboxStore:
    """Every statement the dispatcher runs against `notification_outbox`, over one asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def claim(self, now: datetime, limit: int, lease: timedelta) -> list[ClaimedNotification]:
        """Claim up to `limit` due rows (and rows whose claim expired), in (not_before, id) order.

        Rows of a (recipient, channel) that has a send in flight are left for later; rows locked by
        another transaction are skipped, not waited for.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", CLAIM_LOCK)
            rows = await conn.fetch(CLAIM_SQL, now, limit, lease)
        return [_claimed(r) for r in rows]

    async def renew(self, claims: Sequence[Claim], until: datetime) -> set[int]:
        """Extend the given claims to `until`; returns the ids still held (a missing id was lost)."""
        if not claims:
            return set()
        rows = await self.pool.fetch(
            _RENEW, [c.outbox_id for c in claims], [c.token for c in claims], until
        )
        return {r["id"] for r in rows}

    async def finish(self, claim: Claim, outcome: Outcome) -> bool:
        """Record an outcome and release the claim. False (nothing changed) if the claim was lost."""
        updated = await self.pool.fetchval(
            _FINISH, claim.outbox_id, claim.token, outcome.status, outcome.attempts, outcome.last_error,
            outcome.not_before, outcome.sent_at,
        )
        return updated is not None

    async def release(self, claims: Sequence[Claim]) -> int:
        """Give claimed rows back untouched (pending again, for any dispatcher); returns how many."""
        if not claims:
            return 0
        rows = await self.pool.fetch(
            "UPDATE notification_outbox o SET status = 'pending', claim_token = NULL, claimed_until = NULL"
            " FROM unnest($1::bigint[], $2::uuid[]) AS held (id, token)"
            " WHERE o.id = held.id AND o.claim_token = held.token AND o.status = 'sending' RETURNING o.id",
            [c.outbox_id for c in claims], [c.token for c in claims],
        )
        return len(rows)
