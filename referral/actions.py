"""The table of human actions: for each, the states it is allowed from, who may take it, the clocks it
stops and starts, the event it records and who is told. Pure: the workflow runs every action through
`refusal` (its update validators, and again under the case lock) and `apply`.

    received -> assigned -> acknowledged -> assessed -> referred -> resolved -> closed
                (pendamping)  (pendamping)  (pendamping)  (head of bidang)  (pendamping or supervisor)

A supervisor (a head of a bidang involved in the case, or the kepala dinas) may reject or reassign an
open case, pause, resume or extend its clocks, move it to a new policy, and reopen it within the window.
Adding an action is one row below and its input model in referral.models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Callable

from referral.case import CaseState
from referral.interning import share
from referral.records import OpenedCase, SetupResult
from referral.models import (
    FINISHED_STATUSES, OPEN_STATUSES, Action, Actor, Assessment, Closing, Extension, PartnerReferralRequest,
    PauseRequest, Reassignment, Referral, ReferralRef, RejectReason, Rejection, Resolution, Status,
)
from referral.partner_referrals import PartnerRef, ReferralStart
from referral.sla import ClockError, ClockName

ALL_CLOCKS = tuple(ClockName)
WORKING = (Status.ASSIGNED, Status.ACKNOWLEDGED, Status.ASSESSED, Status.REFERRED, Status.RESOLVED)
WITH_PENDAMPING = (Status.ASSIGNED, Status.ACKNOWLEDGED, Status.ASSESSED)


class Who(StrEnum):
    PENDAMPING = "the assigned pendamping"
    RESPONSIBLE_HEAD = "the head of the responsible bidang or the kepala dinas"
    PENDAMPING_OR_SUPERVISOR = "the assigned pendamping or a supervisor"
    SUPERVISOR = "the head of the bidang or the kepala dinas"
    SYSTEM = "the system"


def allowed(who: Who, actor: Actor, case: CaseState) -> bool:
    pendamping = actor.role == "pendamping" and actor.id == case.pendamping_id
    supervisor = actor.role == "kepala_dinas" or (
        actor.role == "head_of_bidang" and actor.bidang in (case.bidang, case.pendamping_bidang))
    return {
        Who.PENDAMPING: pendamping,
        Who.RESPONSIBLE_HEAD: actor.role == "kepala_dinas" or (
            actor.role == "head_of_bidang" and actor.bidang == case.bidang),
        Who.PENDAMPING_OR_SUPERVISOR: pendamping or supervisor,
        Who.SUPERVISOR: supervisor,
        Who.SYSTEM: actor.role == "system",
    }[who]


@dataclass(frozen=True)
class Notice:
    """Tell someone: an officer id, `head:<bidang>`, `kepala_dinas` or `piket`, resolved by the data layer."""

    recipient: str
    kind: str
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class Step:
    """What an action (or a clock) did, to be recorded once: the event, its detail, who is told, and the
    sub-cases to start (partner referrals) or to withdraw once it is recorded."""

    event: str
    actor: str
    detail: dict[str, Any]
    notices: list[Notice] = field(default_factory=list)
    key: str | None = None
    at: datetime | None = None
    children: list[ReferralStart] = field(default_factory=list)
    withdraw: list[str] = field(default_factory=list)  # workflow ids of sub-cases no longer needed


Check = Callable[[CaseState, Any, datetime], str | None]
Apply = Callable[[CaseState, Any, datetime, Any], dict[str, Any] | None]


@dataclass(frozen=True)
class Rule:
    name: str
    request: type[Action]
    allowed_from: tuple[Status, ...]
    who: Who
    event: str
    to: Status | None = None
    stops: tuple[ClockName, ...] = ()
    starts: tuple[ClockName, ...] = ()
    tell: str | None = None  # "pendamping", "responsible_head" or "owner"
    needs: str | None = None  # what the workflow fetches first: "policy" or "calendar"
    check: Check | None = None
    apply: Apply | None = None
    before_ready: bool = False  # allowed while the case is not set up (a failed intake)


# ---- action-specific checks and changes ----

def _check_assess(case: CaseState, request: Assessment, now: datetime) -> str | None:
    if request.category and case.setup and request.category not in case.setup.categories:
        return f"{request.category!r} is not a PPKS category code"
    return None


def _assess(case: CaseState, request: Assessment, now: datetime, _: Any) -> dict[str, Any]:
    if request.category and request.category != case.category:
        case.category = request.category
        case.bidang = case.setup.categories[request.category].bidang
    if request.needs_investigation != case.needs_investigation:  # the overall clock takes the longer rule
        case.needs_investigation = request.needs_investigation
        setup = case.setup
        case.clocks.apply_rules(setup.policy, setup.calendar, case.opening.urgency, case.needs_investigation, now,
                                rearm=False, only=(ClockName.OVERALL,))
    return {"needs_investigation": request.needs_investigation, "verified": request.verified,
            "category": case.category, "note": request.note}


def _refer(case: CaseState, request: Referral, now: datetime, _: Any) -> dict[str, Any]:
    return {"bidang": case.bidang, "plan": request.plan, "note": request.note}


def _check_outcome(case: CaseState, request: Resolution | Closing) -> str | None:
    """An outcome from the catalogue, with what it needs; NIK-based outcomes wait for the NIK."""
    setup = case.setup
    known = setup.outcomes.get(request.outcome or "")
    if known is None:
        return f"{request.outcome!r} is not an outcome in the catalogue ({', '.join(setup.outcomes)})"
    if known.detail == "programme" and request.programme not in setup.programmes:
        return f"{known.code} needs the programme: one of {', '.join(setup.programmes)}"
    if known.detail == "meeting_date" and request.meeting_date is None:
        return f"{known.code} needs the date of the Musdes/Muskel (meeting_date)"
    if known.detail == "partner" and request.partner not in setup.partners:
        return f"{known.code} needs the partner office that served the case (one of {', '.join(setup.partners)})"
    if known.needs_nik and not case.has_nik:
        return f"{known.code} needs the subject's NIK: it waits for the Disdukcapil referral"
    return None


def _check_resolve(case: CaseState, request: Resolution, now: datetime) -> str | None:
    waiting = [r for r in case.open_referrals() if r.required]
    if waiting:
        return ("cannot resolve yet: the case waits for " +
                ", ".join(f"{r.partner} (ref-{r.n}, {r.status})" for r in waiting))
    return _check_outcome(case, request)


def _outcome(case: CaseState, request: Resolution | Closing) -> dict[str, Any]:
    case.outcome = request.outcome
    return {"outcome": request.outcome, "programme": request.programme,
            "meeting_date": request.meeting_date.isoformat() if request.meeting_date else None,
            "partner": request.partner}


def _resolve(case: CaseState, request: Resolution, now: datetime, _: Any) -> dict[str, Any]:
    return _outcome(case, request) | {"note": request.note}


def _check_close(case: CaseState, request: Closing, now: datetime) -> str | None:
    return _check_outcome(case, request) if request.outcome else None


def _close(case: CaseState, request: Closing, now: datetime, _: Any) -> dict[str, Any]:
    return (_outcome(case, request) if request.outcome else {"outcome": case.outcome}) | {"note": request.note}


def _check_reject(case: CaseState, request: Rejection, now: datetime) -> str | None:
    if request.reason == RejectReason.BUKAN_WEWENANG and not request.forwarded_to:
        return "bukan_wewenang: say which authority the case was forwarded to (forwarded_to)"
    return None


def _reject(case: CaseState, request: Rejection, now: datetime, _: Any) -> dict[str, Any]:
    if request.duplicate_of:
        case.duplicate_of = request.duplicate_of
    case.attention = None
    return {"reason": request.reason.value, "duplicate_of": request.duplicate_of,
            "forwarded_to": request.forwarded_to, "note": request.note}


def _check_refer_partner(case: CaseState, request: PartnerReferralRequest, now: datetime) -> str | None:
    partners = case.setup.partners
    for need in request.partners:
        partner = partners.get(need.partner)
        if partner is None:
            return f"{need.partner!r} is not a partner office in the catalogue ({', '.join(partners)})"
        if any(r.partner == need.partner for r in case.open_referrals()):
            return f"the case already waits for {need.partner}"
        if partner.needs_nik_first and not case.has_nik:
            return f"{need.partner} needs the subject's NIK first: it waits for the Disdukcapil referral"
    if len({n.partner for n in request.partners}) < len(request.partners):
        return "each partner office at most once per referral"
    return None


def _refer_partner(case: CaseState, request: PartnerReferralRequest, now: datetime, _: Any) -> dict[str, Any]:
    starts = [refer(case, need.partner, need.need, need.required, request.actor.id, now) for need in request.partners]
    return {"referrals": [{"n": s.n, "partner": s.partner.code, "required": s.required} for s in starts],
            "note": request.note, "_children": starts}


def _check_reassign(case: CaseState, request: Reassignment, now: datetime) -> str | None:
    if request.to.role != "pendamping":
        return f"{request.to.id!r} is not a pendamping on the roster"
    if request.to.id == case.pendamping_id:
        return f"the case is already assigned to {request.to.id}"
    return None


def _reassign(case: CaseState, request: Reassignment, now: datetime, _: Any) -> dict[str, Any]:
    return assign(case, request.to.id, request.to.bidang, now, reason=request.note or "supervisor")


def _check_reopen(case: CaseState, request: Action, now: datetime) -> str | None:
    window = case.setup.policy.reopen_window_days
    if case.finished_at and now - case.finished_at > timedelta(days=window):
        return f"cannot reopen: the case was {case.status.value} more than {window} days ago"
    return None


def _reopen(case: CaseState, request: Action, now: datetime, _: Any) -> dict[str, Any]:
    back_to = Status.REFERRED if case.status == Status.CLOSED else Status.ASSIGNED
    restart = (ClockName.COMPLETION,) if back_to == Status.REFERRED else (ClockName.ACKNOWLEDGEMENT, ClockName.VERIFICATION)
    case.move_to(back_to, now)
    case.step_times.pop("closed", None)
    case.step_times.pop("rejected", None)
    start_clocks(case, restart, now)
    case.escalation_level = 0  # the earlier escalations stay in the audit trail
    return {"note": request.note, "status": back_to.value}


def _check_pause(case: CaseState, request: PauseRequest, now: datetime) -> str | None:
    if case.clocks.any_paused:
        return "cannot pause: the clocks are already paused"
    if not case.clocks.running():
        return "cannot pause: no SLA clock is running"
    return None


def _pause(case: CaseState, request: PauseRequest, now: datetime, _: Any) -> dict[str, Any]:
    case.clocks.pause(now, request.reason, request.actor.id)
    return {"reason": request.reason}


def _check_resume(case: CaseState, request: Action, now: datetime) -> str | None:
    return None if case.clocks.any_paused else "cannot resume: the clocks are not paused"


def _resume(case: CaseState, request: Action, now: datetime, _: Any) -> dict[str, Any]:
    case.clocks.resume(now)
    return {"note": request.note, "clocks": case.clocks.deadlines(case.setup.calendar)}


def _check_extend(case: CaseState, request: Extension, now: datetime) -> str | None:
    try:
        case.clocks.check_extension(request.clock, request.by, case.setup.calendar)
    except ClockError as refused:
        return f"cannot extend: {refused}"
    return None


def _extend(case: CaseState, request: Extension, now: datetime, _: Any) -> dict[str, Any]:
    setup = case.setup
    case.clocks.extend(request.clock, request.by, setup.calendar, setup.policy, now)
    deadline = case.clocks.get(request.clock).deadline(setup.calendar)
    return {"clock": request.clock.value, "by": str(request.by), "reason": request.reason,
            "deadline": deadline.isoformat() if deadline else None}


def _change_policy(case: CaseState, request: Action, now: datetime, policy: Any) -> dict[str, Any]:
    old = case.setup.policy.version
    case.setup = case.setup.model_copy(update={"policy": policy})
    case.clocks.apply_rules(policy, case.setup.calendar, case.opening.urgency, case.needs_investigation, now)
    return {"from": old, "to": policy.version, "clocks": case.clocks.deadlines(case.setup.calendar)}


def _change_calendar(case: CaseState, request: Action, now: datetime, calendar: Any) -> dict[str, Any] | None:
    """The corrected calendar (new closures, a new SKB): deadlines move, no milestone fires twice."""
    old = case.setup.calendar
    if calendar.version == old.version:
        return None  # nothing to record
    case.setup = case.setup.model_copy(update={"calendar": calendar})
    case.clocks.apply_rules(case.setup.policy, calendar, case.opening.urgency, case.needs_investigation, now,
                            rearm=False)
    return {"from": old.version, "to": calendar.version, "clocks": case.clocks.deadlines(calendar)}


def _retry(case: CaseState, request: Action, now: datetime, _: Any) -> dict[str, Any]:
    step = case.attention.step if case.attention else ""
    case.attention = None
    return {"step": step, "note": request.note}


def _check_retry(case: CaseState, request: Action, now: datetime) -> str | None:
    return None if case.attention else "cannot retry: nothing on this case needs attention"


# ---- the table ----

RULES: dict[str, Rule] = {r.name: r for r in (
    Rule("acknowledge", Action, (Status.ASSIGNED,), Who.PENDAMPING, "acknowledged", to=Status.ACKNOWLEDGED,
         stops=(ClockName.ACKNOWLEDGEMENT,)),
    Rule("assess", Assessment, (Status.ACKNOWLEDGED,), Who.PENDAMPING, "assessed", to=Status.ASSESSED,
         stops=(ClockName.ACKNOWLEDGEMENT, ClockName.VERIFICATION), starts=(ClockName.FOLLOW_UP_PLAN,),
         check=_check_assess, apply=_assess),
    Rule("refer", Referral, (Status.ASSESSED,), Who.PENDAMPING, "referred", to=Status.REFERRED,
         stops=(ClockName.FOLLOW_UP_PLAN,), starts=(ClockName.COMPLETION,), tell="responsible_head", apply=_refer),
    Rule("refer_partner", PartnerReferralRequest, (Status.ASSESSED, Status.REFERRED), Who.PENDAMPING_OR_SUPERVISOR,
         "referred_to_partner", check=_check_refer_partner, apply=_refer_partner),
    Rule("resolve", Resolution, (Status.REFERRED,), Who.RESPONSIBLE_HEAD, "resolved", to=Status.RESOLVED,
         stops=(ClockName.COMPLETION, ClockName.OVERALL), check=_check_resolve, apply=_resolve),
    Rule("close", Closing, (Status.RESOLVED,), Who.PENDAMPING_OR_SUPERVISOR, "closed", to=Status.CLOSED,
         stops=ALL_CLOCKS, check=_check_close, apply=_close),
    Rule("reject", Rejection, tuple(s for s in OPEN_STATUSES if s != Status.RESOLVED), Who.SUPERVISOR, "rejected",
         to=Status.REJECTED, stops=ALL_CLOCKS, check=_check_reject, apply=_reject, before_ready=True),
    Rule("reassign", Reassignment, WORKING, Who.SUPERVISOR, "reassigned", check=_check_reassign, apply=_reassign,
         tell="pendamping"),
    Rule("reopen", Action, (Status.CLOSED, Status.REJECTED), Who.SUPERVISOR, "reopened", check=_check_reopen, apply=_reopen,
         tell="owner"),
    Rule("pause", PauseRequest, WORKING, Who.PENDAMPING_OR_SUPERVISOR, "paused", check=_check_pause, apply=_pause),
    Rule("resume", Action, WORKING, Who.PENDAMPING_OR_SUPERVISOR, "resumed", check=_check_resume, apply=_resume),
    Rule("extend", Extension, WORKING, Who.SUPERVISOR, "extended", check=_check_extend, apply=_extend),
    Rule("change_policy", Action, WORKING, Who.SUPERVISOR, "policy_changed", needs="policy", apply=_change_policy),
    Rule("change_calendar", Action, WORKING, Who.SUPERVISOR, "calendar_changed", needs="calendar",
         apply=_change_calendar),
    Rule("retry", Action, OPEN_STATUSES, Who.SUPERVISOR, "retried", check=_check_retry, apply=_retry,
         before_ready=True),
)}


def refusal(name: str, case: CaseState, request: Action, now: datetime) -> str | None:
    """Why this actor may not take this action on this case now; None if they may."""
    rule = RULES[name]
    if not case.ready and not (rule.before_ready and case.attention):
        return "the case is still being set up; try again in a moment"
    if case.status not in rule.allowed_from:
        expected = " or ".join(s.value for s in rule.allowed_from) if len(rule.allowed_from) <= 2 else ""
        must = f", it must be {expected}" if expected else ""
        return f"cannot {name.replace('_', ' ')}: the case is {case.status.value}{must}"
    if not allowed(rule.who, request.actor, case):
        return f"only {who_text(rule.who, case)} can {name.replace('_', ' ')} this case"
    return rule.check(case, request, now) if rule.check else None


def who_text(who: Who, case: CaseState) -> str:
    if who == Who.PENDAMPING:
        return f"the assigned pendamping ({case.pendamping_id})"
    if who == Who.RESPONSIBLE_HEAD:
        return f"the head of {case.bidang} or the kepala dinas"
    return who.value


def apply(name: str, case: CaseState, request: Action, now: datetime, fetched: Any = None) -> Step | None:
    """Change the case as the action says (the caller has checked `refusal`); return what to record, or
    None when the action found nothing to change."""
    rule = RULES[name]
    detail = rule.apply(case, request, now, fetched) if rule.apply else {"note": request.note}
    if detail is None:
        return None
    children = detail.pop("_children", [])
    case.clocks.stop(rule.stops, now)
    start_clocks(case, rule.starts, now)
    if rule.to:
        case.move_to(rule.to, now)
    withdraw = []
    if rule.to in FINISHED_STATUSES:
        case.attention = None
        withdraw = settle_referrals(case)
        if withdraw:
            detail["withdrawn_referrals"] = [r.n for r in case.referrals if r.workflow_id in withdraw]
    return Step(event=rule.event, actor=request.actor.id, detail=detail,
                notices=[Notice(r, rule.event) for r in audience(rule.tell, case)], children=children,
                withdraw=withdraw)


def audience(tell: str | None, case: CaseState) -> list[str]:
    if tell == "pendamping" and case.pendamping_id:
        return [case.pendamping_id]
    if tell == "responsible_head":
        return [f"head:{case.bidang}"]
    if tell == "owner":
        return [case.pendamping_id] if case.status in WITH_PENDAMPING and case.pendamping_id else [f"head:{case.bidang}"]
    return []


def start_clocks(case: CaseState, names: tuple[ClockName, ...], at: datetime) -> None:
    setup = case.setup
    for name in names:
        if setup.policy.has(name):
            rule = setup.policy.rule(name, case.opening.urgency, case.needs_investigation)
            case.clocks.start(name, rule, setup.calendar, at)


def assign(case: CaseState, pendamping_id: str, pendamping_bidang: str | None, now: datetime,
           reason: str) -> dict[str, Any]:
    """Give the case to a pendamping (at intake, by a supervisor, after breaches or a roster change)."""
    previous = case.pendamping_id
    case.pendamping_id, case.pendamping_bidang = pendamping_id, pendamping_bidang
    if case.status == Status.RECEIVED:
        case.move_to(Status.ASSIGNED, now)
    return {"pendamping_id": pendamping_id, "previous": previous, "reason": reason}


def joined(case: CaseState, result: OpenedCase, now: datetime) -> None:
    """A further report of an open case: it becomes part of that case and ends here (no clocks, no pendamping)."""
    case.joined_to = result.joined_to
    case.move_to(Status.JOINED, now)
    case.ready = True


def set_up(case: CaseState, result: SetupResult) -> None:
    """What the case runs under, fixed at intake: policy, calendar, village, categories."""
    case.setup = shared_setup(result.setup)
    case.bidang = result.setup.categories[case.category].bidang
    case.clocks.semantics = result.setup.policy.deadline_semantics
    case.history_limit = result.history_limit


def opened(case: CaseState, result: OpenedCase, start: datetime, now: datetime,
           clocks: tuple[ClockName, ...]) -> Step:
    """Take over what the intake step recorded, assign the pendamping and start the clocks at the report.
    Returns the 'assigned' step to record; the case is ready once it is recorded."""
    case.complaint_id = result.complaint_id
    case.duplicate_of, case.warnings, case.previous_case = result.duplicate_of, result.warnings, result.previous_case
    case.has_nik = "tanpa_nik" not in case.opening.conditions
    for entry in result.events:
        case.note(entry)
    case.sequence = len(result.events)
    choice = result.assignment
    detail = assign(case, choice.pendamping_id, choice.bidang, now, choice.reason)
    start_clocks(case, clocks, start)
    case.attention = None
    detail |= {"clocks": case.clocks.deadlines(case.setup.calendar), "policy_version": case.setup.policy.version,
               "calendar_version": case.setup.calendar.version}
    return Step("assigned", "system", detail, [Notice(choice.pendamping_id, "assigned")])


def shared_setup(setup: Any) -> Any:
    """The same set-up with its policy, calendar and catalogues shared with other cases (memory, not meaning)."""
    s = setup
    return s.model_copy(update={
        "policy": share("policy", s.policy.version, s.policy),
        "calendar": share("calendar", s.calendar.version, s.calendar),
        "categories": share("categories", str(len(s.categories)), s.categories),
        "partners": share("partners", str(len(s.partners)), s.partners),
        "outcomes": share("outcomes", str(len(s.outcomes)), s.outcomes),
        "bidang_names": share("bidang_names", str(len(s.bidang_names)), s.bidang_names),
    })


# ---- the referral network ----

def refer(case: CaseState, partner_code: str, need: str, required: bool | None, sent_by: str, now: datetime,
          nik_registration: bool = False) -> ReferralStart:
    """A new sub-case to a partner office; the workflow starts it once the referral is recorded."""
    setup, partner = case.setup, case.setup.partners[partner_code]
    n = len(case.referrals) + 1
    start = ReferralStart(
        complaint_id=case.complaint_id, parent_workflow_id=case.workflow_id, n=n,
        partner=PartnerRef(code=partner.code, name=partner.name, bidang=partner.bidang,
                           recipient_id=partner.recipient_id),
        need=need, required=partner.required if required is None else required, nik_registration=nik_registration,
        sent_by=sent_by, sent_at=now, rule=partner.rule, calendar=setup.calendar,
        semantics=setup.policy.deadline_semantics, village=setup.village.label, village_code=setup.village.code,
        kecamatan=setup.village.kecamatan, category=case.category, category_name=case.category_name,
        urgency=case.opening.urgency.value, language=setup.language,
    )
    case.referrals.append(ReferralRef(n=n, partner=partner.code, workflow_id=referral_workflow_id(case, n),
                                      status="sent", required=start.required, sent_at=now))
    return start


def referral_workflow_id(case: CaseState, n: int) -> str:
    return f"complaint-{case.complaint_id}-ref-{n}"


def nik_first(case: CaseState, now: datetime) -> Step | None:
    """A subject without a valid NIK gets a Disdukcapil referral at once (stelsel aktif): every national and
    regional programme is NIK-based."""
    if case.has_nik or "DISDUKCAPIL" not in case.setup.partners or any(
            r.partner == "DISDUKCAPIL" for r in case.referrals):
        return None
    start = refer(case, "DISDUKCAPIL", "Perekaman dan penerbitan NIK bagi PPKS di tempat (stelsel aktif)",
                  True, "system", now, nik_registration=True)
    return Step("referred_to_partner", "system", {"referrals": [{"n": start.n, "partner": "DISDUKCAPIL",
                                                                  "required": start.required}],
                                                   "reason": "no_nik"}, children=[start])


def settle_referrals(case: CaseState) -> list[str]:
    """The case is closed or rejected: every open sub-case is withdrawn (none is left orphaned)."""
    open_ones = case.open_referrals()
    for ref in open_ones:
        ref.status = "withdrawn"
    return [r.workflow_id for r in open_ones]


def referral_changed(case: CaseState, n: int, status: str, nik_recorded: bool, duplicate_of: str | None) -> None:
    ref = case.referral(n)
    if ref is not None and ref.status != "withdrawn":
        ref.status = status
    if nik_recorded:
        case.has_nik = True
        if duplicate_of:
            case.duplicate_of = duplicate_of
