"""What an open case costs the worker in memory, and what a cache miss costs in time.

RSS: a fresh worker (its cache sized to hold them all) takes N new cases; the process's resident
memory after they are all assigned, minus the same worker's empty baseline, per case. Freed memory is
handed back to the OS (gc, malloc_trim) before each reading so earlier phases do not hide the growth.

Cache miss: a case evicted from the cache is replayed from its history on its next task. Timed two
ways: the Replayer on recorded histories, and a query answered by a worker with no cache (every query
replays) against the same query answered from the cache.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import time
from dataclasses import replace
from typing import Any, Awaitable, Callable

from temporalio.client import Client
from temporalio.worker import Worker

from bench import project
from bench.harness import Bench, bounded, failures, history, progress
from bench.stats import summary
from bench.twin import TwinWorkflow, noop
from bench.whole_life import real_case, start_twin

RSS_QUEUE = "bench-rss"
NO_CACHE_QUEUE = "bench-nocache"
CACHED_QUEUE = "bench-cached"
TWIN_RSS_QUEUE = "bench-twin-rss"
START_CONCURRENCY = 64


def rss_bytes() -> int:
    try:
        import psutil
    except ImportError:
        return proc_status_rss(open("/proc/self/status").read())
    return psutil.Process().memory_info().rss


def proc_status_rss(status: str) -> int:
    """VmRSS from the text of /proc/<pid>/status, in bytes."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            value, unit = line.split()[1:3]
            if unit.lower() != "kb":
                raise ValueError(f"unexpected VmRSS unit {unit!r}")
            return int(value) * 1024
    raise ValueError("no VmRSS line in /proc/self/status")


def settled_rss(collections_ms: list[float] | None = None) -> int:
    """RSS after a full collection, with free heap pages given back to the OS where glibc allows it. The
    collection's duration is appended to `collections_ms`: a full collection holds the GIL, so a long one
    stalls every workflow activation (the SDK calls one that runs over 2 s a deadlock)."""
    began = time.perf_counter()
    gc.collect()
    if collections_ms is not None:
        collections_ms.append(round((time.perf_counter() - began) * 1000, 1))
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: the reading is a little high
    return rss_bytes()


def cached_workflows(worker: Any) -> int | None:
    """Workflows in the worker's cache, read from the SDK's internals when they are there."""
    running = getattr(getattr(worker, "_workflow_worker", None), "_running_workflows", None)
    return len(running) if running is not None else None


async def _assigned(bench: Bench, ids: list[str], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        done = len(await project.assigned_recorded(bench.pool, ids))
        if done >= len(ids) or time.monotonic() > deadline:
            return done
        await asyncio.sleep(2)


def slope_kib(points: list[tuple[int, int]]) -> float | None:
    """Least-squares KiB per case through (cases, rss bytes) readings; None with fewer than two."""
    if len(points) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if not spread:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread / 1024


async def _fill(label: str, count: int, steps: int, start_some: Callable[[int], Awaitable[int]]) -> dict[str, Any]:
    """Open `count` cases in `steps` chunks, reading the settled RSS before and after each chunk."""
    collections_ms: list[float] = []
    points = [(0, settled_rss(collections_ms))]
    progress(f"{label}: empty worker {points[0][1] / 2**20:.0f} MiB; opening {count} cases")
    began, opened = time.perf_counter(), 0
    for step in range(1, steps + 1):
        target = count * step // steps
        opened += await start_some(target - opened)
        points.append((opened, settled_rss(collections_ms)))
        progress(f"{label}: {opened} cases open, {points[-1][1] / 2**20:.0f} MiB")
    empty, full = points[0][1], points[-1][1]
    return {"open_cases": opened, "fill_seconds": round(time.perf_counter() - began, 1),
            "empty_worker_mib": round(empty / 2**20, 1), "full_worker_mib": round(full / 2**20, 1),
            "kib_per_cached_case": round((full - empty) / 1024 / max(1, opened), 1),
            "kib_per_cached_case_slope": _rounded(slope_kib(points)),
            "readings_mib": [[cases, round(rss / 2**20, 1)] for cases, rss in points],
            "full_collection_ms": collections_ms}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


async def rss(bench: Bench, open_cases: int, assign_timeout: float, steps: int = 4) -> dict[str, Any]:
    """The real case: started without waiting, counted as open once Postgres has its 'assigned' event."""
    config = bench.config(RSS_QUEUE)
    async with project.worker(bench.client, bench.store, config, max_cached_workflows=open_cases + 100) as worker:
        await asyncio.sleep(2)  # pollers up, nothing cached

        async def start_some(count: int) -> int:
            started = await bounded(count, START_CONCURRENCY, lambda i: project.start_case(
                bench.client, project.random_intake(bench.rng), config), label=f"RSS: starting {count}")
            ids = [s for s in started if isinstance(s, str)]
            return await _assigned(bench, ids, assign_timeout)

        report = await _fill("RSS, real cases", open_cases, steps, start_some)
        report["cached_workflows"] = cached_workflows(worker)
    report["source"] = "psutil" if _has_psutil() else "/proc/self/status"
    progress(f"RSS: {report['kib_per_cached_case']} KiB per cached case")
    return report


async def rss_twin(bench: Bench, plan: dict[str, Any], open_cases: int, steps: int = 4) -> dict[str, Any]:
    """The same reading for the no-op twin: the engine's own cost of an open case (sandbox, state)."""
    async with Worker(bench.client, task_queue=TWIN_RSS_QUEUE, workflows=[TwinWorkflow], activities=[noop],
                      max_cached_workflows=open_cases + 100) as worker:
        await asyncio.sleep(2)

        async def start_some(count: int) -> int:
            opened = await bounded(count, START_CONCURRENCY, lambda i: start_twin(bench, plan, TWIN_RSS_QUEUE))
            return sum(1 for o in opened if isinstance(o, str))

        report = await _fill("RSS, no-op twins", open_cases, steps, start_some)
        report["cached_workflows"] = cached_workflows(worker)
    return report


def _has_psutil() -> bool:
    try:
        import psutil  # noqa: F401
    except ImportError:
        return False
    return True


async def _query_ms(client: Client, ids: list[str], repeat: int) -> list[float]:
    timings = []
    for _ in range(repeat):
        for complaint_id in ids:
            began = time.perf_counter()
            await project.timeline(client, complaint_id)
            timings.append((time.perf_counter() - began) * 1000)
    return timings


async def cache_miss(bench: Bench, main_worker: Worker, cases: int, repeat: int = 3) -> dict[str, Any]:
    """Whole-life cases on a cached and on a cache-less worker; queries to each; replays of their histories."""
    report: dict[str, Any] = {}
    ids: dict[str, list[str]] = {}
    for label, queue, options in (("cached", CACHED_QUEUE, {}), ("no_cache", NO_CACHE_QUEUE, {"max_cached_workflows": 0})):
        config = bench.config(queue)
        async with project.worker(bench.client, bench.store, config, **options):
            made = await bounded(cases, 4, lambda i: real_case(replace(bench, queue=queue)))
            ids[label] = [project.complaint_id_of(wid) for wid in made if isinstance(wid, str)]
            report[f"query_ms_{label}"] = summary(await _query_ms(bench.client, ids[label], repeat))
            report[f"{label}_failures"] = failures(made)
    histories = [await history(bench.client, project.workflow_id(c)) for c in ids["cached"] + ids["no_cache"]]
    replayer = project.replayer(main_worker)
    timings = []
    for recorded in histories:
        began = time.perf_counter()
        await replayer.replay_workflow(recorded)
        timings.append((time.perf_counter() - began) * 1000)
    report["replay_ms"] = {"first": round(timings[0], 1) if timings else None, **summary(timings[1:])}
    report["history_events"] = summary(len(h.events) for h in histories)
    return report

