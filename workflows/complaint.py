"""ComplaintWorkflow: one PPKS complaint, from intake to closure.

The life of a case, as `run` reads:
  1. intake: the SLA policy, the working-day calendar and the village are fixed for the case; its row and
     'received' event are written and the pendamping who covers the village is assigned; the clocks start at
     the report. A further report of the same person and category while a case is open joins that case
     instead. A subject without a NIK is referred to Disdukcapil at once;
  2. the pendamping acknowledges, assesses in the field and refers the case to the bidang of its category
     (and to partner offices: each a sub-case with its own clock); the head of that bidang resolves it with an
     outcome; the pendamping or a supervisor closes it (referral.actions);
  3. while a step waits, its SLA clock runs: warnings, then escalation to the head of the bidang and to the
     kepala dinas, each recorded once (referral.escalation);
  4. a closed case can be reopened within the policy's window; a long case continues as new.
A data step that fails for good puts the case in `needs_attention` for a supervisor to retry or reject
(workflows/case_steps.py holds that machinery).

Updates: the actions of referral.actions.RULES (one line each below), `opened` (the intake's receipt, for
update-with-start) and `roster_changed`. Signals: `referral_changed` (from a sub-case), `report_joined`
(from a further report). Queries: `state`, `record`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from referral import actions, escalation, presentation, records as rec, sealing
    from referral.case import CaseRecord, CaseState, ComplaintStart
    from referral.models import (
        Action, CaseSummary, CaseView, Receipt, ReferralChanged, ReportJoined, RosterChange, Status, TimelineEntry,
        TimelinePage,
    )
    from referral.sla import ClockName
    from workflows.case_steps import DATA_STEP, CaseSteps
    from workflows.clock_wait import until_due_or_changed
    from workflows.failures import StepFailed, problem
    from workflows.updates import action_update

OPENING_CLOCKS = (ClockName.ACKNOWLEDGEMENT, ClockName.VERIFICATION, ClockName.OVERALL)


@workflow.defn(name="ComplaintWorkflow")
class ComplaintWorkflow(CaseSteps):
    @workflow.init
    def __init__(self, start: ComplaintStart) -> None:
        self.case = start.carried or CaseState(complaint_id=start.complaint_id, opening=start.case,
                                               category=start.case.category)
        self.submission_id = start.submission_id
        self.lock = asyncio.Lock()
        self.changed = False  # wakes the SLA loop: a clock may have moved
        self.awake_until = None
        self.refused: str | None = None  # an intake that can never be recorded (its data does not open)
        self.published: dict[str, Any] = {}
        self.pending = []

    @workflow.run
    async def run(self, start: ComplaintStart) -> CaseSummary:
        if start.carried is None:
            await self._open(start)
        else:
            self._publish()
        while not self.case.joined_to:
            await self._follow_clocks()
            await self._start_and_withdraw()  # a finished case withdraws its open sub-cases
            if self._history_is_long() or not await self._reopened_in_time():
                break
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._start_and_withdraw()
        if self._history_is_long() and not self._window_passed() and not self.case.joined_to:
            workflow.continue_as_new(start.model_copy(update={"carried": self.case, "personal": None,
                                                              "sealed_personal": None}))
        return self.case.summary(workflow.now())

    # ---- 1. intake ----

    async def _open(self, start: ComplaintStart) -> None:
        case, info = self.case, workflow.info()
        case.workflow_id, case.received_at = info.workflow_id, workflow.now()
        clock_start = min(case.opening.reported_at, case.received_at)
        setup = await self._attempt("setup", lambda: workflow.execute_local_activity(
            rec.CASE_SETUP, rec.SetupRequest(complaint_id=case.complaint_id, village_code=case.opening.village_code,
                                             reported_on=clock_start.date()),
            result_type=rec.SetupResult, summary=presentation.step_summary("setup", self._language()), **DATA_STEP))
        if setup is None:
            return  # rejected while it waited for attention
        actions.set_up(case, setup)
        request = rec.OpenCaseRequest(
            complaint_id=case.complaint_id, workflow_id=info.workflow_id, run_id=info.first_execution_run_id,
            opening=case.opening, sealed_personal=start.sealed_personal, personal=start.personal,
            received_at=case.received_at, assign_on=case.setup.calendar.local(case.received_at).date(),
        )
        language = self._language()
        summary = presentation.step_summary("intake", language, village=case.setup.village.label,
                                            category=presentation.shown_category(case.category, language))
        try:
            opened = await self._attempt("intake", lambda: workflow.execute_local_activity(
                rec.OPEN_CASE, request, result_type=rec.OpenedCase, **DATA_STEP, summary=summary))
        except StepFailed as err:  # nothing was stored: the sender is told, and may send it again
            self.refused = problem(err)
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise ApplicationError(f"intake refused: {self.refused}", type="IntakeRefused", non_retryable=True) from None
        # Recorded (encrypted) in Postgres: the worker does not hold the personal data for the case's whole life.
        start.personal = start.sealed_personal = None
        if opened is None:
            return
        self._finished(opened.finished_at)
        if opened.joined_to:  # a further report of an open case: that case hears of it, this one ends
            actions.joined(case, opened, workflow.now())
            await workflow.get_external_workflow_handle(opened.joined_workflow_id).signal(
                ComplaintWorkflow.report_joined, ReportJoined(workflow_id=info.workflow_id, key=opened.joined_key,
                                                               channel=case.opening.channel.value,
                                                               received_at=case.received_at))
            self._publish()
            return
        step = actions.opened(case, opened, start=clock_start, now=workflow.now(), clocks=OPENING_CLOCKS)
        if await self._attempt("assignment", lambda: self._record(step)) is not None:
            case.ready = True  # ready for its first action in the step that assigns it
            self._publish()
            nik_step = actions.nik_first(case, workflow.now())
            if nik_step:
                async with self.lock:
                    await self._record_or_flag(nik_step)
                    self._publish()
                await self._start_and_withdraw()

    # ---- 3. the SLA loop ----

    async def _follow_clocks(self) -> None:
        while not self.case.finished and not self._history_is_long():
            setup = self.case.setup
            upcoming = self.case.clocks.next_milestone(setup.calendar, setup.policy) if setup else None
            self.changed = False
            await until_due_or_changed(
                upcoming[1].at if upcoming else None,
                lambda: self.changed or self.case.finished or self._history_is_long(),
                presentation.timer_summary(upcoming, setup.calendar, setup.language) if upcoming else None,
                counting_from=self._now_for_timers(),
            )
            await self._start_and_withdraw()
            async with self.lock:
                failure = await self._fire_due()
            if failure:
                await self._recover("sla", failure)

    async def _fire_due(self) -> StepFailed | None:
        """Record every milestone now due (caller holds the lock); the first failure stops and is returned."""
        if self.case.finished or not self.case.ready:
            return None
        # A transient SLA failure flagged earlier is cleared by trying again (and put back if it fails again).
        flagged = self.case.attention if self.case.attention and self.case.attention.step == "sla" else None
        if flagged and not flagged.permanent:
            self.case.attention = None
        case, now = self.case, workflow.now()
        for clock, milestone in case.clocks.due(case.setup.calendar, case.setup.policy, now):
            snapshot = case.snapshot()
            try:
                await self._record(escalation.fire(case, clock, milestone, now))
                if escalation.reassign_after_breaches(case):
                    limit = case.setup.policy.auto_reassign_after_breaches
                    await self._reassign([case.pendamping_id], "sla", f"{limit} breaches by {case.pendamping_id}")
            except StepFailed as err:
                self.case = snapshot
                self.case.attention = flagged or self.case.attention
                return err
        self._publish()
        return None

    async def _reopened_in_time(self) -> bool:
        try:
            await workflow.wait_condition(
                lambda: not self.case.finished or self._history_is_long(), timeout=self._window_left(),
                timeout_summary=presentation.step_summary("reopen_window", self._language(), days=self._window_days()))
        except asyncio.TimeoutError:
            return False
        return True

    # ---- 2. human actions: validators refuse, one path acts ----

    acknowledge = action_update("acknowledge")
    assess = action_update("assess")
    refer = action_update("refer")
    refer_partner = action_update("refer_partner")
    resolve = action_update("resolve")
    close = action_update("close")
    reject = action_update("reject")
    reassign = action_update("reassign")
    reopen = action_update("reopen")
    pause = action_update("pause")
    resume = action_update("resume")
    extend = action_update("extend")
    change_policy = action_update("change_policy")
    change_calendar = action_update("change_calendar")
    retry = action_update("retry")

    def _refuse(self, name: str, request: Action) -> None:
        why = actions.refusal(name, self.case, request, workflow.now()) or sealing.refusal(request)
        if why:
            raise ApplicationError(why, type="ActionRefused", non_retryable=True)

    async def _act(self, name: str, request: Action) -> CaseSummary:
        async with self.lock:
            self._refuse(name, request)  # again: the case may have moved while this update waited
            # A milestone already due is recorded first: an action that stops its clock must not erase it.
            failure = await self._fire_due()
            if failure:
                raise ApplicationError(f"{name} was not recorded ({problem(failure)}); nothing changed, try again",
                                       type="NotRecorded", non_retryable=True)
            self._refuse(name, request)  # and again: a breach may have handed the case to someone else
            snapshot = self.case.snapshot()
            try:
                fetched = await self._fetch(actions.RULES[name].needs)
                step = actions.apply(name, self.case, request, workflow.now(), fetched)
                if step is not None:
                    await self._record(step)
            except StepFailed as err:
                self.case = snapshot
                raise ApplicationError(f"{name} was not recorded ({problem(err)}); nothing changed, "
                                       "try again", type="NotRecorded", non_retryable=True) from None
            summary = self._publish()
            self.changed = True
            return summary

    @workflow.update
    async def opened(self, submission_id: str) -> Receipt:
        """The intake's receipt: waits until the case is assigned (or joined another, or cannot be), so a sender
        is only told `received` once the complaint is safely recorded."""
        await workflow.wait_condition(
            lambda: self.case.ready or bool(self.case.attention) or self.case.finished or bool(self.refused))
        if self.refused:
            raise ApplicationError(f"intake refused: {self.refused}", type="IntakeRefused", non_retryable=True)
        return presentation.receipt(self.case, repeat=submission_id != self.submission_id)

    @workflow.update
    async def roster_changed(self, change: RosterChange) -> CaseSummary:
        """Sent by `starter.py roster import`: a case whose pendamping left the roster goes to who covers it now."""
        async with self.lock:
            if self.case.pendamping_id in change.left and self.case.status in actions.WITH_PENDAMPING + (Status.REFERRED,):
                await self._reassign([self.case.pendamping_id or ""], "roster", f"{self.case.pendamping_id} left the roster")
                self._publish()
            return self.case.summary(workflow.now())

    @roster_changed.validator
    def _validate_roster_changed(self, change: RosterChange) -> None:
        if not self.case.ready or self.case.finished:
            raise ApplicationError("only open, set-up cases take a roster change", type="ActionRefused", non_retryable=True)

    @workflow.signal
    def referral_changed(self, change: ReferralChanged) -> None:
        """A sub-case's status changed (it recorded the step itself); a NIK registration lets NIK steps go on."""
        actions.referral_changed(self.case, change.n, change.status, change.nik_recorded, change.duplicate_of)
        self.case.note(TimelineEntry(at=change.at, event=f"referral_{change.status}", actor=f"ref-{change.n}",
                                     detail={"n": change.n, "nik_recorded": change.nik_recorded or None}, key=change.key))
        self.changed = True
        self._publish()

    @workflow.signal
    def report_joined(self, report: ReportJoined) -> None:
        """A further report of the same person and category joined this case (its intake recorded the event)."""
        self.case.reports += 1
        self.case.note(TimelineEntry(at=report.received_at, event="report_joined", actor=f"channel:{report.channel}",
                                     detail={"report": report.workflow_id}, key=report.key))
        self._publish()

    @workflow.query
    def state(self, page: TimelinePage | None = None) -> CaseView:
        return self.case.view(workflow.now(), page)

    @workflow.query
    def record(self) -> CaseRecord:
        return self.case.record(workflow.info().workflow_id)
