"""ComplaintWorkflow: one PPKS complaint, from intake to closure.

The life of a case, as `run` reads:
  1. intake: the SLA policy, the working-day calendar and the village are fixed for the case; its row and
     'received' event are written, an open case of the same person is flagged, and the pendamping who
     covers the village is assigned, all in one step; the clocks start at the report;
  2. the pendamping acknowledges, assesses in the field and refers the case to the bidang of its category;
     the head of that bidang resolves it; the pendamping or a supervisor closes it (referral.actions);
  3. while a step waits, its SLA clock runs: warnings, then escalation to the head of the bidang and to the
     kepala dinas, each recorded once (referral.escalation);
  4. a closed case can be reopened within the policy's window; a long case continues as new.
A data step that fails for good puts the case in `needs_attention` for a supervisor to retry or reject.

Updates: the actions of referral.actions.RULES (one line each below), `opened` (the intake's receipt,
for update-with-start) and `roster_changed`. Query: `state`.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from referral import actions, escalation, presentation, records as rec, recording, sealing
    from referral.actions import Notice, Step
    from referral.case import Attention, CaseRecord, CaseState, ComplaintStart
    from referral.models import Action, CaseSummary, CaseView, Receipt, RosterChange, TimelineEntry, TimelinePage
    from referral.sla import ClockName
    from workflows import search_attributes as sa
    from workflows.clock_wait import until_due_or_changed
    from workflows.failures import StepFailed, is_permanent, kind, problem
    from workflows.updates import action_update

T = TypeVar("T")
# Postgres steps run as local activities inside the case's own workflow task. They retry a few times and
# then give up, so a case lock is never held for long; `_recover` decides what happens next.
DATA_STEP: dict[str, Any] = dict(
    start_to_close_timeout=timedelta(seconds=15), schedule_to_close_timeout=timedelta(seconds=45),
    retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=10), maximum_attempts=5,
                             non_retryable_error_types=["PermanentDataError"]),
)
BACKOFF_FIRST, BACKOFF_CAP = timedelta(seconds=30), timedelta(hours=1)
OPENING_CLOCKS = (ClockName.ACKNOWLEDGEMENT, ClockName.VERIFICATION, ClockName.OVERALL)


@workflow.defn(name="ComplaintWorkflow")
class ComplaintWorkflow:
    @workflow.init
    def __init__(self, start: ComplaintStart) -> None:
        self.case = start.carried or CaseState(complaint_id=start.complaint_id, opening=start.case,
                                               category=start.case.category)
        self.submission_id = start.submission_id
        self.lock = asyncio.Lock()
        self.changed = False  # wakes the SLA loop: a clock may have moved
        self.refused: str | None = None  # an intake that can never be recorded (its data does not open)
        self.published: dict[str, Any] = {}

    @workflow.run
    async def run(self, start: ComplaintStart) -> CaseSummary:
        if start.carried is None:
            await self._open(start)
        else:
            self._publish()
        while True:
            await self._follow_clocks()
            if self._history_is_long() or not await self._reopened_in_time():
                break
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._history_is_long() and not self._window_passed():
            workflow.continue_as_new(start.model_copy(update={"carried": self.case, "personal": None,
                                                              "sealed_personal": None}))
        return self.case.summary(workflow.now())

    # ---- 1. intake ----

    async def _open(self, start: ComplaintStart) -> None:
        case, info = self.case, workflow.info()
        case.received_at = workflow.now()
        clock_start = min(case.opening.reported_at, case.received_at)
        setup = await self._attempt("setup", lambda: workflow.execute_local_activity(
            rec.CASE_SETUP, rec.SetupRequest(complaint_id=case.complaint_id, village_code=case.opening.village_code,
                                             reported_on=clock_start.date()),
            result_type=rec.SetupResult, summary="Load SLA policy, working-day calendar and village", **DATA_STEP))
        if setup is None:
            return  # rejected while it waited for attention
        actions.set_up(case, setup)
        request = rec.OpenCaseRequest(
            complaint_id=case.complaint_id, workflow_id=info.workflow_id, run_id=info.first_execution_run_id,
            opening=case.opening, sealed_personal=start.sealed_personal, personal=start.personal,
            received_at=case.received_at, assign_on=case.setup.calendar.local(case.received_at).date(),
        )
        try:
            opened = await self._attempt("intake", lambda: workflow.execute_local_activity(
                rec.OPEN_CASE, request, result_type=rec.OpenedCase, **DATA_STEP,
                summary=f"Record intake and assign: {case.category_name} in {case.setup.village.label}"))
        except StepFailed as err:  # nothing was stored: the sender is told, and may send it again
            self.refused = problem(err)
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise ApplicationError(f"intake refused: {self.refused}", type="IntakeRefused", non_retryable=True) from None
        if opened is None:
            return
        step = actions.opened(case, opened, start=clock_start, now=workflow.now(), clocks=OPENING_CLOCKS)
        if await self._attempt("assignment", lambda: self._record(step)) is not None:
            case.ready = True  # ready for its first action in the step that assigns it
            self._publish()

    # ---- 3. the SLA loop ----

    async def _follow_clocks(self) -> None:
        while not self.case.finished and not self._history_is_long():
            setup = self.case.setup
            upcoming = self.case.clocks.next_milestone(setup.calendar, setup.policy) if setup else None
            self.changed = False
            await until_due_or_changed(
                upcoming[1].at if upcoming else None,
                lambda: self.changed or self.case.finished or self._history_is_long(),
                presentation.timer_summary(upcoming, setup.calendar) if upcoming else None,
            )
            async with self.lock:
                failure = await self._fire_due()
            if failure:
                await self._recover("sla", failure)

    async def _fire_due(self) -> StepFailed | None:
        case, now = self.case, workflow.now()
        if case.finished or not case.ready:
            return None
        for clock, milestone in case.clocks.due(case.setup.calendar, case.setup.policy, now):
            snapshot = case.model_copy(deep=True)
            try:
                await self._record(escalation.fire(case, clock, milestone, now))
                if escalation.reassign_after_breaches(case):
                    limit = case.setup.policy.auto_reassign_after_breaches
                    await self._reassign([case.pendamping_id], "sla", f"{limit} breaches by {case.pendamping_id}")
            except StepFailed as err:
                self.case = snapshot
                return err
        self._publish()
        return None

    async def _reopened_in_time(self) -> bool:
        try:
            await workflow.wait_condition(
                lambda: not self.case.finished or self._history_is_long(), timeout=self._window_left(),
                timeout_summary=f"Reopen window: {self._window_days()} days")
        except asyncio.TimeoutError:
            return False
        return True

    # ---- 2. human actions: validators refuse, one path acts ----

    acknowledge = action_update("acknowledge")
    assess = action_update("assess")
    refer = action_update("refer")
    resolve = action_update("resolve")
    close = action_update("close")
    reject = action_update("reject")
    reassign = action_update("reassign")
    reopen = action_update("reopen")
    pause = action_update("pause")
    resume = action_update("resume")
    extend = action_update("extend")
    change_policy = action_update("change_policy")
    retry = action_update("retry")

    def _refuse(self, name: str, request: Action) -> None:
        why = actions.refusal(name, self.case, request, workflow.now()) or sealing.refusal(request)
        if why:
            raise ApplicationError(why, type="ActionRefused", non_retryable=True)

    async def _act(self, name: str, request: Action) -> CaseSummary:
        async with self.lock:
            self._refuse(name, request)  # again: the case may have moved while this update waited
            snapshot = self.case.model_copy(deep=True)
            try:
                fetched = await self._fetch(actions.RULES[name].needs)
                await self._record(actions.apply(name, self.case, request, workflow.now(), fetched))
            except StepFailed as err:
                self.case = snapshot
                raise ApplicationError(f"{name} was not recorded ({problem(err)}); nothing changed, "
                                       "try again", type="NotRecorded", non_retryable=True) from None
            self._publish()
            self.changed = True
            return self.case.summary(workflow.now())

    @workflow.update
    async def opened(self, submission_id: str) -> Receipt:
        """The intake's receipt: waits until the case is assigned (or cannot be), so a sender is only told
        `received` once the complaint is safely recorded."""
        await workflow.wait_condition(
            lambda: self.case.ready or bool(self.case.attention) or self.case.finished or bool(self.refused))
        if self.refused:
            raise ApplicationError(f"intake refused: {self.refused}", type="IntakeRefused", non_retryable=True)
        return presentation.receipt(self.case, repeat=submission_id != self.submission_id)

    @workflow.update
    async def roster_changed(self, change: RosterChange) -> CaseSummary:
        """Sent by `starter.py roster import`: a case whose pendamping left the roster goes to who covers it now."""
        async with self.lock:
            if self.case.pendamping_id in change.left and self.case.status in actions.WITH_PENDAMPING + ("referred",):
                await self._reassign([self.case.pendamping_id or ""], "roster", f"{self.case.pendamping_id} left the roster")
                self._publish()
            return self.case.summary(workflow.now())

    @roster_changed.validator
    def _validate_roster_changed(self, change: RosterChange) -> None:
        if not self.case.ready or self.case.finished:
            raise ApplicationError("only open, set-up cases take a roster change", type="ActionRefused", non_retryable=True)

    @workflow.query
    def state(self, page: TimelinePage | None = None) -> CaseView:
        return self.case.view(workflow.now(), page)

    @workflow.query
    def record(self) -> CaseRecord:
        return self.case.record(workflow.info().workflow_id)

    # ---- recording: every step goes to Postgres once, then to the UI ----

    async def _record(self, step: Step) -> rec.Recorded:
        case, now = self.case, workflow.now()
        if step.key is None:  # fixed on the first attempt, so a retry writes the same event
            case.sequence += 1
            step.key = f"{case.sequence:04d}:{step.event}"
        at = step.at or now
        event = recording.case_event(case, step, key=step.key, at=at, now=now, workflow_id=workflow.info().workflow_id)
        recorded = await workflow.execute_local_activity(
            rec.RECORD_EVENT, event, result_type=rec.Recorded, summary=presentation.record_summary(step), **DATA_STEP)
        detail = {k: recorded.recipients.get(v, v) if k == "escalated_to" else v for k, v in event.detail.items()}
        case.note(TimelineEntry(at=at, event=step.event, actor=step.actor, detail=detail, key=step.key))
        return recorded

    async def _record_or_flag(self, step: Step) -> None:
        try:
            await self._record(step)
        except StepFailed as err:  # the case goes on; the gap in sequence numbers is harmless
            await self._flag(step.event, err)

    async def _reassign(self, exclude: list[str], actor: str, reason: str) -> None:
        case = self.case
        choice = await workflow.execute_local_activity(
            rec.CHOOSE_PENDAMPING, rec.AssignRequest(
                complaint_id=case.complaint_id, village_code=case.opening.village_code,
                on=case.setup.calendar.local(workflow.now()).date(), exclude=exclude),
            result_type=rec.Assignment, summary=f"Choose a pendamping for {case.setup.village.label}", **DATA_STEP)
        detail = actions.assign(case, choice.pendamping_id, choice.bidang, workflow.now(), reason or choice.reason)
        await self._record(Step("reassigned", actor, detail, [Notice(choice.pendamping_id, "assigned")]))
        self.changed = True

    async def _fetch(self, needs: str | None) -> Any:
        if needs != "policy":
            return None
        result = await workflow.execute_local_activity(
            rec.LOAD_POLICY, rec.PolicyRequest(complaint_id=self.case.complaint_id), result_type=rec.PolicyResult,
            summary="Load the SLA policy now in force", **DATA_STEP)
        return result.policy

    def _publish(self) -> None:
        # Only what changed; never "unset" what was never set (the time-skipping server stores that as null).
        values = {key: value for key, value in sa.for_case(presentation.facts(self.case, workflow.now())).items()
                  if self.published.get(key.name, None if value is None else object()) != value}
        if values:
            workflow.upsert_search_attributes(
                [key.value_set(v) if v is not None else key.value_unset() for key, v in values.items()])
            self.published.update({key.name: value for key, value in values.items()})
        workflow.set_current_details(presentation.current_details(self.case, workflow.now()))

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
                                 summary=f"Retry '{step}' after a transient failure")

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

