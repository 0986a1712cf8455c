"""The intake form: what a service or a person submits, validated and normalised.

Validation names every bad field (pydantic's error locations). Personal data lives only in
`Reporter`, `Subject` and the description; `CaseOpening` is the part the workflow may see in clear.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from referral import reference
from referral.sla import Urgency


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


CLOCK_SKEW = timedelta(minutes=10)


class IntakeError(ValueError):
    """Invalid intake: `problems` names every bad field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid complaint:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


def intake_schema() -> dict[str, Any]:
    return ComplaintIntake.model_json_schema()


def parse_intake(data: str | bytes | dict[str, Any], now: datetime | None = None) -> ComplaintIntake:
    try:
        raw = json.loads(data) if isinstance(data, (str, bytes)) else data
    except json.JSONDecodeError as exc:
        raise IntakeError([f"(document): not valid JSON: {exc}"]) from None
    problems = []
    try:
        intake = ComplaintIntake.model_validate(raw)
    except ValidationError as exc:
        intake = None
        problems = [f"{'.'.join(str(p) for p in err['loc']) or '(document)'}: {err['msg']}" for err in exc.errors()]
    reported_at = intake.reported_at if intake else _loose_datetime(raw)
    if reported_at and reported_at > (now or datetime.now(timezone.utc)) + CLOCK_SKEW:
        problems.append("reported_at: is in the future")
    if problems:
        raise IntakeError(problems)
    return intake


def _loose_datetime(raw: Any) -> datetime | None:
    """reported_at from a document that failed validation elsewhere, so its problem is listed too."""
    try:
        value = datetime.fromisoformat(str(raw.get("reported_at")))
    except (AttributeError, TypeError, ValueError):
        return None
    return value if value.tzinfo else None
