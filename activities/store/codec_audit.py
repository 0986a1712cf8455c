"""The record of the codec server's decode requests (`codec_access`, append-only: migration 006).

One row per POST /codec/decode that named a caller: who, allowed or refused, the namespace, how many
payloads were sent and decrypted, under which key ids, and the case ids found in what was decrypted.
Never a payload, never personal data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

import asyncpg

PRINCIPAL_KINDS = ("officer", "service", "partner")
NAMESPACE_MAX = 255
ORIGIN_MAX = 255
REQUEST_ID_MAX = 128
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


@dataclass(frozen=True)
class CodecAccess:
    id: int
    at: datetime
    principal_kind: str
    principal_id: str
    role: str | None
    allowed: bool
    namespace: str
    payload_count: int
    decrypted_count: int
    key_ids: tuple[str, ...]
    complaint_ids: tuple[str, ...]
    origin: str | None
    request_id: str | None


def _access(row: asyncpg.Record) -> CodecAccess:
    return CodecAccess(
        id=row["id"], at=row["at"], principal_kind=row["principal_kind"], principal_id=row["principal_id"],
        role=row["role"], allowed=row["allowed"], namespace=row["namespace"], payload_count=row["payload_count"],
        decrypted_count=row["decrypted_count"], key_ids=tuple(row["key_ids"]),
        complaint_ids=tuple(row["complaint_ids"]),
        origin=row["origin"], request_id=row["request_id"],
    )


def record_problems(*, principal_kind: str, principal_id: str, namespace: str, payload_count: int,
                    decrypted_count: int, key_ids: Sequence[str], complaint_ids: Sequence[str],
                    origin: str | None, request_id: str | None) -> list[str]:
    """Every reason a record would be refused, each naming its field (pure)."""
    problems = []
    if principal_kind not in PRINCIPAL_KINDS:
        problems.append(f"principal_kind: {principal_kind!r} is not one of {', '.join(PRINCIPAL_KINDS)}")
    if not principal_id:
        problems.append("principal_id: required")
    if len(namespace) > NAMESPACE_MAX:
        problems.append(f"namespace: at most {NAMESPACE_MAX} characters")
    if payload_count < 0 or not 0 <= decrypted_count <= payload_count:
        problems.append("payload_count/decrypted_count: 0 <= decrypted_count <= payload_count")
    for name, values in (("key_ids", key_ids), ("complaint_ids", complaint_ids)):
        if not all(_SAFE_ID.fullmatch(v) for v in values):
            problems.append(f"{name}: identifiers only (A-Z a-z 0-9 . _ : -)")
    if origin is not None and len(origin) > ORIGIN_MAX:
        problems.append(f"origin: at most {ORIGIN_MAX} characters")
    if request_id is not None and len(request_id) > REQUEST_ID_MAX:
        problems.append(f"request_id: at most {REQUEST_ID_MAX} characters")
    return problems


class CodecAuditStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def record(self, *, principal_kind: str, principal_id: str, role: str | None, allowed: bool,
                     namespace: str, payload_count: int, decrypted_count: int, key_ids: Sequence[str] = (),
                     complaint_ids: Sequence[str] = (), origin: str | None = None,
                     request_id: str | None = None) -> CodecAccess:
        """Append one decode request. ValueError names every bad field."""
        key_ids, complaint_ids = sorted(set(key_ids)), sorted(set(complaint_ids))
        problems = record_problems(principal_kind=principal_kind, principal_id=principal_id, namespace=namespace,
                                   payload_count=payload_count, decrypted_count=decrypted_count, key_ids=key_ids,
                                   complaint_ids=complaint_ids, origin=origin, request_id=request_id)
        if problems:
            raise ValueError("; ".join(problems))
        row = await self.pool.fetchrow(
            "INSERT INTO codec_access (principal_kind, principal_id, role, allowed, namespace, payload_count,"
            " decrypted_count, key_ids, complaint_ids, origin, request_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *",
            principal_kind, principal_id, role, allowed, namespace, payload_count, decrypted_count, key_ids,
            complaint_ids, origin, request_id,
        )
        return _access(row)

    async def recent(self, *, principal_id: str | None = None, complaint_id: str | None = None,
                     limit: int = 100) -> list[CodecAccess]:
        """Newest first, optionally for one caller or one case."""
        rows = await self.pool.fetch(
            "SELECT * FROM codec_access WHERE ($1::text IS NULL OR principal_id = $1)"
            " AND ($2::text IS NULL OR $2 = ANY (complaint_ids)) ORDER BY at DESC, id DESC LIMIT $3",
            principal_id, complaint_id, limit,
        )
        return [_access(r) for r in rows]
