"""The roster in Postgres: officers, who covers which village, leave, and who holds a role now."""

from __future__ import annotations

import hashlib
from datetime import date

import asyncpg
from pydantic import BaseModel

from referral import reference
from referral.records import Assignment
from referral.routing import COVERS_VILLAGE, OfficerRef, choose_pendamping


class OfficerRecord(BaseModel):
    officer_id: str
    role: str
    bidang: str | None
    email: str
    active: bool
    kecamatan: str | None = None


class UnknownOfficer(LookupError):
    """No officer with this id on the roster."""


class RosterStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def has_roster(self) -> bool:
        return bool(await self.pool.fetchval("SELECT count(*) FROM coverage"))

    async def replace_roster(self, roster: reference.Roster) -> list[str]:
        """Load a validated roster in one transaction. Returns the officers who left it (now inactive)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("LOCK TABLE coverage IN EXCLUSIVE MODE")
            left = await conn.fetch(
                "SELECT officer_id FROM officers WHERE active AND role <> 'partner' AND NOT (officer_id = ANY($1::text[]))",
                list(roster.officers),
            )
            await conn.executemany(
                "INSERT INTO officers (officer_id, role, bidang, name, email, active)"
                " VALUES ($1, $2, $3, $4, $5, true)"
                " ON CONFLICT (officer_id) DO UPDATE SET role = EXCLUDED.role, bidang = EXCLUDED.bidang,"
                " name = EXCLUDED.name, email = EXCLUDED.email, active = true",
                [(o.officer_id, o.role, o.bidang, o.name, o.email) for o in roster.officers.values()],
            )
            await conn.execute(  # partner offices come from the reference data, not the roster
                "UPDATE officers SET active = false WHERE role <> 'partner' AND NOT (officer_id = ANY($1::text[]))",
                list(roster.officers))
            await conn.execute("DELETE FROM coverage")
            await conn.executemany(
                "INSERT INTO coverage (village_code, pendamping_id) VALUES ($1, $2)", list(roster.coverage.items()))
        return [r["officer_id"] for r in left]

    async def officers(self, active_only: bool = True) -> list[OfficerRecord]:
        """Officers with the kecamatan a pendamping works in (from the villages they cover)."""
        rows = await self.pool.fetch(
            "SELECT o.officer_id, o.role, o.bidang, o.email, o.active,"
            "  (SELECT min(v.kecamatan) FROM coverage c JOIN villages v ON v.code = c.village_code"
            "    WHERE c.pendamping_id = o.officer_id) AS kecamatan"
            " FROM officers o WHERE o.role <> 'partner' AND (o.active OR NOT $1) ORDER BY o.officer_id", active_only)
        return [OfficerRecord(**dict(r)) for r in rows]

    async def officer(self, officer_id: str) -> OfficerRecord | None:
        row = await self.pool.fetchrow(
            "SELECT officer_id, role, bidang, email, active FROM officers WHERE officer_id = $1", officer_id)
        return OfficerRecord(**dict(row)) if row else None

    async def version(self) -> str:
        """A fingerprint of who covers what: changes with every roster import that changes coverage.
        Postgres hashes the coverage itself (every case's set-up asks: one short row instead of 148),
        `village=pendamping/bidang;...` in village order, as `coverage_fingerprint` does."""
        return await self.pool.fetchval(
            "SELECT left(encode(sha256(convert_to(coalesce(string_agg(c.village_code || '=' || c.pendamping_id"
            " || '/' || coalesce(o.bidang, 'None'), ';' ORDER BY c.village_code), ''), 'UTF8')), 'hex'), 12)"
            " FROM coverage c JOIN officers o ON o.officer_id = c.pendamping_id")

    async def add_leave(self, officer_id: str, starts_on: date, ends_on: date, reason: str = "") -> None:
        if await self.officer(officer_id) is None:
            raise UnknownOfficer(officer_id)
        await self.pool.execute(
            "INSERT INTO officer_leave (officer_id, starts_on, ends_on, reason) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (officer_id, starts_on) DO UPDATE SET ends_on = EXCLUDED.ends_on, reason = EXCLUDED.reason",
            officer_id, starts_on, ends_on, reason,
        )

    async def choose_pendamping(self, village_code: str, on: date, exclude: list[str]) -> Assignment:
        """Who takes a case in this village today (routing decides; this gathers its facts). LookupError if nobody."""
        async with self.pool.acquire() as conn:
            # Most days the pendamping who covers the village takes it: one round trip finds them and whether
            # they are on leave. Routing is asked with just those facts, and trusted only when it picks them.
            covering = await conn.fetchrow(
                "SELECT o.officer_id, o.role, o.bidang, EXISTS (SELECT 1 FROM officer_leave l WHERE"
                " l.officer_id = o.officer_id AND $2 BETWEEN l.starts_on AND l.ends_on) AS on_leave"
                " FROM coverage c JOIN officers o ON o.officer_id = c.pendamping_id"
                " WHERE c.village_code = $1 AND o.active AND o.role = 'pendamping'", village_code, on)
            if covering is not None:
                ref = OfficerRef(officer_id=covering["officer_id"], role=covering["role"], bidang=covering["bidang"])
                try:
                    choice = choose_pendamping(village_code, {village_code: ref.officer_id}, [ref],
                                               on_leave={ref.officer_id} if covering["on_leave"] else set(),
                                               open_cases={}, exclude=exclude)
                except LookupError:  # they cannot take it: a backup is chosen from the whole roster below
                    choice = None
                if choice is not None and choice.reason == COVERS_VILLAGE:
                    return Assignment(pendamping_id=ref.officer_id, bidang=ref.bidang, reason=choice.reason)
            officers = await conn.fetch(
                "SELECT o.officer_id, o.role, o.bidang,"
                "  (SELECT min(v.kecamatan) FROM coverage c JOIN villages v ON v.code = c.village_code"
                "    WHERE c.pendamping_id = o.officer_id) AS kecamatan"
                " FROM officers o WHERE o.active AND o.role = 'pendamping'")
            coverage = {r["village_code"]: r["pendamping_id"] for r in await conn.fetch("SELECT * FROM coverage")}
            leave = await conn.fetch("SELECT officer_id FROM officer_leave WHERE $1 BETWEEN starts_on AND ends_on", on)
            caseloads = await conn.fetch(
                "SELECT pendamping_id, count(*) AS n FROM complaints"
                " WHERE status NOT IN ('closed', 'rejected') AND pendamping_id IS NOT NULL GROUP BY pendamping_id")
        pendamping = [OfficerRef(**dict(r)) for r in officers]
        choice = choose_pendamping(
            village_code, coverage, pendamping, on_leave={r["officer_id"] for r in leave},
            open_cases={r["pendamping_id"]: r["n"] for r in caseloads}, exclude=exclude)
        bidang = next(p.bidang for p in pendamping if p.officer_id == choice.pendamping_id)
        return Assignment(pendamping_id=choice.pendamping_id, bidang=bidang, reason=choice.reason)

    async def replace_piket(self, shifts: list[reference.PiketShift]) -> int:
        """Load the piket rota in one transaction (shifts of officers not on the roster are refused)."""
        from datetime import date

        async with self.pool.acquire() as conn, conn.transaction():
            known = {r["officer_id"] for r in await conn.fetch("SELECT officer_id FROM officers")}
            unknown = sorted({s.officer_id for s in shifts} - known)
            if unknown:
                raise reference.RosterError([f"piket: officer {o} is not on the roster" for o in unknown])
            await conn.execute("DELETE FROM piket_roster")
            await conn.executemany(
                "INSERT INTO piket_roster (starts_on, ends_on, officer_id) VALUES ($1, $2, $3)",
                [(date.fromisoformat(s.starts_on), date.fromisoformat(s.ends_on), s.officer_id) for s in shifts])
        return len(shifts)

    async def has_piket(self) -> bool:
        return bool(await self.pool.fetchval("SELECT count(*) FROM piket_roster"))

    async def pendamping_active(self, officer_id: str) -> bool:
        return bool(await self.pool.fetchval(
            "SELECT active FROM officers WHERE officer_id = $1 AND role = 'pendamping'", officer_id))

    async def cases_of(self, officer_ids: list[str]) -> list[str]:
        """Workflow ids of open cases held by these pendamping (after a roster import)."""
        rows = await self.pool.fetch(
            "SELECT workflow_id FROM complaints WHERE pendamping_id = ANY($1::text[])"
            " AND status NOT IN ('closed', 'rejected') ORDER BY received_at", officer_ids)
        return [r["workflow_id"] for r in rows]


def coverage_fingerprint(coverage: list[tuple[str, str, str | None]]) -> str:
    """`RosterStore.version` in Python, from (village_code, pendamping_id, bidang) rows: to check one by hand."""
    text = ";".join(f"{village}={pendamping}/{bidang}" for village, pendamping, bidang in sorted(coverage))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


async def resolve_recipients(conn: asyncpg.Connection, wanted: list[str], on: date | None = None) -> dict[str, str]:
    """`head:<bidang>`, `kepala_dinas` and `piket` (on duty on the day `on`) to the officer who holds the role
    now; ids stay ids. A bidang without a head, or a day without a piket, falls back to the kepala dinas, so
    an escalation always reaches someone."""
    roles = [ref for ref in wanted if ref.startswith("head:") or ref in ("kepala_dinas", "piket")]
    if not roles:  # officers' own ids (a pendamping's notice): nothing to look up
        return {ref: ref for ref in wanted if ref}
    rows = await conn.fetch(
        "SELECT officer_id, role, bidang FROM officers WHERE active AND role IN ('kepala_dinas', 'head_of_bidang')")
    piket = None
    if "piket" in wanted and on is not None:
        piket = await conn.fetchval(
            "SELECT p.officer_id FROM piket_roster p JOIN officers o ON o.officer_id = p.officer_id AND o.active"
            " WHERE $1 BETWEEN p.starts_on AND p.ends_on ORDER BY p.starts_on DESC LIMIT 1", on)
    kadis = next((r["officer_id"] for r in rows if r["role"] == "kepala_dinas"), None)
    heads = {r["bidang"]: r["officer_id"] for r in rows if r["role"] == "head_of_bidang"}
    resolved = {}
    for ref in wanted:
        if ref.startswith("head:"):
            who = heads.get(ref.removeprefix("head:")) or kadis
        elif ref == "kepala_dinas":
            who = kadis
        elif ref == "piket":
            who = piket or kadis
        else:
            who = ref
        if who:
            resolved[ref] = who
    return resolved
