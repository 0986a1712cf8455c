"""Acting on, reading and listing cases through Temporal (updates, the state query, visibility)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog

from pydantic import BaseModel
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from casework.intake import workflow_id
from referral.sealing import seal_text, unseal_values
from referral.models import (
    Action,
    Assessment,
    CaseView,
    Extension,
    PauseRequest,
    Reassignment,
    Referral,
    Rejection,
    Resolution,
)
from workflows import search_attributes as sa

log = structlog.get_logger(__name__)

# action name -> (update name, input model)
ACTIONS: dict[str, type[BaseModel]] = {
    "acknowledge": Action,
    "assess": Assessment,
    "refer": Referral,
    "resolve": Resolution,
    "close": Action,
    "reject": Rejection,
    "reassign": Reassignment,
    "reopen": Action,
    "pause": PauseRequest,
    "resume": Action,
    "extend": Extension,
    "change_policy": Action,
}


class ActionFailed(RuntimeError):
    """The case refused the action (wrong state or wrong person); the message says why."""


def seal_free_text(request: Action, pii_key: str) -> Action:
    """Notes, plans and reasons go into Temporal's history sealed; Postgres gets them readable."""
    texts = {name: getattr(request, name) for name in request.FREE_TEXT if getattr(request, name)}
    return request.model_copy(update={name: seal_text(text, pii_key) for name, text in texts.items()})


def readable(view: CaseView, pii_key: str) -> CaseView:
    """The case view with the officers' sealed texts opened (for the CLI, which holds the key)."""
    timeline = [e.model_copy(update={"detail": unseal_values(e.detail, pii_key)}) for e in view.timeline]
    return view.model_copy(update={"timeline": timeline})


async def act(client: Client, complaint_id: str, action: str, request: Action, pii_key: str | None = None,
              request_id: str | None = None) -> CaseView:
    """Run one action. Retrying with the same `request_id` cannot apply it twice (Temporal update id)."""
    if pii_key:
        request = seal_free_text(request, pii_key)
    handle = client.get_workflow_handle(workflow_id(complaint_id))
    try:
        return await handle.execute_update(action, request, result_type=CaseView, id=request_id)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        raise ActionFailed(getattr(cause, "message", None) or str(cause)) from None


async def refresh_open_cases(client: Client, progress=None) -> int:
    """After a roster import: every open case re-reads who may act (and leaves a removed pendamping)."""
    query = "WorkflowType = 'ComplaintWorkflow' AND ExecutionStatus = 'Running' AND ComplaintStatus NOT IN ('closed', 'rejected')"
    done = 0
    async for execution in client.list_workflows(query):
        try:
            await client.get_workflow_handle(execution.id).execute_update(
                "refresh_officers", result_type=CaseView, rpc_timeout=timedelta(seconds=20))
        except (WorkflowUpdateFailedError, RPCError) as err:
            # Closed or still setting up in the meantime, or no worker answered: run the import again later.
            log.warning("case not refreshed", workflow_id=execution.id, error=type(err).__name__)
            continue
        done += 1
        if progress:
            progress(done, execution.id)
    return done


async def state(client: Client, complaint_id: str) -> CaseView:
    return await client.get_workflow_handle(workflow_id(complaint_id)).query("state", result_type=CaseView)


def list_query(
    status: str | None = None, village: str | None = None, pendamping: str | None = None,
    bidang: str | None = None, kecamatan: str | None = None, category: str | None = None,
    breached: bool = False, escalation_level: int | None = None,
) -> str:
    """A Temporal visibility query: the same text works in the Web UI's search box."""
    clauses = ["WorkflowType = 'ComplaintWorkflow'"]
    for key, value in (
        (sa.COMPLAINT_STATUS, status), (sa.VILLAGE_CODE, village), (sa.PENDAMPING_ID, pendamping),
        (sa.BIDANG, bidang), (sa.KECAMATAN, kecamatan), (sa.PPKS_CATEGORY, category),
    ):
        if value:
            clauses.append(f"{key.name} = '{_quote(value)}'")
    if breached:
        clauses.append(f"{sa.SLA_BREACHED.name} = true")
    if escalation_level is not None:
        clauses.append(f"{sa.ESCALATION_LEVEL.name} >= {int(escalation_level)}")
    return " AND ".join(clauses)


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


async def list_cases(client: Client, query: str, limit: int = 200) -> list[dict[str, Any]]:
    rows = []
    async for execution in client.list_workflows(query, limit=limit):
        attrs = execution.typed_search_attributes
        deadline = attrs.get(sa.NEXT_DEADLINE)
        rows.append({
            "complaint_id": execution.id.removeprefix("complaint-"),
            "status": attrs.get(sa.COMPLAINT_STATUS),
            "kecamatan": attrs.get(sa.KECAMATAN),
            "village_code": attrs.get(sa.VILLAGE_CODE),
            "category": attrs.get(sa.PPKS_CATEGORY),
            "bidang": attrs.get(sa.BIDANG),
            "pendamping_id": attrs.get(sa.PENDAMPING_ID),
            "urgency": attrs.get(sa.URGENCY),
            "escalation_level": attrs.get(sa.ESCALATION_LEVEL),
            "sla_breached": attrs.get(sa.SLA_BREACHED),
            "next_deadline": deadline.isoformat() if deadline else None,
            "started": execution.start_time.isoformat() if execution.start_time else None,
        })
    return rows
