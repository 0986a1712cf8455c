"""Inputs and results of the activities: what the workflow asks the data layer to do."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from referral.calendar import WorkingCalendar
from referral.lifecycle import OfficerRef
from referral.intake import CaseOpening
from referral.sla import SlaPolicy


class CaseSetup(BaseModel):
    """Fixed for a case at start (and on an explicit policy change): recorded in its history."""

    policy: SlaPolicy
    calendar: WorkingCalendar
    officers: dict[str, OfficerRef]
    bidang_names: dict[str, str] = {}


class SetupRequest(BaseModel):
    complaint_id: str
    reported_on: date


class IntakeRecord(BaseModel):
    complaint_id: str
    workflow_id: str
    case: CaseOpening
    sealed_personal: str
    kecamatan: str
    bidang: str
    received_at: datetime


class IntakeResult(BaseModel):
    duplicate_of: str | None = None


class AssignRequest(BaseModel):
    complaint_id: str
    village_code: str
    on: date
    exclude: list[str] = []


class AssignResult(BaseModel):
    pendamping_id: str
    reason: str


class Notification(BaseModel):
    recipient_id: str
    subject: str
    body: str
    not_before: datetime


class CaseEvent(BaseModel):
    """One step of a case: an append-only event, the case row's new values, its notifications.

    `key` is unique per case and chosen by the workflow, so a retried activity writes nothing twice.
    """

    complaint_id: str
    key: str
    event: str
    actor: str
    occurred_at: datetime
    detail: dict[str, Any] = {}
    case: dict[str, Any] = {}
    notifications: list[Notification] = []
