"""The SLA storm: many emergency cases whose acknowledgement deadlines fall within the same window.

Emergency acknowledgement is one calendar hour, so each case is reported one hour before its chosen
deadline; deadlines are spread evenly over `window` seconds starting `lead` seconds from now (time to
create the cases first, measured by default: a case created after its deadline is counted and left
out of the timings, since it escalates at intake). The 50% and 80% warnings are then already past and fire at intake; the
measured event is the level-1 escalation at the deadline. Optionally an intake at a steady rate runs
from the end of creation until the window closes.

Measured: deadline -> escalation committed in Postgres (complaint_events.recorded_at - due_at), and
from each history where that time went (timer armed late, fired late, task waiting for the worker, task
running: `lag_breakdown_ms`),
deadline -> escalation notice received by the local webhook, WORKFLOW_TASK_TIMED_OUT events in every
history, and that each case escalated exactly once (in Postgres and in the case's own timeline).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from temporalio.api.enums.v1 import EventType, TimeoutType

from bench import intake, project, server_metrics, shape
from bench.harness import Bench, bounded, failures, history, progress
from bench.stats import summary

CREATE_CONCURRENCY = 50
READ_CONCURRENCY = 16


def deadlines(start: float, window: float, size: int) -> list[float]:
    """`size` deadlines spread evenly over [start, start + window)."""
    return [start + window * (i + 0.5) / size for i in range(size)]


def lead_for(size: int, rate: float) -> float:
    """Seconds to create `size` cases before the first deadline, at a measured `rate` per second with room."""
    return 5 + size / (0.7 * max(rate, 0.5))


async def creation_rate(bench: Bench, cases: int) -> float:
    """Emergency intakes per second right now, at the storm's concurrency: throwaway cases reported now
    (their deadline is an hour away, after the benchmark)."""
    began = time.perf_counter()
    made = await bounded(cases, CREATE_CONCURRENCY, lambda i: _create(bench, time.time() + project.EMERGENCY_ACK_SECONDS))
    done = sum(1 for m in made if not isinstance(m, BaseException))
    return done / (time.perf_counter() - began)


def once_counts(per_case: dict[str, int], cases: list[str]) -> dict[str, int]:
    """How many cases escalated exactly once, never, or more than once."""
    counts = Counter(min(per_case.get(case, 0), 2) for case in cases)
    return {"exactly_once": counts[1], "never": counts[0], "more_than_once": counts[2]}


async def _create(bench: Bench, due: float) -> tuple[str, float, float]:
    reported = datetime.fromtimestamp(due - project.EMERGENCY_ACK_SECONDS, tz=timezone.utc)
    case = project.random_intake(bench.rng, urgency="emergency", reported_at=reported)
    complaint_id, _ = await project.submit(bench.client, case, bench.config())
    return complaint_id, due, time.time()


async def _escalations(bench: Bench, ids: list[str], until: float) -> list[dict[str, Any]]:
    """Poll Postgres until every case has its escalation, or `until` (wall clock) passes."""
    while True:
        rows = await project.escalations(bench.pool, ids)
        if len({r["complaint_id"] for r in rows}) >= len(ids) or time.time() > until:
            return rows
        await asyncio.sleep(1)


async def _deliveries(bench: Bench, keys: set[tuple[str, str]], until: float) -> dict[tuple[str, str], float]:
    while True:
        arrived: dict[tuple[str, str], float] = {}
        for (complaint_id, event_key, _), at in list(bench.received.first.items()):
            if (complaint_id, event_key) in keys:
                arrived[(complaint_id, event_key)] = min(at, arrived.get((complaint_id, event_key), at))
        if len(arrived) >= len(keys) or time.time() > until:
            return arrived
        await asyncio.sleep(1)


async def _histories(bench: Bench, ids: list[str], due: dict[str, float], recorded: dict[str, float]) -> dict[str, Any]:
    """Every history: WORKFLOW_TASK_TIMED_OUT events, and for the storm's cases where the lag went."""
    examples: list[dict[str, Any]] = []

    async def read(index: int) -> tuple[Counter[str], dict[str, float] | None, float | None]:
        events = list((await history(bench.client, project.workflow_id(ids[index]))).events)
        # By kind: START_TO_CLOSE is a task that ran too long; SCHEDULE_TO_START one that waited on a busy
        # worker's sticky queue (Temporal then hands it to the shared queue, to any worker).
        timeouts: Counter[str] = Counter()
        for at, event in enumerate(events):
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                timeouts[TimeoutType.Name(event.workflow_task_timed_out_event_attributes.timeout_type)] += 1
                if len(examples) < 5:  # which case, and what its history held up to the timeout
                    started = events[at - 1] if at else event
                    examples.append({"workflow_id": project.workflow_id(ids[index]), "event_id": event.event_id,
                                     "before": [EventType.Name(e.event_type).removeprefix("EVENT_TYPE_")
                                                for e in events[max(0, at - 6):at]],
                                     # when (wall clock) and on which worker process the task ran
                                     "started_at": started.event_time.ToDatetime(timezone.utc).isoformat(),
                                     "worker": started.workflow_task_started_event_attributes.identity})
        path = shape.deadline_path(events, due[ids[index]]) if ids[index] in due else None
        if path and ids[index] in recorded:
            path["recorded_after_fire_s"] = recorded[ids[index]] - path["fired_at"]
        return timeouts, path, shape.first_task_seconds(events)

    read_back = await bounded(len(ids), READ_CONCURRENCY, read)
    done = [r for r in read_back if not isinstance(r, BaseException)]
    paths = [path for _, path, _ in done if path]
    by_kind = sum((timeouts for timeouts, _, _ in done), Counter())
    parts = ("armed_late_s", "arming_task_ran_s", "fired_late_s", "task_waited_s", "task_ran_s",
             "recorded_after_fire_s")
    return {
        "task_timeouts": {"histories": len(ids), "read_failures": len(read_back) - len(done),
                          "workflow_task_timed_out": sum(by_kind.values()), "by_kind": dict(by_kind),
                          "examples": examples,
                          # the intake's task: how close its longest runs come to the task timeout
                          "first_task_ms": summary((f for _, _, f in done if f is not None), scale=1000)},
        "lag_breakdown_ms": {part: summary((p[part] for p in paths if part in p), scale=1000) for part in parts},
    }


async def _timeline_counts(bench: Bench, ids: list[str]) -> dict[str, int]:
    async def count(index: int) -> int:
        return sum(project.is_ack_escalation(event, detail)
                   for event, _, detail in await project.timeline(bench.client, ids[index]))

    counted = await bounded(len(ids), READ_CONCURRENCY, count)
    return {ids[i]: c for i, c in enumerate(counted) if isinstance(c, int)}


async def run(bench: Bench, size: int, window: float, lead: float | None, overlap_rate: float | None,
              settle: float, delivery_wait: float) -> dict[str, Any]:
    """`lead` None: measured first (a few throwaway intakes), so creation ends before the first deadline."""
    label = f"storm of {size}" + (f" + intake {overlap_rate:g}/s" if overlap_rate else "")
    rate = None
    if lead is None:
        rate = await creation_rate(bench, min(100, max(20, size // 10)))
        lead = lead_for(size, rate)
    start = time.time() + lead
    window_end = start + window
    dues = deadlines(start, window, size)
    task_starts = await server_metrics.read(bench.server_metrics)
    progress(f"{label}: creating cases, deadlines from +{lead:.0f} s over {window:g} s")
    began = time.perf_counter()
    created = await bounded(size, CREATE_CONCURRENCY, lambda i: _create(bench, dues[i]), label=f"{label}: created")
    creation = time.perf_counter() - began
    cases = [c for c in created if not isinstance(c, BaseException)]
    ids = [complaint_id for complaint_id, _, _ in cases]
    # A case created after its deadline escalates at intake: not part of the storm's timing.
    in_time = {complaint_id for complaint_id, due, at in cases if at <= due}
    if not cases:
        return {"cases": size, "error": "no storm case could be created", **failures(created)}
    overlap = None
    if overlap_rate:
        progress(f"{label}: intake at {overlap_rate:g}/s until the window closes")
        overlap = asyncio.create_task(intake.open_loop(bench, overlap_rate, lambda sent: time.time() < window_end))
    progress(f"{label}: waiting for the window ({max(0.0, window_end - time.time()):.0f} s)")
    rows = await _escalations(bench, ids, until=window_end + settle)
    overlap_results = await overlap if overlap else []
    progress(f"{label}: {len(rows)} escalations recorded; waiting for their notices")
    keys = {(r["complaint_id"], r["event_key"]) for r in rows}
    last = max((r["recorded_at"].timestamp() for r in rows), default=time.time())
    arrived = await _deliveries(bench, keys, until=max(time.time(), last + delivery_wait))
    due_of = {(r["complaint_id"], r["event_key"]): r["due_at"].timestamp() for r in rows}
    overlap_ids = [s.complaint_id for s in overlap_results if isinstance(s, intake.Submission)]
    progress(f"{label}: reading {len(ids) + len(overlap_ids)} histories and timelines")
    timed = [r for r in rows if r["complaint_id"] in in_time]
    due_of_case = {r["complaint_id"]: r["due_at"].timestamp() for r in timed}
    recorded_of_case = {r["complaint_id"]: r["recorded_at"].timestamp() for r in timed}
    per_case_timeline = await _timeline_counts(bench, ids)
    task_starts_now = await server_metrics.read(bench.server_metrics)
    report: dict[str, Any] = {
        "cases": size, "window_seconds": window, "lead_seconds": round(lead, 1),
        "measured_creation_per_second": round(rate, 1) if rate else None,
        "creation_seconds": round(creation, 1), **failures(created),
        # the server's slow or failed hand-overs of a task to a worker (a failed one can leave a task that no
        # worker received, which then times out: bench/server_metrics.py)
        "server_task_starts": server_metrics.since(task_starts, task_starts_now) if task_starts and task_starts_now
        else None,
        "created_after_their_deadline": len(cases) - len(in_time),
        "escalation_lag_ms": summary((r["recorded_at"].timestamp() - r["due_at"].timestamp() for r in timed), scale=1000),
        "notice_delivery_lag_ms": summary((at - due_of[key] for key, at in arrived.items() if key[0] in in_time),
                                          scale=1000),
        "notices_missing": len(keys) - len(arrived),
        "escalated_in_postgres": once_counts(Counter(r["complaint_id"] for r in rows), ids),
        "escalated_in_timeline": once_counts(per_case_timeline, ids),
        **await _histories(bench, ids + overlap_ids, due_of_case, recorded_of_case),
    }
    if overlap is not None:
        report["overlapping_intake"] = {"rate_per_second": overlap_rate, **await intake.latencies(bench, overlap_results)}
    progress(f"{label}: lag p99 {report['escalation_lag_ms']['p99']} ms, "
             f"notice p99 {report['notice_delivery_lag_ms']['p99']} ms")
    return report
