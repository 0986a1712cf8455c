"""The activities a ComplaintWorkflow runs: thin wrappers over the data layer, each idempotent.

They run as local activities in the case's own workflow task (see workflows/complaint.py); failures are
sorted by `activities.errors.sorted_errors` into those Temporal retries and those a person must see.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime, timezone

import structlog
from temporalio import activity

from activities.errors import SealedDataError, sorted_errors
from activities.store import Store
from activities.store.cases import Message
from casework import metrics
from referral import notices, reference
from referral.case import CaseSetup
from referral.config import Settings
from referral.setup import calendar_for, case_setup, load_policy
from referral.intake import PersonalData, check_nik, intake_warnings
from referral.records import (
    CASE_CALENDAR, CASE_SETUP, CHOOSE_PENDAMPING, LOAD_POLICY, OPEN_CASE, RECORD_EVENT, RECORD_REFERRAL, AssignRequest,
    Assignment, CalendarRequest, CalendarResult, CaseEvent, OpenCaseRequest, OpenedCase, PolicyRequest, PolicyResult,
    Recorded, ReferralEvent, ReferralRecorded, SetupRequest, SetupResult,
)
from referral.sealing import is_sealed, unseal, unseal_values

log = structlog.get_logger(__name__)


def subject_key(nik: str | None, name: str, birth_date: date | None, secret: bytes | str,
                village_code: str = "") -> str:
    """A keyed hash that finds the same person again without storing a searchable NIK: by NIK, or by name,
    birth date and village when there is none. The secret is the keyring's hash key
    (activities.envelope.subject_hash_key); REFERRAL_HASH_SALT only finds cases hashed with it before."""
    basis = f"nik:{nik}" if nik else f"name:{' '.join(name.lower().split())}|{birth_date}|{village_code}"
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, basis.encode(), hashlib.sha256).hexdigest()


class CaseActivities:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def calendar_for(self, first_year: int):
        return calendar_for(self.settings, first_year)

    def setup_for(self, village_code: str, reported_on: date) -> CaseSetup:
        """The policy, calendar, village and catalogues a case runs under; recorded in its history."""
        return case_setup(self.settings, village_code, reported_on)

    def subject_keys(self, nik: str | None, name: str, birth_date: date | None,
                     village_code: str) -> tuple[str, list[str]]:
        """The person's hash keyed from the keyring, and the older salted hash (REFERRAL_HASH_SALT) that cases
        opened before still carry, so a duplicate among them is still found."""
        keyed = subject_key(nik, name, birth_date, self.store.cases.keys.hash_key(), village_code)
        return keyed, [subject_key(nik, name, birth_date, self.settings.hash_salt, village_code)]

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
        key, older = self.subject_keys(personal.subject.nik, personal.subject.name, personal.subject.birth_date,
                                       opening.village_code)
        warnings = intake_warnings(personal)
        village = reference.villages()[opening.village_code]
        written = await self.store.cases.record_intake(
            request, personal, key, kecamatan=village.kecamatan,
            bidang=reference.categories()[opening.category].bidang, warnings=warnings, also_match=older)
        if written.joined_to:
            log.info("report joined an open case", complaint_id=written.joined_to)
            return OpenedCase(complaint_id=written.complaint_id, joined_to=written.joined_to,
                              joined_workflow_id=written.joined_workflow_id, joined_key=written.joined_key,
                              finished_at=datetime.now(timezone.utc))
        assignment = await self.store.roster.choose_pendamping(opening.village_code, request.assign_on, exclude=[])
        if written.new:
            metrics.observe_event("received", {}, village.kecamatan, opening.category)
        log.info("intake recorded", complaint_id=written.complaint_id, repeat_of=written.previous_case)
        return OpenedCase(complaint_id=written.complaint_id, previous_case=written.previous_case,
                          assignment=assignment, events=[written.received], warnings=warnings,
                          finished_at=datetime.now(timezone.utc))

    @activity.defn(name=RECORD_EVENT)
    @sorted_errors
    async def record_event(self, event: CaseEvent) -> Recorded:
        # Opened here, encrypted again under the case's data key by the store (erasable); Temporal keeps them sealed.
        try:
            event = event.model_copy(update={"detail": unseal_values(event.detail, self.settings.pii_key)})
        except Exception:
            raise SealedDataError("an officer's note does not open under this worker's key") from None
        messages = [self.message(n, event) for n in event.notices] if event.context else []
        recorded = await self.store.cases.record(event, messages)
        if recorded.new:  # a retried activity is not counted twice
            metrics.observe_event(event.event, event.detail, event.kecamatan, event.opening.category)
        log.info("case event", complaint_id=event.complaint_id, case_event=event.event, key=event.key, new=recorded.new)
        return recorded.model_copy(update={"finished_at": datetime.now(timezone.utc)})

    def message(self, notice, event: CaseEvent | ReferralEvent) -> Message:
        url = f"{self.settings.public_url.rstrip('/')}/kasus/{event.complaint_id}"
        category = reference.categories().get(event.context.category)
        subject, body = notices.render(notice, event.context, url, hide_category=bool(category and category.sensitive))
        return Message(recipient=notice.recipient, subject=subject, body=body, not_before=notice.not_before)

    @activity.defn(name=RECORD_REFERRAL)
    @sorted_errors
    async def record_referral(self, event: ReferralEvent) -> ReferralRecorded:
        """A sub-case's step; a NIK registration's NIK goes into the case's subject and the duplicate check runs
        again with it."""
        try:
            event = event.model_copy(update={"detail": unseal_values(event.detail, self.settings.pii_key)})
            # The NIK travels in the codec's encrypted payload; a 0.1 door sealed it as well.
            nik = unseal(event.nik, self.settings.pii_key)["text"] if is_sealed(event.nik) else event.nik
        except Exception:
            raise SealedDataError("a referral's text does not open under this worker's key") from None
        duplicate_of = None
        if nik:
            duplicate_of = await self._record_nik(event.complaint_id, check_nik(nik))
        messages = [self.message(n, event) for n in event.notices] if event.context else []
        new, recipients = await self.store.referrals.record(event, messages)
        log.info("referral event", complaint_id=event.complaint_id, n=event.n, referral_event=event.event, new=new)
        return ReferralRecorded(new=new, recipients=recipients, nik_recorded=bool(nik), duplicate_of=duplicate_of)

    async def _record_nik(self, complaint_id: str, nik: str) -> str | None:
        case = await self.store.referrals.subject(complaint_id)
        if case is None:
            raise LookupError(f"case {complaint_id} has no row")
        subject = case["subject"] or {}
        birth = date.fromisoformat(subject["birth_date"]) if subject.get("birth_date") else None
        key, older = self.subject_keys(nik, subject.get("name", ""), birth, case["village_code"])
        return await self.store.referrals.record_nik(complaint_id, nik, key, case["category"], also_match=older)

    @activity.defn(name=CHOOSE_PENDAMPING)
    @sorted_errors
    async def choose_pendamping(self, request: AssignRequest) -> Assignment:
        return await self.store.roster.choose_pendamping(request.village_code, request.on, request.exclude)

    @activity.defn(name=LOAD_POLICY)
    @sorted_errors
    async def load_policy(self, request: PolicyRequest) -> PolicyResult:
        return PolicyResult(policy=load_policy(self.settings.sla_policy_file))

    @activity.defn(name=CASE_CALENDAR)
    @sorted_errors
    async def case_calendar(self, request: CalendarRequest) -> CalendarResult:
        """The calendar now in force for the years a case spans (after new closures or a new SKB)."""
        return CalendarResult(calendar=self.calendar_for(request.first_year))

    def all(self) -> list:
        return [self.case_setup, self.open_case, self.record_event, self.choose_pendamping, self.load_policy,
                self.case_calendar, self.record_referral]



__all__ = ["CaseActivities", "load_policy", "subject_key"]  # load_policy re-exported for older callers
