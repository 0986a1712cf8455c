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
from casework import metrics
from referral import notices, reference
from referral.case import CaseSetup, CategoryRef, VillageRef
from referral.config import Settings
from referral.holiday_source import build_calendar
from referral.intake import PersonalData, intake_warnings
from referral.records import (
    CASE_SETUP, CHOOSE_PENDAMPING, LOAD_POLICY, OPEN_CASE, RECORD_EVENT, AssignRequest, Assignment, CaseEvent,
    OpenCaseRequest, OpenedCase, PolicyRequest, PolicyResult, Recorded, SetupRequest, SetupResult,
)
from referral.sealing import unseal, unseal_values
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
            language=s.language,
        )

    def personal_data(self, request: OpenCaseRequest) -> PersonalData:
        """The intake's personal data; data that does not validate is a permanent failure (needs attention)."""
        if request.personal is not None:
            return request.personal
        try:
            opened = unseal(request.sealed_personal or "", self.settings.pii_key)
        except Exception:  # a wrong key or a damaged token: retrying cannot help, the sender must be told
            raise SealedDataError("the personal data does not open under this worker's key") from None
        return PersonalData.model_validate(opened)

    @activity.defn(name=CASE_SETUP)
    @sorted_errors
    async def case_setup(self, request: SetupRequest) -> SetupResult:
        """What the case runs under (read only): recorded in its history, so files are read only here."""
        setup = self.setup_for(request.village_code, request.reported_on)
        setup = setup.model_copy(update={"roster_version": await self.store.roster.version()})
        return SetupResult(setup=setup, history_limit=self.settings.history_limit)

    @activity.defn(name=OPEN_CASE)
    @sorted_errors
    async def open_case(self, request: OpenCaseRequest) -> OpenedCase:
        """The intake: the row and its 'received' event (once), an open case of the same person, who takes it."""
        opening = request.opening
        personal = self.personal_data(request)
        key = subject_key(personal.subject.nik, personal.subject.name, personal.subject.birth_date,
                          self.settings.hash_salt)
        warnings = intake_warnings(personal)
        village = reference.villages()[opening.village_code]
        written = await self.store.cases.record_intake(
            request, personal, key, kecamatan=village.kecamatan,
            bidang=reference.categories()[opening.category].bidang, warnings=warnings)
        assignment = await self.store.roster.choose_pendamping(opening.village_code, request.assign_on, exclude=[])
        if written.new:
            metrics.observe_event("received", {}, village.kecamatan, opening.category)
        log.info("intake recorded", complaint_id=written.complaint_id, duplicate=written.duplicate_of is not None)
        return OpenedCase(complaint_id=written.complaint_id, duplicate_of=written.duplicate_of,
                          assignment=assignment, events=[written.received], warnings=warnings)

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
        if recorded.new:  # a retried activity is not counted twice
            metrics.observe_event(event.event, event.detail, event.kecamatan, event.opening.category)
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
        return [self.case_setup, self.open_case, self.record_event, self.choose_pendamping, self.load_policy]



__all__ = ["CaseActivities", "load_policy", "subject_key"]
