"""With years of sent rows the claim still reads only the unfinished ones (partial indexes)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import asyncpg

from activities.store.outbox import CLAIM_SQL, OutboxStore
from tests.integration.test_outbox_support import (  # noqa: F401 (fixtures)
    empty_outbox, open_case, outbox_url, pool, queue,
)

HISTORY = 200_000


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


async def test_the_claim_uses_the_partial_indexes_over_a_large_history(pool: asyncpg.Pool) -> None:
    now = datetime.now(timezone.utc)
    await open_case(pool, "C-HISTORY")
    await pool.execute(
        "INSERT INTO notification_outbox (complaint_id, event_key, recipient_id, channel, subject, body,"
        " not_before, status, sent_at)"
        " SELECT 'C-HISTORY', 'old:' || i, 'PD-' || lpad((1 + i % 36)::text, 2, '0'), 'email', 's', 'b',"
        "  $1::timestamptz - make_interval(mins => i), 'sent', $1::timestamptz - make_interval(mins => i)"
        " FROM generate_series(1, $2) AS i",
        now, HISTORY,
    )
    for step in range(20):
        await queue(pool, "C-HISTORY", f"new:{step}", recipients=("KADIS",), not_before=now - timedelta(seconds=step))
    await pool.execute("ANALYZE notification_outbox")

    explained = await pool.fetchval(f"EXPLAIN (FORMAT JSON) {CLAIM_SQL}", now, 50, timedelta(minutes=1))
    nodes = list(plan_nodes((json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]))
    outbox_scans = [(n["Node Type"], n.get("Index Name")) for n in nodes if n.get("Relation Name") == "notification_outbox"
                    and "Scan" in n["Node Type"]]
    assert outbox_scans and all(kind != "Seq Scan" for kind, _ in outbox_scans), outbox_scans
    assert {name for _, name in outbox_scans} >= {"notification_outbox_claimable", "notification_outbox_in_flight"}

    started = time.perf_counter()
    claimed = await OutboxStore(pool).claim(now, 50, timedelta(minutes=1))
    elapsed = time.perf_counter() - started
    assert len(claimed) == 20
    print(f"claim over {HISTORY} sent rows: {elapsed * 1000:.1f} ms")
