"""How a ComplaintWorkflow does its steps: record each once in Postgres, start and withdraw its sub-cases,
publish what supervisors see, and recover when a data step fails.

A mixin of ComplaintWorkflow (workflows/complaint.py), which reads as the life of a case; this is the machinery
under it. Postgres steps run as local activities in the case's own workflow task. They retry a few times and
then give up, so a case lock is never held for long: a transient failure backs off outside the lock, a
permanent one puts the case in `needs_attention` until a supervisor retries or rejects it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from referral import actions, presentation, records as rec, recording
    from referral.actions import Notice, Step
    from referral.case import Attention, CaseState
    from referral.models import CaseSummary, TimelineEntry
    from workflows import search_attributes as sa
    from workflows.failures import StepFailed, is_permanent, kind, problem

T = TypeVar("T")
DATA_STEP: dict[str, Any] = dict(
    start_to_close_timeout=timedelta(seconds=15), schedule_to_close_timeout=timedelta(seconds=45),
    retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=10), maximum_attempts=5,
                             non_retryable_error_types=["PermanentDataError"]),
)
BACKOFF_FIRST, BACKOFF_CAP = timedelta(seconds=30), timedelta(hours=1)


class CaseSteps:
    case: CaseState
    lock: asyncio.Lock
    changed: bool
    published: dict[str, Any]
    pending: list[Step]  # recorded steps whose sub-cases are still to be started or withdrawn
    # workflow.now() stays at the start of a workflow task while its local activities run (an intake task
    # takes seconds under load); a timer armed in that task counts from when its last step finished.
    awake_until: datetime | None

    # ---- recording: every step goes to Postgres once, then to the UI ----

    async def _record(self, step: Step) -> rec.Recorded:
        case, now = self.case, workflow.now()
        if step.key is None:  # fixed on the first attempt, so a retry writes the same event
            case.sequence += 1
            step.key = f"{case.sequence:04d}:{step.event}"
        at = step.at or now
        event = recording.case_event(case, step, key=step.key, at=at, now=now, workflow_id=workflow.info().workflow_id)
        recorded = await workflow.execute_local_activity(
            rec.RECORD_EVENT, event, result_type=rec.Recorded, summary=presentation.record_summary(step, self._language()),
            **DATA_STEP)
        self._finished(recorded.finished_at)
        detail = {k: recorded.recipients.get(v, v) if k == "escalated_to" else v for k, v in event.detail.items()}
        case.note(TimelineEntry(at=at, event=step.event, actor=step.actor, detail=detail, key=step.key))
        if step.children or step.withdraw:
            self.pending.append(step)  # the case's main loop starts and withdraws them (not an update handler)
            self.changed = True
        return recorded

    def _finished(self, at: datetime | None) -> None:
        """A step's own wall clock (recorded in history, so replay sees the same): within a minute of
        workflow.now(), in case the worker's clock is off."""
        now = workflow.now()
        if at is not None and now < at < now + timedelta(minutes=1) and (
                self.awake_until is None or at > self.awake_until):
            self.awake_until = at

    def _now_for_timers(self) -> datetime:
        """The moment a timer armed now counts from (never before workflow.now())."""
        now = workflow.now()
        return self.awake_until if self.awake_until is not None and self.awake_until > now else now

    async def _record_or_flag(self, step: Step) -> None:
        try:
            await self._record(step)
        except StepFailed as err:  # the case goes on; the gap in sequence numbers is harmless
            await self._flag(step.event, err)

    async def _start_and_withdraw(self) -> None:
        """Sub-cases start once their referral is recorded, and are withdrawn once the case has finished.
        They outlive a continue-as-new (ABANDON), so the case settles them itself; none is left orphaned."""
        while self.pending:
            step = self.pending.pop(0)
            for child in step.children:
                await workflow.start_child_workflow(
                    "PartnerReferralWorkflow", child, id=actions.referral_workflow_id(self.case, child.n),
                    parent_close_policy=ParentClosePolicy.ABANDON,
                    static_summary=f"Rujukan ke {child.partner.name} · {child.village}")
            for workflow_id in step.withdraw:
                await workflow.get_external_workflow_handle(workflow_id).signal("withdraw")

    async def _reassign(self, exclude: list[str], actor: str, reason: str) -> None:
        case = self.case
        choice = await workflow.execute_local_activity(
            rec.CHOOSE_PENDAMPING, rec.AssignRequest(
                complaint_id=case.complaint_id, village_code=case.opening.village_code,
                on=case.setup.calendar.local(workflow.now()).date(), exclude=exclude),
            result_type=rec.Assignment, **DATA_STEP,
            summary=presentation.step_summary("choose_pendamping", self._language(), village=case.setup.village.label))
        detail = actions.assign(case, choice.pendamping_id, choice.bidang, workflow.now(), reason or choice.reason)
        await self._record(Step("reassigned", actor, detail, [Notice(choice.pendamping_id, "assigned")]))
        self.changed = True

    async def _fetch(self, needs: str | None) -> Any:
        """What an action needs from outside the case first: the policy or the calendar now in force."""
        case = self.case
        if needs == "policy":
            return (await workflow.execute_local_activity(
                rec.LOAD_POLICY, rec.PolicyRequest(complaint_id=case.complaint_id), result_type=rec.PolicyResult,
                summary=presentation.step_summary("load_policy", self._language()), **DATA_STEP)).policy
        if needs == "calendar":
            return (await workflow.execute_local_activity(
                rec.CASE_CALENDAR, rec.CalendarRequest(complaint_id=case.complaint_id,
                                                       first_year=case.setup.calendar.first_year),
                result_type=rec.CalendarResult, summary=presentation.step_summary("load_calendar", self._language()),
                **DATA_STEP)).calendar
        return None

    def _publish(self) -> CaseSummary:
        """One upsert of what changed, and the current details: what supervisors read in the Web UI. The
        clocks are viewed once for all of it; the summary is returned for an update to answer with."""
        case, now = self.case, workflow.now()
        views = case.clocks.views(case.setup.calendar if case.setup else None, now)
        summary = case.summary(now, views)
        facts = (sa.for_joined_report(case.joined_to) if case.joined_to
                 else sa.for_case(presentation.facts(case, now, summary)))
        # Only what changed; never "unset" what was never set (the time-skipping server stores that as null).
        values = {key: value for key, value in facts.items()
                  if self.published.get(key.name, None if value is None else object()) != value}
        if values:
            workflow.upsert_search_attributes(
                [key.value_set(v) if v is not None else key.value_unset() for key, v in values.items()])
            self.published.update({key.name: value for key, value in values.items()})
        workflow.set_current_details(presentation.current_details(case, now, summary, views))
        return summary

    # ---- when a data step fails ----

    async def _attempt(self, step: str, call: Callable[[], Awaitable[T]]) -> T | None:
        while not self.case.finished:
            try:
                result = await call()
            except StepFailed as err:
                if step == "intake" and kind(err) == "SealedDataError":
                    raise
                await self._recover(step, err)
                continue
            if self.case.attention and self.case.attention.step == step:
                self.case.attention = None  # healed
            return result
        return None

    async def _recover(self, step: str, err: StepFailed) -> None:
        """Flag the case; a permanent failure waits for a supervisor's retry (or reject), a transient one backs off."""
        async with self.lock:
            await self._flag(step, err)
        attention = self.case.attention
        if attention and attention.permanent:
            await workflow.wait_condition(lambda: self.case.attention is None or self.case.finished)
        else:
            waited = workflow.now() - (attention.since if attention else workflow.now())
            await workflow.sleep(min(max(BACKOFF_FIRST, waited), BACKOFF_CAP),
                                 summary=presentation.step_summary("retry", self._language(), step=step))

    async def _flag(self, step: str, err: StepFailed) -> None:
        """Mark the case as needing attention (caller holds the lock); a permanent failure tells the head of
        the bidang once, if Postgres lets us."""
        if not (self.case.attention and self.case.attention.step == step):
            self.case.attention = Attention(step=step, problem=problem(err), since=workflow.now(),
                                            permanent=is_permanent(err))
            if self.case.attention.permanent and self.case.setup:
                try:
                    await self._record(Step("needs_attention", "system", {"step": step, "problem": problem(err)},
                                            [Notice(f"head:{self.case.bidang}", "needs_attention")]))
                except StepFailed:
                    pass  # Postgres itself may be the problem: the search attribute and details still show it
        self._publish()

    def _language(self) -> str:
        return self.case.setup.language if self.case.setup else presentation.DEFAULT

    # ---- history and the reopen window ----

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > self.case.history_limit

    def _window_days(self) -> int:
        return self.case.setup.policy.reopen_window_days if self.case.setup else 0

    def _window_left(self) -> timedelta:
        finished = self.case.finished_at or workflow.now()
        return max(finished + timedelta(days=self._window_days()) - workflow.now(), timedelta(seconds=1))

    def _window_passed(self) -> bool:
        return self.case.finished and self._window_left() <= timedelta(seconds=1)
