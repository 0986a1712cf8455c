"""The workflow sandbox the worker runs cases in: the SDK's, with its few code snippets compiled once.

The SDK's sandbox enters each case's instance by `exec` of a short source string: once per activation, and
three or four times for every payload of the activation and of its completion (for the serialization and
storage contexts), so a string is compiled again each time: about 4 % of the worker's CPU in a whole-life
profile (bench/RESULTS.md). The strings are the same few every time, so here each is compiled once per process and
`exec` is given the code object; the sandbox does exactly what it did (same globals, same importer, same
restrictions). Built on the SDK's private `_Instance._run_code`: when an SDK release no longer has it, the
stock runner is used and a test (tests/unit/test_sandbox_runner.py) says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from types import CodeType
from typing import Any

from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

try:
    from temporalio.worker.workflow_sandbox._runner import _Instance
except ImportError:  # pragma: no cover - an SDK without it: the stock runner below
    _Instance = None  # type: ignore[assignment,misc]

COMPILES_ONCE = _Instance is not None and hasattr(_Instance, "_run_code")


@lru_cache(maxsize=64)
def compiled(source: str) -> CodeType:
    """The snippet's code object; "<string>" as the file name, as `exec` of the source would give."""
    return compile(source, "<string>", "exec")


if COMPILES_ONCE:

    class _CompiledOnceInstance(_Instance):  # type: ignore[misc,valid-type]
        def _run_code(self, code: str, **extra_globals: Any) -> None:
            super()._run_code(compiled(code), **extra_globals)  # type: ignore[arg-type]


@dataclass(frozen=True)
class CompiledSandboxRunner(SandboxedWorkflowRunner):
    """`SandboxedWorkflowRunner` whose instances reuse compiled snippets (the stock one without SDK support)."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        if not COMPILES_ONCE:
            return super().create_instance(det)
        return _CompiledOnceInstance(det, self.runner_class, self.restrictions)


def workflow_runner(restrictions: SandboxRestrictions) -> SandboxedWorkflowRunner:
    return CompiledSandboxRunner(restrictions=restrictions)
