"""Whole-life throughput: submit -> acknowledge -> assess -> refer -> resolve -> close, as ratios.

The real case runs on the project's worker. Its recorded history gives the shape (bench/shape.py) that
the no-op twin then reproduces; the bare case is a few no-op activities in a row. All three run the
same number of cases at the same concurrency in the same process, through the same client and so the
same data converter (the payload codec included, as in production), in alternating rounds (real, twin,
bare, real, ...), so a change in the machine's load falls on each alike. Besides throughput: the CPU
each variant costs per case, in this process (worker and drivers) and in the Temporal server.

With `without_codec` (a client whose converter is the same minus the payload codec) the real case also
runs, in the same rounds, on a second project worker made from that client: the codec's cost on a
case's life is the ratio of the two (bench/codec.py). With `without_postgres` it runs on a third worker
whose data layer is in memory (bench/data_layer.py): what Postgres costs a case's life, and what the
workflow costs beyond the twin. The real variants take turns going first, round by round.
"""

from __future__ import annotations

import time
import uuid
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any, AsyncIterator, Awaitable, Callable

from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Worker

from bench import project, shape
from bench.data_layer import MemoryStore, gap
from bench.harness import Bench, Meter, bounded, failures, history, outbox_quiet, progress
from bench.stats import ratio, summary
from bench.twin import BareWorkflow, TwinWorkflow, noop

TWIN_QUEUE = "bench-twin"
WITHOUT_CODEC_QUEUE = "bench-cases-without-codec"
WITHOUT_POSTGRES_QUEUE = "bench-cases-without-postgres"
BARE_ACTIVITIES = 4
REAL, WITHOUT_CODEC, WITHOUT_POSTGRES = "real", "real_without_codec", "real_without_postgres"


@asynccontextmanager
async def yardstick_worker(client: Client) -> AsyncIterator[Worker]:
    """The twin's and the bare case's worker, with the SDK's defaults (the default sandbox included)."""
    async with Worker(client, task_queue=TWIN_QUEUE, workflows=[TwinWorkflow, BareWorkflow],
                      activities=[noop]) as worker:
        yield worker


@dataclass
class Tally:
    """One variant's measured cases, summed over the rounds."""

    label: str
    seconds: float = 0.0
    cpu_seconds: dict[str, float | None] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)
    per_round: list[float | None] = field(default_factory=list)  # cases/s of each round: the spread

    @property
    def ids(self) -> list[str]:
        return [r for r in self.results if isinstance(r, str)]

    def report(self, concurrency: int) -> dict[str, Any]:
        done = len(self.ids)
        return {"cases": len(self.results), "concurrency": concurrency, "seconds": round(self.seconds, 2),
                "cases_per_second": round(done / self.seconds, 2) if self.seconds else None,
                "cases_per_second_per_round": self.per_round,
                "case_seconds": summary(self.latencies, digits=3),
                "cpu_ms_per_case": {k: round(1000 * v / done, 1) if v is not None and done else None
                                    for k, v in self.cpu_seconds.items()},
                **failures(self.results)}


async def measure(tally: Tally, cases: int, concurrency: int, one: Callable[[], Awaitable[str]]) -> None:
    """One round of `cases` at `concurrency`, added to the tally."""
    async def timed(index: int) -> str:
        began = time.perf_counter()
        workflow_id = await one()
        tally.latencies.append(time.perf_counter() - began)
        return workflow_id

    with Meter() as meter:
        results = await bounded(cases, concurrency, timed)
    tally.results += results
    took = meter.wall
    tally.per_round.append(round(sum(isinstance(r, str) for r in results) / took, 2) if took else None)
    tally.seconds += took
    for key, value in meter.cpu_seconds.items():
        before = tally.cpu_seconds.get(key, 0.0)
        tally.cpu_seconds[key] = None if value is None or before is None else before + value
    progress(f"{tally.label}: {cases} cases in {took:.1f} s")


async def real_case(bench: Bench) -> str:
    config = bench.config()
    intake = project.random_intake(bench.rng)
    complaint_id, pendamping = await project.submit(bench.client, intake, config)
    if pendamping is None:
        raise RuntimeError(f"case {complaint_id} was not assigned")
    for name, request in project.whole_life_requests(pendamping, intake.category):
        await project.act(bench.client, complaint_id, name, request, config)
    return project.workflow_id(complaint_id)


async def start_twin(bench: Bench, plan: dict[str, Any], queue: str = TWIN_QUEUE) -> str:
    """Start a twin and wait for its receipt, as `submit` does for a case; returns its workflow id."""
    intake = project.random_intake(bench.rng)
    workflow_id = f"twin-{uuid.uuid4().hex[:12]}"
    operation = WithStartWorkflowOperation(
        TwinWorkflow.run, args=[plan, project.TWIN_ATTRIBUTE.name], id=workflow_id, task_queue=queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=project.twin_start_attributes(intake))
    await bench.client.execute_update_with_start_workflow(
        TwinWorkflow.opened, uuid.uuid4().hex, start_workflow_operation=operation)
    return workflow_id


async def twin_case(bench: Bench, plan: dict[str, Any]) -> str:
    workflow_id = await start_twin(bench, plan)
    handle = bench.client.get_workflow_handle(workflow_id)
    for name, request in project.whole_life_requests("PD-34", project.CATEGORIES[0]):
        await handle.execute_update(name, request, result_type=str)
    return workflow_id


async def bare_case(bench: Bench) -> str:
    workflow_id = f"bare-{uuid.uuid4().hex[:12]}"
    await bench.client.execute_workflow(BareWorkflow.run, BARE_ACTIVITIES, id=workflow_id, task_queue=TWIN_QUEUE)
    return workflow_id


async def shape_of(bench: Bench, workflow_id: str) -> shape.Shape:
    recorded = await history(bench.client, workflow_id)
    return shape.shape_of((shape.reduce_event(e) for e in recorded.events), project.RECEIPT_UPDATE)


def rounds_of(cases: int, rounds: int) -> list[int]:
    """`cases` split into `rounds` nearly equal rounds (none empty)."""
    rounds = max(1, min(rounds, cases))
    return [cases // rounds + (1 if i < cases % rounds else 0) for i in range(rounds)]


def real_order(round_number: int, variants: list[str]) -> list[str]:
    """The real variants of one round, in order: rotated every round, so none always runs first (right after
    the yardsticks, or with another's notifications still going out)."""
    if not variants:
        return []
    shift = round_number % len(variants)
    return variants[shift:] + variants[:shift]


async def run(bench: Bench, cases: int, concurrency: int, warmup: int, rounds: int = 3,
              profile: Callable[[], Any] | None = None, without_codec: Client | None = None,
              worker_options: dict[str, Any] | None = None, without_postgres: bool = False) -> dict[str, Any]:
    """The variants in alternating rounds, so a change in the machine's load hits them alike. `profile` wraps
    the first round of the real case; `worker_options` are the main worker's, given to the other real ones."""
    real, twin, bare = Tally("real case"), Tally("no-op twin"), Tally(f"bare case ({BARE_ACTIVITIES} no-op activities)")
    plain = Tally("real case without the codec")
    in_memory = Tally("real case without Postgres")
    cases_of = {REAL: (real, lambda: real_case(bench))}
    plan: dict[str, Any] | None = None
    real_shapes: list[shape.Shape] = []
    async with AsyncExitStack() as workers:
        await workers.enter_async_context(yardstick_worker(bench.client))
        if without_codec is not None:
            plain_bench = replace(bench, client=without_codec, queue=WITHOUT_CODEC_QUEUE)
            await workers.enter_async_context(
                project.worker(without_codec, bench.store, plain_bench.config(), **(worker_options or {})))
            cases_of[WITHOUT_CODEC] = (plain, lambda: real_case(plain_bench))
            await bounded(warmup, concurrency, lambda i: real_case(plain_bench))
        if without_postgres:
            memory_bench = replace(bench, queue=WITHOUT_POSTGRES_QUEUE)
            await workers.enter_async_context(project.worker(
                bench.client, MemoryStore(bench.pool), memory_bench.config(), **(worker_options or {})))
            cases_of[WITHOUT_POSTGRES] = (in_memory, lambda: real_case(memory_bench))
            await bounded(warmup, concurrency, lambda i: real_case(memory_bench))
        await bounded(warmup, concurrency, lambda i: real_case(bench))
        for number, size in enumerate(rounds_of(cases, rounds)):
            for name in real_order(number, list(cases_of)):
                tally, one = cases_of[name]
                await outbox_quiet(bench, timeout=30)  # the other variant's notifications are not this one's load
                async with AsyncExitStack() as stack:
                    if profile is not None and number == 0 and name == REAL:
                        await stack.enter_async_context(profile())
                    await measure(tally, size, concurrency, one)
            if plan is None:
                if not real.ids:
                    return {"real": real.report(concurrency), "error": "no real case finished: nothing to compare"}
                real_shapes = [await shape_of(bench, wid) for wid in real.ids[:3]]
                plan = shape.as_plan(real_shapes[0])
                await bounded(warmup, concurrency, lambda i: twin_case(bench, plan))
                await bounded(warmup, concurrency, lambda i: bare_case(bench))
            await outbox_quiet(bench, timeout=30)  # the real cases' notifications are not the yardsticks' load
            await measure(twin, size, concurrency, lambda: twin_case(bench, plan))
            await measure(bare, size, concurrency, lambda: bare_case(bench))
    validated = project.updates_with_validators()
    twin_shape = await shape_of(bench, twin.ids[0]) if twin.ids else None
    tallies = [(REAL, real), *([(WITHOUT_CODEC, plain)] if without_codec is not None else []),
               *([(WITHOUT_POSTGRES, in_memory)] if without_postgres else []), ("twin", twin), ("bare", bare)]
    reports = {name: tally.report(concurrency) for name, tally in tallies}
    for name, (tally, _) in cases_of.items():  # what a whole life weighs in the history, with the codec or not
        if tally.ids:
            reports[name].update(await weight(bench, tally.ids[0]))
    progress("whole life: " + ", ".join(f"{k} {v['cases_per_second']}/s" for k, v in reports.items()))
    split = gap(reports) if without_postgres else None
    if split:
        progress(f"whole life gap: real/without Postgres {split['real_to_without_postgres']}x, without Postgres/twin "
                 f"{split['without_postgres_to_twin']}x; CPU ms per case, data layer {split['data_layer_cpu_ms_per_case']},"
                 f" workflow beyond the twin {split['workflow_beyond_twin_cpu_ms_per_case']}")
    return {
        **reports, "rounds": len(rounds_of(cases, rounds)),
        "ratio_to_twin": ratio(reports["real"]["cases_per_second"], reports["twin"]["cases_per_second"]),
        "ratio_to_bare": ratio(reports["real"]["cases_per_second"], reports["bare"]["cases_per_second"]),
        **({"gap": split} if without_postgres else {}),
        "real_case_shape": {"totals": shape.totals(real_shapes[0], validated), "per_step": plan,
                            "history_bytes": reports["real"].get("history_bytes"),
                            "same_in_sampled_cases": all(s == real_shapes[0] for s in real_shapes)},
        "twin_shape": {"totals": shape.totals(twin_shape, set((plan or {}).get("updates", {}))) if twin_shape else None,
                       **(await weight(bench, twin.ids[0]) if twin.ids else {"history_bytes": None}),
                       "differences_from_real": shape.differences(real_shapes[0], twin_shape) if twin_shape else None},
    }


async def weight(bench: Bench, workflow_id: str) -> dict[str, Any]:
    """The history's size on the wire (what the payloads weigh) and its payloads by encoding (what the codec
    encrypted, what stayed clear)."""
    events = (await history(bench.client, workflow_id)).events
    return {"history_bytes": sum(event.ByteSize() for event in events),
            "history_payloads": shape.payload_encodings(events)}
