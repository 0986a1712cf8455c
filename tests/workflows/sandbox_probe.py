"""A workflow that asks the sandbox for something it must refuse (its own module: the sandbox imports it)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow


@workflow.defn(name="SandboxProbe")
class SandboxProbe:
    @workflow.run
    async def run(self, wait_seconds: float) -> str:
        await workflow.sleep(timedelta(seconds=wait_seconds))
        try:
            import os

            os.getcwd()  # restricted in a workflow: the sandbox must still refuse it
        except Exception as refused:
            return type(refused).__name__
        return "not restricted"
