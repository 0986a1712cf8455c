"""Acting on a case: POST /v1/complaints/{id}/actions/{action}, one route per row of the action table.

The body is the action's input model without `actor`: the actor is the caller's credential (an
officer's id, role and bidang from the roster). `reassign` names the new pendamping by
`pendamping_id`, resolved on the roster. The policy decides whether the caller may touch the case
(403); the case's own rules decide whether the action fits its state and the actor (409, the
workflow's message). An `Idempotency-Key` header becomes the Temporal update id, scoped by caller and
action, so a retried request never acts twice.
"""

# No `from __future__ import annotations`: FastAPI must see the per-action body classes themselves.

import re
from typing import Any

import structlog
from fastapi import APIRouter, Body, Depends, Header, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from api import policy
from api.limits import rate_limited
from api.principal import Principal
from api.routes_support import (
    Door, actor_of, case_facts, door_of, forbidden, not_found, problem_lines, require_csrf_for_cookie, say,
    unprocessable, update_id,
)
from casework import cases
from referral.actions import RULES
from referral.models import Actor, CaseSummary, TimelinePage

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/v1", tags=["actions"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid credential"},
    403: {"description": "The policy refuses this caller for this case"},
    404: {"description": "No such case"},
    409: {"description": "The case refused the action (its state, or who may take it): the case's message"},
    422: {"description": "Invalid body: `problems` names every bad field"},
    503: {"description": "Temporal or PostgreSQL cannot be reached, or no worker answered"},
}


def body_model(action: str) -> type[BaseModel]:
    """The action's input model without `actor`; `reassign` takes `pendamping_id` instead of `to`."""
    model = cases.ACTIONS[action]
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name == "actor":
            continue
        if name == "to":
            fields["pendamping_id"] = (str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:@-]+$",
                                                  description="The pendamping who takes the case (roster id)"))
            continue
        fields[name] = (info.annotation, info)
    camel = "".join(part.capitalize() for part in action.split("_"))
    return create_model(f"{camel}Body", __config__=ConfigDict(extra="forbid"), **fields)


BODIES: dict[str, type[BaseModel]] = {name: body_model(name) for name in RULES}


async def roster_pendamping(door: Door, pendamping_id: Any) -> Actor:
    """The officer a reassignment names, as the case will see them; 422 when not active on the roster."""
    officer = await door.store.roster.officer(pendamping_id) if isinstance(pendamping_id, str) else None
    if officer is None or not officer.active:
        problem = say("reassign.unknown", door.language, pendamping_id=str(pendamping_id)[:64])
        raise unprocessable([f"pendamping_id: {problem}"], door.language)
    return Actor(id=officer.officer_id, role=officer.role, bidang=officer.bidang)


async def perform(door: Door, principal: Principal, complaint_id: str, action: str, body: dict[str, Any],
                  idempotency_key: str | None) -> CaseSummary:
    """Check the caller against the policy, build the action's input, and send it to the case."""
    facts = await case_facts(door, complaint_id, TimelinePage(limit=0))
    decision = policy.can_act(principal, action, facts.access)
    if not decision:
        raise forbidden(decision, door.language)
    if "actor" in body:
        raise unprocessable([f"actor: {say('actor.from_credential', door.language)}"], door.language)
    data = dict(body)
    if action == "reassign":
        data["to"] = await roster_pendamping(door, data.pop("pendamping_id", None))
    try:
        request = cases.ACTIONS[action].model_validate({**data, "actor": actor_of(principal)})
    except ValidationError as exc:
        raise unprocessable(problem_lines(exc.errors(), door.language), door.language) from None
    request_id = update_id(principal, action, idempotency_key, door.language)
    try:
        summary = await cases.act(door.client, complaint_id, action, request, door.config.pii_key, request_id)
    except cases.ActionFailed as refused:
        log.info("action refused", complaint_id=complaint_id, action=action)
        raise HTTPException(409, str(refused)) from None
    except cases.CaseNotFound:
        raise not_found(complaint_id, door.language) from None
    log.info("action taken", complaint_id=complaint_id, action=action, status=summary.status.value)
    return summary


def _route(action: str) -> Any:
    body_type = BODIES[action]

    async def act(
        complaint_id: str, request: Request,
        body: body_type | None = Body(None),  # type: ignore[valid-type]
        idempotency_key: str | None = Header(None, alias="Idempotency-Key",
                                             description="Your id for this request: a retry never acts twice"),
        principal: Principal = Depends(rate_limited),
    ) -> CaseSummary:
        door = door_of(request)
        require_csrf_for_cookie(request, door)
        sent = body.model_dump(exclude_unset=True) if body is not None else {}
        return await perform(door, principal, complaint_id, action, sent, idempotency_key)

    act.__name__ = f"act_{action}"
    return act


for _action, _rule in RULES.items():
    router.add_api_route(
        f"/complaints/{{complaint_id}}/actions/{_action}", _route(_action), methods=["POST"],
        response_model=CaseSummary, responses=ERRORS, summary=f"{_action.replace('_', ' ').capitalize()}"
        f" ({_rule.who.value}; from {', '.join(s.value for s in _rule.allowed_from)})",
    )

_ACTION_NAME = re.compile(r"^[a-z_]{1,40}$")


@router.post("/complaints/{complaint_id}/actions/{action}", include_in_schema=False)
async def unknown_action(complaint_id: str, action: str, request: Request,
                         principal: Principal = Depends(rate_limited)) -> None:
    shown = action if _ACTION_NAME.fullmatch(action) else "?"
    raise HTTPException(404, f"unknown action {shown!r}: one of {', '.join(RULES)}")
