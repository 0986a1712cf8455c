"""What a supervisor reads in the Temporal Web UI: summaries and details without personal data.

Summaries of timers and activities show in the Timeline; current details (Markdown) come from a live query.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from referral import reference
from referral.actions import Step
from referral.calendar import WorkingCalendar
from referral.case import CaseState
from referral.intake import ComplaintIntake
from referral.models import Receipt
from referral.sla import Clock, ClockName, Milestone

_TZ_NAMES = {420: "WIB", 480: "WITA", 540: "WIT"}
CLOCK_LABELS = {
    ClockName.ACKNOWLEDGEMENT: "acknowledgement",
    ClockName.VERIFICATION: "verification",
    ClockName.FOLLOW_UP_PLAN: "follow-up plan",
    ClockName.COMPLETION: "completion",
    ClockName.OVERALL: "overall (report to resolution)",
}


def moment(at: datetime | None, calendar: WorkingCalendar) -> str:
    """'Tue 24 Mar 2026 10:00 WITA'."""
    if at is None:
        return "—"
    local = calendar.local(at)
    zone = _TZ_NAMES.get(calendar.utc_offset_minutes, local.strftime("UTC%z"))
    return f"{local:%a %d %b %Y %H:%M} {zone}"


def timer_summary(upcoming: tuple[Clock, Milestone], calendar: WorkingCalendar) -> str:
    clock, m = upcoming
    label, when = CLOCK_LABELS[clock.name], moment(m.at, calendar)
    if m.kind == "warning":
        return f"SLA: {label} warning ({m.percent}%) {when}"
    if m.level == 1:
        return f"SLA: {label} due {when}"
    return f"SLA: {label} escalation to level {m.level} {when}"


def record_summary(step: Step) -> str:
    """What the Timeline shows for a record_event activity, e.g. 'SLA breach: acknowledgement -> head:…'."""
    detail = step.detail
    if step.event == "sla_warning":
        return f"SLA warning {detail['milestone'].split('_')[1]}%: {CLOCK_LABELS[ClockName(detail['clock'])]}"
    if step.event == "sla_escalated":
        what = "breach" if detail["milestone"] == "breach" else f"escalation {detail['milestone'].split('_')[1]}"
        return f"SLA {what}: {CLOCK_LABELS[ClockName(detail['clock'])]} -> {detail['escalated_to']}"
    return f"Record {step.event.replace('_', ' ')} by {step.actor}"


def facts(case: CaseState, now: datetime) -> dict[str, Any]:
    """The case as its search attributes see it."""
    summary = case.summary(now)
    village = case.setup.village if case.setup else None
    return {
        "status": case.status.value, "village_code": case.opening.village_code,
        "kecamatan": village.kecamatan if village else "",
        "urgency": case.opening.urgency.value, "pendamping_id": case.pendamping_id,
        "bidang": case.bidang or None, "category": case.category, "escalation_level": case.escalation_level,
        "sla_breached": summary.sla_breached, "next_deadline": summary.next_deadline,
        "needs_attention": case.attention is not None, "conditions": list(case.opening.conditions),
        "involved_bidang": [b for b in (case.bidang, case.pendamping_bidang) if b],
        "submitted_by": case.opening.sender_id,
    }


def receipt(case: CaseState, repeat: bool) -> Receipt:
    return Receipt(complaint_id=case.complaint_id, status=case.status, repeat=repeat,
                   pendamping_id=case.pendamping_id,
                   needs_attention=case.attention.problem if case.attention else None)


def static_summary(intake: ComplaintIntake) -> str:
    village = reference.villages()[intake.village_code]
    category = reference.categories()[intake.category]
    return f"{category.name} · {village.label}, Kec. {village.kecamatan} · {intake.urgency.value}"


def static_details(complaint_id: str, intake: ComplaintIntake) -> str:
    village = reference.villages()[intake.village_code]
    category = reference.categories()[intake.category]
    return "\n".join([
        f"**Complaint** {complaint_id}",
        "",
        f"- **PPKS category:** {category.name} (`{category.code}`)",
        f"- **Village:** {village.label} (`{village.code}`), Kecamatan {village.kecamatan}",
        f"- **Urgency:** {intake.urgency.value}",
        f"- **Channel:** {intake.channel.value}",
        f"- **Responsible bidang:** {reference.bidang_names().get(category.bidang, category.bidang)}",
        "",
        "Names, NIK, phone numbers and the description are kept out of Temporal: they are stored only in"
        " the case record in Postgres.",
    ])


def current_details(case: CaseState, now: datetime) -> str:
    if case.setup is None:
        problem = case.attention.problem if case.attention else "being set up"
        return f"**Status:** {case.status.value}\n\n**Needs attention:** {problem}"
    calendar, names = case.setup.calendar, case.setup.bidang_names
    summary = case.summary(now)
    lines = [
        f"**Status:** {case.status.value}" + (f" · duplicate of {case.duplicate_of}?" if case.duplicate_of else ""),
        f"**Pendamping:** {case.pendamping_id or '—'}",
        f"**Bidang:** {names.get(case.bidang, case.bidang)}",
        f"**Escalation level:** {case.escalation_level}" + (" · **SLA breached**" if summary.sla_breached else ""),
    ]
    if case.attention:
        lines.append(f"**Needs attention** ({case.attention.step}): {case.attention.problem}")
    lines += ["", "**SLA clocks**", ""]
    for clock in case.clocks.views(calendar, now):
        label = CLOCK_LABELS[clock.name]
        if clock.breached:
            lines.append(f"- **{label}:** BREACHED (was due {moment(clock.deadline, calendar)})")
        elif clock.state == "stopped":
            late = f", after escalation level {clock.escalation_level}" if clock.escalation_level else ""
            lines.append(f"- {label}: done{late}")
        else:
            lines.append(f"- **{label}:** {clock.state}, due {moment(clock.deadline, calendar)}")
    lines += ["", f"Policy {case.setup.policy.version} · calendar {calendar.version}"]
    return "\n".join(lines)
