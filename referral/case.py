"""One case's state, typed: what the workflow knows, what its row in Postgres shows, what it answers.

`CaseState` replaces loose workflow attributes; it is what a continued-as-new run carries. `CaseSetup` is
fixed at intake and recorded in the history (policy, calendar, the village and the category table), so
workflow code reads no files. `CaseRow` is the one projection of the state onto the `complaints` row:
every recorded step writes it whole, so the row's columns are built in exactly one place.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from referral.calendar import WorkingCalendar
from referral.intake import CaseOpening, PersonalData
from referral.models import (
    FINISHED_STATUSES, OPEN_REFERRAL, CaseSummary, CaseView, ReferralRef, Status, TimelineEntry, TimelinePage,
)
from referral.sla import CaseClocks, ClockRule, ClockView, SlaPolicy

TIMELINE_KEPT = 500  # the newest entries a workflow keeps; every entry is also in complaint_events


class VillageRef(BaseModel):
    code: str
    name: str
    kind: str
    kecamatan: str

    @property
    def label(self) -> str:
        return f"{self.kind.capitalize()} {self.name}"


class CategoryRef(BaseModel):
    code: str
    name: str
    bidang: str


class PartnerInfo(BaseModel):
    code: str
    name: str
    bidang: str
    recipient_id: str
    rule: ClockRule
    required: bool
    needs_nik_first: bool


class OutcomeInfo(BaseModel):
    code: str
    detail: str  # what must come with it: programme, meeting_date, partner, or nothing
    needs_nik: bool


class CaseSetup(BaseModel):
    """Fixed for a case at intake (policy and calendar change only by a recorded supervisor step)."""

    policy: SlaPolicy
    calendar: WorkingCalendar
    village: VillageRef
    categories: dict[str, CategoryRef]
    bidang_names: dict[str, str] = {}
    roster_version: str = ""
    language: str = "id"  # summaries, details and notifications of this case (REFERRAL_LANGUAGE)
    partners: dict[str, PartnerInfo] = {}
    outcomes: dict[str, OutcomeInfo] = {}
    programmes: list[str] = []


class Attention(BaseModel):
    """A step that could not be done and needs a person: visible in the UI, the list and the row."""

    step: str
    problem: str
    since: datetime
    permanent: bool = True


class CaseState(BaseModel):
    complaint_id: str
    workflow_id: str = ""
    opening: CaseOpening
    status: Status = Status.RECEIVED
    category: str
    bidang: str = ""
    pendamping_id: str | None = None
    pendamping_bidang: str | None = None
    escalation_level: int = 0
    needs_investigation: bool = False
    duplicate_of: str | None = None
    outcome: str | None = None
    step_times: dict[str, datetime] = {}
    finished_at: datetime | None = None
    attention: Attention | None = None
    breaches: dict[str, int] = {}  # breached pendamping clocks per pendamping, for auto-reassignment
    sequence: int = 0
    warnings: list[str] = []
    has_nik: bool = True
    previous_case: str | None = None  # a repeat report within 90 days after that case closed
    reports: int = 1
    joined_to: str | None = None
    referrals: list[ReferralRef] = []
    clocks: CaseClocks = Field(default_factory=CaseClocks)
    timeline: list[TimelineEntry] = []
    timeline_dropped: int = 0
    setup: CaseSetup | None = None
    received_at: datetime | None = None
    history_limit: int = 10_000  # events before the workflow continues as new (the server may ask sooner)
    ready: bool = False  # no human action until the case is assigned and its clocks run

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    def snapshot(self) -> "CaseState":
        """A copy to roll back to if a step cannot be recorded. Cheaper than a deep copy: the set-up, the
        opening and the timeline's entries are never changed in place, so they are shared."""
        copy = self.model_copy()
        copy.clocks = self.clocks.model_copy(deep=True)
        copy.referrals = [r.model_copy() for r in self.referrals]
        copy.timeline, copy.warnings = list(self.timeline), list(self.warnings)
        copy.step_times, copy.breaches = dict(self.step_times), dict(self.breaches)
        return copy

    def open_referrals(self) -> list[ReferralRef]:
        return [r for r in self.referrals if r.status in OPEN_REFERRAL]

    def referral(self, n: int) -> ReferralRef | None:
        return next((r for r in self.referrals if r.n == n), None)

    @property
    def category_name(self) -> str:
        return self.setup.categories[self.category].name if self.setup else self.category

    def note(self, entry: TimelineEntry) -> None:
        self.timeline.append(entry)
        if len(self.timeline) > TIMELINE_KEPT:
            del self.timeline[0]
            self.timeline_dropped += 1

    def move_to(self, status: Status, now: datetime) -> None:
        if status == self.status:
            return
        self.status = status
        if status not in (Status.RECEIVED,):
            self.step_times[status.value] = now
        self.finished_at = now if status in FINISHED_STATUSES else None

    # ---- projections ----

    def summary(self, now: datetime, views: list[ClockView] | None = None) -> CaseSummary:
        """`views`: the clocks' views at `now`, when the caller has them already (they are the costly part)."""
        cal = self.setup.calendar if self.setup else None
        views = self.clocks.views(cal, now) if views is None else views
        running = [v.deadline for v in views if v.state == "running" and v.deadline]
        return CaseSummary(
            complaint_id=self.complaint_id, status=self.status, pendamping_id=self.pendamping_id,
            escalation_level=self.escalation_level, sla_breached=any(v.breached for v in views),
            next_deadline=min(running, default=None),
            deadlines=self.clocks.deadlines(cal) if cal else {},
            needs_attention=self.attention.problem if self.attention else None, joined_to=self.joined_to,
        )

    def view(self, now: datetime, page: TimelinePage | None = None) -> CaseView:
        page = page or TimelinePage()
        cal = self.setup.calendar if self.setup else None
        village = self.setup.village if self.setup else None
        total = self.timeline_dropped + len(self.timeline)
        start = max(page.offset - self.timeline_dropped, 0)
        return CaseView(
            **self.summary(now).model_dump(),
            village_code=self.opening.village_code, village=village.label if village else self.opening.village_code,
            kecamatan=village.kecamatan if village else "", category=self.category, bidang=self.bidang,
            pendamping_bidang=self.pendamping_bidang, urgency=self.opening.urgency,
            channel=self.opening.channel.value, conditions=list(self.opening.conditions),
            outcome=self.outcome,
            policy_version=self.setup.policy.version if self.setup else "",
            calendar_version=cal.version if cal else "", duplicate_of=self.duplicate_of,
            warnings=self.warnings, has_nik=self.has_nik, previous_case=self.previous_case, reports=self.reports,
            referrals=list(self.referrals), clocks=self.clocks.views(cal, now),
            timeline=self.timeline[start:start + page.limit], timeline_total=total,
            timeline_offset=self.timeline_dropped + start,
        )

    def record(self, workflow_id: str) -> CaseRecord:
        return CaseRecord(complaint_id=self.complaint_id, workflow_id=workflow_id,
                          row=self.row() if self.setup else None,
                          event_keys=[e.key for e in self.timeline if e.key], timeline_complete=not self.timeline_dropped)

    def row(self) -> "CaseRow":
        return CaseRow(
            status=self.status.value, category=self.category, bidang=self.bidang,
            pendamping_id=self.pendamping_id, escalation_level=self.escalation_level,
            needs_investigation=self.needs_investigation, outcome=self.outcome, duplicate_of=self.duplicate_of,
            policy_version=self.setup.policy.version if self.setup else None,
            calendar_version=self.setup.calendar.version if self.setup else None,
            needs_attention=self.attention.problem if self.attention else None,
            assigned_at=self.step_times.get("assigned"), acknowledged_at=self.step_times.get("acknowledged"),
            assessed_at=self.step_times.get("assessed"), referred_at=self.step_times.get("referred"),
            resolved_at=self.step_times.get("resolved"), closed_at=self.finished_at, sequence=self.sequence,
            has_nik=self.has_nik, previous_case=self.previous_case,
        )


class CaseRow(BaseModel):
    """The `complaints` columns the workflow keeps current (personal columns are written at intake only)."""

    status: str
    category: str
    bidang: str
    pendamping_id: str | None
    escalation_level: int
    needs_investigation: bool
    outcome: str | None
    duplicate_of: str | None
    policy_version: str | None
    calendar_version: str | None
    needs_attention: str | None
    assigned_at: datetime | None
    acknowledged_at: datetime | None
    assessed_at: datetime | None
    referred_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    sequence: int
    has_nik: bool = True
    previous_case: str | None = None


class CaseRecord(BaseModel):
    """What the workflow believes Postgres holds for it: the row and the keys of the events it recorded
    (the `record` query; `starter.py reconcile` compares it with the database)."""

    complaint_id: str
    workflow_id: str
    row: CaseRow | None
    event_keys: list[str]
    timeline_complete: bool  # False once the oldest entries were dropped from the workflow's memory


class ComplaintStart(BaseModel):
    """The workflow's input: the case's public facts and its personal data (sealed), or a carried state."""

    complaint_id: str
    case: CaseOpening
    sealed_personal: str | None = None
    personal: PersonalData | None = None
    submission_id: str = ""
    carried: CaseState | None = None  # set when the case continues as new
