"""Case rows and their append-only trail: the intake, every recorded step, and reads for people.

Every write is idempotent by a natural key: the case by its complaint id and Temporal run, an event by
(complaint_id, event_key), a notification by (complaint_id, event_key, recipient, channel). The row is
the workflow's projection of its state (`CaseRow`), written whole and guarded by the step sequence, so an
old retry can never move a case back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel

from activities.store.roster import resolve_recipients
from referral.case import CaseRow
from referral.intake import PersonalData
from referral.models import TimelineEntry
from referral.records import CaseEvent, OpenCaseRequest, Recorded

CHANNELS = ("email", "webhook")
_ROW = tuple(CaseRow.model_fields)


class Message(BaseModel):
    """A rendered notification, not yet addressed (`recipient` may be a role such as head:<bidang>)."""

    recipient: str
    subject: str
    body: str
    not_before: datetime


class IntakeWritten(BaseModel):
    complaint_id: str
    duplicate_of: str | None
    received: TimelineEntry
    new: bool = True


class ComplaintRecord(BaseModel):
    """A case row as officers' tools read it (personal columns only when asked for)."""

    complaint_id: str
    workflow_id: str
    status: str
    village_code: str
    kecamatan: str
    category: str
    bidang: str
    pendamping_id: str | None
    escalation_level: int
    urgency: str
    outcome: str | None
    duplicate_of: str | None
    needs_attention: str | None
    policy_version: str | None
    calendar_version: str | None
    external_ref: str | None
    channel: str
    sender_id: str | None
    reported_at: datetime
    received_at: datetime
    closed_at: datetime | None
    sequence: int
    subject: dict[str, Any] | None = None
    reporter: dict[str, Any] | None = None
    description: str | None = None


class EventRecord(BaseModel):
    event_key: str
    event: str
    actor: str
    detail: dict[str, Any]
    occurred_at: datetime


class CaseStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def record_intake(self, request: OpenCaseRequest, personal: PersonalData, subject_key: str,
                            kecamatan: str, bidang: str, warnings: list[str]) -> IntakeWritten:
        """Write the case row and its 'received' event once; flag an open case of the same person."""
        opening = request.opening
        async with self.pool.acquire() as conn, conn.transaction():
            # Two reports of the same person arriving together must still see each other.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", subject_key)
            complaint_id = await self._complaint_id_for_run(conn, request)
            existing = await conn.fetchrow(
                "SELECT duplicate_of, received_at FROM complaints WHERE complaint_id = $1 AND run_id = $2",
                complaint_id, request.run_id)
            if existing is not None:  # a retry: the first attempt already wrote everything
                return IntakeWritten(complaint_id=complaint_id, duplicate_of=existing["duplicate_of"], new=False,
                                     received=_received_entry(opening, existing["duplicate_of"], existing["received_at"]))
            duplicate_of = await conn.fetchval(
                "SELECT complaint_id FROM complaints WHERE subject_key = $1 AND category = $2"
                " AND complaint_id <> $3 AND status NOT IN ('closed', 'rejected') ORDER BY received_at LIMIT 1",
                subject_key, opening.category, complaint_id)
            await conn.execute(
                "INSERT INTO complaints (complaint_id, workflow_id, run_id, external_ref, channel, sender_id, status,"
                " village_code, kecamatan, category, bidang, urgency, subject_key, subject, reporter, description,"
                " reported_at, received_at, duplicate_of, conditions, warnings, original_reported_on, sequence)"
                " VALUES ($1, $2, $3, $4, $5, $6, 'received', $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,"
                " $18, $19, $20, $21, 1)",
                complaint_id, request.workflow_id, request.run_id, opening.external_ref, opening.channel.value,
                opening.sender_id, opening.village_code, kecamatan, opening.category, bidang, opening.urgency.value,
                subject_key, personal.subject.model_dump(mode="json"), personal.reporter.model_dump(mode="json"),
                personal.description, opening.reported_at, request.received_at, duplicate_of,
                list(opening.conditions), warnings, opening.original_reported_on,
            )
            entry = _received_entry(opening, duplicate_of, request.received_at)
            await conn.execute(
                "INSERT INTO complaint_events (complaint_id, event_key, event, actor, detail, occurred_at)"
                " VALUES ($1, '0001:received', 'received', $2, $3, $4)",
                complaint_id, entry.actor, entry.detail | {"warnings": warnings}, request.received_at)
        return IntakeWritten(complaint_id=complaint_id, duplicate_of=duplicate_of, received=entry)

    async def _complaint_id_for_run(self, conn: asyncpg.Connection, request: OpenCaseRequest) -> str:
        """The requested id, unless an earlier run (before Temporal's retention) already used it."""
        rows = await conn.fetch(
            "SELECT complaint_id, run_id FROM complaints WHERE workflow_id = $1 ORDER BY received_at",
            request.workflow_id)
        mine = next((r["complaint_id"] for r in rows if r["run_id"] == request.run_id), None)
        if mine:
            return mine
        return request.complaint_id if not rows else f"{request.complaint_id}-{len(rows) + 1}"

    async def record(self, event: CaseEvent, messages: list[Message]) -> Recorded:
        """Append the event, bring the case row up to date and queue its notifications, all once."""
        async with self.pool.acquire() as conn, conn.transaction():
            recipients = await resolve_recipients(conn, [m.recipient for m in messages])
            detail = dict(event.detail)
            if "escalated_to" in detail:
                detail["escalated_to"] = recipients.get(detail["escalated_to"], detail["escalated_to"])
            if recipients:
                detail["recipients"] = sorted(set(recipients.values()))
            await self._write_row(conn, event)  # first: a case whose intake failed may have no row yet
            inserted = await conn.fetchval(
                "INSERT INTO complaint_events (complaint_id, event_key, event, actor, detail, occurred_at)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (complaint_id, event_key) DO NOTHING RETURNING id",
                event.complaint_id, event.key, event.event, event.actor, detail, event.occurred_at)
            if inserted is None:
                return Recorded(new=False, recipients=recipients)
            await conn.executemany(
                "INSERT INTO notification_outbox (complaint_id, event_key, recipient_id, channel, subject, body,"
                " not_before) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                [(event.complaint_id, event.key, recipients[m.recipient], channel, m.subject, m.body, m.not_before)
                 for m in messages if m.recipient in recipients for channel in CHANNELS],
            )
        return Recorded(new=True, recipients=recipients)

    async def _write_row(self, conn: asyncpg.Connection, event: CaseEvent) -> None:
        row, opening = event.row.model_dump(), event.opening
        columns = ", ".join(_ROW)
        values = ", ".join(f"${i + 13}" for i in range(len(_ROW)))
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _ROW)
        await conn.execute(
            f"INSERT INTO complaints (complaint_id, workflow_id, external_ref, channel, sender_id, village_code,"
            f" kecamatan, urgency, reported_at, received_at, conditions, run_id, {columns})"
            f" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, {values})"
            f" ON CONFLICT (complaint_id) DO UPDATE SET {updates}, updated_at = now()"
            f" WHERE complaints.sequence <= EXCLUDED.sequence",
            event.complaint_id, event.workflow_id, opening.external_ref, opening.channel.value, opening.sender_id,
            opening.village_code, event.kecamatan, opening.urgency.value, opening.reported_at, event.received_at,
            list(opening.conditions), None, *(row[c] for c in _ROW),
        )

    async def complaint(self, complaint_id: str, personal: bool = False) -> ComplaintRecord | None:
        row = await self.pool.fetchrow("SELECT * FROM complaints WHERE complaint_id = $1", complaint_id)
        if row is None:
            return None
        data = dict(row)
        if not personal:
            data.update(subject=None, reporter=None, description=None)
        return ComplaintRecord(**{k: v for k, v in data.items() if k in ComplaintRecord.model_fields})

    async def events(self, complaint_id: str) -> list[EventRecord]:
        rows = await self.pool.fetch(
            "SELECT event_key, event, actor, detail, occurred_at FROM complaint_events"
            " WHERE complaint_id = $1 ORDER BY occurred_at, id", complaint_id)
        return [EventRecord(**dict(r)) for r in rows]


def _received_entry(opening: Any, duplicate_of: str | None, at: datetime) -> TimelineEntry:
    detail = {"channel": opening.channel.value, "village_code": opening.village_code, "category": opening.category,
              "urgency": opening.urgency.value, "reported_at": opening.reported_at.isoformat()}
    if duplicate_of:
        detail["duplicate_of"] = duplicate_of
    return TimelineEntry(at=at, event="received", actor=f"channel:{opening.channel.value}", detail=detail,
                         key="0001:received")

