"""Runs the referral worker: ComplaintWorkflow, its activities and the notification dispatcher.

    python worker.py          # against TEMPORAL_ADDRESS and DATABASE_URL
    python worker.py --dev    # starts a Temporal dev server (UI on :8233) and an embedded Postgres too
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from contextlib import AsyncExitStack
from dataclasses import replace
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.case_activities import CaseActivities
from activities.notify import Dispatcher
from activities.store import Store, open_store
from api.server import serve as serve_api
from api.settings import ApiSettings
from casework import devstack, health, logs, metrics
from casework.runtime import temporal_client
from referral import reference, sealing
from referral.config import Settings
from workflows.complaint import ComplaintWorkflow

log = structlog.get_logger("worker")
# The pure domain (and pydantic, which it is built on) is imported once per worker, not per case;
# cryptography too: its native code imports its exception classes lazily, which the sandbox cannot do.
SANDBOX_RESTRICTIONS = SandboxRestrictions.default.with_passthrough_modules(
    "referral", "pydantic", "pydantic_core", "cryptography", "structlog")


def build_worker(client: Client, store: Store, settings: Settings, **options: Any) -> Worker:
    """The one Worker definition, shared by worker.py and the tests."""
    sealing.use_keys(settings.pii_key)  # update validators refuse sealed text this worker cannot open
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[ComplaintWorkflow],
        activities=CaseActivities(store, settings).all(),
        workflow_runner=SandboxedWorkflowRunner(restrictions=SANDBOX_RESTRICTIONS),
        **options,
    )


async def main(dev: bool) -> None:
    settings = Settings()
    logs.configure(settings.log_format, settings.log_level)
    reference.villages(), reference.categories()  # read the shipped data once, at start
    if not dev and settings.production_problems():
        # Without --dev this is a real deployment: refuse to seal NIKs under a key everyone knows.
        for problem in settings.production_problems():
            log.error("refusing to start", problem=problem)
        raise SystemExit(2)
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
            address = await stack.enter_async_context(devstack.temporal_dev_server(settings.data_dir))
            if not db_url:
                db_url = await stack.enter_async_context(devstack.embedded_postgres(settings.data_dir))
            if not settings.smtp_host:  # let a newcomer read the notifications the cases send
                host, port = await stack.enter_async_context(devstack.local_mailbox(settings.data_dir))
                settings = replace(settings, smtp_host=host, smtp_port=port)
        store = await stack.enter_async_context(open_store(db_url, prepare=True, roster_file=settings.roster_file))
        client = await temporal_client(settings, address, with_metrics=True)
        worker = build_worker(client, store, replace(settings, temporal_address=address))
        parts.update(store=store, worker=worker)
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
