"""A clock's deadline and milestones are remembered by content (referral.sla._remembered): every change a
step makes to a clock, its calendar or the policy gives the answer computed afresh, and clocks that share
answers still keep their own fired milestones."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable

import pytest
from pydantic import ValidationError

from referral.holiday_source import build_calendar
from referral.sla import Clock, ClockName, Pause, Urgency
from tests.unit.test_sla import CAL, POLICY, start, wita


def fresh(clock: Clock, calendar=CAL, policy=POLICY) -> tuple[datetime | None, list]:
    every = clock._milestones(calendar, policy) if clock.running and not clock.paused else []
    return clock._deadline(calendar), [m for m in every if m.key not in clock.fired]


def remembered(clock: Clock, calendar=CAL, policy=POLICY) -> tuple[datetime | None, list]:
    return clock.deadline(calendar), clock.milestones(calendar, policy)


def _pause(at: datetime, ended: datetime | None = None) -> Pause:
    return Pause(started_at=at, ended_at=ended, reason="menunggu dokumen", actor="PD-34")


CHANGES: dict[str, Callable[[Clock], None]] = {
    "extended by office seconds": lambda c: setattr(c, "extension_seconds", c.extension_seconds + 3600),
    "extended by working days": lambda c: setattr(c, "extension_days", c.extension_days + 2),
    "paused": lambda c: c.pauses.append(_pause(wita(4, 10, 14))),
    "paused and resumed": lambda c: c.pauses.append(_pause(wita(4, 10, 14), wita(4, 13, 10))),
    "stopped": lambda c: setattr(c, "stopped_at", wita(4, 10, 11)),
    "a milestone fired": lambda c: c.fired.append("warning_50"),
    "budget changed by a policy change": lambda c: setattr(c, "budget_seconds", c.budget_seconds * 2),
    "escalating faster": lambda c: setattr(c, "escalate_every_seconds", c.escalate_every_seconds / 2),
}


@pytest.mark.parametrize("change", list(CHANGES), ids=list(CHANGES))
def test_every_change_to_a_clock_gives_the_answer_computed_afresh(change: str) -> None:
    clock = start(ClockName.VERIFICATION, Urgency.NORMAL, wita(4, 9, 10))
    before = remembered(clock)
    assert before == fresh(clock)
    CHANGES[change](clock)
    assert remembered(clock) == fresh(clock)
    if change not in ("a milestone fired", "extended by working days"):  # days move end-of-day clocks only
        assert remembered(clock) != before


def test_another_calendar_or_policy_is_another_answer() -> None:
    clock = start(ClockName.ACKNOWLEDGEMENT, Urgency.NORMAL, wita(4, 9, 10))
    remembered(clock)
    office_hours = build_calendar(2026)  # Buleleng's own office hours, not the flat 08:00-16:00 day
    assert remembered(clock, office_hours) == fresh(clock, office_hours) != fresh(clock)
    one_warning = POLICY.model_copy(update={"warn_at": (0.5,)})
    assert remembered(clock, policy=one_warning) == fresh(clock, policy=one_warning)
    assert [m.key for m in clock.milestones(CAL, one_warning)].count("warning_80") == 0


def test_clocks_of_two_cases_share_answers_but_not_what_fired() -> None:
    first = start(ClockName.VERIFICATION, Urgency.NORMAL, wita(4, 9, 10))
    second = start(ClockName.VERIFICATION, Urgency.NORMAL, wita(4, 9, 10))
    first.fired.append("warning_50")
    assert [m.key for m in first.milestones(CAL, POLICY)] == ["warning_80", "breach", "escalation_2"]
    assert [m.key for m in second.milestones(CAL, POLICY)] == ["warning_50", "warning_80", "breach", "escalation_2"]
    with pytest.raises(ValidationError, match="frozen"):  # shared between cases, so nobody may change one
        second.milestones(CAL, POLICY)[0].at = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(days=1)


def test_working_days_added_to_an_end_of_day_clock_move_it() -> None:
    rule = POLICY.rule(ClockName.VERIFICATION, Urgency.NORMAL, False)
    clock = Clock.start(ClockName.VERIFICATION, rule, CAL, wita(4, 9, 10), semantics="end_of_day")
    before = remembered(clock)
    clock.extension_days += 2
    assert remembered(clock) == fresh(clock) and remembered(clock)[0] > before[0]
