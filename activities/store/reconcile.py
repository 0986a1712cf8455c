"""The reads and the one write behind `starter.py reconcile`: case rows and event keys as Postgres holds them.

Reads go by workflow id (a case opened again after Temporal's retention, `ADU-…-2`, shares its first
case's workflow id), so the caller can read Postgres *before* it asks the workflow: a step the workflow
records in between then shows as the workflow being ahead, never as Postgres being ahead of it.

The repair writes the workflow's `CaseRow` over the row, guarded twice: like the normal write, never to
a lower step sequence (an old state never moves a case back), and only while the row is still the one
that was read (`updated_at`), so a step the workflow recorded since is never overwritten.
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

import asyncpg
from pydantic import BaseModel

from referral.case import CaseRow

_COLUMNS = tuple(CaseRow.model_fields)


class StoredCase(BaseModel):
    """A case as Postgres holds it: the columns the workflow keeps current, and its event keys in order."""

    complaint_id: str
    workflow_id: str
    row: CaseRow
    updated_at: datetime
    event_keys: list[str]


class ReconcileStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def cases_of_workflows(self, workflow_ids: Sequence[str]) -> dict[str, StoredCase]:
        """Every case row of these workflows with its event keys, by complaint id (one read of each table)."""
        if not workflow_ids:
            return {}
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            rows = await conn.fetch(
                f"SELECT complaint_id, workflow_id, updated_at, {', '.join(_COLUMNS)} FROM complaints"
                " WHERE workflow_id = ANY($1::text[])", list(workflow_ids))
            keys = await conn.fetch(
                "SELECT complaint_id, array_agg(event_key ORDER BY id) AS keys FROM complaint_events"
                " WHERE complaint_id = ANY($1::text[]) GROUP BY complaint_id",
                [r["complaint_id"] for r in rows])
        events = {r["complaint_id"]: list(r["keys"]) for r in keys}
        return {
            r["complaint_id"]: StoredCase(
                complaint_id=r["complaint_id"], workflow_id=r["workflow_id"], updated_at=r["updated_at"],
                row=CaseRow(**{c: r[c] for c in _COLUMNS}), event_keys=events.get(r["complaint_id"], []))
            for r in rows
        }

    async def rewrite_row(self, complaint_id: str, row: CaseRow, seen_updated_at: datetime) -> bool:
        """Write the workflow's row over the stored one; False if the stored row is at a later step or has
        changed since it was read (nothing is written then)."""
        values = row.model_dump()
        assignments = ", ".join(f"{c} = ${i + 3}" for i, c in enumerate(_COLUMNS))
        sequence = f"${_COLUMNS.index('sequence') + 3}"
        written = await self.pool.fetchval(
            f"UPDATE complaints SET {assignments}, updated_at = now()"
            f" WHERE complaint_id = $1 AND updated_at = $2 AND sequence <= {sequence} RETURNING complaint_id",
            complaint_id, seen_updated_at, *(values[c] for c in _COLUMNS))
        return written is not None
