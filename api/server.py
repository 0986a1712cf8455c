"""Running the HTTP service: inside an existing event loop (`serve`, for `worker.py --dev` and the
tests) or on its own (`main`, for `python api.py`).

    async with serve(ApiSettings(), store, client, config=settings) as running:
        print(running.url)        # http://127.0.0.1:8000

The socket is bound before uvicorn starts, so a port in use is an OSError here (uvicorn would exit the
process). uvicorn installs no signal handlers: the host program owns Ctrl-C. uvicorn's own access log is
off; `api.app` logs each request as JSON without query strings.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator, Iterator

import asyncpg
import structlog
import uvicorn
from temporalio.client import Client

from activities.store import Store, open_store
from activities.store.roles import DatabaseRoles, login_problems
from api.app import create_app
from api.settings import ApiSettings
from casework import logs
from casework.keys import KeyringError
from casework.runtime import temporal_client
from referral.config import Settings

log = structlog.get_logger("api")
STARTUP_TIMEOUT_SECONDS = 15
GRACEFUL_SHUTDOWN_SECONDS = 5


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the host program handles signals
        yield


@dataclass(frozen=True)
class RunningApi:
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"the API cannot listen on {host}:{port}: {exc.strerror}"
                                 " (set REFERRAL_API_HOST / REFERRAL_API_PORT)") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


@asynccontextmanager
async def serve(settings: ApiSettings, store: Store, client: Client, *, config: Settings | None = None,
                host: str | None = None, port: int | None = None) -> AsyncIterator[RunningApi]:
    """Serve the API until the block ends. `host`/`port` override REFERRAL_API_HOST/PORT (0: a free port)."""
    app = create_app(settings, store, client, config)
    host = host or settings.api_host
    sock = bind(host, settings.api_port if port is None else port)
    running = RunningApi(host=host, port=sock.getsockname()[1])
    server = _EmbeddedServer(uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="off", server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS, proxy_headers=False))
    task = asyncio.create_task(server.serve(sockets=[sock]), name="referral-api")
    try:
        deadline = asyncio.get_running_loop().time() + STARTUP_TIMEOUT_SECONDS
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
                raise RuntimeError("the API server stopped while starting")
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"the API server did not start within {STARTUP_TIMEOUT_SECONDS} s")
            await asyncio.sleep(0.02)
        log.info("api ready", url=running.url, docs=f"{running.url}/docs", worklist=f"{running.url}/kasus")
        yield running
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()


async def connect_temporal(config: Settings) -> Client:
    """Lazy: the API starts while Temporal is down, and answers 503 until it is up. It holds the keyring."""
    return await temporal_client(config, lazy=True)


async def prepare_schema(store: Store) -> None:
    """Apply pending migrations (the worker does too, under the same advisory lock); if PostgreSQL is
    down, start anyway: requests get 503 until it answers. As the runtime role (least privilege) this only
    checks that nothing is pending (a MigrationError otherwise: run deploy/migrate.py first)."""
    try:
        applied = await store.migrate()
        problems = await login_problems(store.pool, DatabaseRoles.from_env())
    except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
        log.warning("database unreachable at start; answering 503 until it is up", error=type(exc).__name__)
        return
    if applied:
        log.info("migrations applied", migrations=applied)
    if problems:
        log.warning("DATABASE_URL's role is not least-privileged", problems=problems)


async def main() -> None:
    config, settings = Settings(), ApiSettings()
    logs.configure(config.log_format, config.log_level)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # min_size=0: no connection is opened at start, so a PostgreSQL that is down gives 503s, not a crash.
    async with open_store(config.database_url, min_size=0) as store:
        await prepare_schema(store)
        client = await connect_temporal(config)
        async with serve(settings, store, client, config=config) as running:
            print(f"Referral API on {running.url}  (OpenAPI: {running.url}/docs, worklist: {running.url}/kasus)",
                  flush=True)
            await stop.wait()
            log.info("api stopping")


def run() -> int:
    try:
        asyncio.run(main())
    except (RuntimeError, OSError, KeyringError) as exc:  # KeyringError: no payload keys (they live here)
        print(f"api: {exc}", file=sys.stderr)
        return 2
    return 0

