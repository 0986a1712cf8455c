"""The activities' contracts: their names, inputs and results. What the workflow asks the data layer.

The workflow calls activities by these names, so it never imports the activity code (and with it asyncpg)
into its sandbox; `activities/case_activities.py` implements them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from referral.case import CaseRow, CaseSetup
from referral.intake import CaseOpening, PersonalData
from referral.models import TimelineEntry
from referral.calendar import WorkingCalendar
from referral.sla import SlaPolicy

CASE_SETUP = "case_setup"
OPEN_CASE = "open_case"
RECORD_EVENT = "record_event"
CHOOSE_PENDAMPING = "choose_pendamping"
LOAD_POLICY = "load_policy"
CASE_CALENDAR = "case_calendar"
PENDAMPING_ACTIVE = "pendamping_active"
RECORD_REFERRAL = "record_referral"


class OpenCaseRequest(BaseModel):
    complaint_id: str
    workflow_id: str
    run_id: str
    opening: CaseOpening
    sealed_personal: str | None = None
    personal: PersonalData | None = None
    received_at: datetime
    assign_on: date  # the office's local date, for who is on leave


class SetupRequest(BaseModel):
    complaint_id: str
    village_code: str
    reported_on: date


class Assignment(BaseModel):
    pendamping_id: str
    bidang: str | None
    reason: str  # covers_village, backup_same_kecamatan, backup_same_bidang, backup_any


class OpenedCase(BaseModel):
    """The intake recorded (the row and its 'received' event) and who takes the case; or, for a further
    report of an open case, the case it joined (no row of its own, no assignment)."""

    complaint_id: str
    duplicate_of: str | None = None
    assignment: Assignment | None = None
    events: list[TimelineEntry] = []
    warnings: list[str] = []
    joined_to: str | None = None
    joined_workflow_id: str | None = None
    joined_key: str | None = None
    previous_case: str | None = None
    finished_at: datetime | None = None  # the step's wall clock when done (see CaseSteps.awake_until)


class AssignRequest(BaseModel):
    complaint_id: str
    village_code: str
    on: date
    exclude: list[str] = []


class Pendamping(BaseModel):
    pendamping_id: str


class SetupResult(BaseModel):
    setup: CaseSetup
    history_limit: int = 10_000


class NoticeContext(BaseModel):
    """What a notification may say about its case: no personal data."""

    complaint_id: str
    village: str
    kecamatan: str
    category: str
    category_name: str
    urgency: str
    status: str
    deadline: datetime | None = None
    utc_offset_minutes: int = 480
    language: str = "id"


class NoticeRequest(BaseModel):
    recipient: str  # an officer id, `head:<bidang>`, `kepala_dinas` or `piket`
    kind: str  # the event (assigned, referred, sla_warning, sla_escalated, needs_attention, …)
    facts: dict[str, Any] = {}
    not_before: datetime


class CaseEvent(BaseModel):
    """One step of a case: an append-only event, the case row as it now stands, its notifications.

    `key` is unique per case and chosen by the workflow, so a retried activity writes nothing twice.
    """

    complaint_id: str
    workflow_id: str
    key: str
    event: str
    actor: str
    occurred_at: datetime
    detail: dict[str, Any] = {}
    opening: CaseOpening
    kecamatan: str
    received_at: datetime
    row: CaseRow
    notices: list[NoticeRequest] = []
    context: NoticeContext | None = None
    local_date: date | None = None  # the office's date of the step (who is on duty)


class Recorded(BaseModel):
    new: bool
    recipients: dict[str, str] = {}  # recipient as asked (e.g. head:rehabilitasi_sosial) -> officer id
    finished_at: datetime | None = None  # the step's wall clock when done (see CaseSteps.awake_until)


class PolicyRequest(BaseModel):
    complaint_id: str


class PolicyResult(BaseModel):
    policy: SlaPolicy


class CalendarRequest(BaseModel):
    complaint_id: str
    first_year: int


class CalendarResult(BaseModel):
    calendar: WorkingCalendar


class ReferralEvent(BaseModel):
    """One step of a sub-case at a partner office: recorded in the case's trail (once, by key), its own row
    in case_referrals, and who is told (the office, or the head of the bidang when it is late)."""

    complaint_id: str
    n: int
    partner: str
    workflow_id: str
    key: str
    event: str
    actor: str
    occurred_at: datetime
    status: str
    required: bool
    due_at: datetime | None = None
    detail: dict[str, Any] = {}
    nik: str | None = None  # a NIK registration's result (sealed): stored in the case's subject, never logged
    notices: list[NoticeRequest] = []
    context: NoticeContext | None = None
    local_date: date | None = None


class ReferralRecorded(BaseModel):
    new: bool
    recipients: dict[str, str] = {}
    nik_recorded: bool = False
    duplicate_of: str | None = None  # the duplicate check run again with the new NIK
