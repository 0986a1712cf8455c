"""Partner offices answer their referrals; officers record an answer given by telephone or letter.

    GET  /v1/referrals                                    a partner's open referrals (its worklist)
    POST /v1/complaints/{id}/referrals/{n}/{answer}       answer = accept | done | refuse

A partner credential acts only on its own referrals (the case lists the partner in `ReferralPartners` and
the referral is addressed to it). An officer of the case may record the office's answer, saying how it came
(`via`: telepon, surat, langsung). The sub-case's own rules decide the rest (409 with its message).
"""

# No `from __future__ import annotations`: FastAPI must see the body classes themselves.

from typing import Any, Literal

import structlog
from fastapi import APIRouter, Body, Depends, Header, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from api import policy
from api.limits import rate_limited
from api.principal import OfficerPrincipal, PartnerPrincipal, Principal
from api.routes_support import (
    actor_of, case_facts, door_of, forbidden, problem_lines, require_csrf_for_cookie, unprocessable, update_id,
)
from referral.intake import check_nik
from referral.partner_referrals import ANSWERS, ReferralAnswer
from referral.models import TimelinePage

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/v1", tags=["referrals"])


class AnswerBody(BaseModel):
    """An answer without its actor (the credential is the actor)."""

    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=4000)
    via: Literal["telepon", "surat", "langsung"] | None = Field(
        default=None, description="an officer recording the office's answer: how it came")
    provided: str | None = Field(default=None, max_length=4000, description="done: what the office provided")
    nik: str | None = Field(default=None, max_length=32, description="done, Disdukcapil: the new NIK")
    reason: str | None = Field(default=None, max_length=4000, description="refuse: why")


class PartnerReferral(BaseModel):
    complaint_id: str
    n: int
    workflow_id: str
    status: str | None
    next_deadline: str | None


@router.get("/referrals", response_model=list[PartnerReferral])
async def my_referrals(request: Request, principal: Principal = Depends(rate_limited)) -> list[PartnerReferral]:
    """The referrals sent to the calling partner office that are still open."""
    door = door_of(request)
    if not isinstance(principal, PartnerPrincipal):
        raise HTTPException(403, "only a partner office has a referral worklist")
    query = (f"WorkflowType = 'PartnerReferralWorkflow' AND ReferralPartners = '{principal.partner_code}'"
             " AND ExecutionStatus = 'Running'")
    found = []
    async for execution in door.client.list_workflows(query, limit=500):
        attrs = execution.typed_search_attributes
        complaint_id, _, n = execution.id.removeprefix("complaint-").rpartition("-ref-")
        deadline = attrs.get(_next_deadline())
        found.append(PartnerReferral(complaint_id=complaint_id, n=int(n), workflow_id=execution.id,
                                     status=attrs.get(_status()), next_deadline=deadline.isoformat() if deadline else None))
    return found


def _status():
    from workflows import search_attributes as sa
    return sa.REFERRAL_STATUS


def _next_deadline():
    from workflows import search_attributes as sa
    return sa.NEXT_DEADLINE


@router.post("/complaints/{complaint_id}/referrals/{n}/{answer}", response_model=ReferralAnswer,
             responses={403: {"description": "not this partner's referral, or not an officer of the case"},
                        404: {"description": "no such case or referral"},
                        409: {"description": "the referral refused the answer (its state): its message"},
                        422: {"description": "invalid body"}})
async def answer_referral(complaint_id: str, n: int, answer: str, request: Request,
                          body: AnswerBody | None = Body(None),
                          idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
                          principal: Principal = Depends(rate_limited)) -> ReferralAnswer:
    door = door_of(request)
    require_csrf_for_cookie(request, door)
    data = body.model_dump(exclude_unset=True) if body else {}
    return await submit_answer(door, principal, complaint_id, n, answer, data, idempotency_key)


async def submit_answer(door: Any, principal: Principal, complaint_id: str, n: int, answer: str,
                        data: dict[str, Any], idempotency_key: str | None) -> ReferralAnswer:
    """Check who answers, then send the answer to the referral's own workflow (the API and the case page)."""
    if answer not in ANSWERS:
        raise HTTPException(404, f"unknown answer {answer!r}: accept, done or refuse")
    facts = await case_facts(door, complaint_id, TimelinePage(limit=0))
    referral = next((r for r in facts.view.referrals if r.n == n), None)
    if referral is None:
        raise HTTPException(404, f"case {complaint_id} has no referral {n}")
    if isinstance(principal, PartnerPrincipal):
        if referral.partner != principal.partner_code:
            raise HTTPException(403, f"referral {n} of {complaint_id} is addressed to {referral.partner}, not to"
                                     f" {principal.partner_code}")
    elif isinstance(principal, OfficerPrincipal):
        decision = policy.can_act(principal, f"referral_{answer}", facts.access)
        if not decision:
            raise forbidden(decision, door.language)
    else:
        raise HTTPException(403, "a calling service cannot answer a referral")
    model, _, _ = ANSWERS[answer]
    data = {k: v for k, v in data.items() if k in model.model_fields}
    if data.get("nik"):  # judged here in full (the workflow cannot read today's date while validating)
        try:
            check_nik(str(data["nik"]))
        except ValueError as err:
            raise unprocessable([f"nik: {err}"], door.language) from None
    try:
        request_model = model.model_validate({**data, "actor": actor_of(principal)})
    except ValidationError as exc:
        raise unprocessable(problem_lines(exc.errors(), door.language), door.language) from None
    handle = door.client.get_workflow_handle(referral.workflow_id)
    try:
        result = await handle.execute_update(answer, request_model, result_type=ReferralAnswer,
                                             id=update_id(principal, f"referral-{n}-{answer}", idempotency_key,
                                                          door.language))
    except WorkflowUpdateFailedError as err:
        raise HTTPException(409, getattr(err.cause, "message", None) or str(err.cause)) from None
    except RPCError as err:
        if "completed" in str(err).lower():
            raise HTTPException(409, f"referral {n} is already {referral.status}") from None
        raise
    log.info("referral answered", complaint_id=complaint_id, n=n, answer=answer, status=result.status)
    return result
