"""Personal data: the person behind a case, officers' notes, and who read them (UU PDP 27/2022).

Every read of personal data is recorded with `record_access` (who, which case, which fields, why,
the request id) before the data leaves the server; a read that cannot be recorded is not served.
Officers' notes in the timeline count as personal data (`policy.PERSON_FIELDS`): opened for those
entitled (and recorded), hidden (null) for everyone else.

A case whose personal data the retention job erased (REFERRAL_ERASE_AFTER_YEARS after it finished) answers
410 Gone: nothing is read, so nothing is recorded. Long after that the case is gone from Temporal too; an
officer asking then still gets 410 (others 404), from Postgres, which keeps the case row and its trail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel

from api import policy
from api.limits import rate_limited
from api.principal import OfficerPrincipal, Principal
from api.routes_support import (
    RETRY_AFTER_SECONDS, CaseFacts, Door, case_facts, door_of, forbidden, say, unprocessable,
)
from activities.store.erasure import FREE_TEXT_FIELDS, ErasureStore
from activities.store.access import PURPOSE_MAX
from referral.models import SYSTEM, CaseView, TimelinePage
from referral.sealing import is_sealed, unseal

router = APIRouter(prefix="/v1", tags=["personal data"])
DEFAULT_READ_PURPOSE = "membaca linimasa kasus"
NOTES = "notes"
def erased(complaint_id: str, at: datetime, language: str) -> HTTPException:
    return HTTPException(410, say("person.erased", language, complaint_id=complaint_id, date=f"{at:%Y-%m-%d}"))


class PersonData(BaseModel):
    """What the caller may see of the person: the subject, the reporter (officers only), the description."""

    complaint_id: str
    purpose: str
    fields: list[str]
    subject: dict[str, Any] | None = None
    reporter: dict[str, Any] | None = None
    description: str | None = None
    access_id: int


class AccessItem(BaseModel):
    id: int
    principal_kind: str
    principal_id: str
    fields: list[str]
    purpose: str
    at: datetime
    request_id: str | None


# ---- officers' notes in the timeline ----

def has_notes(view: CaseView) -> bool:
    """Officers' free texts (notes, plans, reasons, needs, what was provided) are personal data: since the
    codec encrypts payloads they travel in clear inside them, older cases hold them sealed."""
    return any(_officers_text(entry, name) for entry in view.timeline for name in FREE_TEXT_FIELDS)


def _officers_text(entry: Any, name: str) -> bool:
    """A free text a person wrote (the engine's own entries carry codes and reasons of its own)."""
    value = entry.detail.get(name)
    return is_sealed(value) or (name in FREE_TEXT_FIELDS and entry.actor != SYSTEM.id and bool(value))


def _opened(value: Any, pii_key: str | None) -> Any:
    if not is_sealed(value):
        return value
    if pii_key is None:
        return None
    try:
        return unseal(value, pii_key)["text"]
    except Exception:  # sealed under a key this office no longer holds: shown as hidden
        return None


def with_notes(view: CaseView, pii_key: str | None, *, shown: bool = True) -> CaseView:
    """The view with officers' texts shown (sealed ones opened with the key) or hidden (None)."""
    def detail(entry: Any) -> dict[str, Any]:
        return {k: (_opened(v, pii_key) if shown else None) if _officers_text(entry, k) or is_sealed(v) else v
                for k, v in entry.detail.items()}
    timeline = [entry.model_copy(update={"detail": detail(entry)}) for entry in view.timeline]
    return view.model_copy(update={"timeline": timeline})


async def case_timeline(door: Door, principal: Principal, facts: CaseFacts, purpose: str,
                        request_id: str | None) -> CaseView:
    """The case view for this caller: notes opened and the read recorded when entitled, else hidden."""
    view = facts.view
    if not has_notes(view):
        return view
    if NOTES not in policy.person_fields(principal, facts.access):
        return with_notes(view, None, shown=False)
    await door.access.record_access(principal_kind=principal.kind, principal_id=principal.principal_id,
                                    complaint_id=view.complaint_id, fields=[NOTES], purpose=purpose,
                                    request_id=request_id)
    return with_notes(view, door.config.pii_key)


# ---- the person ----

def checked_purpose(purpose: str | None, language: str) -> str:
    text = (purpose or "").strip()
    if not text or len(text) > PURPOSE_MAX:
        raise unprocessable([f"purpose: {say('purpose.bad', language)}"], language)
    return text


async def read_person(door: Door, principal: Principal, facts: CaseFacts, purpose: str, request_id: str | None,
                      *, notes_too: bool = False) -> PersonData:
    """The person's data the caller may see, the read recorded first. 403 when not entitled."""
    decision = policy.can_read_person(principal, facts.access)
    if not decision:
        raise forbidden(decision, door.language)
    allowed = policy.person_fields(principal, facts.access)
    fields = [f for f in allowed if f != NOTES] + ([NOTES] if notes_too and NOTES in allowed else [])
    complaint_id = facts.view.complaint_id
    row = await door.store.cases.complaint(complaint_id, personal=True)
    if row is None:  # the intake step has not stored it yet
        raise HTTPException(503, say("case.no_person_row", door.language, complaint_id=complaint_id),
                            headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    if row.erased_at is not None:
        raise erased(complaint_id, row.erased_at, door.language)
    record = await door.access.record_access(
        principal_kind=principal.kind, principal_id=principal.principal_id, complaint_id=complaint_id,
        fields=fields, purpose=purpose, request_id=request_id)
    return PersonData(
        complaint_id=complaint_id, purpose=purpose, fields=fields, access_id=record.id,
        subject=row.subject if "subject" in fields else None,
        reporter=row.reporter if "reporter" in fields else None,
        description=row.description if "description" in fields else None,
    )


def may_see_accesses(principal: Principal, facts: CaseFacts) -> bool:
    """A supervisor of the case: the head of a bidang involved in it, or the kepala dinas."""
    return (isinstance(principal, OfficerPrincipal) and principal.role in ("head_of_bidang", "kepala_dinas")
            and bool(policy.can_read(principal, facts.access)))


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid credential"},
    403: {"description": "Not entitled to this case's personal data"},
    404: {"description": "No such case"},
    422: {"description": "purpose missing or too long"},
    503: {"description": "Temporal or PostgreSQL cannot be reached; nothing was read"},
}


@router.get("/complaints/{complaint_id}/person", response_model=PersonData,
            responses={**ERRORS, 410: {"description": "Its personal data was erased after the retention period"}},
            summary="The person's name, NIK, address, phone and the description (every read recorded)")
async def get_person(
    complaint_id: str, request: Request,
    purpose: str = Query(..., max_length=PURPOSE_MAX, description="Why you read it, e.g. 'kunjungan lapangan'"),
    principal: Principal = Depends(rate_limited),
) -> PersonData:
    door = door_of(request)
    purpose = checked_purpose(purpose, door.language)
    try:
        facts = await case_facts(door, complaint_id, TimelinePage(limit=0))
    except HTTPException as exc:
        # Gone from Temporal (its retention is far shorter than ours): an officer learns it was erased.
        if exc.status_code == 404 and isinstance(principal, OfficerPrincipal):
            at = await ErasureStore(door.store.pool).erased_at(complaint_id)
            if at is not None:
                raise erased(complaint_id, at, door.language) from None
        raise
    return await read_person(door, principal, facts, purpose, request.state.request_id)


@router.get("/complaints/{complaint_id}/accesses", response_model=list[AccessItem], responses=ERRORS,
            summary="Who read this case's personal data, when and why (supervisors)")
async def get_accesses(complaint_id: str, request: Request,
                       principal: Principal = Depends(rate_limited)) -> list[AccessItem]:
    door = door_of(request)
    facts = await case_facts(door, complaint_id, TimelinePage(limit=0))
    if not may_see_accesses(principal, facts):
        raise HTTPException(403, say("accesses.forbidden", door.language))
    records = await door.access.accesses_for(facts.view.complaint_id)
    return [AccessItem(id=r.id, principal_kind=r.principal_kind, principal_id=r.principal_id, fields=list(r.fields),
                       purpose=r.purpose, at=r.at, request_id=r.request_id) for r in records]
