"""Acting on, reading and listing cases through Temporal (updates, the state query, visibility).

The client side of the engine: it imports neither asyncpg nor the workflow's code, only the pure domain
(the action table for input models, the case views) and the workflow's names.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, Callable

import structlog
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from casework.intake import workflow_id
from referral.actions import RULES
from referral.models import Action, CaseSummary, CaseView, RosterChange, TimelinePage
from referral.sealing import seal_text, unseal_values
from workflows import search_attributes as sa

log = structlog.get_logger(__name__)

# action name -> its input model (the same table the workflow validates with)
ACTIONS: dict[str, type[Action]] = {name: rule.request for name, rule in RULES.items()}


class ActionFailed(RuntimeError):
    """The case refused the action (wrong state or wrong person); the message says why."""


class CaseNotFound(LookupError):
    """No case with this id."""


def seal_free_text(request: Action, pii_key: str) -> Action:
    """Notes, plans and reasons go into Temporal's history sealed; Postgres gets them readable."""
    texts = {name: getattr(request, name) for name in request.FREE_TEXT if getattr(request, name)}
    return request.model_copy(update={name: seal_text(text, pii_key) for name, text in texts.items()})


def readable(view: CaseView, pii_key: str) -> CaseView:
    """The case view with the officers' sealed texts opened (for tools that hold the key)."""
    timeline = [e.model_copy(update={"detail": unseal_values(e.detail, pii_key)}) for e in view.timeline]
    return view.model_copy(update={"timeline": timeline})


async def act(client: Client, complaint_id: str, action: str, request: Action, pii_key: str | None = None,
              request_id: str | None = None) -> CaseSummary:
    """Run one action. Retrying with the same `request_id` cannot apply it twice (Temporal update id).
    Officers' notes travel in clear inside the payload, which the codec encrypts (`pii_key` is kept for
    callers that still pass it; sealed notes of older cases are opened by the record activity)."""
    handle = client.get_workflow_handle(workflow_id(complaint_id))
    for attempt in range(3):
        try:
            return await handle.execute_update(action, request, result_type=CaseSummary, id=request_id)
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            raise ActionFailed(getattr(cause, "message", None) or str(cause)) from None
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND and "completed" not in str(err).lower():
                raise CaseNotFound(complaint_id) from None
            # The case may be continuing as new at this very moment: its next run takes the update.
            if attempt == 2 or "completed" not in str(err).lower():
                raise
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


async def state(client: Client, complaint_id: str, page: TimelinePage | None = None) -> CaseView:
    handle = client.get_workflow_handle(workflow_id(complaint_id))
    try:
        return await handle.query("state", page, result_type=CaseView)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise CaseNotFound(complaint_id) from None
        raise


async def announce_roster_change(client: Client, workflow_ids: list[str], left: list[str],
                                 progress: Callable[[int, str], None] | None = None) -> int:
    """After a roster import: each open case of an officer who left goes to who covers its village now."""
    done = 0
    for wf_id in workflow_ids:
        try:
            await client.get_workflow_handle(wf_id).execute_update(
                "roster_changed", RosterChange(left=left), result_type=CaseSummary, rpc_timeout=timedelta(seconds=20))
        except (WorkflowUpdateFailedError, RPCError) as err:
            # Closed in the meantime, or no worker answered: run the import again later.
            log.warning("case not moved", workflow_id=wf_id, error=type(err).__name__)
            continue
        done += 1
        if progress:
            progress(done, wf_id)
    return done


OPEN_CASES = ("WorkflowType = 'ComplaintWorkflow' AND ExecutionStatus = 'Running'"
              " AND ComplaintStatus IN ('assigned', 'acknowledged', 'assessed', 'referred', 'resolved')")


async def announce_calendar(client: Client, actor: Action, progress: Callable[[int, str], None] | None = None
                            ) -> tuple[int, int]:
    """After new closures or a new SKB: every open case takes the calendar now in force, as a recorded step
    (`change_calendar`; a case already on it records nothing). Returns (cases asked, cases that answered)."""
    asked = done = 0
    async for execution in client.list_workflows(OPEN_CASES):
        asked += 1
        try:
            await client.get_workflow_handle(execution.id).execute_update(
                "change_calendar", actor, result_type=CaseSummary, rpc_timeout=timedelta(seconds=20))
        except (WorkflowUpdateFailedError, RPCError) as err:
            log.warning("case kept its calendar", workflow_id=execution.id, error=type(err).__name__)
            continue
        done += 1
        if progress:
            progress(done, execution.id)
    return asked, done


def list_query(
    status: str | None = None, village: str | None = None, pendamping: str | None = None,
    bidang: str | None = None, kecamatan: str | None = None, category: str | None = None,
    breached: bool = False, escalation_level: int | None = None, needs_attention: bool = False,
    condition: str | None = None,
) -> str:
    """A Temporal visibility query: the same text works in the Web UI's search box."""
    clauses = ["WorkflowType = 'ComplaintWorkflow'"]
    for key, value in (
        (sa.COMPLAINT_STATUS, status), (sa.VILLAGE_CODE, village), (sa.PENDAMPING_ID, pendamping),
        (sa.BIDANG, bidang), (sa.KECAMATAN, kecamatan), (sa.PPKS_CATEGORY, category), (sa.CONDITIONS, condition),
    ):
        if value:
            clauses.append(f"{key.name} = '{_quote(value)}'")
    if breached:
        clauses.append(f"{sa.SLA_BREACHED.name} = true")
    if needs_attention:
        clauses.append(f"{sa.NEEDS_ATTENTION.name} = true")
    if escalation_level is not None:
        clauses.append(f"{sa.ESCALATION_LEVEL.name} >= {int(escalation_level)}")
    return " AND ".join(clauses)


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


async def list_cases(client: Client, query: str, limit: int = 200) -> list[dict[str, Any]]:
    rows = []
    async for execution in client.list_workflows(query, limit=limit):
        rows.append({"complaint_id": execution.id.removeprefix("complaint-"), **sa.row_of(execution.typed_search_attributes),
                     "started": execution.start_time.isoformat() if execution.start_time else None})
    return rows
