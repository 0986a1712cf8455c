"""The text of a notification: what happened, what the reader is expected to do and by when, and a link.

Pure: the record activity renders each notice with the case's context (no personal data) before the data
layer queues it. The link points at the officers' case page (REFERRAL_PUBLIC_URL). Bahasa Indonesia by
default; the language is the case's (`ctx.language` when the context carries it), else REFERRAL_LANGUAGE.
A sensitive category (`hide_category`) appears in neither the subject nor the body.
"""

from __future__ import annotations

from datetime import datetime

from referral import i18n
from referral.i18n import N_, Translator, lower_first
from referral.records import NoticeContext, NoticeRequest

# What happened, by kind ({village} is "Desa Bengkala"; {clock}, {percent} and {level} come from the SLA).
HAPPENED = {
    "assigned": N_("A new case in {village} has been assigned to you."),
    "reassigned": N_("A case in {village} has been handed to you."),
    "referred": N_("A case in {village} has been referred to your bidang."),
    "reopened": N_("A closed case in {village} has been reopened."),
    "needs_attention": N_("A step of a case in {village} failed and needs a person."),
    "sla_warning": N_("{percent}% of the {clock} time of a case in {village} has passed."),
    "sla_escalated": N_("The {clock} deadline of a case in {village} has passed: the case is escalated to you"
                        " (level {level})."),
    "sla_escalated_piket": N_("You are on duty: the {clock} deadline of an urgent case in {village} passed outside"
                              " office hours (escalation level {level})."),
}
SUBJECTS = {
    "assigned": N_("New case in {village}"),
    "reassigned": N_("Case in {village} handed to you"),
    "referred": N_("Case in {village} referred to your bidang"),
    "reopened": N_("Case in {village} reopened"),
    "needs_attention": N_("Case in {village} needs attention"),
    "sla_warning": N_("{clock} {percent}% through its time: {village}"),
    "sla_escalated": N_("{clock} deadline passed, escalated to you: {village}"),
    "sla_escalated_piket": N_("On duty: {clock} deadline passed in {village}"),
}
EXPECTED = {
    "assigned": N_("acknowledge the case and plan the field visit"),
    "reassigned": N_("acknowledge the case and plan the field visit"),
    "referred": N_("review the follow-up plan and resolve the case"),
    "reopened": N_("take the case up again"),
    "needs_attention": N_("look at the problem and retry the step, or reject the case"),
    "sla_warning": N_("finish this step before its deadline"),
    "sla_escalated": N_("make sure the case moves: contact the officer who holds it"),
    "sla_escalated_piket": N_("reach the officer who holds the case, or act on it yourself"),
}
OPEN_THE_CASE = N_("open the case")  # any other kind
# Kinds whose reader must act at once rather than by a deadline of their own.
AT_ONCE = ("needs_attention", "sla_escalated", "sla_escalated_piket")


def when(at: datetime | None, offset_minutes: int, language: str | None = None) -> str:
    """'Rab, 18 Agu 2027 16.00 WITA'."""
    return i18n.translator(language).moment(at, offset_minutes)


def _clock(notice: NoticeRequest, tr: Translator) -> str:
    return lower_first(tr.label(i18n.CLOCKS, notice.facts.get("clock")))


def _values(notice: NoticeRequest, ctx: NoticeContext, tr: Translator) -> dict[str, object]:
    facts = notice.facts
    return {"village": ctx.village, "clock": _clock(notice, tr), "percent": facts.get("percent", ""),
            "level": facts.get("level", 1)}


def headline(notice: NoticeRequest, ctx: NoticeContext, language: str | None = None) -> str:
    """The subject line without the case id, e.g. 'Kasus baru di Desa Bengkala'."""
    tr = i18n.translator(language)
    msgid = SUBJECTS.get(notice.kind)
    if msgid is None:
        return tr.gettext("Case in {village}: {event}", village=ctx.village,
                          event=lower_first(tr.label(i18n.EVENTS, notice.kind)))
    text = tr.gettext(msgid, **_values(notice, ctx, tr))
    return text[:1].upper() + text[1:]


def deadline_of(notice: NoticeRequest, ctx: NoticeContext) -> datetime | None:
    """By when the reader must act: the clock's own deadline when the notice carries it (`deadline`), else the
    case's next deadline. (A warning's `due_at` is the moment of the warning, not the deadline.)"""
    value = notice.facts.get("deadline")
    return datetime.fromisoformat(value) if isinstance(value, str) else ctx.deadline


def _by_when(notice: NoticeRequest, ctx: NoticeContext, tr: Translator) -> str:
    offset = ctx.utc_offset_minutes
    if notice.kind in AT_ONCE:
        passed = notice.facts.get("due_at")
        if isinstance(passed, str):
            return tr.gettext("at once (the deadline passed {when})", when=tr.moment(passed, offset))
        return tr.gettext("at once")
    return tr.moment(deadline_of(notice, ctx), offset)


def render(notice: NoticeRequest, ctx: NoticeContext, case_url: str, hide_category: bool = False,
           language: str | None = None) -> tuple[str, str]:
    """(subject, body) for one notice about one case."""
    tr = i18n.translator(language or getattr(ctx, "language", None))
    values = _values(notice, ctx, tr)
    what = HAPPENED.get(notice.kind)
    happened = tr.gettext(what, **values) if what else headline(notice, ctx, tr.language) + "."
    case_line = tr.gettext("Case {case}: {village} (Kec. {kecamatan}), urgency {urgency}.", case=ctx.complaint_id,
                           village=ctx.village, kecamatan=ctx.kecamatan,
                           urgency=lower_first(tr.label(i18n.URGENCY, ctx.urgency)))
    if not hide_category:
        case_line = tr.gettext("Case {case}: {category}, {village} (Kec. {kecamatan}), urgency {urgency}.",
                               case=ctx.complaint_id, category=ctx.category_name, village=ctx.village,
                               kecamatan=ctx.kecamatan, urgency=lower_first(tr.label(i18n.URGENCY, ctx.urgency)))
    lines = [
        happened,
        "",
        case_line,
        tr.gettext("Expected of you: {action}.", action=tr.gettext(EXPECTED.get(notice.kind, OPEN_THE_CASE))),
        tr.gettext("By: {when}.", when=_by_when(notice, ctx, tr)),
        tr.gettext("Status: {status}.", status=lower_first(tr.label(i18n.STATUS, ctx.status))),
        "",
        tr.gettext("Open the case: {url}", url=case_url),
    ]
    return f"[{ctx.complaint_id}] {headline(notice, ctx, tr.language)}", "\n".join(lines)
