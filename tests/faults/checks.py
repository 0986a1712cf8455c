"""After a fault: nothing lost, nothing twice.

`verify_cases` (a worker must answer queries): each case reached its state, in Postgres and in the
workflow; each step is in `complaint_events` once (its events as expected, each SLA milestone once, the
workflow's event keys exactly Postgres' keys); `reconcile` finds no difference.
`verify_notifications` (no other dispatcher running): what is still queued is delivered by a dispatcher
at an instant a week ahead (past any office-hours wait), then every (complaint, event_key, recipient)
reached the webhook receiver exactly once and every webhook row is sent.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from temporalio.client import Client

from activities.notify import DispatchOptions, Dispatcher
from activities.store import Store
from activities.store.reconcile import ReconcileStore
from casework.intake import workflow_id
from casework.reconcile import reconcile
from referral.case import CaseRecord
from referral.config import Settings


ACK = "acknowledgement"
ALL_ACK_MILESTONES = frozenset((ACK, m) for m in ("warning_50", "warning_80", "breach", "escalation_2"))


@dataclass(frozen=True)
class Expected:
    status: str
    steps: tuple[str, ...]  # the case's events other than SLA ones, in order
    milestones: frozenset[tuple[str, str]] = frozenset()  # (clock, milestone): at least these fired
    only_milestones: bool = False  # exactly `milestones`, no other
    escalation_level: int | None = None


async def verify_cases(client: Client, store: Store, expected: dict[str, Expected]) -> None:
    problems: list[str] = []
    for complaint_id, want in expected.items():
        problems += await _case_problems(client, store, complaint_id, want)
    assert not problems, "\n".join(problems)
    outcome = await reconcile(client, ReconcileStore(store.pool), [workflow_id(c) for c in expected], settle=1.0)
    assert outcome.found == [] and outcome.unreachable == {}, outcome


async def _case_problems(client: Client, store: Store, complaint_id: str, want: Expected) -> list[str]:
    row = await store.cases.complaint(complaint_id)
    record = await client.get_workflow_handle(workflow_id(complaint_id)).query("record", result_type=CaseRecord)
    events = await store.cases.events(complaint_id)
    problems = []

    def check(ok: bool, what: str, seen: Any) -> None:
        if not ok:
            problems.append(f"{complaint_id}: {what}: {seen!r}")

    check(row is not None and row.status == want.status, f"Postgres status should be {want.status}", row and row.status)
    check(record.row is not None and record.row.status == want.status, f"workflow status should be {want.status}",
          record.row and record.row.status)
    check(row is not None and row.needs_attention is None, "needs no attention in Postgres", row and row.needs_attention)
    check(record.row is not None and record.row.needs_attention is None, "needs no attention in the workflow",
          record.row and record.row.needs_attention)
    if want.escalation_level is not None:
        check(row is not None and row.escalation_level == want.escalation_level,
              f"escalation level should be {want.escalation_level}", row and row.escalation_level)
    steps = tuple(e.event for e in events if not e.event.startswith("sla_"))
    check(steps == want.steps, f"steps should be {want.steps}", steps)
    fired = [(e.detail["clock"], e.detail["run"], e.detail["milestone"]) for e in events if e.event.startswith("sla_")]
    check(len(fired) == len(set(fired)), "each SLA milestone once", sorted(fired))
    milestones = {(clock, milestone) for clock, _, milestone in fired}
    check(want.milestones <= milestones, f"SLA milestones should include {sorted(want.milestones)}", sorted(milestones))
    if want.only_milestones:
        check(milestones == set(want.milestones), f"SLA milestones should be {sorted(want.milestones)}",
              sorted(milestones))
    keys = [e.event_key for e in events]
    check(len(record.event_keys) == len(set(record.event_keys)), "the workflow recorded each key once",
          record.event_keys)
    check(sorted(record.event_keys) == sorted(keys), f"the workflow's keys should be Postgres' keys {sorted(keys)}",
          sorted(record.event_keys))
    return problems


async def verify_notifications(store: Store, receiver: Any, complaint_ids: list[str]) -> int:
    """Returns the number of webhook notifications delivered (each exactly once)."""
    later = datetime.now(timezone.utc) + timedelta(days=7)
    dispatcher = Dispatcher(store, replace(Settings(), webhook_url=receiver.url, smtp_host=None), DispatchOptions(),
                            webhook_secret=None)
    for _ in range(20):  # bounded: a row that keeps failing shows below as unsent
        if not await store.pool.fetchval(
                "SELECT count(*) FROM notification_outbox WHERE complaint_id = ANY($1::text[])"
                " AND status IN ('pending', 'sending')", complaint_ids):
            break
        await dispatcher.deliver_due(now=later, limit=500)
    rows = await store.pool.fetch(
        "SELECT complaint_id, event_key, recipient_id, status, last_error FROM notification_outbox"
        " WHERE complaint_id = ANY($1::text[]) AND channel = 'webhook'", complaint_ids)
    unsent = [dict(r) for r in rows if r["status"] != "sent"]
    assert not unsent, unsent
    mine = set(complaint_ids)
    posts = Counter((p["complaint_id"], p["event_key"], p["recipient_id"])
                    for p in (r["payload"] for r in receiver.requests) if p["complaint_id"] in mine)
    twice = {key: n for key, n in posts.items() if n > 1}
    assert not twice, f"delivered more than once: {twice}"
    assert set(posts) == {(r["complaint_id"], r["event_key"], r["recipient_id"]) for r in rows}
    return len(posts)
