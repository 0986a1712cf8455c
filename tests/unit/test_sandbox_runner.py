"""casework/sandbox.py: the worker's sandbox compiles its entry snippets once (pure parts; the workflow
tests run every case through it, and tests/workflows/test_sandbox_runner.py checks it still sandboxes)."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Mapping

from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.worker import ExecuteWorkflowInput, WorkflowInstanceDetails

from casework import sandbox
from casework.sandbox import (
    CompiledSandboxRunner, compiled, details_of_its_own, let_go_of_activation, workflow_runner,
)
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


@dataclass(frozen=True)
class InfoPart:  # the two fields of temporalio.workflow.Info that hold protobuf messages
    headers: Mapping[str, Any]
    raw_memo: Mapping[str, Any]


def test_what_a_case_keeps_is_a_copy_not_a_view_into_its_first_activation():
    activation = WorkflowActivation()
    start = activation.jobs.add().initialize_workflow
    start.headers["trace"].data = b"first"
    start.memo.fields["note"].data = b"memo"
    start.last_completion_result.payloads.add().data = b"last"
    details = WorkflowInstanceDetails(
        payload_converter_factory=None, failure_converter_class=None, interceptor_classes=[], defn=None,
        info=InfoPart(headers=dict(start.headers), raw_memo=dict(start.memo.fields)),
        randomness_seed=1, extern_functions={}, disable_eager_activity_execution=False,
        worker_level_failure_exception_types=[], patch_activation_callback=None,
        last_completion_result=start.last_completion_result, last_failure=None, default_workflow_logic_flags=frozenset(),
    )  # type: ignore[arg-type]
    own = details_of_its_own(details)
    start.headers["trace"].data = start.memo.fields["note"].data = start.last_completion_result.payloads[0].data = b"x"
    assert own.info.headers["trace"].data == b"first" and own.info.raw_memo["note"].data == b"memo"
    assert own.last_completion_result.payloads[0].data == b"last"
    assert details.info.headers["trace"].data == b"x"  # the view did change: the copies are what differ


def test_after_the_first_activation_the_input_headers_are_a_copy_and_the_completion_is_let_go():
    activation = WorkflowActivation()
    start = activation.jobs.add().initialize_workflow
    start.headers["trace"].data = b"first"
    workflow_input = ExecuteWorkflowInput(type=object, run_fn=None, args=[], headers=start.headers)  # type: ignore[arg-type]
    instance = SimpleNamespace(_workflow_input=workflow_input, _current_completion=object())
    let_go_of_activation(SimpleNamespace(instance=instance), first=True)
    start.headers["trace"].data = b"x"
    assert isinstance(workflow_input.headers, dict) and workflow_input.headers["trace"].data == b"first"
    assert instance._current_completion == WorkflowActivationCompletion()  # empty: the worker has the real one
    let_go_of_activation(None, first=True)  # nothing to let go of: no error
