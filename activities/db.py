"""The one data layer: every read and write of Postgres goes through `Database`."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from importlib import resources
from typing import Any

import asyncpg
import structlog

from referral import reference
from referral.intake import PersonalData
from referral.records import CaseEvent, IntakeRecord

log = structlog.get_logger(__name__)

# The columns a CaseEvent may change on the case row.
CASE_COLUMNS = {
    "status", "category", "bidang", "pendamping_id", "escalation_level", "needs_investigation", "outcome",
    "duplicate_of", "policy_version", "calendar_version", "assigned_at", "acknowledged_at", "assessed_at",
    "referred_at", "resolved_at", "closed_at",
}
_MIGRATION_LOCK = 0x42554C454C454E47  # "BULELENG": one migrator at a time across workers


async def connect(url: str, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    async def init(conn: asyncpg.Connection) -> None:
        await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")

    return await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, init=init)


def subject_key(nik: str | None, name: str, birth_date: date | None, salt: str) -> str:
    """A salted hash that finds the same person again without storing a searchable NIK."""
    basis = f"nik:{nik}" if nik else f"name:{' '.join(name.lower().split())}|{birth_date}"
    return hashlib.sha256(f"{salt}|{basis}".encode()).hexdigest()


def _typed(changes: dict[str, Any]) -> dict[str, Any]:
    """Timestamps arrive as ISO text after the trip through Temporal; asyncpg wants datetimes."""
    return {
        column: datetime.fromisoformat(value) if column.endswith("_at") and isinstance(value, str) else value
        for column, value in changes.items()
    }


class Database:
    def __init__(self, pool: asyncpg.Pool, hash_salt: str = "buleleng-dev-salt") -> None:
        self.pool = pool
        self.hash_salt = hash_salt

    # ---- schema and reference data ----

    async def migrate(self) -> list[str]:
        """Apply pending migrations in order; safe when several workers start at once."""
        files = sorted(
            (f.name, f.read_text(encoding="utf-8"))
            for f in resources.files("activities.sql").iterdir()
            if f.name.endswith(".sql")
        )
        applied: list[str] = []
        async with self.pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations"
                    " (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                )
                done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
                for name, sql in files:
                    if name in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(sql)
                        await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", name)
                    applied.append(name)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
        if applied:
            log.info("migrations applied", versions=applied)
        return applied

    async def load_reference(self) -> None:
        """Villages, categories and bidang names: upserted from the shipped data on every start."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                "INSERT INTO bidang (code, name) VALUES ($1, $2)"
                " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name",
                list(reference.bidang_names().items()),
            )
            await conn.executemany(
                "INSERT INTO villages (code, name, kecamatan, kind) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kecamatan = EXCLUDED.kecamatan,"
                " kind = EXCLUDED.kind",
                [(v.code, v.name, v.kecamatan, v.kind) for v in reference.villages().values()],
            )
            await conn.executemany(
                "INSERT INTO ppks_categories (code, name, english, bidang) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, english = EXCLUDED.english,"
                " bidang = EXCLUDED.bidang",
                [(c.code, c.name, c.english, c.bidang) for c in reference.categories().values()],
            )

    async def has_roster(self) -> bool:
        return bool(await self.pool.fetchval("SELECT count(*) FROM coverage"))

    async def replace_roster(self, roster: reference.Roster) -> None:
        """Load a validated roster in one transaction; officers no longer listed become inactive."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("LOCK TABLE coverage IN EXCLUSIVE MODE")
            await conn.executemany(
                "INSERT INTO officers (officer_id, role, bidang, name, email, active)"
                " VALUES ($1, $2, $3, $4, $5, true)"
                " ON CONFLICT (officer_id) DO UPDATE SET role = EXCLUDED.role, bidang = EXCLUDED.bidang,"
                " name = EXCLUDED.name, email = EXCLUDED.email, active = true",
                [(o.officer_id, o.role, o.bidang, o.name, o.email) for o in roster.officers.values()],
            )
            await conn.execute(
                "UPDATE officers SET active = false WHERE NOT (officer_id = ANY($1::text[]))",
                list(roster.officers),
            )
            await conn.execute("DELETE FROM coverage")
            await conn.executemany(
                "INSERT INTO coverage (village_code, pendamping_id) VALUES ($1, $2)",
                list(roster.coverage.items()),
            )

    # ---- roster reads ----

    async def officers(self) -> list[dict[str, Any]]:
        """Active officers with the kecamatan a pendamping works in (from the villages they cover)."""
        rows = await self.pool.fetch(
            "SELECT o.officer_id, o.role, o.bidang, o.email,"
            "  (SELECT min(v.kecamatan) FROM coverage c JOIN villages v ON v.code = c.village_code"
            "    WHERE c.pendamping_id = o.officer_id) AS kecamatan"
            " FROM officers o WHERE o.active ORDER BY o.officer_id"
        )
        return [dict(r) for r in rows]

    async def coverage(self) -> dict[str, str]:
        return {r["village_code"]: r["pendamping_id"] for r in await self.pool.fetch("SELECT * FROM coverage")}

    async def on_leave(self, day: date) -> set[str]:
        rows = await self.pool.fetch(
            "SELECT officer_id FROM officer_leave WHERE $1 BETWEEN starts_on AND ends_on", day
        )
        return {r["officer_id"] for r in rows}

    async def add_leave(self, officer_id: str, starts_on: date, ends_on: date, reason: str = "") -> None:
        await self.pool.execute(
            "INSERT INTO officer_leave (officer_id, starts_on, ends_on, reason) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (officer_id, starts_on) DO UPDATE SET ends_on = EXCLUDED.ends_on, reason = EXCLUDED.reason",
            officer_id, starts_on, ends_on, reason,
        )

    async def open_caseloads(self) -> dict[str, int]:
        rows = await self.pool.fetch(
            "SELECT pendamping_id, count(*) AS n FROM complaints"
            " WHERE status NOT IN ('closed', 'rejected') AND pendamping_id IS NOT NULL GROUP BY pendamping_id"
        )
        return {r["pendamping_id"]: r["n"] for r in rows}

    async def officer_contacts(self, officer_ids: list[str]) -> dict[str, dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT officer_id, email, role, bidang FROM officers WHERE officer_id = ANY($1::text[])", officer_ids
        )
        return {r["officer_id"]: dict(r) for r in rows}

    # ---- cases ----

    async def insert_complaint(self, record: IntakeRecord, personal: PersonalData) -> str | None:
        """Write the case row and its 'received' event once; return an open case of the same person."""
        intake = record.case
        subject = personal.subject
        key = subject_key(subject.nik, subject.name, subject.birth_date, self.hash_salt)
        async with self.pool.acquire() as conn, conn.transaction():
            # Two reports of the same person arriving together must still see each other.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)
            duplicate_of = await conn.fetchval(
                "SELECT complaint_id FROM complaints WHERE subject_key = $1 AND category = $2"
                " AND complaint_id <> $3 AND status NOT IN ('closed', 'rejected')"
                " ORDER BY received_at LIMIT 1",
                key, intake.category, record.complaint_id,
            )
            inserted = await conn.fetchval(
                "INSERT INTO complaints (complaint_id, workflow_id, external_ref, channel, status, village_code,"
                " kecamatan, category, bidang, urgency, subject_key, subject, reporter, description, reported_at,"
                " received_at, duplicate_of)"
                " VALUES ($1, $2, $3, $4, 'received', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
                " ON CONFLICT (complaint_id) DO NOTHING RETURNING complaint_id",
                record.complaint_id, record.workflow_id, intake.external_ref, intake.channel.value,
                intake.village_code, record.kecamatan, intake.category, record.bidang, intake.urgency.value, key,
                subject.model_dump(mode="json"), personal.reporter.model_dump(mode="json"),
                personal.description, intake.reported_at, record.received_at, duplicate_of,
            )
            if inserted is None:  # a retry: the first attempt already wrote everything
                return await conn.fetchval(
                    "SELECT duplicate_of FROM complaints WHERE complaint_id = $1", record.complaint_id
                )
            await conn.execute(
                "INSERT INTO complaint_events (complaint_id, event_key, event, actor, detail, occurred_at)"
                " VALUES ($1, 'received', 'received', $2, $3, $4)",
                record.complaint_id, f"channel:{intake.channel.value}",
                {"channel": intake.channel.value, "village_code": intake.village_code,
                 "category": intake.category, "urgency": intake.urgency.value,
                 "reported_at": intake.reported_at.isoformat(), "duplicate_of": duplicate_of},
                record.received_at,
            )
        return duplicate_of

    async def record_event(self, event: CaseEvent) -> bool:
        """Append the event, update the case row and queue notifications, all once. True if new."""
        unknown = set(event.case) - CASE_COLUMNS
        if unknown:
            raise ValueError(f"not case columns: {sorted(unknown)}")
        async with self.pool.acquire() as conn, conn.transaction():
            inserted = await conn.fetchval(
                "INSERT INTO complaint_events (complaint_id, event_key, event, actor, detail, occurred_at)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (complaint_id, event_key) DO NOTHING RETURNING id",
                event.complaint_id, event.key, event.event, event.actor, event.detail, event.occurred_at,
            )
            if inserted is None:
                return False
            if event.case:
                changes = _typed(event.case)
                columns = sorted(changes)
                assignments = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(columns))
                await conn.execute(
                    f"UPDATE complaints SET {assignments}, updated_at = now() WHERE complaint_id = $1",
                    event.complaint_id, *(changes[c] for c in columns),
                )
            await conn.executemany(
                "INSERT INTO notification_outbox (complaint_id, event_key, recipient_id, channel, subject, body,"
                " not_before) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                [
                    (event.complaint_id, event.key, n.recipient_id, channel, n.subject, n.body, n.not_before)
                    for n in event.notifications
                    for channel in ("email", "webhook")
                ],
            )
        return True

    async def complaint(self, complaint_id: str) -> dict[str, Any] | None:
        row = await self.pool.fetchrow("SELECT * FROM complaints WHERE complaint_id = $1", complaint_id)
        return dict(row) if row else None

    async def events(self, complaint_id: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT event_key, event, actor, detail, occurred_at FROM complaint_events"
            " WHERE complaint_id = $1 ORDER BY occurred_at, id",
            complaint_id,
        )
        return [dict(r) for r in rows]
