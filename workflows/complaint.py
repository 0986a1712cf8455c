"""ComplaintWorkflow: one PPKS complaint, from intake to closure.

The life of a case, as `run` reads:
  1. set-up: the SLA policy, the working-day calendar and the officers it will run under;
  2. intake: the case row and its 'received' event, with a check for an open case of the same person;
  3. assignment to the pendamping who covers the village (a backup when they are on leave);
  4. the pendamping acknowledges, assesses in the field and refers the case to the bidang of its
     category; the head of that bidang resolves it; the pendamping or a supervisor closes it.
  While a step waits, its SLA clock runs: warnings, then escalation to the head of the bidang and
  to the kepala dinas, each recorded once. A closed case can be reopened within the policy's window.

Updates (each with a validator that refuses a wrong state or actor before history):
  acknowledge, assess, refer, resolve, close, reject, reassign, reopen, pause, resume, extend,
  change_policy. Query: state.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.case_activities import CaseActivities
    from referral import presentation, reference
    from referral.lifecycle import (
        ActionRefused, CaseFacts, check, check_reassign_target, clock_owner, escalation_target, head_of,
    )
    from referral.models import (
        FINISHED_STATUSES, Action, Assessment, CaseView, ClockView, ComplaintStart, Extension, PauseRequest,
        Reassignment, Referral, Rejection, Resolution, Status, TimelineEntry,
    )
    from referral.records import AssignRequest, CaseEvent, CaseSetup, IntakeRecord, SetupRequest
    from referral.sla import CLOCK_LABELS, Clock, ClockName, Milestone, Pause
    from workflows import search_attributes as sa

DB_CALL = dict(
    start_to_close_timeout=timedelta(seconds=30),
    # Postgres may be down for a while; every activity is idempotent, so retry without limit.
    retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=2)),
)
PENDAMPING_CLOCKS = (ClockName.ACKNOWLEDGEMENT, ClockName.VERIFICATION, ClockName.FOLLOW_UP_PLAN)


@workflow.defn(name="ComplaintWorkflow")
class ComplaintWorkflow:
    @workflow.init
    def __init__(self, start: ComplaintStart) -> None:
        intake = start.case
        village = reference.villages()[intake.village_code]
        self.complaint_id = start.complaint_id
        self.village = village
        self.category = intake.category
        self.bidang = reference.categories()[intake.category].bidang
        self.urgency = intake.urgency
        self.status = Status.RECEIVED
        self.pendamping_id: str | None = None
        self.escalation_level = 0
        self.needs_investigation = False
        self.duplicate_of: str | None = None
        self.finished_at: datetime | None = None
        self.clocks: list[Clock] = []
        self.timeline: list[TimelineEntry] = []
        self.breaches: dict[str, int] = {}  # breached clocks per pendamping, for auto-reassignment
        self.sequence = 0
        self.setup: CaseSetup | None = None
        self.ready = False  # no human action until the case is assigned and its clocks run
        self.lock = asyncio.Lock()
        self.changed = False

    @workflow.run
    async def run(self, start: ComplaintStart) -> CaseView:
        intake = start.case
        received_at = workflow.now()
        # The SLA counts from the report, not from when it was typed in (a Puskesos may enter it late).
        clock_start = min(intake.reported_at, received_at)
        self.setup = await workflow.execute_activity_method(
            CaseActivities.load_case_setup,
            SetupRequest(complaint_id=self.complaint_id, reported_on=clock_start.date()),
            summary="Load SLA policy, working-day calendar and roster",
            **DB_CALL,
        )
        intake_result = await workflow.execute_activity_method(
            CaseActivities.record_intake,
            IntakeRecord(
                complaint_id=self.complaint_id, workflow_id=workflow.info().workflow_id, case=intake,
                sealed_personal=start.sealed_personal,
                kecamatan=self.village.kecamatan, bidang=self.bidang, received_at=received_at,
            ),
            summary=f"Record intake: {reference.categories()[self.category].name} in {self.village.label}",
            **DB_CALL,
        )
        self.duplicate_of = intake_result.duplicate_of
        self._note("received", f"channel:{intake.channel.value}", {"duplicate_of": self.duplicate_of})

        async with self.lock:
            await self._assign(actor="system", exclude=[])
            self._start_clock(ClockName.ACKNOWLEDGEMENT, clock_start)
            self._start_clock(ClockName.VERIFICATION, clock_start)
            await self._record("sla_started", "system", {"clocks": self._clock_deadlines()}, {
                "policy_version": self.setup.policy.version, "calendar_version": self.calendar.version,
            })
            self.ready = True

        while True:
            await self._run_clocks_until_finished()
            window = timedelta(days=self.setup.policy.reopen_window_days)
            try:
                await workflow.wait_condition(
                    lambda: self.status not in FINISHED_STATUSES, timeout=window,
                    timeout_summary=f"Reopen window: {self.setup.policy.reopen_window_days} days",
                )
            except asyncio.TimeoutError:
                break
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state()

    # ---- the SLA loop ----

    async def _run_clocks_until_finished(self) -> None:
        while self.status not in FINISHED_STATUSES:
            upcoming = self._upcoming()
            self.changed = False
            if upcoming is None or upcoming[1].at > workflow.now():
                timeout = None if upcoming is None else upcoming[1].at - workflow.now()
                try:
                    await workflow.wait_condition(
                        lambda: self.changed or self.status in FINISHED_STATUSES,
                        timeout=timeout,
                        timeout_summary=self._timer_summary(upcoming),
                    )
                except asyncio.TimeoutError:
                    pass
            async with self.lock:
                await self._fire_due_milestones()

    def _upcoming(self) -> tuple[Clock, Milestone] | None:
        pending = [
            (m.at, clock, m)
            for clock in self.clocks
            for m in clock.milestones(self.calendar, self.setup.policy)
        ]
        if not pending:
            return None
        _, clock, milestone = min(pending, key=lambda item: item[0])
        return clock, milestone

    def _timer_summary(self, upcoming: tuple[Clock, Milestone] | None) -> str | None:
        if upcoming is None:
            return None
        clock, m = upcoming
        label = CLOCK_LABELS[clock.name]
        when = presentation.moment(m.at, self.calendar)
        if m.kind == "warning":
            return f"SLA: {label} warning ({m.key.split('_')[1]}%) {when}"
        if m.level == 1:
            return f"SLA: {label} due {when}"
        return f"SLA: {label} escalation to level {m.level} {when}"

    async def _fire_due_milestones(self) -> None:
        now = workflow.now()
        due = sorted(
            ((m.at, clock, m) for clock in self.clocks for m in clock.due(self.calendar, self.setup.policy, now)),
            key=lambda item: item[0],
        )
        for _, clock, m in due:
            clock.fired.append(m.key)
            label = CLOCK_LABELS[clock.name]
            detail = {"clock": clock.name.value, "run": clock.run, "milestone": m.key, "due_at": m.at.isoformat()}
            key = clock.event_key(m.key)
            if m.kind == "warning":
                recipient = clock_owner(clock.name.value, self._facts(), self.setup.officers)
                await self._record("sla_warning", "sla", detail, {}, key=key, at=m.at, notify={
                    recipient: f"{label} is {m.key.split('_')[1]}% through its time"})
                continue
            self.escalation_level = max(self.escalation_level, m.level)
            recipient = escalation_target(clock.name.value, m.level, self._facts(), self.setup.officers)
            detail["escalated_to"] = recipient
            await self._record(
                "sla_escalated", "sla", detail, {"escalation_level": self.escalation_level}, key=key, at=m.at,
                notify={recipient: f"{label} deadline passed: escalated to you (level {m.level})"},
            )
            if m.level == 1 and clock.name in PENDAMPING_CLOCKS and self.pendamping_id:
                await self._count_breach(self.pendamping_id)

    async def _count_breach(self, pendamping_id: str) -> None:
        self.breaches[pendamping_id] = self.breaches.get(pendamping_id, 0) + 1
        limit = self.setup.policy.auto_reassign_after_breaches
        if limit and self.breaches[pendamping_id] >= limit and self.status in (
            Status.ASSIGNED, Status.ACKNOWLEDGED, Status.ASSESSED
        ):
            await self._assign(actor="sla", exclude=[pendamping_id], reason=f"{limit} breaches by {pendamping_id}")

    # ---- human actions: validators refuse, handlers act ----

    @workflow.update
    async def acknowledge(self, action: Action) -> CaseView:
        return await self._step("acknowledge", action, Status.ACKNOWLEDGED, stop=[ClockName.ACKNOWLEDGEMENT])

    @acknowledge.validator
    def _validate_acknowledge(self, action: Action) -> None:
        self._check("acknowledge", action.actor)

    @workflow.update
    async def assess(self, assessment: Assessment) -> CaseView:
        async with self.lock:
            self._check("assess", assessment.actor)
            changes: dict[str, Any] = {"needs_investigation": assessment.needs_investigation}
            if assessment.category and assessment.category != self.category:
                self.category = assessment.category
                self.bidang = reference.categories()[assessment.category].bidang
                changes |= {"category": self.category, "bidang": self.bidang}
            self.needs_investigation = assessment.needs_investigation
            self._stop_clocks([ClockName.ACKNOWLEDGEMENT, ClockName.VERIFICATION])
            self._start_clock(ClockName.FOLLOW_UP_PLAN, workflow.now())
            detail = {"needs_investigation": assessment.needs_investigation, "verified": assessment.verified,
                      "category": self.category, "note": assessment.note}
            return await self._move(Status.ASSESSED, "assessed", assessment.actor, detail, changes)

    @assess.validator
    def _validate_assess(self, assessment: Assessment) -> None:
        self._check("assess", assessment.actor)

    @workflow.update
    async def refer(self, referral: Referral) -> CaseView:
        async with self.lock:
            self._check("refer", referral.actor)
            self._stop_clocks([ClockName.FOLLOW_UP_PLAN])
            self._start_clock(ClockName.COMPLETION, workflow.now())
            detail = {"bidang": self.bidang, "plan": referral.plan, "note": referral.note}
            return await self._move(Status.REFERRED, "referred", referral.actor, detail, {}, notify={
                head_of(self.setup.officers, self.bidang): f"case referred to {self.bidang}"})

    @refer.validator
    def _validate_refer(self, referral: Referral) -> None:
        self._check("refer", referral.actor)

    @workflow.update
    async def resolve(self, resolution: Resolution) -> CaseView:
        async with self.lock:
            self._check("resolve", resolution.actor)
            self._stop_clocks([ClockName.COMPLETION])
            detail = {"outcome": resolution.outcome.value, "note": resolution.note}
            return await self._move(Status.RESOLVED, "resolved", resolution.actor, detail,
                                    {"outcome": resolution.outcome.value})

    @resolve.validator
    def _validate_resolve(self, resolution: Resolution) -> None:
        self._check("resolve", resolution.actor)

    @workflow.update
    async def close(self, action: Action) -> CaseView:
        return await self._step("close", action, Status.CLOSED, stop=[])

    @close.validator
    def _validate_close(self, action: Action) -> None:
        self._check("close", action.actor)

    @workflow.update
    async def reject(self, rejection: Rejection) -> CaseView:
        async with self.lock:
            self._check("reject", rejection.actor)
            self._stop_clocks(list(ClockName))
            detail = {"reason": rejection.reason.value, "duplicate_of": rejection.duplicate_of, "note": rejection.note}
            changes = {"duplicate_of": rejection.duplicate_of} if rejection.duplicate_of else {}
            return await self._move(Status.REJECTED, "rejected", rejection.actor, detail, changes)

    @reject.validator
    def _validate_reject(self, rejection: Rejection) -> None:
        self._check("reject", rejection.actor)

    @workflow.update
    async def reassign(self, request: Reassignment) -> CaseView:
        async with self.lock:
            self._check("reassign", request.actor)
            self._check_reassign_target(request)
            await self._assign(actor=request.actor, to=request.pendamping_id, reason=request.note or "supervisor")
            return self.state()

    @reassign.validator
    def _validate_reassign(self, request: Reassignment) -> None:
        self._check("reassign", request.actor)
        self._check_reassign_target(request)

    def _check_reassign_target(self, request: Reassignment) -> None:
        try:
            check_reassign_target(request.pendamping_id, self._facts(), self.setup.officers)
        except ActionRefused as refused:
            raise ApplicationError(str(refused), type="ActionRefused", non_retryable=True) from None

    @workflow.update
    async def reopen(self, action: Action) -> CaseView:
        async with self.lock:
            self._check("reopen", action.actor)
            back_to = Status.REFERRED if self.status == Status.CLOSED else Status.ASSIGNED
            now = workflow.now()
            if back_to == Status.REFERRED:
                self._start_clock(ClockName.COMPLETION, now)
            else:
                self._start_clock(ClockName.ACKNOWLEDGEMENT, now)
                self._start_clock(ClockName.VERIFICATION, now)
            self.finished_at = None
            self.escalation_level = 0  # the earlier escalations stay in the audit trail
            owner = self.pendamping_id if back_to == Status.ASSIGNED else head_of(self.setup.officers, self.bidang)
            return await self._move(back_to, "reopened", action.actor, {"note": action.note, "status": back_to.value},
                                    {"closed_at": None, "escalation_level": 0}, notify={owner: "case reopened"})

    @reopen.validator
    def _validate_reopen(self, action: Action) -> None:
        self._check("reopen", action.actor)

    @workflow.update
    async def pause(self, request: PauseRequest) -> CaseView:
        async with self.lock:
            self._check("pause", request.actor)
            now = workflow.now()
            for clock in self._running():
                clock.pauses.append(Pause(started_at=now, reason=request.reason, actor=request.actor))
            return await self._move(self.status, "paused", request.actor, {"reason": request.reason}, {})

    @pause.validator
    def _validate_pause(self, request: PauseRequest) -> None:
        self._check("pause", request.actor)

    @workflow.update
    async def resume(self, action: Action) -> CaseView:
        async with self.lock:
            self._check("resume", action.actor)
            for clock in self._running():
                if clock.paused:
                    clock.pauses[-1].ended_at = workflow.now()
            detail = {"note": action.note, "clocks": self._clock_deadlines()}
            return await self._move(self.status, "resumed", action.actor, detail, {})

    @resume.validator
    def _validate_resume(self, action: Action) -> None:
        self._check("resume", action.actor)

    @workflow.update
    async def extend(self, extension: Extension) -> CaseView:
        async with self.lock:
            self._check("extend", extension.actor)
            self._check_extension(extension)  # again: the clock may have stopped while we waited
            clock = self._clock(extension.clock)
            clock.extension_seconds += extension.by.seconds(self.calendar)
            clock.rearm(self.calendar, self.setup.policy, workflow.now())
            detail = {"clock": extension.clock.value, "by": str(extension.by), "reason": extension.reason,
                      "deadline": _iso(clock.deadline(self.calendar))}
            return await self._move(self.status, "extended", extension.actor, detail, {})

    @extend.validator
    def _validate_extend(self, extension: Extension) -> None:
        self._check("extend", extension.actor)
        self._check_extension(extension)

    def _check_extension(self, extension: Extension) -> None:
        clock = self._clock(extension.clock)
        if clock is None:
            raise ApplicationError(f"the {extension.clock.value} clock is not running", type="ActionRefused",
                                   non_retryable=True)
        if extension.by.axis != clock.axis:
            raise ApplicationError(
                f"the {extension.clock.value} clock counts {clock.axis} time; extend it by {clock.axis} days or hours",
                type="ActionRefused", non_retryable=True,
            )

    @workflow.update
    async def change_policy(self, action: Action) -> CaseView:
        """Move this open case to the policy file now in force (its calendar stays)."""
        async with self.lock:
            self._check("change_policy", action.actor)
            fresh = await workflow.execute_activity_method(
                CaseActivities.load_case_setup,
                SetupRequest(complaint_id=self.complaint_id, reported_on=workflow.now().date()),
                summary="Load the SLA policy now in force", **DB_CALL,
            )
            old = self.setup.policy.version
            self.setup = CaseSetup(policy=fresh.policy, calendar=self.calendar, officers=fresh.officers,
                                   bidang_names=fresh.bidang_names)
            for clock in self._running():
                rule = fresh.policy.rule(clock.name, self.urgency, self.needs_investigation)
                replacement = Clock.start(clock.name, rule, self.calendar, clock.started_at, clock.run)
                if replacement.axis != clock.axis:
                    clock.extension_seconds = 0.0  # counted on the other axis: it cannot carry over
                clock.axis = replacement.axis
                clock.budget_seconds = replacement.budget_seconds
                clock.escalate_every_seconds = replacement.escalate_every_seconds
                clock.rearm(self.calendar, fresh.policy, workflow.now())
            detail = {"from": old, "to": fresh.policy.version, "clocks": self._clock_deadlines()}
            return await self._move(self.status, "policy_changed", action.actor, detail,
                                    {"policy_version": fresh.policy.version})

    @change_policy.validator
    def _validate_change_policy(self, action: Action) -> None:
        self._check("change_policy", action.actor)

    @workflow.update
    async def refresh_officers(self) -> CaseView:
        """Sent by `starter.py roster import` to open cases: who may act is the roster now in force."""
        async with self.lock:
            fresh = await workflow.execute_activity_method(
                CaseActivities.load_case_setup,
                SetupRequest(complaint_id=self.complaint_id, reported_on=workflow.now().date()),
                summary="Load the roster now in force", **DB_CALL,
            )
            if fresh.officers == self.setup.officers:
                return self.state()
            self.setup = CaseSetup(policy=self.setup.policy, calendar=self.calendar, officers=fresh.officers,
                                   bidang_names=fresh.bidang_names)
            await self._record("officers_refreshed", "roster", {"officers": len(fresh.officers)}, {})
            if self.pendamping_id not in fresh.officers and self.status not in FINISHED_STATUSES:
                await self._assign(actor="roster", exclude=[self.pendamping_id or ""],
                                   reason=f"{self.pendamping_id} left the roster")
            return self.state()

    @refresh_officers.validator
    def _validate_refresh_officers(self) -> None:
        if not self.ready or self.status in FINISHED_STATUSES:
            raise ApplicationError("only open, set-up cases take a new roster", type="ActionRefused",
                                   non_retryable=True)

    @workflow.query
    def state(self) -> CaseView:
        now = workflow.now()
        clocks = [
            ClockView(
                name=c.name,
                state="stopped" if not c.running else "paused" if c.paused else "running",
                deadline=c.deadline(self.calendar) if self.setup else None,
                breached=bool(self.setup) and c.breached(self.calendar, now),
                escalation_level=max((1 if k == "breach" else int(k.split("_")[1]) for k in c.fired
                                      if not k.startswith("warning")), default=0),
            )
            for c in self.clocks
        ]
        running = [v.deadline for v in clocks if v.state == "running" and v.deadline]
        return CaseView(
            complaint_id=self.complaint_id, status=self.status, village_code=self.village.code,
            village=self.village.label, kecamatan=self.village.kecamatan, category=self.category,
            bidang=self.bidang, pendamping_id=self.pendamping_id, urgency=self.urgency,
            escalation_level=self.escalation_level, sla_breached=any(v.breached for v in clocks),
            next_deadline=min(running, default=None),
            policy_version=self.setup.policy.version if self.setup else "",
            calendar_version=self.calendar.version if self.setup else "",
            duplicate_of=self.duplicate_of, clocks=clocks, timeline=list(self.timeline),
        )

    # ---- helpers ----

    @property
    def calendar(self):
        return self.setup.calendar

    def _facts(self) -> CaseFacts:
        officer = self.setup.officers.get(self.pendamping_id or "")
        return CaseFacts(
            status=self.status, pendamping_id=self.pendamping_id,
            pendamping_bidang=officer.bidang if officer else None, bidang=self.bidang,
            finished_at=self.finished_at, any_clock_running=bool(self._running()),
            any_clock_paused=any(c.paused for c in self._running()),
            reopen_window_days=self.setup.policy.reopen_window_days,
        )

    def _check(self, action: str, actor: str) -> None:
        if not self.ready:
            raise ApplicationError("the case is still being set up; try again in a moment", type="ActionRefused")
        try:
            check(action, actor, self._facts(), self.setup.officers, workflow.now())
        except ActionRefused as refused:
            raise ApplicationError(str(refused), type="ActionRefused", non_retryable=True) from None

    async def _step(self, action: str, request: Action, to: Status, stop: list[ClockName]) -> CaseView:
        async with self.lock:
            self._check(action, request.actor)
            self._stop_clocks(stop)
            return await self._move(to, to.value, request.actor, {"note": request.note}, {})

    async def _move(self, to: Status, event: str, actor: str, detail: dict, changes: dict,
                    notify: dict[str, str] | None = None) -> CaseView:
        now = workflow.now()
        if to != self.status:
            self.status = to
            changes = {"status": to.value, **changes}
            if to in (Status.ACKNOWLEDGED, Status.ASSESSED, Status.REFERRED, Status.RESOLVED):
                changes[f"{to.value}_at"] = now
            if to in FINISHED_STATUSES:
                self.finished_at = now
                changes["closed_at"] = now
        await self._record(event, actor, detail, changes, notify=notify)
        self.changed = True
        return self.state()

    async def _assign(self, actor: str, exclude: list[str] | None = None, to: str | None = None, reason: str = "") -> None:
        if to is None:
            choice = await workflow.execute_activity_method(
                CaseActivities.choose_pendamping,
                AssignRequest(complaint_id=self.complaint_id, village_code=self.village.code,
                              on=self.calendar.local(workflow.now()).date(), exclude=exclude or []),
                summary=f"Assign pendamping for {self.village.label}", **DB_CALL,
            )
            to, reason = choice.pendamping_id, reason or choice.reason
        previous, self.pendamping_id = self.pendamping_id, to
        changes: dict[str, Any] = {"pendamping_id": to}
        if self.status == Status.RECEIVED:
            self.status = Status.ASSIGNED
            changes |= {"status": Status.ASSIGNED.value, "assigned_at": workflow.now()}
        event = "assigned" if previous is None else "reassigned"
        await self._record(event, actor, {"pendamping_id": to, "previous": previous, "reason": reason}, changes,
                           notify={to: f"new case in {self.village.label}"})
        self.changed = True

    def _start_clock(self, name: ClockName, at: datetime) -> None:
        runs = [c.run for c in self.clocks if c.name == name]
        rule = self.setup.policy.rule(name, self.urgency, self.needs_investigation)
        self.clocks.append(Clock.start(name, rule, self.calendar, at, run=max(runs, default=0) + 1))

    def _stop_clocks(self, names: list[ClockName]) -> None:
        now = workflow.now()
        for clock in self._running():
            if clock.name in names:
                if clock.paused:
                    clock.pauses[-1].ended_at = now
                clock.stopped_at = now

    def _running(self) -> list[Clock]:
        return [c for c in self.clocks if c.running]

    def _clock(self, name: ClockName) -> Clock | None:
        return next((c for c in self._running() if c.name == name), None)

    def _clock_deadlines(self) -> dict[str, str | None]:
        return {c.name.value: _iso(c.deadline(self.calendar)) for c in self._running()}

    def _note(self, event: str, actor: str, detail: dict, at: datetime | None = None) -> None:
        self.timeline.append(TimelineEntry(at=at or workflow.now(), event=event, actor=actor,
                                           detail={k: v for k, v in detail.items() if v is not None}))

    async def _record(self, event: str, actor: str, detail: dict, changes: dict, *, key: str | None = None,
                      at: datetime | None = None, notify: dict[str, str] | None = None) -> None:
        """Add the event to the timeline, then write it (and the case row, and notifications) once."""
        self.sequence += 1
        at = at or workflow.now()
        self._note(event, actor, detail, at)
        view = self.state()
        notifications = [
            presentation.notification(recipient, text, view, self.calendar, workflow.now())
            for recipient, text in (notify or {}).items()
        ]
        await workflow.execute_activity_method(
            CaseActivities.record_event,
            CaseEvent(complaint_id=self.complaint_id, key=key or f"{self.sequence:03d}:{event}", event=event,
                      actor=actor, occurred_at=at, detail={k: v for k, v in detail.items() if v is not None},
                      case=changes, notifications=notifications),
            summary=presentation.record_summary(event, actor, detail), **DB_CALL,
        )
        self._publish()

    def _publish(self) -> None:
        view = self.state()
        workflow.upsert_search_attributes([
            sa.COMPLAINT_STATUS.value_set(view.status.value),
            sa.VILLAGE_CODE.value_set(view.village_code),
            sa.KECAMATAN.value_set(view.kecamatan),
            sa.URGENCY.value_set(view.urgency.value),
            sa.PENDAMPING_ID.value_set(view.pendamping_id or ""),
            sa.BIDANG.value_set(view.bidang),
            sa.PPKS_CATEGORY.value_set(view.category),
            sa.ESCALATION_LEVEL.value_set(view.escalation_level),
            sa.SLA_BREACHED.value_set(view.sla_breached),
            sa.NEXT_DEADLINE.value_set(view.next_deadline) if view.next_deadline else sa.NEXT_DEADLINE.value_unset(),
        ])
        workflow.set_current_details(presentation.current_details(view, self.calendar, self.setup.bidang_names))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
