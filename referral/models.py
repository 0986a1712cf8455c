"""What crosses process boundaries besides the intake: who acts, the actions, and what a case shows.

The actor of an action is never a typed name: the door (the HTTP API, or an operator command) resolves it
from a credential and the roster and passes an `Actor`. The case's own rules (referral.actions) then
decide whether that actor may take that action now. Nothing here holds personal data, except the
officers' free text (notes, plans, reasons), which the client seals before it reaches Temporal.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from referral.sla import ClockName, ClockView, Duration, Urgency


class Status(StrEnum):
    RECEIVED = "received"
    ASSIGNED = "assigned"
    ACKNOWLEDGED = "acknowledged"
    ASSESSED = "assessed"
    REFERRED = "referred"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    JOINED = "joined"  # a further report of an open case: it joined that case and ended


OPEN_STATUSES = (Status.RECEIVED, Status.ASSIGNED, Status.ACKNOWLEDGED, Status.ASSESSED, Status.REFERRED, Status.RESOLVED)
FINISHED_STATUSES = (Status.CLOSED, Status.REJECTED, Status.JOINED)

Role = Literal["pendamping", "head_of_bidang", "kepala_dinas", "service", "partner", "system"]


class Actor(BaseModel):
    """Who acts: an officer from the roster, a calling service, a partner office, or the system."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:@-]+$")
    role: Role
    bidang: str | None = None

    @property
    def supervisor(self) -> bool:
        return self.role in ("head_of_bidang", "kepala_dinas")


SYSTEM = Actor(id="system", role="system")

# Free text is sealed by the client before it reaches Temporal (referral.sealing), hence the room.
SEALED_ROOM = 4000


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: Actor
    note: str | None = Field(default=None, max_length=SEALED_ROOM)

    FREE_TEXT: ClassVar[tuple[str, ...]] = ("note",)


class Assessment(Action):
    category: str | None = Field(default=None, max_length=64, description="Corrected PPKS category, if the field visit found another")
    needs_investigation: bool = False
    verified: bool = True


class Referral(Action):
    plan: str = Field(min_length=3, max_length=SEALED_ROOM, description="The follow-up plan for the bidang")
    FREE_TEXT: ClassVar[tuple[str, ...]] = ("note", "plan")


class Resolution(Action):
    """How the case ends: an outcome from the catalogue (referral/data/outcomes.csv) and what it needs:
    the programme for assistance, the village meeting's date for a register proposal, the partner office."""

    outcome: str = Field(min_length=1, max_length=40, description="an outcome code from the catalogue")
    programme: str | None = Field(default=None, max_length=20, description="assistance_given: PKH, BPNT, PBI_JKN, ATENSI, DAERAH")
    meeting_date: date | None = Field(default=None, description="proposed_to_register: the Musdes/Muskel date")
    partner: str | None = Field(default=None, max_length=40, description="served_by_partner: the partner office code")


class Closing(Action):
    """Close a resolved case; the outcome recorded at resolution may be confirmed or corrected."""

    outcome: str | None = Field(default=None, max_length=40)
    programme: str | None = Field(default=None, max_length=20)
    meeting_date: date | None = None
    partner: str | None = Field(default=None, max_length=40)


class RejectReason(StrEnum):
    OUT_OF_AREA = "out_of_area"
    DUPLICATE = "duplicate"
    NOT_PPKS = "not_ppks"
    NOT_VERIFIED = "not_verified"
    WITHDRAWN = "withdrawn"
    BUKAN_WEWENANG = "bukan_wewenang"  # not this office's authority: forwarded to another


class Rejection(Action):
    reason: RejectReason
    duplicate_of: str | None = Field(default=None, max_length=64)
    forwarded_to: str | None = Field(default=None, max_length=200, description="bukan_wewenang: the authority it went to")


class PartnerNeed(BaseModel):
    model_config = ConfigDict(extra="forbid")
    partner: str = Field(min_length=1, max_length=40, description="a partner office code (referral/data/partners.csv)")
    need: str = Field(min_length=3, max_length=SEALED_ROOM, description="what the office is asked to do")
    required: bool | None = Field(default=None, description="the case waits for it before resolution (default: the catalogue's)")


class PartnerReferralRequest(Action):
    """Refer an assessed case to one or more partner offices; each becomes a sub-case with its own clock."""

    partners: list[PartnerNeed] = Field(min_length=1, max_length=8)
    FREE_TEXT: ClassVar[tuple[str, ...]] = ("note",)


class Reassignment(Action):
    to: Actor = Field(description="The pendamping who takes the case, resolved from the roster by the door")


class PauseRequest(Action):
    reason: str = Field(min_length=3, max_length=SEALED_ROOM)
    FREE_TEXT: ClassVar[tuple[str, ...]] = ("note", "reason")


class Extension(Action):
    clock: ClockName
    by: Duration
    reason: str = Field(min_length=3, max_length=SEALED_ROOM)
    FREE_TEXT: ClassVar[tuple[str, ...]] = ("note", "reason")


# ---- what a case shows ----

class TimelineEntry(BaseModel):
    at: datetime
    event: str
    actor: str
    detail: dict[str, Any] = {}
    key: str = ""  # the event's key in complaint_events (reconcile compares them)


class TimelinePage(BaseModel):
    """Which part of the timeline the state query returns: `limit` entries from `offset` (oldest first)."""

    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=0, le=1000)


class ReferralRef(BaseModel):
    """A sub-case sent to a partner office, as its case sees it."""

    n: int
    partner: str
    workflow_id: str
    status: str  # sent, accepted, overdue, done, refused, withdrawn
    required: bool
    sent_at: datetime
    due_at: datetime | None = None


OPEN_REFERRAL = ("sent", "accepted", "overdue")


class CaseSummary(BaseModel):
    """What an action answers: compact, so a long case's history does not grow with every update."""

    complaint_id: str
    status: Status
    pendamping_id: str | None
    escalation_level: int
    sla_breached: bool
    next_deadline: datetime | None
    deadlines: dict[str, str | None] = {}
    needs_attention: str | None = None
    joined_to: str | None = None  # a further report: the open case it joined


class CaseView(CaseSummary):
    """The state query: everything a supervisor reads about a case, no personal data."""

    village_code: str
    village: str
    kecamatan: str
    category: str
    bidang: str
    pendamping_bidang: str | None = None
    urgency: Urgency
    channel: str
    conditions: list[str] = []
    outcome: str | None = None
    policy_version: str
    calendar_version: str
    duplicate_of: str | None = None
    warnings: list[str] = []
    has_nik: bool = True
    previous_case: str | None = None
    reports: int = 1  # this report and the further ones that joined it
    referrals: list[ReferralRef] = []
    clocks: list[ClockView]
    timeline: list[TimelineEntry]
    timeline_total: int = 0
    timeline_offset: int = 0


class Receipt(BaseModel):
    """What a sender is told once the intake is recorded: the case id, and whether it was a repeat."""

    complaint_id: str
    status: Status
    repeat: bool = False
    joined: bool = False  # a further report of an open case: `complaint_id` is that case
    pendamping_id: str | None = None
    needs_attention: str | None = None


class RosterChange(BaseModel):
    """Officers who left the roster: their open cases go to whoever covers the village now."""

    left: list[str] = []


class ReportJoined(BaseModel):
    """A further report of the same person and category joined this open case (sent by that report's workflow)."""

    workflow_id: str
    channel: str
    received_at: datetime
    key: str


class ReferralChanged(BaseModel):
    """A sub-case tells its case that its status changed (and, for a NIK registration, that a NIK was recorded)."""

    n: int
    status: str
    at: datetime
    key: str = ""
    nik_recorded: bool = False
    duplicate_of: str | None = None
