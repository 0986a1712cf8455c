"""The worker's sandbox (casework/sandbox.py) with a real server: snippets compiled once, restrictions kept,
and the project's worker (`build_worker`) running its cases through it."""

from __future__ import annotations

import asyncio
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


@pytest.mark.asyncio
async def test_a_cached_case_does_not_hold_its_first_activation(time_env: WorkflowEnvironment):
    # The SDK's instance kept three views into the first activation (and so all of it) for a run's whole life.
    queue = f"sandbox-{uuid.uuid4().hex[:6]}"
    async with Worker(time_env.client, task_queue=queue, workflows=[SandboxProbe],
                      workflow_runner=workflow_runner(SANDBOX_RESTRICTIONS)) as worker:
        handle = await time_env.client.start_workflow(SandboxProbe.run, 3600.0, id=queue, task_queue=queue)
        for _ in range(200):  # until its first activation is done: the timer it starts is in the history
            if any(event.HasField("timer_started_event_attributes") for event in (await handle.fetch_history()).events):
                break
            await asyncio.sleep(0.05)
        running = worker._workflow_worker._running_workflows  # type: ignore[union-attr]
        instance = running[handle.result_run_id].instance.globals_and_locals["__temporal_in_sandbox"].instance
        assert isinstance(instance._workflow_input.headers, dict)
        assert not instance._current_completion.HasField("successful")  # an empty one: the worker has the real one
        await handle.terminate()
