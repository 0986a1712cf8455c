"""The worker's sandbox (casework/sandbox.py) with a real server: snippets compiled once, restrictions kept."""

from __future__ import annotations

import uuid

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from casework.sandbox import compiled, workflow_runner
from tests.workflows.sandbox_probe import SandboxProbe
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
