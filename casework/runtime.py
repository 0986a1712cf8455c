"""Shared start-up for the worker and the CLI: the Temporal client and the prepared database."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import structlog
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import (
    SandboxedWorkflowRunner,
    SandboxRestrictions,
)

from activities.case_activities import CaseActivities
from activities.db import Database, connect
from referral import reference
from referral.config import Settings
from workflows.complaint import ComplaintWorkflow

log = structlog.get_logger(__name__)


async def temporal_client(settings: Settings, address: str | None = None, with_metrics: bool = False) -> Client:
    runtime = None
    if with_metrics and settings.metrics_port:
        runtime = Runtime(telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=f"0.0.0.0:{settings.metrics_port}")))
    return await Client.connect(
        address or settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        **({"runtime": runtime} if runtime else {}),
    )


@asynccontextmanager
async def database(settings: Settings, url: str | None = None, prepare: bool = True) -> AsyncIterator[Database]:
    """An asyncpg pool; with `prepare`, migrations applied and reference data and a roster loaded."""
    url = url or settings.database_url
    if not url:
        raise RuntimeError("DATABASE_URL is not set (or run `python worker.py --dev` for an embedded Postgres)")
    pool = await connect(url)
    try:
        db = Database(pool, settings.hash_salt)
        if prepare:
            await db.migrate()
            await db.load_reference()
            if settings.roster_file or not await db.has_roster():
                roster = reference.load_roster(settings.roster_file)
                await db.replace_roster(roster)
                log.info("roster loaded", source=settings.roster_file or "sample", pendamping=len(roster.pendamping()))
        yield db
    finally:
        await pool.close()


def build_worker(client: Client, db: Database, settings: Settings, **options: Any) -> Worker:
    """The one Worker definition, shared by worker.py and the tests."""
    # Our pure modules (and the libraries the activities use) are imported once, not per workflow run.
    restrictions = SandboxRestrictions.default.with_passthrough_modules("referral", "activities", "structlog", "asyncpg")
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[ComplaintWorkflow],
        activities=CaseActivities(db, settings).all(),
        workflow_runner=SandboxedWorkflowRunner(restrictions=restrictions),
        **options,
    )
