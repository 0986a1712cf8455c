"""The door's SQL: API tokens, the officers a credential names, and the record of personal-data reads.

Tokens keep only a SHA-256 of their secret (`api.tokens` makes and checks it). `personal_data_access`
is append-only: a trigger refuses UPDATE, DELETE and TRUNCATE (migration 004_access.sql).
Times are passed in by the caller where they decide something (expiry, last use), so tests can pick them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Sequence

import asyncpg

TokenKind = Literal["officer", "service", "partner"]
TokenState = Literal["active", "expired", "revoked"]
PURPOSE_MAX = 500
# last_used_at is written at most this often per token, so a busy token does not write on every call.
LAST_USED_GRANULARITY = timedelta(minutes=1)


class TokenIdTaken(Exception):
    """A new token's id collides with an existing one (64 random bits: retry with another)."""


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about a token: never its secret or its hash."""

    token_id: str
    kind: TokenKind
    subject: str
    channels: tuple[str, ...]
    villages: tuple[str, ...]
    label: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    def state(self, now: datetime) -> TokenState:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "active"


@dataclass(frozen=True)
class OfficerRecord:
    officer_id: str
    role: str
    bidang: str | None
    active: bool


@dataclass(frozen=True)
class StoredToken:
    """A token row for verification: its hash, and for an officer token the officer's roster row."""

    info: TokenInfo
    secret_hash: bytes
    officer: OfficerRecord | None


@dataclass(frozen=True)
class AccessRecord:
    id: int
    principal_kind: str
    principal_id: str
    complaint_id: str
    fields: tuple[str, ...]
    purpose: str
    at: datetime
    request_id: str | None


_TOKEN_COLUMNS = (
    "t.token_id, t.kind, t.subject, t.channels, t.villages, t.label, t.created_at, t.expires_at,"
    " t.revoked_at, t.last_used_at"
)


def _token_info(row: asyncpg.Record) -> TokenInfo:
    return TokenInfo(
        token_id=row["token_id"], kind=row["kind"], subject=row["subject"], channels=tuple(row["channels"]),
        villages=tuple(row["villages"]), label=row["label"], created_at=row["created_at"],
        expires_at=row["expires_at"], revoked_at=row["revoked_at"], last_used_at=row["last_used_at"],
    )


def _access(row: asyncpg.Record) -> AccessRecord:
    return AccessRecord(
        id=row["id"], principal_kind=row["principal_kind"], principal_id=row["principal_id"],
        complaint_id=row["complaint_id"], fields=tuple(row["fields"]), purpose=row["purpose"], at=row["at"],
        request_id=row["request_id"],
    )


class AccessStore:
    """API tokens and personal-data access records over the one asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # ---- tokens ----

    async def insert_token(
        self, *, token_id: str, secret_hash: bytes, kind: TokenKind, subject: str, channels: Sequence[str],
        villages: Sequence[str], label: str, created_at: datetime, expires_at: datetime,
    ) -> TokenInfo:
        try:
            row = await self.pool.fetchrow(
                "INSERT INTO api_tokens AS t (token_id, secret_hash, kind, subject, channels, villages, label,"
                " created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                f" RETURNING {_TOKEN_COLUMNS}",
                token_id, secret_hash, kind, subject, list(channels), list(villages), label, created_at, expires_at,
            )
        except asyncpg.UniqueViolationError:
            raise TokenIdTaken(token_id) from None
        return _token_info(row)

    async def token(self, token_id: str) -> StoredToken | None:
        """The token with its hash, joined to its officer's roster row for officer tokens."""
        row = await self.pool.fetchrow(
            f"SELECT {_TOKEN_COLUMNS}, t.secret_hash, o.officer_id, o.role, o.bidang, o.active"
            " FROM api_tokens t LEFT JOIN officers o ON t.kind = 'officer' AND o.officer_id = t.subject"
            " WHERE t.token_id = $1",
            token_id,
        )
        if row is None:
            return None
        officer = (
            OfficerRecord(row["officer_id"], row["role"], row["bidang"], row["active"])
            if row["officer_id"] is not None else None
        )
        return StoredToken(info=_token_info(row), secret_hash=bytes(row["secret_hash"]), officer=officer)

    async def tokens(self) -> list[TokenInfo]:
        rows = await self.pool.fetch(f"SELECT {_TOKEN_COLUMNS} FROM api_tokens t ORDER BY t.created_at, t.token_id")
        return [_token_info(r) for r in rows]

    async def revoke_token(self, token_id: str, at: datetime) -> TokenInfo | None:
        """Revoke once (a second revoke keeps the first time); None if there is no such token."""
        row = await self.pool.fetchrow(
            "UPDATE api_tokens AS t SET revoked_at = coalesce(t.revoked_at, $2) WHERE t.token_id = $1"
            f" RETURNING {_TOKEN_COLUMNS}",
            token_id, at,
        )
        return _token_info(row) if row else None

    async def touch_token(self, token_id: str, at: datetime) -> bool:
        """Record a use, at most once per LAST_USED_GRANULARITY. True if the row was written."""
        status = await self.pool.execute(
            "UPDATE api_tokens SET last_used_at = $2::timestamptz WHERE token_id = $1"
            " AND (last_used_at IS NULL OR last_used_at <= $2::timestamptz - $3::interval)",
            token_id, at, LAST_USED_GRANULARITY,
        )
        return status == "UPDATE 1"

    # ---- officers a credential names ----

    async def officer(self, officer_id: str, *, ignore_case: bool = False) -> OfficerRecord | None:
        """The roster row of an officer, active or not. With `ignore_case` (identity providers often
        lower-case user names) a name matching two officers is ambiguous and finds none."""
        if ignore_case:
            rows = await self.pool.fetch(
                "SELECT officer_id, role, bidang, active FROM officers WHERE lower(officer_id) = lower($1)",
                officer_id,
            )
        else:
            rows = await self.pool.fetch(
                "SELECT officer_id, role, bidang, active FROM officers WHERE officer_id = $1", officer_id
            )
        if len(rows) != 1:
            return None
        r = rows[0]
        return OfficerRecord(r["officer_id"], r["role"], r["bidang"], r["active"])

    # ---- personal-data access records ----

    async def record_access(
        self, *, principal_kind: str, principal_id: str, complaint_id: str, fields: Sequence[str], purpose: str,
        request_id: str | None = None,
    ) -> AccessRecord:
        """Append one read of a case's personal data. ValueError names the bad field."""
        purpose = purpose.strip()
        fields = tuple(fields)
        problems = []
        if principal_kind not in ("officer", "service", "partner"):
            problems.append(f"principal_kind: {principal_kind!r} is not officer, service or partner")
        if not principal_id:
            problems.append("principal_id: required")
        if not fields or not all(isinstance(f, str) and f for f in fields):
            problems.append("fields: at least one non-empty field name is required")
        if not purpose:
            problems.append("purpose: required (why the personal data is read)")
        elif len(purpose) > PURPOSE_MAX:
            problems.append(f"purpose: at most {PURPOSE_MAX} characters, got {len(purpose)}")
        if request_id is not None and len(request_id) > 128:
            problems.append("request_id: at most 128 characters")
        if problems:
            raise ValueError("; ".join(problems))
        try:
            row = await self.pool.fetchrow(
                "INSERT INTO personal_data_access (principal_kind, principal_id, complaint_id, fields, purpose,"
                " request_id) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
                principal_kind, principal_id, complaint_id, list(fields), purpose, request_id,
            )
        except asyncpg.ForeignKeyViolationError:
            raise ValueError(f"complaint_id: no case {complaint_id!r}") from None
        return _access(row)

    async def accesses_for(self, complaint_id: str) -> list[AccessRecord]:
        rows = await self.pool.fetch(
            "SELECT * FROM personal_data_access WHERE complaint_id = $1 ORDER BY at, id", complaint_id
        )
        return [_access(r) for r in rows]
