"""The data that crosses process boundaries: the intake form, human actions, and the case view.

Intake validation names every bad field (pydantic's error locations). Personal data lives only in
`Reporter` and `Subject`; the workflow stores it in Postgres at intake and keeps none of it in its
state, its queries, its search attributes or its summaries.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from referral import reference
from referral.sla import ClockName, Duration, Urgency


class Channel(StrEnum):
    PUSKESOS = "puskesos"
    PENDAMPING = "pendamping"
    HOTLINE = "hotline"
    WHATSAPP = "whatsapp"
    LAPOR = "lapor"
    WALK_IN = "walk_in"
    OTHER_SERVICE = "other_service"


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"


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

_PHONE = re.compile(r"^(\+62|62|0)8\d{7,12}$")


def check_nik(nik: str) -> str:
    """A plausible NIK: 16 digits, a real province code, a day 01-31 (41-71 for women), month 01-12.

    The day is not checked against the subject's sex: a NIK is never corrected, so a mismatch with
    the real person is possible and must not block intake.
    """
    if not re.fullmatch(r"\d{16}", nik):
        raise ValueError("must be exactly 16 digits")
    province, day, month, serial = int(nik[0:2]), int(nik[6:8]), int(nik[8:10]), nik[12:16]
    if not 11 <= province <= 96:
        raise ValueError("region part (first 2 digits) is not an Indonesian province code")
    if nik[2:4] == "00" or nik[4:6] == "00":
        raise ValueError("region part (kabupaten/kecamatan digits) cannot be 00")
    if not (1 <= day <= 31 or 41 <= day <= 71):
        raise ValueError("birth-date part: day must be 01-31, or 41-71 for women")
    if not 1 <= month <= 12:
        raise ValueError("birth-date part: month must be 01-12")
    if serial == "0000":
        raise ValueError("serial part (last 4 digits) cannot be 0000")
    return nik


class Reporter(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=200)
    phone: str | None = None
    relation: str = Field(min_length=1, max_length=100, description="e.g. self, family, neighbour, kepala desa")

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        digits = re.sub(r"[\s\-()]", "", value)
        if not _PHONE.match(digits):
            raise ValueError("must be an Indonesian mobile number such as 081234567890 or +6281234567890")
        return digits


class Subject(BaseModel):
    """The person who needs the service."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=200)
    nik: str | None = None
    sex: Sex
    birth_date: date | None = None
    address: str = Field(min_length=1, max_length=500)

    @field_validator("nik")
    @classmethod
    def _nik(cls, value: str | None) -> str | None:
        return None if value is None else check_nik(value.strip())


class ComplaintIntake(BaseModel):
    """What a service or a person submits. `python starter.py schema` prints its JSON Schema."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    external_ref: str | None = Field(default=None, min_length=1, max_length=120, description="The sender's own id; the same ref returns the same case")
    channel: Channel
    reporter: Reporter
    subject: Subject
    village_code: str = Field(description="Kemendagri code of a desa/kelurahan in Buleleng, e.g. 51.08.08.2010")
    category: str = Field(description="PPKS category code, e.g. penyandang_disabilitas")
    description: str = Field(min_length=10, max_length=5000)
    urgency: Urgency = Urgency.NORMAL
    reported_at: AwareDatetime

    @field_validator("village_code")
    @classmethod
    def _village(cls, value: str) -> str:
        if value not in reference.villages():
            raise ValueError(f"{value!r} is not a desa/kelurahan code in Kabupaten Buleleng (51.08.xx.xxxx)")
        return value

    @field_validator("category")
    @classmethod
    def _category(cls, value: str) -> str:
        if value not in reference.categories():
            raise ValueError(f"{value!r} is not one of the 26 PPKS category codes (see `starter.py schema`)")
        return value


class CaseOpening(BaseModel):
    """The part of an intake the workflow sees in clear: no names, NIK, phone or description."""

    external_ref: str | None = None
    channel: Channel
    village_code: str
    category: str
    urgency: Urgency
    reported_at: AwareDatetime

    @classmethod
    def of(cls, intake: ComplaintIntake) -> "CaseOpening":
        return cls.model_validate(intake.model_dump(include=set(cls.model_fields)))


class PersonalData(BaseModel):
    """Sealed by the starter (referral.sealing), unsealed only to be stored in Postgres."""

    reporter: Reporter
    subject: Subject
    description: str

    @classmethod
    def of(cls, intake: ComplaintIntake) -> "PersonalData":
        return cls(reporter=intake.reporter, subject=intake.subject, description=intake.description)


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
