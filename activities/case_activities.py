"""The activities a ComplaintWorkflow runs: thin wrappers over the data layer, each idempotent.

They run as local activities in the case's own workflow task (see workflows/complaint.py); failures are
sorted by `activities.errors.sorted_errors` into those Temporal retries and those a person must see.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date
from importlib import resources
from pathlib import Path

import structlog
from temporalio import activity

from activities.errors import SealedDataError, sorted_errors
from activities.store import Store
from activities.store.cases import Message
from referral import notices, reference
from referral.case import CaseSetup, CategoryRef, VillageRef
from referral.config import Settings
from referral.holiday_source import build_calendar
from referral.intake import PersonalData
from referral.records import (
    CHOOSE_PENDAMPING, LOAD_POLICY, OPEN_CASE, RECORD_EVENT, AssignRequest, Assignment, CaseEvent, OpenCaseRequest,
    OpenedCase, PolicyRequest, PolicyResult, Recorded,
)
from referral.sealing import is_sealed, unseal, unseal_values
from referral.sla import SlaPolicy

log = structlog.get_logger(__name__)


def load_policy(path: str | None) -> SlaPolicy:
    text = (Path(path).read_text(encoding="utf-8") if path
            else resources.files("referral.data").joinpath("sla_policy.json").read_text(encoding="utf-8"))
    return SlaPolicy.model_validate_json(text)


def subject_key(nik: str | None, name: str, birth_date: date | None, secret: str) -> str:
    """A keyed hash that finds the same person again without storing a searchable NIK."""
    basis = f"nik:{nik}" if nik else f"name:{' '.join(name.lower().split())}|{birth_date}"
    return hmac.new(secret.encode(), basis.encode(), hashlib.sha256).hexdigest()


class CaseActivities:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def setup_for(self, village_code: str, reported_on: date) -> CaseSetup:
        """The policy, calendar, village and categories a case runs under; recorded in its history."""
        s = self.settings
        village = reference.villages()[village_code]
        return CaseSetup(
            policy=load_policy(s.sla_policy_file),
            calendar=build_calendar(reported_on.year, closures_file=s.closures_file, office_hours=s.office_hours,
                                    utc_offset_minutes=s.utc_offset_minutes),
            village=VillageRef(code=village.code, name=village.name, kind=village.kind, kecamatan=village.kecamatan),
            categories={c.code: CategoryRef(code=c.code, name=c.name, bidang=c.bidang)
                        for c in reference.categories().values()},
            bidang_names=reference.bidang_names(),
        )

    def personal_data(self, request: OpenCaseRequest) -> PersonalData:
        if request.personal is not None:
            return request.personal
        try:
            return PersonalData.model_validate(unseal(request.sealed_personal or "", self.settings.pii_key))
        except Exception:  # a wrong key or a damaged token: retrying cannot help
            raise SealedDataError("the personal data does not open under this worker's key") from None

    @activity.defn(name=OPEN_CASE)
    @sorted_errors
    async def open_case(self, request: OpenCaseRequest) -> OpenedCase:
        """Intake in one step: the set-up, the row and its 'received' event, and who takes the case."""
        opening = request.opening
        setup = self.setup_for(opening.village_code, min(opening.reported_at, request.received_at).date())
        setup = setup.model_copy(update={"roster_version": await self.store.roster.version()})
        personal = self.personal_data(request)
        key = subject_key(personal.subject.nik, personal.subject.name, personal.subject.birth_date,
                          self.settings.hash_salt)
        warnings = intake_warnings(personal, opening)
        written = await self.store.cases.record_intake(
            request, personal, key, kecamatan=setup.village.kecamatan,
            bidang=setup.categories[opening.category].bidang, warnings=warnings)
        assignment = await self.store.roster.choose_pendamping(
            opening.village_code, setup.calendar.local(request.received_at).date(), exclude=[])
        log.info("intake recorded", complaint_id=written.complaint_id, duplicate=written.duplicate_of is not None)
        return OpenedCase(complaint_id=written.complaint_id, setup=setup, duplicate_of=written.duplicate_of,
                          assignment=assignment, events=[written.received], warnings=warnings,
                          history_limit=self.settings.history_limit)

    @activity.defn(name=RECORD_EVENT)
    @sorted_errors
    async def record_event(self, event: CaseEvent) -> Recorded:
        # The audit trail in Postgres keeps officers' notes readable; Temporal keeps them sealed.
        try:
            event = event.model_copy(update={"detail": unseal_values(event.detail, self.settings.pii_key)})
        except Exception:
            raise SealedDataError("an officer's note does not open under this worker's key") from None
        messages = [self.message(n, event) for n in event.notices] if event.context else []
        recorded = await self.store.cases.record(event, messages)
        log.info("case event", complaint_id=event.complaint_id, case_event=event.event, key=event.key, new=recorded.new)
        return recorded

    def message(self, notice, event: CaseEvent) -> Message:
        url = f"{self.settings.public_url.rstrip('/')}/kasus/{event.complaint_id}"
        subject, body = notices.render(notice, event.context, url)
        return Message(recipient=notice.recipient, subject=subject, body=body, not_before=notice.not_before)

    @activity.defn(name=CHOOSE_PENDAMPING)
    @sorted_errors
    async def choose_pendamping(self, request: AssignRequest) -> Assignment:
        return await self.store.roster.choose_pendamping(request.village_code, request.on, request.exclude)

    @activity.defn(name=LOAD_POLICY)
    @sorted_errors
    async def load_policy(self, request: PolicyRequest) -> PolicyResult:
        return PolicyResult(policy=load_policy(self.settings.sla_policy_file))

    def all(self) -> list:
        return [self.open_case, self.record_event, self.choose_pendamping, self.load_policy]


def intake_warnings(personal: PersonalData, opening) -> list[str]:
    """Codes (no personal data) for what the office should double-check, e.g. a NIK that disagrees."""
    try:
        from referral.intake import intake_warnings as check
    except ImportError:
        return []
    from referral.intake import ComplaintIntake  # noqa: F401
    try:
        return list(check(personal, opening))
    except TypeError:
        return []


__all__ = ["CaseActivities", "is_sealed", "load_policy", "subject_key"]
