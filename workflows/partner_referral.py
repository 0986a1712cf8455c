"""PartnerReferralWorkflow: a sub-case sent to a partner office, a child of its ComplaintWorkflow.

Its id is `complaint-<id>-ref-<n>`. It records that the referral was sent (and tells the office), then runs the
referral's own clock on the case's working-day calendar until the office answers: at the deadline the office
is reminded and the referral is overdue; one `escalate_every` later the head of the responsible bidang is
alerted. Each step is recorded once in the case's trail and in its own row; every status change is signalled
to the case. When the case is closed or rejected it signals `withdraw`, and this workflow tells the office the referral
is withdrawn. Updates: accept, done, refuse (referral.partner_referrals). Signal: withdraw (from the case).
Query: state.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from referral import partner_referrals as rules, presentation, records as rec, sealing
    from referral.models import ReferralChanged
    from referral.partner_referrals import (
        PartnerAnswer, PartnerDone, PartnerRefusal, ReferralAnswer, ReferralStart, ReferralState,
    )
    from referral.sla import ClockName
    from workflows import search_attributes as sa
    from workflows.clock_wait import until_due_or_changed

# Unlike a case's own steps, a sub-case may simply keep retrying: nothing waits behind its lock for long.
RECORD = dict(start_to_close_timeout=timedelta(seconds=15),
              retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5),
                                       non_retryable_error_types=["PermanentDataError", "SealedDataError"]))


@workflow.defn(name="PartnerReferralWorkflow")
class PartnerReferralWorkflow:
    @workflow.init
    def __init__(self, start: ReferralStart) -> None:
        self.state = ReferralState(start=start)
        self.lock = asyncio.Lock()
        self.changed = False
        self.withdrawn = False

    @workflow.run
    async def run(self, start: ReferralStart) -> ReferralAnswer:
        rules.start_clock(self.state)
        async with self.lock:
            await self._record("referral_sent", start.sent_by, {"partner": start.partner.code, "need": start.need,
                                                                "required": start.required}, [start.partner.recipient_id])
        while not self.state.finished and not self.withdrawn:
            clock = self.state.clocks.get(ClockName.REFERRAL)
            upcoming = clock.milestones(start.calendar, rules.POLICY) if clock else []
            self.changed = False
            await until_due_or_changed(upcoming[0].at if upcoming else None,
                                       lambda: self.changed or self.state.finished or self.withdrawn,
                                       f"Referral to {start.partner.code}: {upcoming[0].label} due" if upcoming else None)
            async with self.lock:
                for milestone in (clock.due(start.calendar, rules.POLICY, workflow.now()) if clock else []):
                    detail, event, recipient = rules.fire(self.state, milestone)
                    await self._record(event, "sla", detail, [recipient], at=milestone.at)
        if self.withdrawn and not self.state.finished:  # the case was closed or rejected: tell the office, once
            async with self.lock:
                await self._record("referral_withdrawn", "system", rules.withdraw(self.state, workflow.now()),
                                   [start.partner.recipient_id])
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._answer_view()

    @workflow.signal
    def withdraw(self) -> None:
        """The case no longer needs this referral (it was closed or rejected)."""
        self.withdrawn = True

    # ---- the office's answers (or an officer recording them) ----

    @workflow.update
    async def accept(self, request: PartnerAnswer) -> ReferralAnswer:
        return await self._answer("accept", request)

    @accept.validator
    def _validate_accept(self, request: PartnerAnswer) -> None:
        self._refuse("accept", request)

    @workflow.update
    async def done(self, request: PartnerDone) -> ReferralAnswer:
        return await self._answer("done", request)

    @done.validator
    def _validate_done(self, request: PartnerDone) -> None:
        self._refuse("done", request)

    @workflow.update
    async def refuse(self, request: PartnerRefusal) -> ReferralAnswer:
        return await self._answer("refuse", request)

    @refuse.validator
    def _validate_refuse(self, request: PartnerRefusal) -> None:
        self._refuse("refuse", request)

    @workflow.query
    def state(self) -> ReferralState:
        return self.state

    def _refuse(self, action: str, request: PartnerAnswer) -> None:
        why = rules.refusal(action, self.state, request) or sealing.refusal(request)
        if why:
            raise ApplicationError(why, type="ActionRefused", non_retryable=True)

    def _answer_view(self) -> ReferralAnswer:
        start = self.state.start
        return ReferralAnswer(n=start.n, partner=start.partner.code, status=self.state.status)

    async def _answer(self, action: str, request: PartnerAnswer) -> ReferralAnswer:
        async with self.lock:
            self._refuse(action, request)
            detail = rules.answer(action, self.state, request, workflow.now())
            nik = request.nik if isinstance(request, PartnerDone) else None
            tell = [f"head:{self.state.start.partner.bidang}"] if action == "refuse" else []
            await self._record(f"referral_{self.state.status}", request.actor.id, detail, tell, nik=nik)
            self.changed = True
            return self._answer_view()

    # ---- recording, and telling the case ----

    async def _record(self, event: str, actor: str, detail: dict[str, Any], tell: list[str], at=None,
                      nik: str | None = None) -> None:
        start, state = self.state.start, self.state
        key = state.event_key(event)
        clock = state.clocks.get(ClockName.REFERRAL)
        due = clock.deadline(start.calendar) if clock else None
        now = workflow.now()
        not_before = now if start.urgency == "emergency" else start.calendar.next_office_moment(now)
        recorded = await workflow.execute_local_activity(
            rec.RECORD_REFERRAL, rec.ReferralEvent(
                complaint_id=start.complaint_id, n=start.n, partner=start.partner.code,
                workflow_id=workflow.info().workflow_id, key=key, event=event, actor=actor, occurred_at=at or now,
                status=state.status, required=start.required, due_at=due,
                detail={k: v for k, v in detail.items() if v is not None}, nik=nik,
                notices=[rec.NoticeRequest(recipient=r, kind=event, not_before=not_before,
                                           facts={"partner": start.partner.name, "due_at": due.isoformat() if due else None})
                         for r in tell],
                context=rec.NoticeContext(complaint_id=start.complaint_id, village=start.village, kecamatan=start.kecamatan,
                                          category=start.category, category_name=start.category_name,
                                          urgency=start.urgency, status=state.status, deadline=due,
                                          utc_offset_minutes=start.calendar.utc_offset_minutes,
                                          language=start.language),
                local_date=start.calendar.local(now).date()),
            result_type=rec.ReferralRecorded, **RECORD,
            summary=presentation.step_summary("partner_referral", start.language, partner=start.partner.code,
                                              event=event.replace("_", " ")))
        workflow.upsert_search_attributes([
            sa.REFERRAL_STATUS.value_set(state.status), sa.REFERRAL_PARTNERS.value_set([start.partner.code]),
            sa.KECAMATAN.value_set(start.kecamatan), sa.VILLAGE_CODE.value_set(start.village_code),
            sa.NEXT_DEADLINE.value_set(due) if due and not state.finished else sa.NEXT_DEADLINE.value_unset(),
        ])
        await workflow.get_external_workflow_handle(start.parent_workflow_id).signal(
            "referral_changed", ReferralChanged(n=start.n, status=state.status, at=at or now, key=key,
                                                nik_recorded=recorded.nik_recorded, duplicate_of=recorded.duplicate_of))
