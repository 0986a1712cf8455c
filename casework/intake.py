"""Intake for other services: validate a complaint and start (or find) its workflow.

    from casework.intake import parse_intake, submit
    submitted = await submit(client, parse_intake(payload))

The same `external_ref` always maps to the same complaint id, so a repeated submission returns the
existing case instead of starting a second workflow.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from referral import presentation, reference
from referral.config import Settings
from referral.intake import CaseOpening, ComplaintIntake, IntakeError, PersonalData, intake_schema, parse_intake  # noqa: F401 (re-exported for services)
from referral.models import ComplaintStart
from referral.sealing import seal
from workflows import search_attributes as sa
from workflows.complaint import ComplaintWorkflow

class Submitted(BaseModel):
    complaint_id: str
    workflow_id: str
    status: str
    existing: bool = False


def complaint_id_for(intake: ComplaintIntake) -> str:
    """Deterministic from external_ref (no personal data in it), random otherwise."""
    if intake.external_ref:
        digest = hashlib.sha256(f"external_ref:{intake.external_ref}".encode()).hexdigest()
    else:
        digest = uuid.uuid4().hex
    return f"ADU-{digest[:12].upper()}"


def start_input(complaint_id: str, intake: ComplaintIntake, pii_key: str) -> ComplaintStart:
    """The workflow input: personal data sealed, so it never shows in Temporal's history or UI."""
    personal = PersonalData.of(intake).model_dump(mode="json")
    return ComplaintStart(complaint_id=complaint_id, case=CaseOpening.of(intake), sealed_personal=seal(personal, pii_key))


def workflow_id(complaint_id: str) -> str:
    return f"complaint-{complaint_id}"


async def submit(client: Client, intake: ComplaintIntake, task_queue: str = "referral",
                 pii_key: str | None = None) -> Submitted:
    complaint_id = complaint_id_for(intake)
    wf_id = workflow_id(complaint_id)
    existing = await _existing_status(client, wf_id)
    if existing is not None:
        return Submitted(complaint_id=complaint_id, workflow_id=wf_id, status=existing, existing=True)
    village = reference.villages()[intake.village_code]
    category = reference.categories()[intake.category]
    try:
        await client.start_workflow(
            ComplaintWorkflow.run,
            start_input(complaint_id, intake, pii_key or Settings().pii_key),
            id=wf_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=TypedSearchAttributes([
                SearchAttributePair(sa.COMPLAINT_STATUS, "received"),
                SearchAttributePair(sa.VILLAGE_CODE, village.code),
                SearchAttributePair(sa.KECAMATAN, village.kecamatan),
                SearchAttributePair(sa.BIDANG, category.bidang),
                SearchAttributePair(sa.PPKS_CATEGORY, category.code),
                SearchAttributePair(sa.URGENCY, intake.urgency.value),
                SearchAttributePair(sa.ESCALATION_LEVEL, 0),
                SearchAttributePair(sa.SLA_BREACHED, False),
            ]),
            static_summary=presentation.static_summary(intake),
            static_details=presentation.static_details(complaint_id, intake),
        )
    except WorkflowAlreadyStartedError:
        status = await _existing_status(client, wf_id) or "received"
        return Submitted(complaint_id=complaint_id, workflow_id=wf_id, status=status, existing=True)
    return Submitted(complaint_id=complaint_id, workflow_id=wf_id, status="received")


async def _existing_status(client: Client, wf_id: str) -> str | None:
    try:
        description = await client.get_workflow_handle(wf_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return description.typed_search_attributes.get(sa.COMPLAINT_STATUS) or "received"
