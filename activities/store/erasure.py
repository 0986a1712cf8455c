"""Per-case data keys (`case_keys`), which values of a case are personal, and erasing them after retention.

`CaseKeys` is the keyring as the data layer uses it: it makes a case's data key at intake, opens it for
reads and writes (`activities/envelope.py` does the cryptography) and keys the duplicate-detection hash.
`ErasureStore.erase_due` is the retention job's one write: per case, the wrapped data key is deleted, the
keyed hash cleared, the columns the runtime role may clear are cleared, and a `personal_data_erased` event
is recorded once. Everything runs as the runtime role (activities/store/roles.py grants UPDATE on
case_keys' key columns); nothing is ever deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

import asyncpg
import structlog

from activities.envelope import (
    CaseCipher, EnvelopeError, WrappedKey, is_encrypted, new_data_key, subject_hash_key, unwrap, wrap,
)
from casework.keys import Keyring, load_keyring
from referral.config import Settings
from referral.models import RejectReason

log = structlog.get_logger(__name__)

ERASED_EVENT = "personal_data_erased"
ERASED_ACTOR = "retention"
# Free text officers (or partner offices) write into an event's detail: personal data.
FREE_TEXT_FIELDS = ("note", "plan", "reason", "need", "provided")
# `reason` also carries the system's own codes, kept readable: rejection reasons (referral.models), the
# routing tiers (referral.routing.choose_pendamping), a reassignment without a note, a missing NIK.
CODED_REASONS = frozenset({r.value for r in RejectReason} | {
    "covers_village", "backup_same_kecamatan", "backup_same_bidang", "backup_any", "supervisor", "no_nik"})
REFERRAL_TEXTS = {"need": "need", "provided": "provided", "reason": "refusal_reason"}  # detail field -> column


# ---- which values are personal, and where each lives (pure) ----

def personal_detail_fields(detail: Mapping[str, Any]) -> list[str]:
    """The fields of an event's detail that hold personal free text (encrypted, or clear from before)."""
    return [name for name in FREE_TEXT_FIELDS
            if isinstance(detail.get(name), str) and detail[name]
            and not (name == "reason" and detail[name] in CODED_REASONS)]


def event_location(field: str, event_key: str) -> str:
    return f"complaint_events.detail.{field}|{event_key}"


def report_location(column: str, workflow_id: str, run_id: str) -> str:
    return f"complaint_reports.{column}|{workflow_id}|{run_id}"


def referral_location(column: str, n: int) -> str:
    return f"case_referrals.{column}|{n}"


def sealed_detail(cipher: CaseCipher, detail: Mapping[str, Any], event_key: str) -> dict[str, Any]:
    """The detail with its personal fields encrypted (each bound to its event and field)."""
    personal = personal_detail_fields(detail)
    return {k: cipher.encrypt(v, event_location(k, event_key)) if k in personal else v for k, v in detail.items()}


@dataclass(frozen=True)
class PersonalView:
    """How one case's personal values read: opened under its data key, as written (a row in clear from before
    009 has no key), or not at all (erased)."""

    complaint_id: str
    cipher: CaseCipher | None = None
    erased_at: datetime | None = None

    def open(self, value: Any, location: str) -> Any:
        if self.erased_at is not None or value is None:
            return None
        if not is_encrypted(value):
            return value  # written in clear before envelope encryption
        if self.cipher is None:
            raise EnvelopeError(f"case {self.complaint_id}, {location}: encrypted, but the case has no data key row")
        return self.cipher.decrypt(value, location)

    def detail(self, detail: Mapping[str, Any], event_key: str, personal: bool) -> dict[str, Any]:
        """An event's detail: personal fields opened (personal=True, not erased) or hidden (None)."""
        hidden = personal_detail_fields(detail)
        if not hidden:
            return dict(detail)
        if not personal:
            return {k: None if k in hidden else v for k, v in detail.items()}
        return {k: self.open(v, event_location(k, event_key)) if k in hidden else v for k, v in detail.items()}


# ---- the keys ----

def process_keyring() -> Keyring:
    """The keyring of this process, found the way the payload codec finds it (casework.runtime)."""
    settings = Settings()
    return load_keyring(settings, dev=settings.dev_stack_running())


class CaseKeys:
    """The case data keys, wrapped by `keyring` (by default this process's keyring, loaded on first use)."""

    def __init__(self, keyring: Keyring | None = None) -> None:
        self._keyring = keyring
        self._hash_key: bytes | None = None

    @property
    def keyring(self) -> Keyring:
        if self._keyring is None:
            self._keyring = process_keyring()
        return self._keyring

    def hash_key(self) -> bytes:
        """The duplicate-detection HMAC's secret (activities.envelope.subject_hash_key)."""
        if self._hash_key is None:
            self._hash_key = subject_hash_key(self.keyring)
        return self._hash_key

    async def wrapped(self, conn: asyncpg.Connection, complaint_id: str, lock: bool = False) -> WrappedKey | None:
        row = await conn.fetchrow(
            "SELECT wrapping_key_id, wrapped_key, erased_at FROM case_keys WHERE complaint_id = $1"
            + (" FOR UPDATE" if lock else ""), complaint_id)
        if row is None:
            return None
        return WrappedKey(complaint_id, row["wrapping_key_id"], row["wrapped_key"], row["erased_at"])

    async def existing_cipher(self, conn: asyncpg.Connection, complaint_id: str) -> CaseCipher | None:
        """The case's cipher if its data key was made (by its intake, usually); PersonalDataErased once erased."""
        wrapped = await self.wrapped(conn, complaint_id)
        return None if wrapped is None else CaseCipher(complaint_id, unwrap(self.keyring, wrapped))

    async def cipher(self, conn: asyncpg.Connection, complaint_id: str) -> CaseCipher:
        """The case's cipher, its data key made on first use. PersonalDataErased once erased."""
        existing = await self.existing_cipher(conn, complaint_id)
        if existing is not None:
            return existing
        made = wrap(self.keyring, complaint_id, new_data_key())
        # Two writers of one case at once: the first key wins and the second reads it back.
        inserted = await conn.fetchval(
            "INSERT INTO case_keys (complaint_id, wrapping_key_id, wrapped_key) VALUES ($1, $2, $3)"
            " ON CONFLICT (complaint_id) DO NOTHING RETURNING true", complaint_id, made.wrapping_key_id, made.wrapped)
        wrapped = made if inserted else await self.wrapped(conn, complaint_id)
        assert wrapped is not None  # inserted, or inserted by the writer we waited for
        return CaseCipher(complaint_id, unwrap(self.keyring, wrapped))

    async def view(self, conn: asyncpg.Connection, complaint_id: str) -> PersonalView:
        wrapped = await self.wrapped(conn, complaint_id)
        if wrapped is None:
            return PersonalView(complaint_id)
        if wrapped.erased:
            return PersonalView(complaint_id, erased_at=wrapped.erased_at)
        return PersonalView(complaint_id, CaseCipher(complaint_id, unwrap(self.keyring, wrapped)))


# ---- erasure ----

@dataclass(frozen=True)
class ErasedCase:
    complaint_id: str
    key_deleted: bool           # False: the case was written in clear before 009 (no data key)
    left_in_clear: tuple[str, ...]  # columns the runtime role may not clear that still hold clear text


_DUE = """
SELECT c.complaint_id, c.closed_at, k.complaint_id IS NOT NULL AS keyed
FROM complaints c LEFT JOIN case_keys k USING (complaint_id)
WHERE c.status IN ('closed', 'rejected') AND c.closed_at <= $1 AND k.erased_at IS NULL
ORDER BY c.closed_at, c.complaint_id
LIMIT $2
FOR UPDATE OF c SKIP LOCKED
"""


class ErasureStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def erase_due(self, finished_before: datetime, limit: int, retention_years: int,
                        now: datetime) -> list[ErasedCase]:
        """Erase up to `limit` cases closed or rejected at or before `finished_before`, oldest first, in one
        transaction. A case another worker is erasing is skipped (SKIP LOCKED), never erased twice."""
        erased: list[ErasedCase] = []
        async with self.pool.acquire() as conn, conn.transaction():
            for row in await conn.fetch(_DUE, finished_before, limit):
                erased.append(await self._erase(conn, row["complaint_id"], row["keyed"], row["closed_at"],
                                                retention_years, now))
        return erased

    async def _erase(self, conn: asyncpg.Connection, complaint_id: str, keyed: bool, closed_at: datetime,
                     retention_years: int, now: datetime) -> ErasedCase:
        # The key deleted; a case written in clear gets an erased key row, so it reads as erased too.
        await conn.execute(
            "INSERT INTO case_keys (complaint_id, erased_at) VALUES ($1, $2) ON CONFLICT (complaint_id) DO UPDATE"
            " SET wrapping_key_id = NULL, wrapped_key = NULL, erased_at = EXCLUDED.erased_at", complaint_id, now)
        # What the runtime role may clear goes too (ciphertext, or clear text from before 009); the keyed
        # hash goes so the person is never matched again.
        await conn.execute("UPDATE complaints SET subject = NULL, subject_key = NULL, updated_at = now()"
                           " WHERE complaint_id = $1", complaint_id)
        await conn.execute("UPDATE case_referrals SET need = NULL, provided = NULL, refusal_reason = NULL,"
                           " updated_at = now() WHERE complaint_id = $1", complaint_id)
        left = await _left_in_clear(conn, complaint_id)
        detail: dict[str, Any] = {"retention_years": retention_years, "finished_at": closed_at.isoformat(),
                                  "data_key": "deleted" if keyed else "none"}
        if left:
            detail["left_in_clear"] = list(left)
        await conn.execute(
            "INSERT INTO complaint_events (complaint_id, event_key, event, actor, detail, occurred_at)"
            " VALUES ($1, $2, $2, $3, $4, $5) ON CONFLICT (complaint_id, event_key) DO NOTHING",
            complaint_id, ERASED_EVENT, ERASED_ACTOR, detail, now)
        if left:  # names columns, never values
            log.warning("personal data erased, but clear text written before envelope encryption remains",
                        complaint_id=complaint_id, left_in_clear=list(left))
        return ErasedCase(complaint_id, keyed, left)

    async def erased_at(self, complaint_id: str) -> datetime | None:
        return await self.pool.fetchval("SELECT erased_at FROM case_keys WHERE complaint_id = $1", complaint_id)


async def _left_in_clear(conn: asyncpg.Connection, complaint_id: str) -> tuple[str, ...]:
    """Columns still holding clear personal text that the runtime role may not clear (rows from before 009)."""
    left = []
    case = await conn.fetchrow("SELECT reporter, description FROM complaints WHERE complaint_id = $1", complaint_id)
    for column in ("reporter", "description"):
        if case[column] is not None and not is_encrypted(case[column]):
            left.append(f"complaints.{column}")
    reports = await conn.fetch("SELECT reporter, description FROM complaint_reports WHERE complaint_id = $1",
                               complaint_id)
    if any(r[c] is not None and not is_encrypted(r[c]) for r in reports for c in ("reporter", "description")):
        left.append("complaint_reports")
    details = await conn.fetch("SELECT detail FROM complaint_events WHERE complaint_id = $1", complaint_id)
    if any(not is_encrypted(d["detail"][f]) for d in details for f in personal_detail_fields(d["detail"])):
        left.append("complaint_events.detail")
    return tuple(left)
