"""Submitting, reading and listing complaints: POST/GET /v1/complaints, GET /v1/complaints/{id}."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel

from api import policy
from api.limits import rate_limited
from api.pages import category_name, village_label
from api.principal import Principal, ServicePrincipal
from api.routes_person import DEFAULT_READ_PURPOSE, case_timeline
from api.routes_support import (
    RETRY_AFTER_SECONDS, access_of_row, case_facts, door_of, forbidden, require_csrf_for_cookie, say,
    unprocessable,
)
from casework import cases
from casework.intake import IntakeError, IntakeFailed, parse_intake, submit
from referral.intake import ComplaintIntake
from referral.models import CaseView, Receipt, Status, TimelinePage

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/v1", tags=["complaints"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No credential, or one that proves nobody (expired, revoked, unknown)"},
    403: {"description": "The policy refuses this caller for this case (the message says who may)"},
    404: {"description": "No such case"},
    429: {"description": "Over the rate limit of this credential (Retry-After)"},
    503: {"description": "Temporal or PostgreSQL cannot be reached (Retry-After)"},
}
FILTER_TEXT = r"^[A-Za-z0-9 _.:-]{1,64}$"


def intake_openapi() -> tuple[dict[str, Any], dict[str, Any]]:
    """The intake's JSON Schema for the OpenAPI document: (schema, component schemas it refers to)."""
    schema = ComplaintIntake.model_json_schema(ref_template="#/components/schemas/{model}")
    return schema, schema.pop("$defs", {})


class CaseListItem(BaseModel):
    """One case in a list, from Temporal visibility: no personal data."""

    complaint_id: str
    status: str | None = None
    village_code: str | None = None
    village: str | None = None
    kecamatan: str | None = None
    category: str | None = None
    category_name: str | None = None
    bidang: str | None = None
    pendamping_id: str | None = None
    urgency: str | None = None
    escalation_level: int | None = None
    sla_breached: bool | None = None
    needs_attention: bool = False
    conditions: list[str] = []
    next_deadline: datetime | None = None
    started: datetime | None = None

    @classmethod
    def of(cls, row: dict[str, Any]) -> "CaseListItem":
        known = {k: v for k, v in row.items() if k in cls.model_fields}
        return cls(**known, village=village_label(row.get("village_code")),
                   category_name=category_name(row.get("category")))


def readable_rows(principal: Principal, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The query already carries the caller's scope; the policy checks each row again all the same."""
    return [row for row in rows if policy.can_read(principal, access_of_row(row))]


def scoped_query(principal: Principal, query: str) -> str:
    scope = policy.worklist_filter(principal).to_query()
    return f"{query} AND {scope}" if scope else query


def sender_of(principal: Principal) -> str:
    """Whose reference `external_ref` is: the service's id, or (an office entry) the officer's."""
    if isinstance(principal, ServicePrincipal):
        return principal.service_id
    return f"{principal.kind}:{principal.principal_id}"  # ':' never occurs in a service id


@router.post(
    "/complaints", response_model=Receipt, status_code=201,
    summary="Submit a complaint (idempotent on your external_ref)",
    responses={**ERRORS, 200: {"model": Receipt, "description": "The same external_ref again: the same case"},
               422: {"description": "Invalid intake: `problems` names every bad field; nothing was started"}},
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/ComplaintIntake"}}}}},
)
async def submit_complaint(request: Request, response: Response,
                           principal: Principal = Depends(rate_limited)) -> Receipt:
    door = door_of(request)
    require_csrf_for_cookie(request, door)
    try:
        intake = parse_intake(await request.body(), max_backdate=door.max_backdate)
    except IntakeError as err:
        raise unprocessable(err.problems, door.language, "intake.invalid") from None
    decision = policy.can_submit(principal, intake.channel.value, intake.village_code)
    if not decision:
        raise HTTPException(403, decision.text(door.language))
    try:
        submitted = await submit(door.client, intake, door.config.task_queue, door.config.pii_key,
                                 sender=sender_of(principal))
    except IntakeFailed as err:
        raise HTTPException(503, say("intake.failed", door.language, reason=str(err)),
                            headers={"Retry-After": str(RETRY_AFTER_SECONDS)}) from None
    response.status_code = 200 if submitted.existing else 201
    response.headers["Location"] = f"/v1/complaints/{submitted.complaint_id}"
    log.info("complaint submitted", complaint_id=submitted.complaint_id, repeat=submitted.existing,
             joined=submitted.joined, channel=intake.channel.value)
    return Receipt(complaint_id=submitted.complaint_id, status=Status(submitted.status), repeat=submitted.existing,
                   joined=submitted.joined, pendamping_id=submitted.pendamping_id, needs_attention=submitted.needs_attention)


@router.get("/complaints/{complaint_id}", response_model=CaseView, responses=ERRORS,
            summary="A case's state, clocks and timeline (officers' notes opened for those entitled)")
async def get_complaint(
    complaint_id: str, request: Request,
    offset: int = Query(0, ge=0, description="First timeline entry (oldest first)"),
    limit: int = Query(100, ge=0, le=1000, description="Timeline entries at most"),
    purpose: str | None = Query(None, max_length=500, description="Why you read officers' notes (recorded)"),
    principal: Principal = Depends(rate_limited),
) -> CaseView:
    door = door_of(request)
    facts = await case_facts(door, complaint_id, TimelinePage(offset=offset, limit=limit))
    decision = policy.can_read(principal, facts.access)
    if not decision:
        raise forbidden(decision, door.language)
    return await case_timeline(door, principal, facts, (purpose or "").strip() or DEFAULT_READ_PURPOSE,
                               request.state.request_id)


@router.get("/complaints", response_model=list[CaseListItem], responses=ERRORS,
            summary="Cases matching the filters, among those you may read")
async def list_complaints(
    request: Request,
    status: Status | None = None,
    village: str | None = Query(None, pattern=FILTER_TEXT, description="Kemendagri code, e.g. 51.08.08.2010"),
    kecamatan: str | None = Query(None, pattern=FILTER_TEXT),
    pendamping: str | None = Query(None, pattern=FILTER_TEXT),
    bidang: str | None = Query(None, pattern=FILTER_TEXT),
    category: str | None = Query(None, pattern=FILTER_TEXT),
    condition: str | None = Query(None, pattern=FILTER_TEXT),
    breached: bool = False,
    escalation_level: int | None = Query(None, ge=0, le=9, description="At least this level"),
    needs_attention: bool = False,
    limit: int = Query(200, ge=1, le=1000),
    principal: Principal = Depends(rate_limited),
) -> list[CaseListItem]:
    door = door_of(request)
    query = cases.list_query(
        status=status.value if status else None, village=village, pendamping=pendamping, bidang=bidang,
        kecamatan=kecamatan, category=category, breached=breached, escalation_level=escalation_level,
        needs_attention=needs_attention, condition=condition,
    )
    rows = await cases.list_cases(door.client, scoped_query(principal, query), limit=limit)
    return [CaseListItem.of(row) for row in readable_rows(principal, rows)]
