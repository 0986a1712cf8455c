"""A short py-spy profile of this process (the worker lives here) while a phase runs.

py-spy samples without pausing the process (`--nonblocking`) into a raw file of collapsed stacks; the
summary says where the CPU went: by component (the leaf frame's package) and by the project's own
functions, inclusive. Without py-spy (`pip install py-spy`) the report says so and nothing is profiled.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Iterable

PROJECT_PACKAGES = ("referral/", "workflows/", "activities/", "casework/")
COMPONENTS = (  # first match wins, on the leaf frame's file
    ("payload codec", ("casework/codec.py", "cryptography/")), ("project", PROJECT_PACKAGES), ("pydantic", ("pydantic",)),
    ("imports (the sandbox loads modules per case)", ("importlib",)),
    ("temporalio sandbox", ("workflow_sandbox/",)), ("temporalio converter", ("temporalio/converter",)),
    ("temporalio", ("temporalio/",)), ("asyncpg", ("asyncpg",)), ("structlog", ("structlog",)),
    ("httpx", ("httpx", "httpcore", "h11")), ("asyncio", ("asyncio/",)), ("benchmark", ("bench/",)),
    ("thread pool (workflow activations)", ("concurrent/futures",)), ("event loop I/O", ("selectors.py",)),
    ("copy", ("copy.py",)),
)

ENGINE = {"pydantic", "imports (the sandbox loads modules per case)", "temporalio sandbox", "temporalio converter",
          "temporalio", "asyncpg", "copy", "payload codec"}  # where the engine and its libraries spend a case's time


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def parse_raw(lines: Iterable[str]) -> list[tuple[list[str], int]]:
    """py-spy's raw format: `frame;frame;...;leaf count` per line, frames as `function (file)`."""
    samples = []
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if stack and count.isdigit():
            samples.append((stack.split(";"), int(count)))
    return samples


def _file(frame: str) -> str:
    return frame[frame.rfind("(") + 1:].rstrip(")") if "(" in frame else ""


def component(frame: str) -> str:
    path = _file(frame)
    if path == "worker.py":  # the project's own worker.py (py-spy shortens paths to the package part)
        return "project"
    for name, markers in COMPONENTS:
        if any(marker in path for marker in markers):
            return name
    return "other"


def summarise(samples: list[tuple[list[str], int]], top: int = 15) -> dict[str, Any]:
    total = sum(count for _, count in samples) or 1
    by_component: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    project_inclusive: Counter[str] = Counter()
    engine_inclusive: Counter[str] = Counter()
    for stack, count in samples:
        by_component[component(stack[-1])] += count
        leaf[stack[-1]] += count
        for frame in set(stack):
            kind = component(frame)
            if kind == "project":
                project_inclusive[frame] += count
            elif kind in ENGINE:
                engine_inclusive[frame] += count

    def share(counter: Counter[str]) -> list[list[Any]]:
        return [[name, round(100 * count / total, 1)] for name, count in counter.most_common(top)]

    return {"samples": total, "percent_by_component": dict(share(by_component)),
            "top_self_percent": share(leaf), "top_project_inclusive_percent": share(project_inclusive),
            "top_engine_inclusive_percent": share(engine_inclusive)}


@asynccontextmanager
async def profiled(output: Path, report: dict[str, Any], rate: int = 100) -> AsyncIterator[None]:
    """Profile this process while the block runs; `report` gets the summary (or why there is none)."""
    binary = py_spy()
    if binary is None:
        report["error"] = "py-spy is not installed (pip install py-spy)"
        yield
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [binary, "record", "--pid", str(os.getpid()), "--format", "raw", "--nolineno", "--nonblocking",
         "--rate", str(rate), "--output", str(output)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)  # py-spy writes its file when interrupted
        try:
            _, err = await asyncio.to_thread(process.communicate, timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = await asyncio.to_thread(process.communicate)
        if output.exists():
            report.update(summarise(parse_raw(output.read_text().splitlines())), raw_file=str(output))
        else:
            report["error"] = f"py-spy wrote nothing: {err.decode(errors='replace')[-300:]}"
