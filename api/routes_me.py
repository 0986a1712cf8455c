"""The caller: who the credential says they are (GET /v1/me) and their worklist (GET /v1/me/cases)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from api.limits import rate_limited
from api.principal import OfficerPrincipal, Principal, ServicePrincipal
from api.routes_complaints import CaseListItem, readable_rows, scoped_query
from api.routes_support import Door, door_of, sorted_worklist
from casework import cases
from referral.models import FINISHED_STATUSES

router = APIRouter(prefix="/v1/me", tags=["me"])


class Me(BaseModel):
    kind: str
    id: str
    actor: str
    role: str | None = None
    bidang: str | None = None
    channels: list[str] = []
    villages: list[str] = []


def me_of(p: Principal) -> Me:
    me = Me(kind=p.kind, id=p.principal_id, actor=p.actor)
    if isinstance(p, OfficerPrincipal):
        return me.model_copy(update={"role": p.role, "bidang": p.bidang})
    if isinstance(p, ServicePrincipal):
        return me.model_copy(update={"channels": sorted(p.channels), "villages": sorted(p.villages)})
    return me


def worklist_query(principal: Principal, include_finished: bool = False) -> str:
    query = scoped_query(principal, cases.list_query())
    if include_finished:
        return query
    finished = ", ".join(f"'{s.value}'" for s in FINISHED_STATUSES)
    return f"{query} AND ComplaintStatus NOT IN ({finished})"


async def worklist(door: Door, principal: Principal, include_finished: bool = False,
                   limit: int = 200) -> list[dict[str, Any]]:
    """The caller's cases (policy.worklist_filter), breached first, then by the next deadline."""
    rows = await cases.list_cases(door.client, worklist_query(principal, include_finished), limit=limit)
    return sorted_worklist(readable_rows(principal, rows))


@router.get("", response_model=Me, summary="Who your credential says you are")
async def get_me(principal: Principal = Depends(rate_limited)) -> Me:
    return me_of(principal)


@router.get("/cases", response_model=list[CaseListItem],
            summary="Your worklist: breached first, then by the next deadline")
async def my_cases(request: Request, include_finished: bool = False, limit: int = Query(200, ge=1, le=1000),
                   principal: Principal = Depends(rate_limited)) -> list[CaseListItem]:
    rows = await worklist(door_of(request), principal, include_finished, limit)
    return [CaseListItem.of(row) for row in rows]
