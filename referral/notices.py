"""The text of a notification: what happened, what the reader is expected to do and by when, and a link.

Pure: the record activity renders each notice with the case's context (no personal data) before the data
layer queues it. The link points at the officers' case page (REFERRAL_PUBLIC_URL).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from referral.records import NoticeContext, NoticeRequest

_ZONES = {420: "WIB", 480: "WITA", 540: "WIT"}
CLOCKS = {
    "acknowledgement": "acknowledgement", "verification": "verification (field visit)",
    "follow_up_plan": "follow-up plan", "completion": "completion", "overall": "resolution from the report",
}
EXPECTED = {
    "assigned": "acknowledge the case and plan the field visit",
    "reassigned": "acknowledge the case and plan the field visit",
    "referred": "review the follow-up plan and resolve the case",
    "reopened": "take the case up again",
    "needs_attention": "look at the problem and retry the step or reject the case",
    "sla_warning": "act before the deadline",
    "sla_escalated": "make sure the case moves: contact the officer who holds it",
}
HEADLINES = {
    "assigned": "New case in {village}",
    "reassigned": "Case in {village} handed to you",
    "referred": "Case in {village} referred to your bidang",
    "reopened": "Case in {village} reopened",
    "needs_attention": "Case in {village} needs attention",
}


def when(at: datetime | None, offset_minutes: int) -> str:
    if at is None:
        return "—"
    local = at.astimezone(timezone(timedelta(minutes=offset_minutes)))
    return f"{local:%a %d %b %Y %H:%M} {_ZONES.get(offset_minutes, local.strftime('UTC%z'))}"


def headline(notice: NoticeRequest, ctx: NoticeContext) -> str:
    facts = notice.facts
    if notice.kind == "sla_warning":
        return f"{CLOCKS.get(facts.get('clock'), facts.get('clock'))} {facts.get('percent')}% through its time"
    if notice.kind == "sla_escalated":
        level = facts.get("level", 1)
        clock = CLOCKS.get(facts.get("clock"), facts.get("clock"))
        return f"{clock} deadline passed: escalated to you (level {level})"
    return HEADLINES.get(notice.kind, notice.kind.replace("_", " ")).format(village=ctx.village)


def render(notice: NoticeRequest, ctx: NoticeContext, case_url: str, hide_category: bool = False) -> tuple[str, str]:
    """(subject, body) for one notice about one case."""
    title = headline(notice, ctx)
    category = "" if hide_category else f"{ctx.category_name}, "
    deadline = notice.facts.get("due_at")
    due = datetime.fromisoformat(deadline) if isinstance(deadline, str) else ctx.deadline
    lines = [
        f"Case {ctx.complaint_id}: {category}{ctx.village} (Kec. {ctx.kecamatan}), urgency {ctx.urgency}.",
        f"{title}.",
        f"Expected of you: {EXPECTED.get(notice.kind, 'open the case')}.",
        f"Deadline: {when(due, ctx.utc_offset_minutes)}.",
        f"Status: {ctx.status}.",
        f"Open the case: {case_url}",
    ]
    return f"[{ctx.complaint_id}] {title}", "\n".join(lines)
