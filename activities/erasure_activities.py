"""Erasure after retention: the activity ErasureWorkflow runs, and the daily Schedule the worker makes.

REFERRAL_ERASE_AFTER_YEARS (default 5) is how many years after a case is closed or rejected its personal data
is erased: UU PDP 27/2022 keeps personal data only as long as the purpose it was collected for needs it, and a
finished case's purpose ends once a returning person's history, complaints and audits of the office's work
are settled. See README.md, "Personal data".

The Schedule (`referral-erasure`) runs ErasureWorkflow every day at 02:00 office time. The worker creates it
at start if it does not exist and leaves an existing one alone: an operator may pause it (a legal hold) or
change it with `temporal schedule`, and a restart must not undo that.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import datetime, timedelta, timezone
from typing import Mapping

import structlog
from temporalio import activity
from temporalio.client import (
    Client, Schedule, ScheduleActionStartWorkflow, ScheduleAlreadyRunningError, ScheduleCalendarSpec,
    ScheduleOverlapPolicy, SchedulePolicy, ScheduleRange, ScheduleSpec, ScheduleUpdate, ScheduleUpdateInput,
)

from activities.errors import sorted_errors
from activities.store.erasure import ErasureStore
from workflows.erasure import ERASE_DUE_CASES, SCHEDULE_ID, EraseBatch, ErasedBatch, ErasureRequest, ErasureWorkflow

log = structlog.get_logger(__name__)

ERASE_AFTER_ENV = "REFERRAL_ERASE_AFTER_YEARS"
DEFAULT_ERASE_AFTER_YEARS = 5
MAX_ERASE_AFTER_YEARS = 100
LOCAL_RUN_TIME = (2, 0)  # 02:00 office time: after the day's work, before the next


# ---- pure decisions ----

def erase_after_years(environ: Mapping[str, str] = os.environ) -> int:
    """REFERRAL_ERASE_AFTER_YEARS as a whole number of years, 1 to 100. ValueError naming the setting."""
    raw = (environ.get(ERASE_AFTER_ENV) or "").strip()
    if not raw:
        return DEFAULT_ERASE_AFTER_YEARS
    try:
        years = int(raw)
    except ValueError:
        raise ValueError(f"{ERASE_AFTER_ENV}={raw[:20]!r}: a whole number of years is required") from None
    if not 1 <= years <= MAX_ERASE_AFTER_YEARS:
        raise ValueError(f"{ERASE_AFTER_ENV}={years}: must be between 1 and {MAX_ERASE_AFTER_YEARS} years")
    return years


def finished_before(as_of: datetime, years: int) -> datetime:
    """The latest finishing time still due for erasure at `as_of`: the same calendar moment `years` earlier
    (29 February becomes 28 February)."""
    try:
        return as_of.replace(year=as_of.year - years)
    except ValueError:  # 29 February in a year that has none
        return as_of.replace(year=as_of.year - years, day=28)


def utc_run_time(local: tuple[int, int], utc_offset_minutes: int) -> tuple[int, int]:
    """(hour, minute) in UTC of a local wall-clock time (Indonesia keeps no daylight saving time)."""
    minutes = (local[0] * 60 + local[1] - utc_offset_minutes) % (24 * 60)
    return divmod(minutes, 60)


def erasure_schedule(task_queue: str, utc_offset_minutes: int) -> Schedule:
    """ErasureWorkflow daily at LOCAL_RUN_TIME; one run at a time; a missed day is caught up once."""
    hour, minute = utc_run_time(LOCAL_RUN_TIME, utc_offset_minutes)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ErasureWorkflow.run, ErasureRequest(), id=SCHEDULE_ID, task_queue=task_queue,
            static_summary="Erase personal data after the retention period (UU PDP 27/2022)"),
        spec=ScheduleSpec(calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(hour)], minute=[ScheduleRange(minute)],
                                                          comment="daily, 02:00 office time")]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=1)),
    )


# ---- the worker's side ----

async def ensure_erasure_schedule(client: Client, task_queue: str, utc_offset_minutes: int = 480) -> bool:
    """Create the Schedule, or bring an existing one to this worker's task queue and run time (keeping an
    operator's pause and notes). True when created or changed here; a restart with the same settings leaves
    it alone."""
    wanted = erasure_schedule(task_queue, utc_offset_minutes)
    try:
        await client.create_schedule(SCHEDULE_ID, wanted)
    except ScheduleAlreadyRunningError:
        changed = False

        def update(current: ScheduleUpdateInput) -> ScheduleUpdate | None:
            nonlocal changed
            schedule = current.description.schedule
            if _runs_as(schedule) == _runs_as(wanted):
                return None
            changed = True
            return ScheduleUpdate(schedule=dataclasses.replace(wanted, state=schedule.state))

        await client.get_schedule_handle(SCHEDULE_ID).update(update)
        log.info("erasure schedule updated" if changed else "erasure schedule exists", schedule_id=SCHEDULE_ID,
                 task_queue=task_queue)
        return changed
    log.info("erasure schedule created", schedule_id=SCHEDULE_ID, task_queue=task_queue)
    return True


def _runs_as(schedule: Schedule) -> tuple[str | None, list[tuple[int, int]]]:
    """What matters of a schedule here: the task queue it starts on and its daily hours and minutes."""
    action = schedule.action
    queue = action.task_queue if isinstance(action, ScheduleActionStartWorkflow) else None
    times = [(c.hour[0].start if c.hour else -1, c.minute[0].start if c.minute else -1)
             for c in schedule.spec.calendars]
    return queue, times


class ErasureActivities:
    def __init__(self, store: ErasureStore, years: int | None = None) -> None:
        self.store = store
        self.years = erase_after_years() if years is None else years

    @activity.defn(name=ERASE_DUE_CASES)
    @sorted_errors
    async def erase_due_cases(self, batch: EraseBatch) -> ErasedBatch:
        """One batch: the oldest due cases, each erased and recorded once (see ErasureStore.erase_due)."""
        before = finished_before(batch.as_of, self.years)
        erased = await self.store.erase_due(before, batch.limit, self.years, now=datetime.now(timezone.utc))
        left = sum(1 for case in erased if case.left_in_clear)
        if erased:
            log.info("personal data erased", cases=len(erased), left_in_clear=left,
                     finished_before=before.isoformat(), retention_years=self.years)
        return ErasedBatch(erased=len(erased), left_in_clear=left, finished_before=before,
                           retention_years=self.years, more=len(erased) >= batch.limit)

    def all(self) -> list:
        return [self.erase_due_cases]


__all__ = ["ErasureActivities", "ensure_erasure_schedule", "erase_after_years", "erasure_schedule",
           "finished_before", "utc_run_time"]
