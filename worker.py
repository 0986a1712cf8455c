"""Runs the referral worker: ComplaintWorkflow, its activities and the notification dispatcher.

    python worker.py          # against TEMPORAL_ADDRESS and DATABASE_URL
    python worker.py --dev    # starts a Temporal dev server (UI on :8233) and an embedded Postgres too
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import importlib.metadata
import signal
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, AsyncIterator

import structlog
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.worker import Worker, WorkerDeploymentConfig
from temporalio.worker.workflow_sandbox import SandboxRestrictions

from activities.case_activities import CaseActivities
from activities.erasure_activities import ErasureActivities, ensure_erasure_schedule, erase_after_years
from activities.notify import Dispatcher
from activities.store import Store, open_store
from activities.store.erasure import ErasureStore
from activities.store.roles import DatabaseRoles, login_problems
from api.server import serve as serve_api
from api.settings import ApiSettings
from casework import devstack, health, logs, metrics
from casework.keys import KeyringError, load_keyring
from casework.runtime import temporal_client
from casework.sandbox import workflow_runner
from referral import reference, sealing
from referral.config import Settings
from workflows.complaint import ComplaintWorkflow
from workflows.erasure import ErasureWorkflow
from workflows.partner_referral import PartnerReferralWorkflow

log = structlog.get_logger("worker")
# The pure domain (and pydantic, which it is built on) is imported once per worker, not per case;
# cryptography too: its native code imports its exception classes lazily, which the sandbox cannot do.
# The workflow modules hold no module state either (constants only), so they too are imported once per
# worker: imported per case, each case held its own copy of their code objects, handlers and type adapters
# (about 60 KiB; bench/RESULTS.md). The sandbox still isolates each case's instance and checks the calls
# made through its restricted modules; the replay tests guard determinism.
SANDBOX_RESTRICTIONS = SandboxRestrictions.default.with_passthrough_modules(
    "referral", "pydantic", "pydantic_core", "cryptography", "structlog", "workflows")


def compile_workflow_code() -> None:
    """Write the project's bytecode once at start: with PYTHONDONTWRITEBYTECODE set, every case would otherwise
    compile its workflow module from source again (the sandbox imports it per case)."""
    root = Path(__file__).resolve().parent
    for package in ("workflows", "referral", "activities", "casework", "api"):
        compileall.compile_dir(root / package, quiet=1, workers=1)


def build_id() -> str:
    """The worker's build: the package version (pyproject.toml), so a release is one deployment version."""
    try:
        return importlib.metadata.version("buleleng-referral")
    except importlib.metadata.PackageNotFoundError:
        return "dev"


def worker_options(settings: Settings) -> dict[str, Any]:
    """Cache size, task slots and deployment versioning from the settings (tests pass their own)."""
    options: dict[str, Any] = {"max_cached_workflows": settings.max_cached_workflows}
    if settings.max_concurrent_workflow_tasks:
        options["max_concurrent_workflow_tasks"] = settings.max_concurrent_workflow_tasks
    if settings.worker_versioning:
        options["deployment_config"] = WorkerDeploymentConfig(
            version=WorkerDeploymentVersion(deployment_name="referral", build_id=build_id()),
            use_worker_versioning=True, default_versioning_behavior=VersioningBehavior.PINNED)
    return options


def build_worker(client: Client, store: Store, settings: Settings, **options: Any) -> Worker:
    """The one Worker definition, shared by worker.py and the tests."""
    sealing.use_keys(settings.pii_key)  # sealed notes of 0.1 cases still open; validators refuse others
    store.cases.keys.keyring  # the data keys' keyring, loaded now: a missing one stops here, not in every case
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[ComplaintWorkflow, PartnerReferralWorkflow, ErasureWorkflow],
        activities=CaseActivities(store, settings).all() + ErasureActivities(ErasureStore(store.pool)).all(),
        workflow_runner=workflow_runner(SANDBOX_RESTRICTIONS),
        **options,
    )


@asynccontextmanager
async def _open_database(settings: Settings, db_url: str | None, dev: bool) -> AsyncIterator[Store]:
    """The worker's store. With DATABASE_ADMIN_URL (least privilege, activities/store/roles.py) the database is
    prepared as the owner role and the worker runs as DATABASE_URL's runtime role; without it one role does
    both, as before, and outside --dev a warning says so."""
    prepare = dict(prepare=True, roster_file=settings.roster_file, piket_file=settings.piket_file)
    if not settings.database_admin_url:
        if not dev:
            log.warning("DATABASE_ADMIN_URL is not set: one database role migrates and runs everything;"
                        " a deployment sets DATABASE_ADMIN_URL (owner) and DATABASE_URL (runtime)")
        async with open_store(db_url, **prepare) as store:
            yield store
        return
    roles = DatabaseRoles.from_env()
    async with open_store(settings.database_admin_url, roles=roles, max_size=2, **prepare):
        pass  # migrated as the owner, runtime role granted, reference data and roster loaded
    async with open_store(db_url) as store:
        problems = await login_problems(store.pool, roles)
        if problems:
            log.warning("DATABASE_URL's role is not least-privileged", problems=problems)
        yield store


async def main(dev: bool) -> None:
    settings = Settings()
    logs.configure(settings.log_format, settings.log_level)
    reference.villages(), reference.categories()  # read the shipped data once, at start
    compile_workflow_code()
    if not dev and settings.production_problems():
        # Without --dev this is a real deployment: refuse to seal NIKs under a key everyone knows.
        for problem in settings.production_problems():
            log.error("refusing to start", problem=problem)
        raise SystemExit(2)
    try:  # the payload codec's keys and the retention, checked before anything starts (--dev makes its own keys)
        load_keyring(settings, dev=dev)
        erase_after_years()
    except (KeyringError, ValueError) as err:
        log.error("refusing to start", problem=str(err))
        raise SystemExit(2) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async with AsyncExitStack() as stack:
        # Liveness answers from the start; readiness once Postgres answers and the worker polls.
        parts: dict[str, Any] = {}

        async def ready() -> bool:
            return "worker" in parts and await health.all_of(
                health.postgres_answers(parts["store"].pool), health.worker_polling(parts["worker"]))()

        await stack.enter_async_context(health.serve_health(settings.health_port, ready))
        stack.enter_context(metrics.serve_app_metrics(settings.app_metrics_port))
        address, db_url = settings.temporal_address, settings.database_url
        if dev:
            await stack.enter_async_context(devstack.dev_marker(settings.data_dir))
            address = await stack.enter_async_context(devstack.temporal_dev_server(
                settings.data_dir, codec=devstack.codec_endpoint(f"http://localhost:{ApiSettings().api_port}")))
            if not db_url:
                db_url = await stack.enter_async_context(devstack.embedded_postgres(settings.data_dir))
            if not settings.smtp_host:  # let a newcomer read the notifications the cases send
                host, port = await stack.enter_async_context(devstack.local_mailbox(settings.data_dir))
                settings = replace(settings, smtp_host=host, smtp_port=port)
        store = await stack.enter_async_context(_open_database(settings, db_url, dev))
        client = await temporal_client(settings, address, with_metrics=True, dev=dev)
        worker = build_worker(client, store, replace(settings, temporal_address=address), **worker_options(settings))
        parts.update(store=store, worker=worker)
        # The daily erasure of personal data past retention; an existing schedule (maybe paused for a
        # legal hold) is left as it is.
        await ensure_erasure_schedule(client, settings.task_queue, settings.utc_offset_minutes)
        dispatcher = Dispatcher(store, settings)
        api_url = None
        if dev:  # the door for officers and services, beside the worker
            api = await stack.enter_async_context(serve_api(ApiSettings(), store, client, config=settings))
            api_url = api.url
        async with worker:
            tasks = [asyncio.create_task(dispatcher.run(stop)),
                     asyncio.create_task(metrics.refresh_gauges_periodically(store.pool, stop))]
            log.info("worker ready", task_queue=settings.task_queue, temporal=address,
                     ui=settings.ui_url if dev else None, api=api_url)
            await stop.wait()
            log.info("shutting down")
            await asyncio.gather(*tasks)
    log.info("stopped")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev", action="store_true", help="start a Temporal dev server and an embedded Postgres")
    asyncio.run(main(parser.parse_args().dev))
