"""What a due SLA milestone does to a case, and who hears of it. Pure.

A warning goes to whoever must act to stop the clock: the pendamping for their own clocks, the head of
the responsible bidang once the case is referred. At the deadline the case escalates to level 1, the
head of the bidang (the pendamping's bidang while the case is with the pendamping; the responsible
bidang once referred), and one `escalate_every` later to level 2, the kepala dinas.
"""

from __future__ import annotations

from datetime import datetime

from referral.actions import WITH_PENDAMPING, Notice, Step
from referral.case import CaseState
from referral.sla import PENDAMPING_CLOCKS, Clock, ClockName, Milestone, Urgency


def clock_owner(case: CaseState, clock: Clock) -> str:
    """Who must act to stop a clock: the pendamping for their steps (and for the overall clock while the case
    is with them), the head of the responsible bidang once it is referred."""
    with_pendamping = clock.name in PENDAMPING_CLOCKS or (clock.name == ClockName.OVERALL and case.status in WITH_PENDAMPING)
    if with_pendamping and case.pendamping_id:
        return case.pendamping_id
    return f"head:{case.bidang}"


def office_closed(case: CaseState, now: datetime) -> bool:
    return case.setup.calendar.next_office_moment(now) != now


def escalation_target(case: CaseState, clock: Clock, level: int) -> str:
    if level >= 2:
        return "kepala_dinas"
    if clock.name in PENDAMPING_CLOCKS:
        return f"head:{case.pendamping_bidang or case.bidang}"
    return f"head:{case.bidang}"


def fire(case: CaseState, clock: Clock, milestone: Milestone, now: datetime) -> Step:
    """Mark the milestone fired and say what to record; the caller records it (or restores the case)."""
    clock.fired.append(milestone.key)
    key = clock.event_key(milestone.key)
    detail = {"clock": clock.name.value, "run": clock.run, "milestone": milestone.key,
              "due_at": milestone.at.isoformat()}
    deadline = clock.deadline(case.setup.calendar)
    facts = {"clock": clock.name.value, "milestone": milestone.key, "percent": milestone.percent,
             "level": milestone.level, "due_at": milestone.at.isoformat(),
             "deadline": deadline.isoformat() if deadline else None}
    if milestone.kind == "warning":
        return Step("sla_warning", "sla", detail, [Notice(clock_owner(case, clock), "sla_warning", facts)],
                    key=key, at=milestone.at)
    case.escalation_level = max(case.escalation_level, milestone.level)
    target = escalation_target(case, clock, milestone.level)
    detail["escalated_to"] = target  # the data layer resolves a role to the officer who holds it
    if milestone.level == 1 and clock.name in PENDAMPING_CLOCKS and case.pendamping_id:
        case.breaches[case.pendamping_id] = case.breaches.get(case.pendamping_id, 0) + 1
    notices = [Notice(target, "sla_escalated", facts)]
    if case.opening.urgency != Urgency.NORMAL and office_closed(case, now):
        # Outside office hours an urgent escalation cannot wait for the morning: the officer on duty hears now.
        notices.append(Notice("piket", "sla_escalated_piket", facts))
        detail["piket"] = True
    return Step("sla_escalated", "sla", detail, notices, key=key, at=milestone.at)


def reassign_after_breaches(case: CaseState) -> bool:
    """The policy's `auto_reassign_after_breaches` reached by the pendamping holding a case still with them."""
    limit = case.setup.policy.auto_reassign_after_breaches
    return bool(limit and case.pendamping_id and case.status in WITH_PENDAMPING
                and case.breaches.get(case.pendamping_id, 0) >= limit)
