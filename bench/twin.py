"""The yardsticks: a no-op twin of a case's shape, and a bare workflow of no-op activities.

`TwinWorkflow` takes a plan (bench/shape.py `as_plan`: counts per segment) and, with no-op bodies, does
what the real case's history shows: in `run` the start segment's local activities, activities and
search-attribute upserts, then it waits on as many long timers as the segment started; each action
update (validated, like the case's) does its segment and wakes the loop, which cancels the timers and
starts the next segment's. The receipt update waits until the start segment is done, as the case's does.

Sandbox-safe on purpose: only temporalio and the standard library.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, Sequence

from temporalio import activity, workflow
from temporalio.common import RawValue, SearchAttributeKey

LONG_TIMER = timedelta(days=30)
NOOP_TIMEOUT = timedelta(seconds=30)
NOOP = "bench_noop"


@activity.defn(name=NOOP)
async def noop() -> None:
    return None


@workflow.defn(name="BenchTwin")
class TwinWorkflow:
    @workflow.init
    def __init__(self, plan: dict[str, Any], attribute: str) -> None:
        self.plan = plan
        self.key = SearchAttributeKey.for_keyword(attribute)
        self.ready = False
        self.changed = False
        self.timers = 0
        self.upserted = 0
        self.lock = asyncio.Lock()

    @workflow.run
    async def run(self, plan: dict[str, Any], attribute: str) -> None:
        await self._segment(plan["start"])
        self.ready = True
        while True:
            self.changed = False
            await self._wait(self.timers)

    async def _wait(self, timers: int) -> None:
        if timers == 0:
            await workflow.wait_condition(lambda: self.changed)
            return
        await asyncio.gather(*(self._timer() for _ in range(timers)))

    async def _timer(self) -> None:
        try:
            await workflow.wait_condition(lambda: self.changed, timeout=LONG_TIMER)
        except asyncio.TimeoutError:
            pass

    async def _segment(self, segment: dict[str, int]) -> None:
        for _ in range(segment["local_activities"]):
            await workflow.execute_local_activity(NOOP, start_to_close_timeout=NOOP_TIMEOUT)
        for _ in range(segment["activities"]):
            await workflow.execute_activity(NOOP, start_to_close_timeout=NOOP_TIMEOUT)
        for _ in range(segment["upserts"]):
            self.upserted += 1
            workflow.upsert_search_attributes([self.key.value_set(f"twin-{self.upserted}")])
        self.timers = segment["timers_started"]

    @workflow.update(name="opened")
    async def opened(self, submission_id: str) -> str:
        await workflow.wait_condition(lambda: self.ready)
        return "assigned"

    @workflow.update(dynamic=True)
    async def action(self, name: str, args: Sequence[RawValue]) -> str:
        async with self.lock:
            await self._segment(self.plan["updates"][name])
            self.changed = True
        return name

    @action.validator
    def _validate_action(self, name: str, args: Sequence[RawValue]) -> None:
        if not self.ready or name not in self.plan["updates"]:
            raise ValueError(f"the twin takes no {name!r} now")


@workflow.defn(name="BenchBare")
class BareWorkflow:
    """The least a case could be: a few no-op activities in a row."""

    @workflow.run
    async def run(self, activities: int) -> int:
        for _ in range(activities):
            await workflow.execute_activity(NOOP, start_to_close_timeout=NOOP_TIMEOUT)
        return activities
