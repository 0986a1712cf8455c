"""What a supervisor reads in the Temporal Web UI: summaries and details without personal data."""

from __future__ import annotations

from datetime import datetime

from referral import reference
from referral.calendar import WorkingCalendar
from referral.intake import ComplaintIntake
from referral.models import CaseView
from referral.records import Notification
from referral.sla import CLOCK_LABELS, ClockName, Urgency

_TZ_NAMES = {420: "WIB", 480: "WITA", 540: "WIT"}


def moment(at: datetime | None, calendar: WorkingCalendar) -> str:
    """'Tue 24 Mar 2026 10:00 WITA'."""
    if at is None:
        return "—"
    local = calendar.local(at)
    zone = _TZ_NAMES.get(calendar.utc_offset_minutes, local.strftime("UTC%z"))
    return f"{local:%a %d %b %Y %H:%M} {zone}"


def notification(recipient_id: str, text: str, view: CaseView, calendar: WorkingCalendar,
                 now: datetime) -> Notification:
    """A notification without personal data; officers hear of non-emergencies in office hours."""
    not_before = now if view.urgency == Urgency.EMERGENCY else calendar.next_office_moment(now)
    category = reference.categories()[view.category].name
    return Notification(
        recipient_id=recipient_id,
        not_before=not_before,
        subject=f"[{view.complaint_id}] {text}",
        body=(f"Case {view.complaint_id}: {category}, {view.village} (Kec. {view.kecamatan}), "
              f"urgency {view.urgency.value}.\n{text}.\nStatus: {view.status.value}. Open the case in the referral UI."),
    )


def record_summary(event: str, actor: str, detail: dict) -> str:
    """What the Timeline shows for a record_event activity, e.g. 'SLA breach: acknowledgement -> KABID-PJS'."""
    if event == "sla_warning":
        return f"SLA warning {detail['milestone'].split('_')[1]}%: {CLOCK_LABELS[ClockName(detail['clock'])]}"
    if event == "sla_escalated":
        step = "breach" if detail["milestone"] == "breach" else f"escalation {detail['milestone'].split('_')[1]}"
        return f"SLA {step}: {CLOCK_LABELS[ClockName(detail['clock'])]} -> {detail['escalated_to']}"
    return f"Record {event.replace('_', ' ')} by {actor}"


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
        "Names, NIK, phone numbers and the description are sealed in the workflow input and stored"
        " only in the case record in Postgres.",
    ])


def current_details(view: CaseView, calendar: WorkingCalendar, bidang_names: dict[str, str]) -> str:
    lines = [
        f"**Status:** {view.status.value}" + (f" · duplicate of {view.duplicate_of}?" if view.duplicate_of else ""),
        f"**Pendamping:** {view.pendamping_id or '—'}",
        f"**Bidang:** {bidang_names.get(view.bidang, view.bidang)}",
        f"**Escalation level:** {view.escalation_level}" + (" · **SLA breached**" if view.sla_breached else ""),
        "",
        "**SLA clocks**",
        "",
    ]
    for clock in view.clocks:
        if clock.breached:
            lines.append(f"- **{CLOCK_LABELS[clock.name]}:** BREACHED (was due {moment(clock.deadline, calendar)})")
        elif clock.state == "stopped":
            late = f", after escalation level {clock.escalation_level}" if clock.escalation_level else ""
            lines.append(f"- {CLOCK_LABELS[clock.name]}: done{late}")
        else:
            lines.append(f"- **{CLOCK_LABELS[clock.name]}:** {clock.state}, due {moment(clock.deadline, calendar)}")
    lines += ["", f"Policy {view.policy_version} · calendar {view.calendar_version}"]
    return "\n".join(lines)
