"""casework/sandbox.py: the worker's sandbox compiles its entry snippets once (pure parts; the workflow
tests run every case through it, and tests/workflows/test_sandbox_runner.py checks it still sandboxes)."""

from __future__ import annotations

from casework import sandbox
from casework.sandbox import CompiledSandboxRunner, compiled, workflow_runner
from worker import SANDBOX_RESTRICTIONS


def test_this_sdk_has_what_the_compiled_runner_builds_on():
    # When an SDK upgrade removes `_Instance._run_code`, the stock runner is used: this test says so.
    assert sandbox.COMPILES_ONCE


def test_a_snippet_is_compiled_once_and_runs_as_its_source_would():
    source = "x = 1 + 1\n"
    assert compiled(source) is compiled(source)
    scope: dict = {}
    exec(compiled(source), scope)
    assert scope["x"] == 2


def test_the_worker_runner_keeps_the_project_restrictions():
    runner = workflow_runner(SANDBOX_RESTRICTIONS)
    assert isinstance(runner, CompiledSandboxRunner) and runner.restrictions is SANDBOX_RESTRICTIONS
