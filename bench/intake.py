"""Intake latency at steady arrival rates (open loop: a complaint every 1/rate s, whatever came before).

Three measures per complaint: the `submit` call (it returns once the case is assigned), and submit ->
assigned read back afterwards from the case's own timeline (state query: workflow time of the step)
and from Postgres (the commit time of the 'assigned' event).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Callable

from bench import project
from bench.harness import Bench, bounded, failures, progress
from bench.stats import summary

MAX_IN_FLIGHT = 2000  # a stalled engine must not make the benchmark itself run out of memory


@dataclass
class Submission:
    complaint_id: str
    sent: float  # wall clock, seconds
    call_seconds: float


async def one_submission(bench: Bench, urgency: str = "normal") -> Submission:
    intake = project.random_intake(bench.rng, urgency=urgency)
    sent, began = time.time(), time.perf_counter()
    complaint_id, _ = await project.submit(bench.client, intake, bench.config())
    return Submission(complaint_id, sent, time.perf_counter() - began)


async def open_loop(bench: Bench, rate: float, keep_going: Callable[[int], bool]) -> list[Submission | BaseException]:
    """Submit at `rate` per second while keep_going(sent so far); then wait for every answer."""
    loop = asyncio.get_running_loop()
    start, sent, tasks = loop.time(), 0, []
    in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def submit() -> Submission:
        async with in_flight:
            return await one_submission(bench)

    while keep_going(sent):
        delay = start + sent / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(submit()))
        sent += 1
    return list(await asyncio.gather(*tasks, return_exceptions=True))


async def latencies(bench: Bench, results: list[Submission | BaseException]) -> dict[str, Any]:
    done = [r for r in results if isinstance(r, Submission)]
    ids = [s.complaint_id for s in done]

    async def assigned_at(index: int) -> float | None:
        for event, at, _ in await project.timeline(bench.client, ids[index]):
            if event == "assigned":
                return at.timestamp() - done[index].sent
        return None

    via_query = await bounded(len(done), 16, assigned_at)
    committed = await project.assigned_recorded(bench.pool, ids)
    return {
        "submitted": len(results), **failures(results),
        "submit_call_ms": summary((s.call_seconds for s in done), scale=1000),
        "submit_to_assigned_ms": {
            "via_receipt": summary((s.call_seconds for s in done), scale=1000),
            "via_state_query": summary((v for v in via_query if isinstance(v, float)), scale=1000),
            "via_postgres_commit": summary((committed[s.complaint_id].timestamp() - s.sent
                                            for s in done if s.complaint_id in committed), scale=1000),
        },
    }


async def run(bench: Bench, rates: list[float], seconds: float) -> dict[str, Any]:
    report = {}
    for rate in rates:
        count = max(1, round(rate * seconds))
        progress(f"intake at {rate:g}/s for {seconds:g} s ({count} complaints)")
        began = time.perf_counter()
        results = await open_loop(bench, rate, lambda sent: sent < count)
        wall = time.perf_counter() - began
        measured = await latencies(bench, results)
        measured["completed_per_second"] = round(len(results) / wall, 2)
        report[f"{rate:g}_per_second"] = measured
        progress(f"intake at {rate:g}/s: submit p99 {measured['submit_call_ms']['p99']} ms")
    return report
