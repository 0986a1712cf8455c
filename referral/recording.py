"""How a step of a case becomes one `CaseEvent` for the data layer: key, detail, row and notifications. Pure.

Officers hear of non-emergencies in office hours: a notification waits for the next opening of the office,
except for emergencies, which go out at once.
"""

from __future__ import annotations

from datetime import datetime

from referral.actions import Step
from referral.case import CaseState
from referral.records import CaseEvent, NoticeContext, NoticeRequest
from referral.sla import Urgency


def deliver_at(case: CaseState, now: datetime) -> datetime:
    if case.opening.urgency == Urgency.EMERGENCY or case.setup is None:
        return now
    return case.setup.calendar.next_office_moment(now)


def context(case: CaseState, now: datetime) -> NoticeContext | None:
    if case.setup is None:
        return None
    village = case.setup.village
    return NoticeContext(
        complaint_id=case.complaint_id, village=village.label, kecamatan=village.kecamatan,
        category=case.category, category_name=case.category_name, urgency=case.opening.urgency.value,
        status=case.status.value, deadline=case.summary(now).next_deadline,
        utc_offset_minutes=case.setup.calendar.utc_offset_minutes, language=case.setup.language,
    )


def case_event(case: CaseState, step: Step, key: str, at: datetime, now: datetime, workflow_id: str) -> CaseEvent:
    not_before = deliver_at(case, now)
    village = case.setup.village if case.setup else None
    return CaseEvent(
        complaint_id=case.complaint_id, workflow_id=workflow_id, key=key, event=step.event, actor=step.actor,
        occurred_at=at, detail={k: v for k, v in step.detail.items() if v is not None},
        opening=case.opening,
        kecamatan=village.kecamatan if village else "",
        received_at=case.received_at or at, row=case.row(),
        notices=[NoticeRequest(recipient=n.recipient, kind=n.kind, facts=n.facts,
                               not_before=now if n.recipient == "piket" else not_before)  # on duty: at once
                 for n in step.notices],
        context=context(case, now),
        local_date=case.setup.calendar.local(now).date() if case.setup else None,
    )
