"""The reads behind `starter.py report`: case rows and SLA breach events for a period."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import asyncpg

WITA = timezone(timedelta(hours=8))

# The pendamping holding a case at a moment ($m): the latest assignment event before it, by the event's name
# (`assigned` at intake, `reassigned` by a supervisor, after breaches or a roster change), whatever its key
# (`0002:assigned`, ...). Cases without any assignment events (imported rows) fall back to the row's
# current pendamping_id. A case entered after a clock had already run out (a late paper report) has no
# holder at that deadline: its breach counts as unassigned, not against the pendamping who received it late.
_OWNER_AT = """
    CASE WHEN EXISTS (SELECT 1 FROM complaint_events a
                      WHERE a.complaint_id = c.complaint_id AND a.event IN ('assigned', 'reassigned'))
    THEN (SELECT a.detail->>'pendamping_id' FROM complaint_events a
          WHERE a.complaint_id = c.complaint_id AND a.event IN ('assigned', 'reassigned') AND a.occurred_at < {m}
          ORDER BY a.occurred_at DESC, a.id DESC LIMIT 1)
    ELSE c.pendamping_id END
"""

# Every case the period's figures can touch: received before the end and not finished before the start
# (or acknowledged/resolved inside it). The report filters each figure precisely.
CASES_SQL = f"""
SELECT c.complaint_id, c.status, c.village_code, c.kecamatan, c.category, c.bidang, c.pendamping_id,
       c.escalation_level, c.urgency, c.needs_investigation, c.conditions, c.outcome,
       c.reported_at, c.received_at, c.assigned_at, c.acknowledged_at,
       c.assessed_at, c.referred_at, c.resolved_at, c.closed_at,
       {_OWNER_AT.format(m="$2")} AS pendamping_at_end
FROM complaints c
WHERE c.received_at < $2
  AND (c.closed_at IS NULL OR c.closed_at >= $1 OR c.acknowledged_at >= $1 OR c.resolved_at >= $1)
ORDER BY c.received_at, c.complaint_id
"""

# Breaches (first escalation of a clock, the overall clock included) due inside the period, with the case's grouping columns and
# the pendamping who held the case when the clock breached (strictly before due_at, so an automatic
# reassignment triggered by the breach itself does not take the blame).
BREACHES_SQL = f"""
SELECT e.complaint_id, e.detail->>'clock' AS clock, (e.detail->>'due_at')::timestamptz AS due_at,
       e.occurred_at, c.village_code, c.kecamatan, c.category, c.bidang, c.conditions, c.outcome,
       {_OWNER_AT.format(m="(e.detail->>'due_at')::timestamptz")} AS pendamping_id
FROM complaint_events e
JOIN complaints c ON c.complaint_id = e.complaint_id
WHERE e.event = 'sla_escalated' AND e.detail->>'milestone' = 'breach'
  AND (e.detail->>'due_at')::timestamptz >= $1 AND (e.detail->>'due_at')::timestamptz < $2
ORDER BY due_at, e.complaint_id
"""


def period_bounds(date_from: date, date_to: date, tz: timezone = WITA) -> tuple[datetime, datetime]:
    """Whole local days: [date_from 00:00, date_to + 1 day 00:00) in the office's timezone."""
    return (datetime.combine(date_from, time(0), tz),
            datetime.combine(date_to + timedelta(days=1), time(0), tz))


async def fetch_report_rows(
    pool: asyncpg.Pool, date_from: date, date_to: date, tz: timezone = WITA,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(case rows relevant to the period, breach event rows due in the period)."""
    start, end = period_bounds(date_from, date_to, tz)
    async with pool.acquire() as conn:
        cases = await conn.fetch(CASES_SQL, start, end)
        breaches = await conn.fetch(BREACHES_SQL, start, end)
    return [dict(r) for r in cases], [dict(r) for r in breaches]


class ReportStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def rows(self, date_from: date, date_to: date, tz: timezone = WITA) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return await fetch_report_rows(self.pool, date_from, date_to, tz)
