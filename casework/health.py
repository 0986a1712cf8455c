"""A tiny HTTP health endpoint for processes without a web server of their own (the worker).

    async with serve_health(settings.health_port, ready=worker_is_ready):
        ...

`GET /healthz` answers 200 while the process and its event loop answer: the server runs on the same loop as
the worker, so a blocked loop stops the answers and Kubernetes' liveness probe restarts the pod.
`GET /readyz` awaits the `ready` callable (bounded by `READY_TIMEOUT_S`): 200 when it returns True, 503 when
it returns False, raises or takes too long. Keep liveness free of outside checks: a Postgres outage must
not restart every worker at once, it should only mark them unready.

Port 0 turns the endpoint off. Only the standard library: asyncio streams and a strict, minimal parser
(request line and headers, no body), because the only clients are the kubelet and Docker's HEALTHCHECK.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import AsyncIterator, Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)

DEFAULT_PORT = 8081
READY_TIMEOUT_S = 3.0
REQUEST_TIMEOUT_S = 5.0  # a client that sends nothing does not hold a connection open
MAX_HEADER_LINES = 64
MAX_LINE_BYTES = 4096

LIVE_PATH = "/healthz"
READY_PATH = "/readyz"

ReadyCheck = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class Reply:
    status: HTTPStatus
    body: str


async def answer(method: str, path: str, ready: ReadyCheck, timeout_s: float = READY_TIMEOUT_S) -> Reply:
    """The reply to one request; the routing and the readiness verdict, without any I/O of its own."""
    path = path.split("?", 1)[0]
    if path not in (LIVE_PATH, READY_PATH):
        return Reply(HTTPStatus.NOT_FOUND, "not found\n")
    if method not in ("GET", "HEAD"):
        return Reply(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed\n")
    if path == LIVE_PATH:
        return Reply(HTTPStatus.OK, "ok\n")
    try:
        is_ready = await asyncio.wait_for(ready(), timeout_s)
    except asyncio.TimeoutError:
        log.warning("readiness check timed out", timeout_s=timeout_s)
        return Reply(HTTPStatus.SERVICE_UNAVAILABLE, "not ready: check timed out\n")
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; only the type is logged
        log.warning("readiness check failed", error=type(exc).__name__)
        return Reply(HTTPStatus.SERVICE_UNAVAILABLE, f"not ready: {type(exc).__name__}\n")
    if is_ready:
        return Reply(HTTPStatus.OK, "ready\n")
    return Reply(HTTPStatus.SERVICE_UNAVAILABLE, "not ready\n")


def _encode(reply: Reply, head_only: bool) -> bytes:
    body = reply.body.encode()
    head = (
        f"HTTP/1.1 {reply.status.value} {reply.status.phrase}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    return head if head_only else head + body


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str] | None:
    """(method, path) of a well-formed request line after reading the headers; None for anything else."""
    line = await reader.readline()
    parts = line.decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        return None
    for _ in range(MAX_HEADER_LINES):
        header = await reader.readline()
        if header in (b"\r\n", b"\n", b""):
            return parts[0], parts[1]
    return None


class _Handler:
    def __init__(self, ready: ReadyCheck) -> None:
        self.ready = ready

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                request = await asyncio.wait_for(_read_request(reader), REQUEST_TIMEOUT_S)
            except (asyncio.TimeoutError, asyncio.LimitOverrunError, ValueError):
                request = None
            if request is None:
                reply, method = Reply(HTTPStatus.BAD_REQUEST, "bad request\n"), "GET"
            else:
                method, path = request
                reply = await answer(method, path, self.ready)
            writer.write(_encode(reply, head_only=method == "HEAD"))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the prober went away; nothing to answer
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except ConnectionError:
                pass


@dataclass(frozen=True)
class HealthServer:
    """The running endpoint: where it listens."""

    host: str
    port: int


@asynccontextmanager
async def serve_health(port: int, ready: ReadyCheck, host: str = "0.0.0.0") -> AsyncIterator[HealthServer | None]:
    """Serve /healthz and /readyz on `host:port` until the block exits; port 0 serves nothing (yields None)."""
    if port == 0:
        yield None
        return
    if not 0 < port < 65536:
        raise ValueError(f"REFERRAL_HEALTH_PORT must be 0 (off) or a TCP port, got {port}")
    try:
        server = await asyncio.start_server(_Handler(ready), host, port, limit=MAX_LINE_BYTES)
    except OSError as exc:
        raise OSError(exc.errno, f"the health endpoint cannot listen on {host}:{port}: {exc.strerror}"
                                 " (set REFERRAL_HEALTH_PORT, 0 turns it off)") from None
    log.info("health endpoint listening", port=port, live=LIVE_PATH, ready=READY_PATH)
    try:
        yield HealthServer(host, port)
    finally:
        server.close()
        await server.wait_closed()


# ---- readiness checks the worker can combine ----

def all_of(*checks: ReadyCheck) -> ReadyCheck:
    """Ready when every check is (evaluated in order; the first False or error decides)."""

    async def check() -> bool:
        for one in checks:
            if not await one():
                return False
        return True

    return check


def postgres_answers(pool) -> ReadyCheck:
    """Ready while the asyncpg pool hands out a connection that answers `SELECT 1`."""

    async def check() -> bool:
        return await pool.fetchval("SELECT 1") == 1

    return check


def worker_polling(worker) -> ReadyCheck:
    """Ready while the temporalio Worker runs (it polls its task queue) and is not shutting down."""

    async def check() -> bool:
        return bool(worker.is_running and not worker.is_shutdown)

    return check
