"""The workflow sandbox the worker runs cases in: the SDK's, with its few code snippets compiled once, and
without a cached case holding on to protobuf messages it no longer reads.

The SDK's sandbox enters each case's instance by `exec` of a short source string: once per activation, and
three or four times for every payload of the activation and of its completion (for the serialization and
storage contexts), so a string is compiled again each time: about 4 % of the worker's CPU in a whole-life
profile (bench/RESULTS.md). The strings are the same few every time, so here each is compiled once per process and
`exec` is given the code object; the sandbox does exactly what it did (same globals, same importer, same
restrictions). Built on the SDK's private `_Instance._run_code`: when an SDK release no longer has it, the
stock runner is used and a test (tests/unit/test_sandbox_runner.py) says so.

A cached case also kept its whole first activation in memory (the start input, the `opened` update's input,
the search attributes: every protobuf message of it lives in one arena, which lives as long as any part of it
does), because the SDK's instance holds three small parts of it for the case's whole life: the workflow
input's headers, the last completion result and the info's headers and memo. Each is swapped for a copy of
its own (`details_of_its_own`, `let_go_of_activation`); nothing reads them differently. The instance also
kept its last completion until the next activation; it now holds an empty one. Together about 30 KiB per
cached case (bench/RESULTS.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from types import CodeType
from typing import Any, Mapping, TypeVar

from google.protobuf.message import Message
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

try:
    from temporalio.worker.workflow_sandbox._runner import _Instance
except ImportError:  # pragma: no cover - an SDK without it: the stock runner below
    _Instance = None  # type: ignore[assignment,misc]

COMPILES_ONCE = _Instance is not None and hasattr(_Instance, "_run_code")

M = TypeVar("M", bound=Message)


def detached(message: M) -> M:
    """A copy of `message` in its own arena: keeping it does not keep the message it was parsed with."""
    copy = type(message)()
    copy.CopyFrom(message)
    return copy


def _detached_map(payloads: Mapping[str, M]) -> dict[str, M]:
    return {key: detached(value) for key, value in payloads.items()}


def details_of_its_own(det: WorkflowInstanceDetails) -> WorkflowInstanceDetails:
    """`det` whose protobuf parts are copies, not views into the first activation."""
    info = replace(det.info, headers=_detached_map(det.info.headers), raw_memo=_detached_map(det.info.raw_memo))
    return replace(det, info=info, last_completion_result=detached(det.last_completion_result),
                   last_failure=None if det.last_failure is None else detached(det.last_failure))


def let_go_of_activation(in_sandbox: Any, first: bool) -> None:
    """Once an activation is done, the SDK's instance lets go of what it no longer reads: its completion (the
    worker has it; an empty one takes its place until the next activation starts a new one) and, after the
    first, the workflow input's headers, which become a copy (the input lives as long as the run; its headers
    were the activation's own map)."""
    instance = getattr(in_sandbox, "instance", None)
    if instance is None:
        return
    if hasattr(instance, "_current_completion"):
        # An empty one, not None: a run dropped from memory without an eviction still closes its coroutines,
        # and their clean-up adds commands to it (which nobody reads, as before).
        instance._current_completion = WorkflowActivationCompletion()
    workflow_input = getattr(instance, "_workflow_input", None)
    if first and workflow_input is not None and not isinstance(workflow_input.headers, dict):
        workflow_input.headers = _detached_map(workflow_input.headers)


@lru_cache(maxsize=64)
def compiled(source: str) -> CodeType:
    """The snippet's code object; "<string>" as the file name, as `exec` of the source would give."""
    return compile(source, "<string>", "exec")


if COMPILES_ONCE:

    class _CompiledOnceInstance(_Instance):  # type: ignore[misc,valid-type]
        def _run_code(self, code: str, **extra_globals: Any) -> None:
            super()._run_code(compiled(code), **extra_globals)  # type: ignore[arg-type]

        def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
            completion = super().activate(act)
            let_go_of_activation(self.globals_and_locals.get("__temporal_in_sandbox"),
                                 first=any(job.HasField("initialize_workflow") for job in act.jobs))
            return completion


@dataclass(frozen=True)
class CompiledSandboxRunner(SandboxedWorkflowRunner):
    """`SandboxedWorkflowRunner` whose instances reuse compiled snippets (the stock one without SDK support)."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        if not COMPILES_ONCE:
            return super().create_instance(det)
        return _CompiledOnceInstance(details_of_its_own(det), self.runner_class, self.restrictions)


def workflow_runner(restrictions: SandboxRestrictions) -> SandboxedWorkflowRunner:
    return CompiledSandboxRunner(restrictions=restrictions)
