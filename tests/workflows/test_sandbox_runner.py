"""The worker's sandbox (casework/sandbox.py) with a real server: snippets compiled once, restrictions kept,
and the project's worker (`build_worker`) running its cases through it."""

from __future__ import annotations

import uuid

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from casework.sandbox import compiled, workflow_runner
from tests.conftest import running_worker, task_queue
from tests.workflows.sandbox_probe import SandboxProbe
from tests.workflows.test_complaint_lifecycle import start_case, wait_for
from worker import SANDBOX_RESTRICTIONS


@pytest.mark.asyncio
async def test_a_case_runs_sandboxed_through_snippets_compiled_once(time_env: WorkflowEnvironment):
    compiled.cache_clear()
    queue = f"sandbox-{uuid.uuid4().hex[:6]}"
    async with Worker(time_env.client, task_queue=queue, workflows=[SandboxProbe],
                      workflow_runner=workflow_runner(SANDBOX_RESTRICTIONS)):
        outcome = await time_env.client.execute_workflow(SandboxProbe.run, 60.0, id=queue, task_queue=queue)
    assert outcome == "RestrictedWorkflowAccessError"
    info = compiled.cache_info()
    assert info.misses > 0 and info.hits > info.misses  # each snippet compiled once, then reused


@pytest.mark.asyncio
async def test_the_project_worker_runs_its_cases_through_the_compiled_snippets(time_env: WorkflowEnvironment, db):
    compiled.cache_clear()
    queue = task_queue()
    async with running_worker(time_env.client, db, queue):
        _, handle = await start_case(time_env, queue)
        await wait_for(handle, lambda view: view.status == "assigned", time_env)
    assert compiled.cache_info().hits > 0  # build_worker's runner is casework.sandbox's
