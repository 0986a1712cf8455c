"""The activities a ComplaintWorkflow runs: thin wrappers over `Database`, each idempotent."""

from __future__ import annotations

from pathlib import Path

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.db import Database
from referral import reference
from referral.config import Settings
from referral.holiday_source import build_calendar
from referral.lifecycle import OfficerRef
from referral.intake import PersonalData
from referral.records import (
    AssignRequest,
    AssignResult,
    CaseEvent,
    CaseSetup,
    IntakeRecord,
    IntakeResult,
    SetupRequest,
)
from referral.routing import choose_pendamping
from referral.sealing import unseal, unseal_values
from referral.sla import SlaPolicy

log = structlog.get_logger(__name__)


def load_policy(path: str | None) -> SlaPolicy:
    from importlib import resources

    text = (
        Path(path).read_text(encoding="utf-8")
        if path
        else resources.files("referral.data").joinpath("sla_policy.json").read_text(encoding="utf-8")
    )
    return SlaPolicy.model_validate_json(text)


class CaseActivities:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    @activity.defn
    async def load_case_setup(self, request: SetupRequest) -> CaseSetup:
        """The policy, calendar and officers a case runs under (read-only)."""
        officers = {
            o["officer_id"]: OfficerRef(
                officer_id=o["officer_id"], role=o["role"], bidang=o["bidang"], kecamatan=o["kecamatan"]
            )
            for o in await self.db.officers()
        }
        if not officers:
            raise ApplicationError("the officers table is empty: load a roster first", non_retryable=False)
        return CaseSetup(
            policy=load_policy(self.settings.sla_policy_file),
            calendar=build_calendar(
                request.reported_on.year,
                closures_file=self.settings.closures_file,
                office_open=self.settings.office_open,
                office_close=self.settings.office_close,
                utc_offset_minutes=self.settings.utc_offset_minutes,
            ),
            officers=officers,
            bidang_names=reference.bidang_names(),
        )

    @activity.defn
    async def record_intake(self, record: IntakeRecord) -> IntakeResult:
        try:
            personal = PersonalData.model_validate(unseal(record.sealed_personal, self.settings.pii_key))
        except Exception as exc:  # a wrong key or a tampered token: retrying cannot help
            raise ApplicationError(f"cannot unseal the personal data: {type(exc).__name__}",
                                   type="SealedDataError", non_retryable=True) from None
        duplicate_of = await self.db.insert_complaint(record, personal)
        log.info("intake recorded", complaint_id=record.complaint_id, duplicate=duplicate_of is not None)
        return IntakeResult(duplicate_of=duplicate_of)

    @activity.defn
    async def choose_pendamping(self, request: AssignRequest) -> AssignResult:
        officers = await self.db.officers()
        pendamping = [
            OfficerRef(officer_id=o["officer_id"], role=o["role"], bidang=o["bidang"], kecamatan=o["kecamatan"])
            for o in officers
            if o["role"] == "pendamping"
        ]
        try:
            choice = choose_pendamping(
                request.village_code,
                await self.db.coverage(),
                pendamping,
                on_leave=await self.db.on_leave(request.on),
                open_cases=await self.db.open_caseloads(),
                exclude=request.exclude,
            )
        except LookupError as exc:
            raise ApplicationError(str(exc), type="NoPendamping") from exc
        return AssignResult(pendamping_id=choice.pendamping_id, reason=choice.reason)

    @activity.defn
    async def record_event(self, event: CaseEvent) -> bool:
        # The audit trail in Postgres keeps officers' notes readable; Temporal keeps them sealed.
        event = event.model_copy(update={"detail": unseal_values(event.detail, self.settings.pii_key)})
        new = await self.db.record_event(event)
        log.info("case event", complaint_id=event.complaint_id, case_event=event.event, key=event.key, new=new)
        return new

    def all(self) -> list:
        return [self.load_case_setup, self.record_intake, self.choose_pendamping, self.record_event]
