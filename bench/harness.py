"""What every phase shares: the connections of one run, bounded concurrency, progress lines, quiet waits."""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, TypeVar

import asyncpg
from temporalio.client import Client, WorkflowHistory

from bench import project
from bench.servers import Received

T = TypeVar("T")
STARTED = time.monotonic()
MAIN_QUEUE = "bench-cases"


def progress(message: str) -> None:
    """A progress line on stderr (stdout carries only the JSON report)."""
    print(f"[bench {time.monotonic() - STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass
class Bench:
    """One run against one Temporal server and one database."""

    client: Client
    store: Any  # the project's data layer (bench.project.store)
    webhook_url: str
    received: Received
    rng: random.Random = field(default_factory=lambda: random.Random(13))
    queue: str = MAIN_QUEUE  # the task queue cases are submitted to
    server_metrics: str | None = None  # the dev server's /metrics address (bench/server_metrics.py)

    @property
    def pool(self) -> asyncpg.Pool:
        return project.pool_of(self.store)

    def config(self, task_queue: str | None = None) -> Any:
        return project.settings(task_queue or self.queue, self.webhook_url)


async def bounded(count: int, concurrency: int, job: Callable[[int], Awaitable[T]],
                  label: str | None = None) -> list[T | BaseException]:
    """Run job(0..count-1) with at most `concurrency` at a time; failures are returned, not raised."""
    results: list[T | BaseException] = [None] * count  # type: ignore[list-item]
    next_index, done = 0, 0
    step = max(1, count // 10)

    async def lane() -> None:
        nonlocal next_index, done
        while next_index < count:
            index, next_index = next_index, next_index + 1
            try:
                results[index] = await job(index)
            except Exception as exc:  # one failed case must not stop the others; counted in the report
                results[index] = exc
            done += 1
            if label and done % step == 0:
                progress(f"{label}: {done}/{count}")

    await asyncio.gather(*(lane() for _ in range(min(concurrency, count))))
    return results


def failures(results: list[Any]) -> dict[str, Any]:
    errors = [r for r in results if isinstance(r, BaseException)]
    kinds: dict[str, int] = {}
    for error in errors:
        kinds[type(error).__name__] = kinds.get(type(error).__name__, 0) + 1
    return {"failed": len(errors), "errors": kinds, "first_error": str(errors[0])[:300] if errors else None}


async def history(client: Client, workflow_id: str) -> WorkflowHistory:
    return await client.get_workflow_handle(workflow_id).fetch_history()


async def outbox_quiet(bench: Bench, timeout: float = 120.0) -> int:
    """Wait until the dispatcher has no due notification left (or `timeout`); returns what is left."""
    deadline = time.monotonic() + timeout
    waiting = await project.outbox_waiting(bench.pool)
    while waiting and time.monotonic() < deadline:
        await asyncio.sleep(1)
        waiting = await project.outbox_waiting(bench.pool)
    return waiting


class Meter:
    """CPU used while a phase runs: this process (worker, dispatcher, drivers), its children (the Temporal
    dev server), and the whole machine (Postgres and anyone else's work: other people's tests share it).
    Without psutil only this process's share is read."""

    def __init__(self) -> None:
        try:
            import psutil
        except ImportError:
            psutil = None
        self.psutil = psutil

    def _children_cpu(self) -> tuple[float, float] | None:
        """CPU seconds of the Temporal dev server and of the helper worker processes (Python children)."""
        if self.psutil is None:
            return None
        server = helpers = 0.0
        for child in self.psutil.Process().children(recursive=True):
            try:
                times = child.cpu_times()
                if child.name().startswith("python"):
                    helpers += times.user + times.system
                else:
                    server += times.user + times.system
            except self.psutil.Error:
                pass  # gone in between
        return server, helpers

    def __enter__(self) -> Meter:
        self.began = (time.perf_counter(), time.process_time(), self._children_cpu())
        if self.psutil is not None:
            self.psutil.cpu_percent(None)
        self.reading: dict[str, float | None] = {}
        return self

    def __exit__(self, *exc: object) -> None:
        wall0, mine0, children0 = self.began
        wall = self.wall = time.perf_counter() - wall0
        children = self._children_cpu()
        # A helper worker that started during the phase counts from zero; one that stopped is not counted.
        server, helpers = ((children[0] - children0[0], max(0.0, children[1] - children0[1]))
                           if children is not None and children0 is not None else (None, None))
        self.cpu_seconds = {"bench_process": time.process_time() - mine0, "temporal_server": server}
        self.reading = {
            "wall_seconds": round(wall, 1),
            # in cores (2 = the whole machine here); "others" is Postgres and anyone else's work
            "bench_process_cores": round((time.process_time() - mine0) / wall, 2),
            "temporal_server_cores": round(server / wall, 2) if server is not None else None,
        }
        if helpers:
            self.reading["helper_worker_cores"] = round(helpers / wall, 2)
        if self.psutil is not None:
            machine = self.psutil.cpu_percent(None) * (os.cpu_count() or 1) / 100
            self.reading["machine_cores"] = round(machine, 2)
            self.reading["other_cores"] = round(machine - self.reading["bench_process_cores"]
                                                - (self.reading["temporal_server_cores"] or 0)
                                                - self.reading.get("helper_worker_cores", 0), 2)


async def metered(report: dict[str, Any], name: str, work: Callable[[], Awaitable[dict[str, Any]]]) -> None:
    """Run one phase into report[name]; a phase that fails is reported and the run goes on."""
    progress(f"--- {name} ---")
    try:
        with Meter() as meter:
            result = await work()
        result["cpu"] = meter.reading
    except Exception as exc:
        progress(f"{name} failed: {type(exc).__name__}: {exc}")
        result = {"error": f"{type(exc).__name__}: {str(exc)[:500]}"}
    report[name] = result
