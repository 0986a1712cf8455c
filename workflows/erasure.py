"""ErasureWorkflow: erase the personal data of cases finished longer ago than the retention period.

Run daily by the Temporal Schedule `referral-erasure` (made by the worker at start, see
`activities.erasure_activities.ensure_erasure_schedule`); it may also be started by hand with the same input.
It calls one activity, `erase_due_cases`, in batches until no case is due, and returns the counts. The
retention period (REFERRAL_ERASE_AFTER_YEARS) is the activity's setting, so changing it needs no new schedule.
Its history holds dates and counts only: no complaint ids, no personal data.

`as_of` is fixed for the whole run (continued-as-new runs included): the cases due are those finished at or
before `as_of` minus the retention period.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy

ERASE_DUE_CASES = "erase_due_cases"
SCHEDULE_ID = "referral-erasure"
BATCHES_PER_RUN = 50  # then continue-as-new: a run's history stays short however many cases are due
# Retried with backoff for a day: a database that is down is waited for; a case that fails for good fails the run.
ERASE_STEP = dict(start_to_close_timeout=timedelta(minutes=2),
                  retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=10),
                                           non_retryable_error_types=["PermanentDataError"]),
                  schedule_to_close_timeout=timedelta(days=1))


class ErasureRequest(BaseModel):
    as_of: datetime | None = None  # None: when the run starts (the schedule's time)
    batch_size: int = Field(default=100, ge=1, le=1000)
    erased_so_far: int = 0  # carried across continue-as-new
    left_in_clear_so_far: int = 0


class EraseBatch(BaseModel):
    as_of: datetime
    limit: int


class ErasedBatch(BaseModel):
    erased: int            # cases whose personal data was erased in this batch
    left_in_clear: int     # of those, cases written in clear before envelope encryption with text left over
    finished_before: datetime
    retention_years: int
    more: bool             # the batch was full: call again


class ErasureResult(BaseModel):
    as_of: datetime
    finished_before: datetime | None
    retention_years: int | None
    erased: int
    left_in_clear: int


@workflow.defn(name="ErasureWorkflow")
class ErasureWorkflow:
    @workflow.run
    async def run(self, request: ErasureRequest) -> ErasureResult:
        as_of = request.as_of or workflow.now()
        erased, left = request.erased_so_far, request.left_in_clear_so_far
        batch: ErasedBatch | None = None
        for _ in range(BATCHES_PER_RUN):
            batch = await workflow.execute_activity(
                ERASE_DUE_CASES, EraseBatch(as_of=as_of, limit=request.batch_size), result_type=ErasedBatch,
                summary=f"Erase personal data of cases finished before the retention period ({as_of:%Y-%m-%d})",
                **ERASE_STEP)
            erased, left = erased + batch.erased, left + batch.left_in_clear
            if not batch.more:
                workflow.logger.info("erasure done", extra={"erased": erased, "left_in_clear": left})
                return ErasureResult(as_of=as_of, finished_before=batch.finished_before,
                                     retention_years=batch.retention_years, erased=erased, left_in_clear=left)
        workflow.continue_as_new(request.model_copy(update={
            "as_of": as_of, "erased_so_far": erased, "left_in_clear_so_far": left}))
