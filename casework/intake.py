"""Intake for other services: validate a complaint and start (or find) its workflow.

    from casework.intake import parse_intake, submit
    receipt = await submit(client, parse_intake(payload), sender="puskesos-bengkala")

`submit` starts the case and waits, in the same call (update-with-start), until its intake is recorded and
a pendamping assigned, so a sender is only told `received` once the complaint is safely stored. The same
`external_ref` from the same sender (channel plus sender id) always maps to the same case.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

from pydantic import BaseModel
from temporalio.client import (
    Client, WithStartWorkflowOperation, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from referral import presentation, reference
from referral.case import ComplaintStart
from referral.intake import (  # noqa: F401 (re-exported for services)
    CaseOpening, ComplaintIntake, IntakeError, PersonalData, intake_schema, parse_intake,
)
from referral.models import Receipt
from workflows import search_attributes as sa

WORKFLOW = "ComplaintWorkflow"
WAIT_FOR_RECEIPT = timedelta(seconds=30)


class IntakeFailed(RuntimeError):
    """The case could not be opened (e.g. the worker cannot open the personal data): nothing was received."""


class Submitted(BaseModel):
    complaint_id: str
    workflow_id: str
    status: str
    existing: bool = False
    joined: bool = False  # a further report of an open case: complaint_id is that case
    pendamping_id: str | None = None
    needs_attention: str | None = None


def complaint_id_for(intake: ComplaintIntake, sender: str | None = None) -> str:
    """Deterministic from the sender and its own reference (no personal data in it), random otherwise."""
    if intake.external_ref:
        basis = f"{intake.channel.value}|{sender or ''}|{intake.external_ref}"
        digest = hashlib.sha256(f"external_ref:{basis}".encode()).hexdigest()
    else:
        digest = uuid.uuid4().hex
    return f"ADU-{digest[:12].upper()}"


def workflow_id(complaint_id: str) -> str:
    """The workflow of a case; a case opened again after retention (`ADU-…-2`) shares its first one's id."""
    base = complaint_id.split("-")
    return f"complaint-{'-'.join(base[:2])}"


def start_input(complaint_id: str, intake: ComplaintIntake, pii_key: str | None = None, sender: str | None = None,
                submission_id: str = "") -> ComplaintStart:
    """The workflow input. Personal data travels inside it: the payload codec encrypts every payload, so it
    never shows in Temporal's history or UI in clear. (`pii_key` is no longer used: cases started before
    the codec carried it sealed, and the intake activity still opens those.)"""
    opening = CaseOpening.of(intake)
    if sender:
        opening = opening.model_copy(update={"sender_id": sender})
    return ComplaintStart(complaint_id=complaint_id, case=opening, personal=PersonalData.of(intake),
                          submission_id=submission_id)


def start_attributes(intake: ComplaintIntake, sender: str | None = None) -> dict:
    village = reference.villages()[intake.village_code]
    category = reference.categories()[intake.category]
    return sa.for_case({
        "status": "received", "village_code": village.code, "kecamatan": village.kecamatan,
        "urgency": intake.urgency.value, "bidang": category.bidang, "category": category.code,
        "conditions": list(intake.conditions), "submitted_by": sender,
    })


async def submit(client: Client, intake: ComplaintIntake, task_queue: str = "referral", pii_key: str | None = None,
                 sender: str | None = None) -> Submitted:
    complaint_id = complaint_id_for(intake, sender)
    wf_id = workflow_id(complaint_id)
    submission_id = uuid.uuid4().hex
    operation = WithStartWorkflowOperation(
        WORKFLOW, start_input(complaint_id, intake, sender=sender, submission_id=submission_id),
        id=wf_id, task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        # A case whose intake failed for good may be sent again; a finished case keeps its id.
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        search_attributes=sa.typed(start_attributes(intake, sender)),
        static_summary=presentation.static_summary(intake),
        static_details=presentation.static_details(complaint_id, intake),
    )
    try:
        receipt = await client.execute_update_with_start_workflow(
            "opened", submission_id, start_workflow_operation=operation, result_type=Receipt,
            rpc_timeout=WAIT_FOR_RECEIPT)
    except WorkflowAlreadyStartedError:
        return await _finished_case(client, complaint_id, wf_id)
    except WorkflowUpdateFailedError as err:
        raise IntakeFailed(getattr(err.cause, "message", None) or str(err.cause)) from None
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise IntakeFailed("no worker confirmed the intake in time: is the worker running with the right keys?") from None
    return Submitted(complaint_id=receipt.complaint_id, workflow_id=wf_id, status=receipt.status.value,
                     existing=receipt.repeat, joined=receipt.joined, pendamping_id=receipt.pendamping_id,
                     needs_attention=receipt.needs_attention)


async def _finished_case(client: Client, complaint_id: str, wf_id: str) -> Submitted:
    """The same reference again, for a case that has already finished: answer with that case."""
    try:
        description = await client.get_workflow_handle(wf_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise IntakeFailed("the case could not be started; send it again") from None
        raise
    status = description.typed_search_attributes.get(sa.COMPLAINT_STATUS) or "received"
    return Submitted(complaint_id=complaint_id, workflow_id=wf_id, status=status, existing=True)
