"""A sub-case sent to a partner office (Disdukcapil, Puskesmas, RSJ, UPTD PPA, …): its rules and its clock. Pure.

    sent -> accepted -> done          (the office did what was asked, e.g. issued the NIK)
         \\-> refused                 (with a reason)
    sent/accepted -> overdue          (its clock passed: the office is reminded; one escalate_every later the
                                       head of the responsible bidang is alerted)
    any open -> withdrawn              (the case was closed or rejected: the office is told it is no longer needed)

The partner answers through the API with its own credential; an officer may record an answer the office gave
by telephone, letter or in person (`via`), which the trail says.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from referral.calendar import WorkingCalendar
from referral.models import SEALED_ROOM, Action
from referral.sla import CaseClocks, ClockName, ClockRule, Milestone

OPEN = ("sent", "accepted", "overdue")
FINISHED = ("done", "refused", "withdrawn")
Via = Literal["telepon", "surat", "langsung"]


class PartnerRef(BaseModel):
    code: str
    name: str
    bidang: str
    recipient_id: str


class ReferralStart(BaseModel):
    """What a sub-case is started with (no personal data but the sealed `need`)."""

    complaint_id: str
    parent_workflow_id: str
    n: int
    partner: PartnerRef
    need: str
    required: bool
    nik_registration: bool = False  # a Disdukcapil referral for a subject without a NIK
    sent_by: str
    sent_at: datetime
    rule: ClockRule
    calendar: WorkingCalendar
    semantics: Literal["end_of_day", "office_hours"] = "end_of_day"
    village: str
    village_code: str
    kecamatan: str
    category: str
    category_name: str
    urgency: str
    language: str = "id"


class PartnerAnswer(Action):
    """The office's answer; an officer recording an answer given outside the API says how it came (`via`)."""

    via: Via | None = None


class PartnerDone(PartnerAnswer):
    provided: str = Field(min_length=3, max_length=SEALED_ROOM, description="what the office provided")
    nik: str | None = Field(default=None, max_length=200, pattern=r"^(\d{16}|sealed:.+)$",
                            description="a NIK registration: the new NIK (16 digits; the door checks it in full)")
    FREE_TEXT: ClassVar[tuple[str, ...]] = ("note", "provided")


class PartnerRefusal(PartnerAnswer):
    reason: str = Field(min_length=3, max_length=SEALED_ROOM)
    FREE_TEXT: ClassVar[tuple[str, ...]] = ("note", "reason")


ANSWERS: dict[str, tuple[type[PartnerAnswer], tuple[str, ...], str]] = {
    # action: (input, allowed from, status it moves to)
    "accept": (PartnerAnswer, ("sent", "overdue"), "accepted"),
    "done": (PartnerDone, OPEN, "done"),
    "refuse": (PartnerRefusal, OPEN, "refused"),
}


class ReferralAnswer(BaseModel):
    """What a sub-case's answers and its end return (a model, never a bare string: the codec encrypts it)."""

    n: int
    partner: str
    status: str


class ReferralState(BaseModel):
    start: ReferralStart
    status: str = "sent"
    sequence: int = 0
    clocks: CaseClocks = Field(default_factory=CaseClocks)
    answered_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def event_key(self, event: str) -> str:
        self.sequence += 1
        return f"ref:{self.start.n}:{self.sequence:03d}:{event}"


class ReferralPolicy(BaseModel):
    """The milestones of a referral clock: no early warnings; at the deadline the office is reminded
    (level 1), one `escalate_every` later the head of the responsible bidang is alerted (level 2)."""

    warn_at: tuple[float, ...] = ()
    escalation_chain: tuple[str, ...] = ("partner", "head_of_bidang")


POLICY = ReferralPolicy()


def start_clock(state: ReferralState) -> None:
    s = state.start
    state.clocks.semantics = s.semantics
    state.clocks.start(ClockName.REFERRAL, s.rule, s.calendar, s.sent_at)


def refusal(action: str, state: ReferralState, request: PartnerAnswer) -> str | None:
    """Why this answer cannot be taken: a finished referral, the wrong office, an officer without `via`."""
    if action not in ANSWERS:
        return f"unknown answer {action!r}"
    _, allowed_from, _ = ANSWERS[action]
    if state.status not in allowed_from:
        return f"cannot {action}: the referral is {state.status}"
    actor = request.actor
    if actor.role == "partner":
        if actor.id.removeprefix("partner:") != state.start.partner.code:
            return f"only {state.start.partner.name} answers this referral"
        if request.via:
            return "via is for officers recording an answer given outside the API"
    elif actor.role in ("pendamping", "head_of_bidang", "kepala_dinas"):
        if not request.via:
            return "an officer recording the office's answer says how it came: via telepon, surat or langsung"
    else:
        return "only the partner office or an officer of the case can answer a referral"
    if action == "done" and request.nik and not state.start.nik_registration:
        return "a NIK comes only with a NIK registration (Disdukcapil) referral"
    return None


def answer(action: str, state: ReferralState, request: PartnerAnswer, now: datetime) -> dict[str, Any]:
    """Apply an answer; returns the event's detail (sealed texts stay sealed; the NIK itself is never in it)."""
    _, _, to = ANSWERS[action]
    state.status = to
    state.answered_at = now
    if to in FINISHED:
        state.clocks.stop(list(ClockName), now)
    detail: dict[str, Any] = {"partner": state.start.partner.code, "status": to, "via": request.via or "api",
                              "note": request.note}
    if isinstance(request, PartnerDone):
        detail |= {"provided": request.provided, "nik_recorded": bool(request.nik)}
    if isinstance(request, PartnerRefusal):
        detail["reason"] = request.reason
    return detail


def fire(state: ReferralState, milestone: Milestone) -> tuple[dict[str, Any], str, str]:
    """A due milestone: (detail, event, recipient). Level 1 reminds the office and marks the referral overdue;
    level 2 alerts the head of the responsible bidang."""
    clock = state.clocks.get(ClockName.REFERRAL)
    clock.fired.append(milestone.key)
    detail = {"partner": state.start.partner.code, "milestone": milestone.key, "due_at": milestone.at.isoformat(),
              "clock": "referral"}
    if milestone.level <= 1:
        if state.status in ("sent", "accepted"):
            state.status = "overdue"
        return detail | {"status": state.status}, "referral_overdue", state.start.partner.recipient_id
    target = f"head:{state.start.partner.bidang}"
    return detail | {"escalated_to": target}, "referral_escalated", target


def withdraw(state: ReferralState, now: datetime) -> dict[str, Any]:
    state.status = "withdrawn"
    state.clocks.stop(list(ClockName), now)
    return {"partner": state.start.partner.code, "status": "withdrawn"}
