"""What a supervisor reads in the Temporal Web UI: summaries and details without personal data.

Summaries of timers and activities show in the Timeline; current details (Markdown) come from a live query.
Runs inside the workflow sandbox (a passthrough import): deterministic, no file reads. The language is the
case's own (`case.setup.language`, recorded in its history); the catalogs were loaded when referral.i18n
was imported. Only `static_summary`/`static_details`, built by the starter, default to REFERRAL_LANGUAGE.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from referral import i18n, reference
from referral.actions import Step
from referral.calendar import WorkingCalendar
from referral.case import CaseState
from referral.i18n import N_, Translator, lower_first
from referral.intake import ComplaintIntake
from referral.models import CaseSummary, Receipt
from referral.sla import Clock, ClockName, ClockView, Milestone

DEFAULT = i18n.DEFAULT_LANGUAGE
# Local-activity and timer summaries the workflow names by kind (see `step_summary`).
STEP_SUMMARIES = {
    "setup": N_("Load SLA policy, working-day calendar and village"),
    "intake": N_("Record intake and assign: {category} in {village}"),
    "choose_pendamping": N_("Choose a pendamping for {village}"),
    "load_policy": N_("Load the SLA policy now in force"),
    "load_calendar": N_("Load the working-day calendar now in force"),
    "reopen_window": N_("Reopen window: {days} days"),
    "retry": N_("Retry '{step}' after a transient failure"),
    "partner_referral": N_("Referral {partner}: {event}"),
}


def clock_label(name: ClockName | str, tr: Translator) -> str:
    return tr.label(i18n.CLOCKS, getattr(name, "value", name))


def moment(at: datetime | None, calendar: WorkingCalendar, language: str = DEFAULT) -> str:
    """'Rab, 25 Mar 2026 10.00 WITA' in the calendar's zone."""
    return i18n.translator(language).moment(at, calendar.utc_offset_minutes)


def timer_summary(upcoming: tuple[Clock, Milestone], calendar: WorkingCalendar, language: str = DEFAULT) -> str:
    """'SLA: tenggat konfirmasi Rab, 25 Mar 2026 10.00 WITA'."""
    tr = i18n.translator(language)
    clock, m = upcoming
    label, when = lower_first(clock_label(clock.name, tr)), tr.moment(m.at, calendar.utc_offset_minutes)
    if m.kind == "warning":
        return tr.gettext("SLA: {clock} warning ({percent}%) {when}", clock=label, percent=m.percent, when=when)
    if m.level == 1:
        return tr.gettext("SLA: {clock} due {when}", clock=label, when=when)
    return tr.gettext("SLA: {clock} escalation to level {level} {when}", clock=label, level=m.level, when=when)


def record_summary(step: Step, language: str = DEFAULT) -> str:
    """What the Timeline shows for a record_event activity, e.g. 'SLA terlewati: konfirmasi -> head:…'."""
    tr = i18n.translator(language)
    detail = step.detail
    if step.event in ("sla_warning", "sla_escalated"):
        clock = lower_first(clock_label(detail["clock"], tr))
        milestone = detail["milestone"].split("#")[0]
        if step.event == "sla_warning":
            return tr.gettext("SLA warning {percent}%: {clock}", percent=milestone.split("_")[1], clock=clock)
        if milestone == "breach":
            return tr.gettext("SLA breach: {clock} -> {target}", clock=clock, target=detail["escalated_to"])
        return tr.gettext("SLA escalation {level}: {clock} -> {target}", level=milestone.split("_")[1],
                          clock=clock, target=detail["escalated_to"])
    actor = i18n.recipient_label(step.actor, {}, tr)
    return tr.gettext("Record {event} by {actor}", event=lower_first(tr.label(i18n.EVENTS, step.event)), actor=actor)


def step_summary(kind: str, language: str = DEFAULT, **values: Any) -> str:
    """The summary of one of the workflow's other steps (`STEP_SUMMARIES`), e.g.
    step_summary("intake", lang, category=..., village=...)."""
    return i18n.translator(language).gettext(STEP_SUMMARIES[kind], **values)


def facts(case: CaseState, now: datetime, summary: CaseSummary | None = None) -> dict[str, Any]:
    """The case as its search attributes see it (`summary`: the case's at `now`, if the caller has it)."""
    summary = case.summary(now) if summary is None else summary
    village = case.setup.village if case.setup else None
    return {
        "status": case.status.value, "village_code": case.opening.village_code,
        "kecamatan": village.kecamatan if village else "",
        "urgency": case.opening.urgency.value, "pendamping_id": case.pendamping_id,
        "bidang": case.bidang or None, "category": case.category, "escalation_level": case.escalation_level,
        "sla_breached": summary.sla_breached, "next_deadline": summary.next_deadline,
        "needs_attention": case.attention is not None, "conditions": list(case.opening.conditions),
        "involved_bidang": [b for b in (case.bidang, case.pendamping_bidang) if b] + [
            case.setup.partners[r.partner].bidang for r in case.referrals if case.setup and r.partner in case.setup.partners],
        "referral_partners": [r.partner for r in case.referrals],
        "submitted_by": case.opening.sender_id,
    }


def receipt(case: CaseState, repeat: bool) -> Receipt:
    if case.joined_to:  # a further report: the sender gets the open case it joined
        return Receipt(complaint_id=case.joined_to, status=case.status, repeat=repeat, joined=True)
    return Receipt(complaint_id=case.complaint_id, status=case.status, repeat=repeat,
                   pendamping_id=case.pendamping_id,
                   needs_attention=case.attention.problem if case.attention else None)


def shown_category(code: str, language: str | None = None) -> str:
    """A category as the Web UI may show it: a sensitive one (HIV, trafficking, violence, …) is a health or
    victim status that, beside a small desa's name, points at a person: it reads as protected, with its bidang."""
    category = reference.categories().get(code)
    if category is None:
        return code
    if not category.sensitive:
        return category.name
    tr = i18n.translator(language)
    return tr.gettext("Protected category ({bidang})",
                      bidang=reference.bidang_names().get(category.bidang, category.bidang))


def static_summary(intake: ComplaintIntake, language: str | None = None) -> str:
    """'Penyandang Disabilitas · Desa Bengkala, Kec. Kubutambahan · Darurat' (built by the starter)."""
    tr = i18n.translator(language)
    village = reference.villages()[intake.village_code]
    category = reference.categories()[intake.category]
    urgency = tr.label(i18n.URGENCY, intake.urgency.value)
    return f"{shown_category(category.code, language)} · {village.label}, Kec. {village.kecamatan} · {urgency}"


def static_details(complaint_id: str, intake: ComplaintIntake, language: str | None = None) -> str:
    tr = i18n.translator(language)
    village = reference.villages()[intake.village_code]
    category = reference.categories()[intake.category]
    known = reference.conditions()
    lines = [
        tr.gettext("**Complaint** {case}", case=complaint_id),
        "",
        "- " + (tr.gettext("**PPKS category:** {category}", category=shown_category(category.code, language))
               if category.sensitive else
               tr.gettext("**PPKS category:** {category} (`{code}`)", category=category.name, code=category.code)),
        "- " + tr.gettext("**Village:** {village} (`{code}`), Kecamatan {kecamatan}", village=village.label,
                          code=village.code, kecamatan=village.kecamatan),
        "- " + tr.gettext("**Urgency:** {urgency}", urgency=tr.label(i18n.URGENCY, intake.urgency.value)),
        "- " + tr.gettext("**Channel:** {channel}", channel=tr.label(i18n.CHANNELS, intake.channel.value)),
        "- " + tr.gettext("**Responsible bidang:** {bidang}",
                          bidang=reference.bidang_names().get(category.bidang, category.bidang)),
    ]
    if intake.conditions:
        labels = [known[c].label if c in known else c for c in intake.conditions]
        lines.append("- " + tr.gettext("**Conditions:** {conditions}", conditions="; ".join(labels)))
    lines += ["", tr.gettext("Names, NIK, phone numbers and the description are kept out of Temporal: they are"
                             " stored only in the case record in Postgres.")]
    return "\n".join(lines)


def _clock_line(clock, calendar: WorkingCalendar, tr: Translator) -> str:
    label = clock_label(clock.name, tr)
    when = tr.moment(clock.deadline, calendar.utc_offset_minutes)
    if clock.breached:
        return "- " + tr.gettext("**{clock}:** BREACHED (was due {when})", clock=label, when=when)
    if clock.state == "stopped":
        if clock.escalation_level:
            return "- " + tr.gettext("{clock}: done, after escalation level {level}", clock=label,
                                     level=clock.escalation_level)
        return "- " + tr.gettext("{clock}: done", clock=label)
    line = "- " + tr.gettext("**{clock}:** {state}, due {when}", clock=label,
                             state=tr.label(i18n.CLOCK_STATES, clock.state), when=when)
    if clock.deadline is not None and calendar.local(clock.deadline).year in calendar.unconfirmed_years:
        line += " · " + tr.gettext("Bali holidays counted, not yet confirmed")
    return line


def current_details(case: CaseState, now: datetime, summary: CaseSummary | None = None,
                    views: list[ClockView] | None = None) -> str:
    """Status, pendamping, bidang, escalation, what needs attention, intake warnings and every SLA clock
    (`summary` and the clocks' `views` at `now`, if the caller has them)."""
    tr = i18n.translator(case.setup.language if case.setup else DEFAULT)
    status = tr.label(i18n.STATUS, case.status.value)
    if case.setup is None:
        problem = case.attention.problem if case.attention else tr.gettext("being set up")
        return "\n\n".join([tr.gettext("**Status:** {status}", status=status),
                            tr.gettext("**Needs attention:** {problem}", problem=problem)])
    calendar, names = case.setup.calendar, case.setup.bidang_names
    views = case.clocks.views(calendar, now) if views is None else views
    summary = case.summary(now, views) if summary is None else summary
    duplicate = " · " + tr.gettext("duplicate of {case}?", case=case.duplicate_of) if case.duplicate_of else ""
    breached = " · **" + tr.gettext("SLA breached") + "**" if summary.sla_breached else ""
    lines = [
        tr.gettext("**Status:** {status}", status=status) + duplicate,
        f"**Pendamping:** {case.pendamping_id or '—'}",
        f"**Bidang:** {names.get(case.bidang, case.bidang) or '—'}",
        tr.gettext("**Escalation level:** {level}", level=case.escalation_level) + breached,
    ]
    if case.attention:
        step = tr.label(i18n.STEPS, case.attention.step) if case.attention.step in i18n.STEPS else \
            lower_first(tr.label(i18n.EVENTS, case.attention.step))
        lines.append(tr.gettext("**Needs attention** ({step}): {problem}", step=step, problem=case.attention.problem))
    if case.warnings:
        warnings = "; ".join(tr.label(i18n.WARNINGS, w) for w in case.warnings)
        lines.append(tr.gettext("**Intake warnings:** {warnings}", warnings=warnings))
    lines += ["", tr.gettext("**SLA clocks**"), ""]
    lines += [_clock_line(clock, calendar, tr) for clock in views]
    unconfirmed = sorted({calendar.local(c.deadline).year for c in views if c.state != "stopped" and c.deadline
                          and calendar.local(c.deadline).year in calendar.unconfirmed_years})
    if unconfirmed:
        lines += ["", tr.gettext("Bali holidays (Galungan, Kuningan) of {years} are counted from the pawukon"
                                 " cycle and not yet confirmed by a circular of the Governor of Bali.",
                                 years=", ".join(map(str, unconfirmed)))]
    lines += ["", tr.gettext("Policy {policy} · calendar {calendar}", policy=case.setup.policy.version,
                             calendar=calendar.version)]
    return "\n".join(lines)
