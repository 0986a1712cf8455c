"""The data that crosses process boundaries: the intake form, human actions, and the case view.

Intake validation names every bad field (pydantic's error locations). Personal data lives only in
`Reporter` and `Subject`; the workflow stores it in Postgres at intake and keeps none of it in its
state, its queries, its search attributes or its summaries.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from referral import reference
from referral.intake import CaseOpening
from referral.sla import ClockName, Duration, Urgency


class Status(StrEnum):
    RECEIVED = "received"
    ASSIGNED = "assigned"
    ACKNOWLEDGED = "acknowledged"
    ASSESSED = "assessed"
    REFERRED = "referred"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"


OPEN_STATUSES = (Status.RECEIVED, Status.ASSIGNED, Status.ACKNOWLEDGED, Status.ASSESSED, Status.REFERRED, Status.RESOLVED)
FINISHED_STATUSES = (Status.CLOSED, Status.REJECTED)

class ComplaintStart(BaseModel):
    """The workflow's input: the case's public facts and its sealed personal data."""

    complaint_id: str
    case: CaseOpening
    sealed_personal: str



# ---- human actions (one Temporal Update each) ----

# Free text is sealed by the client before it reaches Temporal (referral.sealing), hence the room.
SEALED_ROOM = 4000


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Field(min_length=1)
    note: str | None = Field(default=None, max_length=SEALED_ROOM)

    FREE_TEXT: ClassVar[tuple[str, ...]] = ("note",)


class Assessment(Action):
    category: str | None = Field(default=None, description="Corrected PPKS category, if the field visit found another")
    needs_investigation: bool = False
    verified: bool = True

    @field_validator("category")
    @classmethod
    def _category(cls, value: str | None) -> str | None:
        if value is not None and value not in reference.categories():
            raise ValueError(f"{value!r} is not a PPKS category code")
        return value


class Referral(Action):
    plan: str = Field(min_length=3, max_length=SEALED_ROOM, description="The follow-up plan for the bidang")
    FREE_TEXT: ClassVar[tuple[str, ...]] = ("note", "plan")


class Outcome(StrEnum):
    SERVICE_PROVIDED = "service_provided"
    SOCIAL_ASSISTANCE = "social_assistance"
    REFERRED_EXTERNAL = "referred_external"
    INSTITUTIONAL_CARE = "institutional_care"
    NOT_ELIGIBLE = "not_eligible"
    SUBJECT_UNREACHABLE = "subject_unreachable"


class Resolution(Action):
    outcome: Outcome


class RejectReason(StrEnum):
    OUT_OF_AREA = "out_of_area"
    DUPLICATE = "duplicate"
    NOT_PPKS = "not_ppks"


class Rejection(Action):
    reason: RejectReason
    duplicate_of: str | None = None


class Reassignment(Action):
    pendamping_id: str


class PauseRequest(Action):
    reason: str = Field(min_length=3, max_length=SEALED_ROOM)
    FREE_TEXT: ClassVar[tuple[str, ...]] = ("note", "reason")


class Extension(Action):
    clock: ClockName
    by: Duration
    reason: str = Field(min_length=3, max_length=SEALED_ROOM)
    FREE_TEXT: ClassVar[tuple[str, ...]] = ("note", "reason")


# ---- what a query returns ----

class TimelineEntry(BaseModel):
    at: datetime
    event: str
    actor: str
    detail: dict[str, Any] = {}


class ClockView(BaseModel):
    name: ClockName
    state: str  # running, paused, stopped
    deadline: datetime | None
    breached: bool
    escalation_level: int


class CaseView(BaseModel):
    complaint_id: str
    status: Status
    village_code: str
    village: str
    kecamatan: str
    category: str
    bidang: str
    pendamping_id: str | None
    urgency: Urgency
    escalation_level: int
    sla_breached: bool
    next_deadline: datetime | None
    policy_version: str
    calendar_version: str
    duplicate_of: str | None = None
    clocks: list[ClockView]
    timeline: list[TimelineEntry]
