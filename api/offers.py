"""Which actions a person may take on a case now, for the worklist page's forms. Pure.

The page offers exactly the actions the case itself would accept: each is run through the workflow's
own `referral.actions.refusal`, against a `CaseState` rebuilt from the state query (`CaseView`) and a
typical request of that action. The rebuilt state holds what `refusal` reads: status, pendamping,
bidang, whether the case is set up, what needs attention, which clocks run or are paused, and when a
finished case finished (for the reopen window). Whatever the person then types (a category, a clock,
a duration) is judged by the workflow's validator when the form is sent: a refusal there is a 409.
"""

from __future__ import annotations

from datetime import datetime

from referral import reference
from referral.setup import catalogues, village_ref
from referral.actions import RULES, refusal
from referral.calendar import WorkingCalendar
from referral.case import Attention, CaseSetup, CaseState, CategoryRef, VillageRef
from referral.intake import CaseOpening, Channel
from referral.models import (
    FINISHED_STATUSES, Action, Actor, Assessment, CaseView, Extension, PartnerNeed, PartnerReferralRequest, PauseRequest, Reassignment,
    Referral, Rejection, RejectReason, Resolution, Status,
)
from referral.sla import CaseClocks, Clock, ClockName, Duration, Pause, SlaPolicy

# The placeholder a typical reassignment names: any pendamping other than the one holding the case.
SOMEONE_ELSE = Actor(id="pendamping-lain", role="pendamping")


def form_setup(policy: SlaPolicy, calendar: WorkingCalendar, view: CaseView) -> CaseSetup:
    """What a case's own set-up would hold, from the policy in force and a current calendar."""
    known = reference.villages().get(view.village_code)
    village = (village_ref(view.village_code) if known
               else VillageRef(code=view.village_code, name=view.village, kind="desa", kecamatan=view.kecamatan))
    return CaseSetup(policy=policy, calendar=calendar, village=village, **catalogues(policy))


def clock_axis(setup: CaseSetup, view: CaseView, name: ClockName) -> str:
    """The axis a clock counts on under the policy (working time, or calendar time for urgent cases)."""
    if not setup.policy.has(name):
        return "calendar"
    return setup.policy.rule(name, view.urgency).due.axis


def rebuilt_clocks(view: CaseView, setup: CaseSetup, now: datetime) -> CaseClocks:
    """Clocks with the states the view shows; their lengths do not matter to `refusal`."""
    items = []
    for shown in view.clocks:
        clock = Clock(name=shown.name, axis=clock_axis(setup, view, shown.name), started_at=now,
                      budget_seconds=3600.0, escalate_every_seconds=3600.0)
        if shown.state == "paused":
            clock.pauses.append(Pause(started_at=now, reason="-", actor="-"))
        elif shown.state == "stopped":
            clock.stopped_at = now
        items.append(clock)
    return CaseClocks(items=items)


def finished_at(view: CaseView) -> datetime | None:
    """When a finished case closed or was rejected, if that step is on the page of timeline shown."""
    if view.status not in FINISHED_STATUSES:
        return None
    ends = [entry.at for entry in view.timeline if entry.event == view.status.value]
    return max(ends, default=None)


def case_state(view: CaseView, setup: CaseSetup, now: datetime) -> CaseState:
    opening = CaseOpening(channel=Channel(view.channel), village_code=view.village_code, category=view.category,
                          urgency=view.urgency, reported_at=now, conditions=list(view.conditions))
    attention = Attention(step="", problem=view.needs_attention, since=now) if view.needs_attention else None
    return CaseState(
        complaint_id=view.complaint_id, opening=opening, status=view.status, category=view.category,
        bidang=view.bidang, pendamping_id=view.pendamping_id, pendamping_bidang=view.pendamping_bidang,
        escalation_level=view.escalation_level, duplicate_of=view.duplicate_of, outcome=view.outcome,
        attention=attention, clocks=rebuilt_clocks(view, setup, now), setup=setup,
        finished_at=finished_at(view), ready=view.status != Status.RECEIVED,
        has_nik=view.has_nik, referrals=list(view.referrals), previous_case=view.previous_case,
    )


def typical_request(name: str, actor: Actor, case: CaseState) -> Action:
    """A request of this action as the form would send it, to ask `refusal` about."""
    if name == "assess":
        return Assessment(actor=actor)
    if name == "refer":
        return Referral(actor=actor, plan="rencana tindak lanjut")
    if name == "resolve":
        return Resolution(actor=actor, outcome="not_eligible")  # an outcome that needs nothing more
    if name == "refer_partner":
        taken = {r.partner for r in case.open_referrals()}
        free = next((code for code in case.setup.partners if code not in taken), "DINKES")
        return PartnerReferralRequest(actor=actor, partners=[PartnerNeed(partner=free, need="rujukan")])
    if name == "reject":
        return Rejection(actor=actor, reason=RejectReason.NOT_PPKS)
    if name == "reassign":
        return Reassignment(actor=actor, to=SOMEONE_ELSE)
    if name == "pause":
        return PauseRequest(actor=actor, reason="menunggu dokumen")
    if name == "extend":
        running = case.clocks.running()
        clock = running[0] if running else None
        name_ = clock.name if clock else ClockName.ACKNOWLEDGEMENT
        unit = "working_days" if clock is not None and clock.axis == "working" else "calendar_days"
        return Extension(actor=actor, clock=name_, by=Duration(amount=1, unit=unit), reason="perlu waktu")
    return RULES[name].request(actor=actor)


def offered_actions(view: CaseView, actor: Actor, setup: CaseSetup, now: datetime) -> list[str]:
    """The actions, in the order of the action table, that the case would accept from this actor now.

    `setup` is the policy in force and a calendar (`form_setup`): the extension and reopen checks run
    against them as the workflow runs them against the case's own."""
    case = case_state(view, setup, now)
    return [name for name in RULES if name not in NOT_ON_THE_PAGE
            and refusal(name, case, typical_request(name, actor, case), now) is None]


# Operator commands, not a form on one case: `starter.py calendar refresh` sends every open case the calendar.
NOT_ON_THE_PAGE = ("change_calendar",)
