"""Case rows and their append-only trail: the intake, every recorded step, and reads for people.

Every write is idempotent by a natural key: the case by its complaint id and Temporal run, an event by
(complaint_id, event_key), a notification by (complaint_id, event_key, recipient, channel). The row is
the workflow's projection of its state (`CaseRow`), written whole and guarded by the step sequence, so an
old retry can never move a case back.

Personal values are written encrypted under the case's data key (activities/envelope.py, keys in
activities/store/erasure.py): the subject, reporter and description, a further report's reporter and
description, the referral texts and the free text of events. They are opened only by the `personal=True`
reads; rows written in clear before that still read as they are, and an erased case reads as erased.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Sequence

import asyncpg
from pydantic import BaseModel

from activities.envelope import CaseCipher
from activities.store.erasure import (
    REFERRAL_TEXTS, CaseKeys, PersonalView, personal_detail_fields, referral_location, report_location, sealed_detail,
)
from activities.store.roster import resolve_recipients
from referral.case import CaseRow
from referral.intake import PersonalData
from referral.models import TimelineEntry
from referral.records import CaseEvent, OpenCaseRequest, Recorded, ReferralEvent

CHANNELS = ("email", "webhook")
REPEAT_WINDOW = timedelta(days=90)  # a repeat report within this after closure starts a new, linked case
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
    previous_case: str | None = None
    joined_to: str | None = None
    joined_workflow_id: str | None = None
    joined_key: str | None = None


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
    erased_at: datetime | None = None  # when the retention job erased its personal data (then all three are None)


class EventRecord(BaseModel):
    event_key: str
    event: str
    actor: str
    detail: dict[str, Any]
    occurred_at: datetime


class CaseStore:
    def __init__(self, pool: asyncpg.Pool, keys: CaseKeys | None = None) -> None:
        self.pool = pool
        self.keys = keys or CaseKeys()

    async def record_intake(self, request: OpenCaseRequest, personal: PersonalData, subject_key: str,
                            kecamatan: str, bidang: str, warnings: list[str],
                            also_match: Sequence[str] = ()) -> IntakeWritten:
        """Write the case row and its 'received' event once. A further report of the same person and category
        while a case is open joins that case instead (a report row and an event on it, no case of its own);
        a repeat within REPEAT_WINDOW after a case closed starts a new case linked to it. `also_match`: older
        hashes of the same person (cases opened before the hash was keyed from the keyring)."""
        opening = request.opening
        keys = [subject_key, *also_match]
        async with self.pool.acquire() as conn, conn.transaction():
            # Reports of the same person arriving together are taken one at a time, so each sees the others.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", subject_key)
            joined = await self._joined_before(conn, request)
            if joined is not None:
                return joined
            runs = await conn.fetch(
                "SELECT complaint_id, run_id, previous_case, received_at FROM complaints WHERE workflow_id = $1"
                " ORDER BY received_at", request.workflow_id)
            existing = next((r for r in runs if r["run_id"] == request.run_id), None)
            if existing is not None:  # a retry: the first attempt already wrote everything
                return IntakeWritten(complaint_id=existing["complaint_id"], duplicate_of=None, new=False,
                                     previous_case=existing["previous_case"],
                                     received=_received_entry(opening, existing["previous_case"], existing["received_at"]))
            # The requested id, unless an earlier run (before Temporal's retention) already used it.
            complaint_id = request.complaint_id if not runs else f"{request.complaint_id}-{len(runs) + 1}"
            # The same person and category: an open case to join (never a later run of this workflow id), else
            # the latest case closed within REPEAT_WINDOW, which the new case links to.
            same = await conn.fetchrow(
                "SELECT complaint_id, workflow_id, status NOT IN ('closed', 'rejected') AS open FROM complaints"
                " WHERE subject_key = ANY($1::text[]) AND category = $2 AND ("
                " (status NOT IN ('closed', 'rejected') AND workflow_id <> $3)"
                " OR (status IN ('closed', 'rejected') AND closed_at > $4))"
                " ORDER BY status NOT IN ('closed', 'rejected') DESC,"
                " CASE WHEN status NOT IN ('closed', 'rejected') THEN received_at END, closed_at DESC LIMIT 1",
                keys, opening.category, request.workflow_id, request.received_at - REPEAT_WINDOW)
            if same is not None and same["open"]:
                return await self._join(conn, request, personal, same["complaint_id"], same["workflow_id"])
            previous = same["complaint_id"] if same is not None else None
            cipher = await self.keys.cipher(conn, complaint_id)  # the case's new data key, written first
            await conn.execute(
                "INSERT INTO complaints (complaint_id, workflow_id, run_id, external_ref, channel, sender_id, status,"
                " village_code, kecamatan, category, bidang, urgency, subject_key, subject, reporter, description,"
                " reported_at, received_at, previous_case, conditions, warnings, original_reported_on, has_nik,"
                " sequence) VALUES ($1, $2, $3, $4, $5, $6, 'received', $7, $8, $9, $10, $11, $12, $13, $14, $15,"
                " $16, $17, $18, $19, $20, $21, $22, 1)",
                complaint_id, request.workflow_id, request.run_id, opening.external_ref, opening.channel.value,
                opening.sender_id, opening.village_code, kecamatan, opening.category, bidang, opening.urgency.value,
                subject_key, cipher.encrypt(personal.subject.model_dump(mode="json"), "complaints.subject"),
                cipher.encrypt(personal.reporter.model_dump(mode="json"), "complaints.reporter"),
                cipher.encrypt(personal.description, "complaints.description"), opening.reported_at,
                request.received_at, previous,
                list(opening.conditions), warnings, opening.original_reported_on, personal.subject.nik is not None,
            )
            entry = _received_entry(opening, previous, request.received_at)
            await conn.execute(
                "INSERT INTO complaint_events (complaint_id, event_key, event, actor, detail, occurred_at)"
                " VALUES ($1, '0001:received', 'received', $2, $3, $4)",
                complaint_id, entry.actor, entry.detail | {"warnings": warnings}, request.received_at)
        return IntakeWritten(complaint_id=complaint_id, duplicate_of=None, previous_case=previous, received=entry)

    async def _joined_before(self, conn: asyncpg.Connection, request: OpenCaseRequest) -> IntakeWritten | None:
        row = await conn.fetchrow(
            "SELECT r.complaint_id, c.workflow_id FROM complaint_reports r JOIN complaints c USING (complaint_id)"
            " WHERE r.workflow_id = $1 AND r.run_id = $2", request.workflow_id, request.run_id)
        if row is None:
            return None
        return IntakeWritten(complaint_id=request.complaint_id, duplicate_of=None, new=False,
                             joined_to=row["complaint_id"], joined_workflow_id=row["workflow_id"],
                             joined_key=_report_key(request), received=_received_entry(request.opening, None, request.received_at))

    async def _join(self, conn: asyncpg.Connection, request: OpenCaseRequest, personal: PersonalData,
                    complaint_id: str, workflow_id: str) -> IntakeWritten:
        opening, key = request.opening, _report_key(request)
        cipher = await self.keys.cipher(conn, complaint_id)  # the report is part of that case: erased with it
        where = (request.workflow_id, request.run_id)
        await conn.execute(
            "INSERT INTO complaint_reports (complaint_id, workflow_id, run_id, channel, sender_id, external_ref,"
            " reporter, description, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            complaint_id, request.workflow_id, request.run_id, opening.channel.value, opening.sender_id,
            opening.external_ref,
            cipher.encrypt(personal.reporter.model_dump(mode="json"), report_location("reporter", *where)),
            cipher.encrypt(personal.description, report_location("description", *where)), request.received_at)
        await conn.execute("UPDATE complaints SET reports = reports + 1, updated_at = now() WHERE complaint_id = $1",
                           complaint_id)
        await conn.execute(
            "INSERT INTO complaint_events (complaint_id, event_key, event, actor, detail, occurred_at)"
            " VALUES ($1, $2, 'report_joined', $3, $4, $5)",
            complaint_id, key, f"channel:{opening.channel.value}",
            {"report": request.workflow_id, "channel": opening.channel.value, "urgency": opening.urgency.value},
            request.received_at)
        return IntakeWritten(complaint_id=request.complaint_id, duplicate_of=None, joined_to=complaint_id,
                             joined_workflow_id=workflow_id, joined_key=key,
                             received=_received_entry(opening, None, request.received_at))

    async def record(self, event: CaseEvent, messages: list[Message]) -> Recorded:
        """Append the event, bring the case row up to date and queue its notifications, all once.

        One statement does all three (`_RECORD`), so a step costs one round trip to Postgres, one more when it
        notifies (the roster is read first) and one more for officers' free text (the case's data key)."""
        async with self.pool.acquire() as conn:
            wanted = [m.recipient for m in messages]
            recipients = await resolve_recipients(conn, wanted, on=event.local_date) if wanted else {}
            detail = dict(event.detail)
            if "escalated_to" in detail:
                detail["escalated_to"] = recipients.get(detail["escalated_to"], detail["escalated_to"])
            if recipients:
                detail["recipients"] = sorted(set(recipients.values()))
            # Officers' free text is encrypted from the start (append-only), under the key its intake made.
            free_text = bool(personal_detail_fields(detail))
            cipher = await self.keys.existing_cipher(conn, event.complaint_id) if free_text else None
            if free_text and cipher is None:
                async with conn.transaction():  # no key yet (its intake failed): the row, then the key, then the step
                    await conn.execute(_UPSERT_ROW, *_row_args(event))
                    detail = sealed_detail(await self.keys.cipher(conn, event.complaint_id), detail, event.key)
                    inserted = await conn.fetchval(_RECORD, *_record_args(event, detail, recipients, messages))
                return Recorded(new=inserted is not None, recipients=recipients)
            if cipher is not None:
                detail = sealed_detail(cipher, detail, event.key)
            inserted = await conn.fetchval(_RECORD, *_record_args(event, detail, recipients, messages))
        return Recorded(new=inserted is not None, recipients=recipients)

    async def complaint(self, complaint_id: str, personal: bool = False) -> ComplaintRecord | None:
        """The case row; with `personal`, its personal columns decrypted (None once erased: see `erased_at`)."""
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT c.*, k.erased_at FROM complaints c LEFT JOIN case_keys k USING (complaint_id)"
                " WHERE c.complaint_id = $1", complaint_id)
            if row is None:
                return None
            data = dict(row)
            if personal:
                view = await self.keys.view(conn, complaint_id)
                data.update({c: view.open(data[c], f"complaints.{c}") for c in ("subject", "reporter", "description")})
            else:
                data.update(subject=None, reporter=None, description=None)
        return ComplaintRecord(**{k: v for k, v in data.items() if k in ComplaintRecord.model_fields})

    async def events(self, complaint_id: str, personal: bool = False) -> list[EventRecord]:
        """The case's trail; officers' free text decrypted with `personal`, else (and once erased) None."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT event_key, event, actor, detail, occurred_at FROM complaint_events"
                " WHERE complaint_id = $1 ORDER BY occurred_at, id", complaint_id)
            needed = personal and any(personal_detail_fields(r["detail"]) for r in rows)
            view = await self.keys.view(conn, complaint_id) if needed else PersonalView(complaint_id)
        return [EventRecord(**(dict(r) | {"detail": view.detail(r["detail"], r["event_key"], personal)})) for r in rows]


def _report_key(request: OpenCaseRequest) -> str:
    return f"report:{request.workflow_id}:{request.run_id[:8]}"


def _received_entry(opening: Any, previous_case: str | None, at: datetime) -> TimelineEntry:
    detail = {"channel": opening.channel.value, "village_code": opening.village_code, "category": opening.category,
              "urgency": opening.urgency.value, "reported_at": opening.reported_at.isoformat()}
    if previous_case:
        detail["previous_case"] = previous_case
    return TimelineEntry(at=at, event="received", actor=f"channel:{opening.channel.value}", detail=detail,
                         key="0001:received")



class ReferralStore:
    """Sub-cases at partner offices: their own rows, their steps in the case's trail, and a NIK they bring."""

    def __init__(self, pool: asyncpg.Pool, keys: CaseKeys | None = None) -> None:
        self.pool = pool
        self.keys = keys or CaseKeys()

    async def record(self, event: ReferralEvent, messages: list[Message]) -> tuple[bool, dict[str, str]]:
        async with self.pool.acquire() as conn, conn.transaction():
            recipients = await resolve_recipients(conn, [m.recipient for m in messages], on=event.local_date)
            detail = dict(event.detail) | {"n": event.n}
            if "escalated_to" in detail:
                detail["escalated_to"] = recipients.get(detail["escalated_to"], detail["escalated_to"])
            d = event.detail
            cipher = None
            if personal_detail_fields(detail) or any(d.get(f) for f in REFERRAL_TEXTS):
                cipher = await self.keys.cipher(conn, event.complaint_id)
                detail = sealed_detail(cipher, detail, event.key)
            inserted = await conn.fetchval(
                "INSERT INTO complaint_events (complaint_id, event_key, event, actor, detail, occurred_at)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (complaint_id, event_key) DO NOTHING RETURNING id",
                event.complaint_id, event.key, event.event, event.actor, detail, event.occurred_at)
            if inserted is None:
                return False, recipients
            texts = {field: _referral_text(cipher, d.get(field), field, event.n) for field in REFERRAL_TEXTS}
            await conn.execute(
                "INSERT INTO case_referrals (complaint_id, n, partner_code, workflow_id, status, required, need, sent_at,"
                " due_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                " ON CONFLICT (complaint_id, n) DO UPDATE SET status = EXCLUDED.status, due_at = EXCLUDED.due_at,"
                " accepted_at = CASE WHEN EXCLUDED.status = 'accepted' THEN $8 ELSE case_referrals.accepted_at END,"
                " answered_at = CASE WHEN EXCLUDED.status IN ('done', 'refused') THEN $8 ELSE case_referrals.answered_at END,"
                " provided = coalesce($10, case_referrals.provided), refusal_reason = coalesce($11, case_referrals.refusal_reason),"
                " via = coalesce($12, case_referrals.via), updated_at = now()",
                event.complaint_id, event.n, event.partner, event.workflow_id, event.status, event.required,
                texts["need"], event.occurred_at, event.due_at, texts["provided"], texts["reason"], d.get("via"))
            await _queue(conn, event.complaint_id, event.key, recipients, messages)
        return True, recipients

    async def subject(self, complaint_id: str) -> dict[str, Any] | None:
        """The case's subject (decrypted; None once erased), village and category."""
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT subject, village_code, category FROM complaints WHERE complaint_id = $1", complaint_id)
            if row is None:
                return None
            view = await self.keys.view(conn, complaint_id)
            return dict(row) | {"subject": view.open(row["subject"], "complaints.subject")}

    async def record_nik(self, complaint_id: str, nik: str, subject_key: str, category: str,
                         also_match: Sequence[str] = ()) -> str | None:
        """Store the NIK Disdukcapil issued in the case's subject (decrypted, changed, encrypted again) and its
        keyed hash, then run the duplicate check again: another open case of the same person and category is
        returned to be flagged. PersonalDataErased when the case's personal data is erased."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", subject_key)
            stored = await conn.fetchval("SELECT subject FROM complaints WHERE complaint_id = $1 FOR UPDATE",
                                         complaint_id)
            cipher = await self.keys.cipher(conn, complaint_id)  # a case written in clear gets its key now
            subject = dict(PersonalView(complaint_id, cipher).open(stored, "complaints.subject") or {}) | {"nik": nik}
            await conn.execute(
                "UPDATE complaints SET subject = $2, subject_key = $3, has_nik = true, updated_at = now()"
                " WHERE complaint_id = $1", complaint_id, cipher.encrypt(subject, "complaints.subject"), subject_key)
            return await conn.fetchval(
                "SELECT complaint_id FROM complaints WHERE subject_key = ANY($1::text[]) AND category = $2"
                " AND complaint_id <> $3 AND status NOT IN ('closed', 'rejected') ORDER BY received_at LIMIT 1",
                [subject_key, *also_match], category, complaint_id)

    async def referrals(self, complaint_id: str, personal: bool = False) -> list[dict[str, Any]]:
        """The case's sub-cases; need, provided and refusal_reason decrypted with `personal`, else None."""
        async with self.pool.acquire() as conn:
            rows = [dict(r) for r in await conn.fetch(
                "SELECT * FROM case_referrals WHERE complaint_id = $1 ORDER BY n", complaint_id)]
            view = await self.keys.view(conn, complaint_id) if personal and rows else PersonalView(complaint_id)
        for row in rows:
            for column in REFERRAL_TEXTS.values():
                row[column] = view.open(row[column], referral_location(column, row["n"])) if personal else None
        return rows


def _referral_text(cipher: CaseCipher | None, value: str | None, field: str, n: int) -> str | None:
    """A referral text for its case_referrals column, encrypted (None stays None: the column keeps its value)."""
    if not value or cipher is None:
        return value or None
    return cipher.encrypt(value, referral_location(REFERRAL_TEXTS[field], n))


def _outbox_rows(recipients: dict[str, str], messages: list[Message]) -> list[tuple[str, str, str, str, datetime]]:
    """(officer, channel, subject, body, not_before): one message per officer and event. When two roles land on
    one officer, the earliest delivery wins (a piket who is also the head of the bidang hears at once)."""
    per_officer: dict[str, Message] = {}
    for m in sorted(messages, key=lambda m: m.not_before):
        if m.recipient in recipients:
            per_officer.setdefault(recipients[m.recipient], m)
    return [(officer, channel, m.subject, m.body, m.not_before)
            for officer, m in per_officer.items() for channel in CHANNELS]


async def _queue(conn: asyncpg.Connection, complaint_id: str, key: str, recipients: dict[str, str],
                 messages: list[Message]) -> None:
    await conn.executemany(
        "INSERT INTO notification_outbox (complaint_id, event_key, recipient_id, channel, subject, body,"
        " not_before) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        [(complaint_id, key, *row) for row in _outbox_rows(recipients, messages)])


# A step in one statement: the case row (never moved back by an older retry), the event once, and its
# notifications only when the event is new. The event's foreign key is checked at the end of the statement,
# so it finds the row even when this statement inserted it.
_ROW_PARAMS = ("complaint_id", "workflow_id", "external_ref", "channel", "sender_id", "village_code", "kecamatan",
               "urgency", "reported_at", "received_at", "conditions", "run_id", *_ROW)
_E = len(_ROW_PARAMS)  # the event's parameters follow the row's
_UPSERT_ROW = (
    f"INSERT INTO complaints ({', '.join(_ROW_PARAMS)}) VALUES ({', '.join(f'${i + 1}' for i in range(_E))})"
    f" ON CONFLICT (complaint_id) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in _ROW)}, updated_at = now()"
    f" WHERE complaints.sequence <= EXCLUDED.sequence")
_RECORD = (
    f"WITH case_row AS ({_UPSERT_ROW}),"
    f" appended AS (INSERT INTO complaint_events (complaint_id, event_key, event, actor, detail, occurred_at)"
    f" VALUES ($1, ${_E + 1}, ${_E + 2}, ${_E + 3}, ${_E + 4}, ${_E + 5})"
    f" ON CONFLICT (complaint_id, event_key) DO NOTHING RETURNING id),"
    f" queued AS (INSERT INTO notification_outbox (complaint_id, event_key, recipient_id, channel, subject, body,"
    f" not_before) SELECT $1, ${_E + 1}, m.* FROM appended, unnest(${_E + 6}::text[], ${_E + 7}::text[],"
    f" ${_E + 8}::text[], ${_E + 9}::text[], ${_E + 10}::timestamptz[]) AS m ON CONFLICT DO NOTHING)"
    f" SELECT id FROM appended")


def _row_args(event: CaseEvent) -> list[Any]:
    row, opening = event.row.model_dump(), event.opening
    return [event.complaint_id, event.workflow_id, opening.external_ref, opening.channel.value, opening.sender_id,
            opening.village_code, event.kecamatan, opening.urgency.value, opening.reported_at, event.received_at,
            list(opening.conditions), None, *(row[c] for c in _ROW)]


def _record_args(event: CaseEvent, detail: dict[str, Any], recipients: dict[str, str],
                 messages: list[Message]) -> list[Any]:
    outbox = _outbox_rows(recipients, messages)
    columns = [list(column) for column in zip(*outbox)] if outbox else [[], [], [], [], []]
    return [*_row_args(event), event.key, event.event, event.actor, detail, event.occurred_at, *columns]
