"""Unit tests for referral.sla: the default policy, Duration parsing and Clock milestones.

Expected moments are worked out by hand on the 2026 calendar (08:00-16:00 WITA, 1 working day =
8 office hours; closed 18-24 Mar for Nyepi + Idul Fitri; 3 Apr Good Friday; weekends).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from importlib import resources
from typing import Any

import pytest
from pydantic import ValidationError

from referral.calendar import FLAT_0800_1600
from referral.holiday_source import build_calendar
from referral.sla import (
    Clock,
    ClockName,
    ClockRule,
    Duration,
    Milestone,
    Pause,
    SlaPolicy,
    Urgency,
)

WITA = timezone(timedelta(hours=8))
HOUR = 3600
DAY = 8 * HOUR
CAL = build_calendar(2026, office_hours=FLAT_0800_1600)  # the flat day these dates were worked out on


def wita(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=WITA)


def _policy_dict() -> dict[str, Any]:
    return json.loads(resources.files("referral.data").joinpath("sla_policy.json").read_text(encoding="utf-8"))


# These dates were worked out counting office hours hour by hour (the "office_hours" reading); the shipped
# "end_of_day" reading has its own literal dates in test_working_time.py.
POLICY = SlaPolicy.model_validate(_policy_dict() | {"deadline_semantics": "office_hours"})


def start(clock: ClockName, urgency: Urgency, at: datetime, needs_investigation: bool = False) -> Clock:
    return Clock.start(clock, POLICY.rule(clock, urgency, needs_investigation), CAL, at)


def plan(clock: Clock) -> dict[str, datetime]:
    return {m.key: m.at for m in clock.milestones(CAL, POLICY)}


# ---- the default policy --------------------------------------------------------------------

def test_default_policy_loads() -> None:
    assert POLICY.version == "2026.2"
    assert POLICY.warn_at == (0.5, 0.8)
    assert POLICY.escalation_chain == ("head_of_bidang", "kepala_dinas")
    assert POLICY.reopen_window_days == 30
    assert POLICY.auto_reassign_after_breaches is None


@pytest.mark.parametrize(
    ("clock", "urgency", "investigation", "due", "every"),
    [
        (ClockName.ACKNOWLEDGEMENT, Urgency.NORMAL, False, "1 working days", "1 working days"),
        (ClockName.ACKNOWLEDGEMENT, Urgency.URGENT, False, "4 calendar hours", "4 calendar hours"),
        (ClockName.ACKNOWLEDGEMENT, Urgency.EMERGENCY, False, "1 calendar hours", "1 calendar hours"),
        (ClockName.VERIFICATION, Urgency.NORMAL, False, "3 working days", "1 working days"),
        (ClockName.VERIFICATION, Urgency.URGENT, False, "24 calendar hours", "8 calendar hours"),
        (ClockName.FOLLOW_UP_PLAN, Urgency.NORMAL, False, "5 working days", "2 working days"),
        (ClockName.COMPLETION, Urgency.NORMAL, False, "14 working days", "3 working days"),
        (ClockName.COMPLETION, Urgency.URGENT, False, "7 calendar days", "2 calendar days"),
        (ClockName.COMPLETION, Urgency.NORMAL, True, "60 working days", "5 working days"),
        (ClockName.COMPLETION, Urgency.EMERGENCY, True, "14 calendar days", "2 calendar days"),
        # needs_investigation only changes the completion clock
        (ClockName.VERIFICATION, Urgency.NORMAL, True, "3 working days", "1 working days"),
    ],
)
def test_default_policy_rules(clock: ClockName, urgency: Urgency, investigation: bool, due: str, every: str) -> None:
    rule = POLICY.rule(clock, urgency, investigation)
    assert (str(rule.due), str(rule.escalate_every)) == (due, every)


# ---- milestones on the default policy ------------------------------------------------------

MILESTONE_CASES = [
    # Acknowledgement, normal, 1 working day from Tue 17 Mar 10:00 (closed 18-24 Mar):
    #   50% = 4 h -> Tue 14:00; 80% = 6.4 h -> 6 h on Tue + 24 min -> Wed 25 08:24;
    #   breach 8 h -> Wed 25 10:00; escalation_2 = 8 h + 8 h -> Thu 26 10:00.
    pytest.param(
        ClockName.ACKNOWLEDGEMENT, Urgency.NORMAL, wita(3, 17, 10),
        {"warning_50": wita(3, 17, 14), "warning_80": wita(3, 25, 8, 24),
         "breach": wita(3, 25, 10), "escalation_2": wita(3, 26, 10)},
        id="acknowledgement-normal-over-nyepi",
    ),
    # Verification, normal, 3 working days (24 h), escalate every 1 working day, from Tue 17 Mar 10:00:
    #   50% = 12 h -> 6 h Tue + 6 h Wed 25 -> Wed 25 14:00;
    #   80% = 19.2 h -> 6 + 8 (Wed 25) + 5.2 h -> Thu 26 13:12;
    #   breach 24 h -> 6 + 8 + 8 + 2 -> Fri 27 10:00; escalation_2 32 h -> 30 by Fri 16:00 + 2 -> Mon 30 10:00.
    pytest.param(
        ClockName.VERIFICATION, Urgency.NORMAL, wita(3, 17, 10),
        {"warning_50": wita(3, 25, 14), "warning_80": wita(3, 26, 13, 12),
         "breach": wita(3, 27, 10), "escalation_2": wita(3, 30, 10)},
        id="verification-normal-over-nyepi",
    ),
    # Follow-up plan, normal, 5 working days (40 h), escalate every 2 (16 h), from Wed 1 Apr 09:00
    # (Good Friday 3 Apr): 50% = 20 h -> 7 (Wed) + 8 (Thu) + 5 -> Mon 6 Apr 13:00;
    # 80% = 32 h -> 7 + 8 + 8 (Mon 6) + 8 (Tue 7) + 1 -> Wed 8 Apr 09:00; breach 40 h -> Thu 9 Apr 09:00;
    # escalation_2 56 h -> Mon 13 Apr 09:00.
    pytest.param(
        ClockName.FOLLOW_UP_PLAN, Urgency.NORMAL, wita(4, 1, 9),
        {"warning_50": wita(4, 6, 13), "warning_80": wita(4, 8, 9),
         "breach": wita(4, 9, 9), "escalation_2": wita(4, 13, 9)},
        id="follow-up-plan-normal-over-good-friday",
    ),
    # Completion, normal, 14 working days from Mon 11 May 09:00 (Ascension 14-15 May, Idul Adha 27-28 May,
    # Vesak 31 May, Pancasila 1 Jun): 14th working day after 11 May is Fri 5 Jun -> breach Fri 5 Jun 09:00;
    # escalation_2 = 14 + 3 = 17 working days -> Wed 10 Jun 09:00.
    # 50% = 56 h -> 7 (Mon 11) + 16 (12, 13) + 32 (18-21) = 55 by Thu 21 16:00, + 1 h -> Fri 22 09:00.
    # 80% = 89.6 h -> 63 by Fri 22 16:00, 79 by Tue 26, 87 by Fri 29, + 2.6 h -> Tue 2 Jun 10:36.
    pytest.param(
        ClockName.COMPLETION, Urgency.NORMAL, wita(5, 11, 9),
        {"warning_50": wita(5, 22, 9), "warning_80": wita(6, 2, 10, 36),
         "breach": wita(6, 5, 9), "escalation_2": wita(6, 10, 9)},
        id="completion-normal-may-holidays",
    ),
    # Urgent acknowledgement: 4 calendar hours, escalate every 4, on the Nyepi cuti day itself (calendar time
    # ignores holidays and office hours): from Wed 18 Mar 14:00: 2 h -> 16:00, 3.2 h -> 17:12, 4 h -> 18:00, 8 h -> 22:00.
    pytest.param(
        ClockName.ACKNOWLEDGEMENT, Urgency.URGENT, wita(3, 18, 14),
        {"warning_50": wita(3, 18, 16), "warning_80": wita(3, 18, 17, 12),
         "breach": wita(3, 18, 18), "escalation_2": wita(3, 18, 22)},
        id="acknowledgement-urgent-on-holiday",
    ),
    # Urgent acknowledgement from Sat 21 Mar 22:00 (Idul Fitri weekend) runs through the night.
    pytest.param(
        ClockName.ACKNOWLEDGEMENT, Urgency.URGENT, wita(3, 21, 22),
        {"warning_50": wita(3, 22, 0), "warning_80": wita(3, 22, 1, 12),
         "breach": wita(3, 22, 2), "escalation_2": wita(3, 22, 6)},
        id="acknowledgement-urgent-saturday-night",
    ),
    # Urgent verification: 24 calendar hours, escalate every 8, from Wed 18 Mar 14:00:
    #   12 h -> Thu 19 02:00; 19.2 h -> Thu 19 09:12; 24 h -> Thu 19 14:00; 32 h -> Thu 19 22:00.
    pytest.param(
        ClockName.VERIFICATION, Urgency.URGENT, wita(3, 18, 14),
        {"warning_50": wita(3, 19, 2), "warning_80": wita(3, 19, 9, 12),
         "breach": wita(3, 19, 14), "escalation_2": wita(3, 19, 22)},
        id="verification-urgent-on-nyepi",
    ),
    # Emergency acknowledgement: 1 calendar hour, escalate every 1, from Sun 22 Mar 23:30.
    pytest.param(
        ClockName.ACKNOWLEDGEMENT, Urgency.EMERGENCY, wita(3, 22, 23, 30),
        {"warning_50": wita(3, 23, 0, 0), "warning_80": wita(3, 23, 0, 18),
         "breach": wita(3, 23, 0, 30), "escalation_2": wita(3, 23, 1, 30)},
        id="acknowledgement-emergency-midnight",
    ),
]


@pytest.mark.parametrize(("name", "urgency", "started", "expected"), MILESTONE_CASES)
def test_milestones(name: ClockName, urgency: Urgency, started: datetime, expected: dict[str, datetime]) -> None:
    clock = start(name, urgency, started)
    assert plan(clock) == expected
    assert clock.deadline(CAL) == expected["breach"]


def test_milestone_kinds_and_levels() -> None:
    clock = start(ClockName.ACKNOWLEDGEMENT, Urgency.NORMAL, wita(3, 17, 10))
    got = [(m.key, m.kind, m.level, m.percent, m.label) for m in clock.milestones(CAL, POLICY)]
    assert got == [
        ("warning_50", "warning", 0, 50, "warning 50%"),
        ("warning_80", "warning", 0, 80, "warning 80%"),
        ("breach", "escalation", 1, 100, "breach"),
        ("escalation_2", "escalation", 2, 100, "escalation level 2"),
    ]


def test_clock_start_budget() -> None:
    clock = start(ClockName.VERIFICATION, Urgency.NORMAL, wita(3, 17, 10))
    assert clock.axis == "working"
    assert clock.budget_seconds == 3 * DAY
    assert clock.escalate_every_seconds == DAY
    assert clock.run == 1 and clock.running and not clock.paused
    urgent = start(ClockName.COMPLETION, Urgency.URGENT, wita(3, 17, 10))
    assert urgent.axis == "calendar"
    assert urgent.budget_seconds == 7 * 86400


def test_stopped_clock_has_no_milestones() -> None:
    clock = start(ClockName.ACKNOWLEDGEMENT, Urgency.NORMAL, wita(3, 17, 10))
    clock.stopped_at = wita(3, 17, 11)
    assert clock.milestones(CAL, POLICY) == []
    assert not clock.breached(CAL, wita(12, 31, 12))


# ---- pauses --------------------------------------------------------------------------------

def _pause(started: datetime, ended: datetime | None) -> Pause:
    return Pause(started_at=started, ended_at=ended, reason="menunggu dokumen", actor="PD-34")


PAUSE_CASES = [
    # Acknowledgement (1 working day) from Fri 10 Apr 10:00. Unpaused: Mon 13 Apr 10:00.
    # Paused Fri 10 Apr 14:00 - Mon 13 Apr 10:00 = 2 h (Fri) + 2 h (Mon) of office time:
    # 4 h counted before the pause, 4 h after Mon 10:00 -> Mon 13 Apr 14:00 (4 office hours later).
    pytest.param(ClockName.ACKNOWLEDGEMENT, wita(4, 10, 10), wita(4, 13, 10), wita(4, 13, 14), id="acknowledgement"),
    # Verification (3 working days) from Thu 9 Apr 10:00. Unpaused: 6 (Thu) + 8 (Fri) + 8 (Mon) + 2 -> Tue 14 Apr 10:00.
    # Paused: 6 (Thu) + 6 (Fri until 14:00) = 12 h before; 12 h after Mon 10:00 -> 6 (Mon) + 6 -> Tue 14 Apr 14:00.
    pytest.param(ClockName.VERIFICATION, wita(4, 9, 10), wita(4, 14, 10), wita(4, 14, 14), id="verification"),
]


@pytest.mark.parametrize(("name", "started", "unpaused", "paused"), PAUSE_CASES)
def test_pause_across_weekend_moves_deadline_by_office_time_paused(
    name: ClockName, started: datetime, unpaused: datetime, paused: datetime,
) -> None:
    clock = start(name, Urgency.NORMAL, started)
    assert clock.deadline(CAL) == unpaused
    clock.pauses.append(_pause(wita(4, 10, 14), wita(4, 13, 10)))
    assert clock.deadline(CAL) == paused


def test_pause_across_weekend_milestones() -> None:
    # Verification from Thu 9 Apr 10:00, paused Fri 10 Apr 14:00 - Mon 13 Apr 10:00 (12 h counted before):
    #   50% = 12 h -> exactly at the pause, Fri 10 Apr 14:00;
    #   80% = 19.2 h -> 7.2 h after Mon 10:00 -> 6 (Mon) + 1.2 -> Tue 14 Apr 09:12;
    #   breach 24 h -> Tue 14 Apr 14:00; escalation_2 32 h -> 20 after -> 6 + 8 + 6 -> Wed 15 Apr 14:00.
    clock = start(ClockName.VERIFICATION, Urgency.NORMAL, wita(4, 9, 10))
    clock.pauses.append(_pause(wita(4, 10, 14), wita(4, 13, 10)))
    assert plan(clock) == {
        "warning_50": wita(4, 10, 14), "warning_80": wita(4, 14, 9, 12),
        "breach": wita(4, 14, 14), "escalation_2": wita(4, 15, 14),
    }


def test_pause_outside_office_hours_does_not_move_a_working_deadline() -> None:
    clock = start(ClockName.ACKNOWLEDGEMENT, Urgency.NORMAL, wita(4, 10, 10))
    clock.pauses.append(_pause(wita(4, 10, 17), wita(4, 13, 7)))  # Fri evening to Mon before opening
    assert clock.deadline(CAL) == wita(4, 13, 10)


def test_pause_moves_a_calendar_deadline_by_elapsed_time() -> None:
    # Urgent acknowledgement (4 calendar hours) from Fri 10 Apr 22:00, paused 23:00 - Sat 11 Apr 09:00 (10 h):
    # 1 h before, 3 h after 09:00 -> Sat 11 Apr 12:00 (unpaused: Sat 02:00).
    clock = start(ClockName.ACKNOWLEDGEMENT, Urgency.URGENT, wita(4, 10, 22))
    assert clock.deadline(CAL) == wita(4, 11, 2)
    clock.pauses.append(_pause(wita(4, 10, 23), wita(4, 11, 9)))
    assert clock.deadline(CAL) == wita(4, 11, 12)


def test_two_pauses() -> None:
    # Acknowledgement from Mon 6 Apr 08:00; paused 09:00-10:00 and 11:00-13:00 (3 h): 8 + 3 h -> Tue 7 Apr 11:00.
    clock = start(ClockName.ACKNOWLEDGEMENT, Urgency.NORMAL, wita(4, 6, 8))
    clock.pauses += [_pause(wita(4, 6, 9), wita(4, 6, 10)), _pause(wita(4, 6, 11), wita(4, 6, 13))]
    assert clock.deadline(CAL) == wita(4, 7, 11)


def test_open_pause_has_no_milestones_and_no_deadline() -> None:
    clock = start(ClockName.ACKNOWLEDGEMENT, Urgency.NORMAL, wita(4, 10, 10))
    clock.pauses.append(_pause(wita(4, 10, 14), None))
    assert clock.paused
    assert clock.milestones(CAL, POLICY) == []
    assert clock.deadline(CAL) is None
    assert clock.due(CAL, POLICY, wita(12, 31, 12)) == []
    assert not clock.breached(CAL, wita(12, 31, 12))


# ---- extensions ----------------------------------------------------------------------------

def test_extension_of_two_working_days() -> None:
    # Acknowledgement (1 working day) from Tue 17 Mar 10:00, extended by 2 working days -> 3 working days (24 h):
    #   50% = 12 h -> Wed 25 14:00; 80% = 19.2 h -> Thu 26 13:12; breach -> Fri 27 10:00;
    #   escalation_2 = 24 + 8 h -> Mon 30 Mar 10:00.
    clock = start(ClockName.ACKNOWLEDGEMENT, Urgency.NORMAL, wita(3, 17, 10))
    clock.extension_seconds += Duration.model_validate("2 working_days").seconds(CAL)
    assert clock.extension_seconds == 2 * DAY
    assert clock.total_seconds == 3 * DAY
    assert clock.deadline(CAL) == wita(3, 27, 10)
    assert plan(clock) == {
        "warning_50": wita(3, 25, 14), "warning_80": wita(3, 26, 13, 12),
        "breach": wita(3, 27, 10), "escalation_2": wita(3, 30, 10),
    }


# ---- due() and breached() ------------------------------------------------------------------

DUE_CASES = [
    pytest.param(wita(3, 17, 13, 59), [], [], id="before-first-warning"),
    pytest.param(wita(3, 17, 14), [], ["warning_50"], id="at-warning-50-inclusive"),
    pytest.param(wita(3, 24, 12), [], ["warning_50"], id="during-holiday-block"),
    pytest.param(wita(3, 25, 8, 24), [], ["warning_50", "warning_80"], id="at-warning-80"),
    pytest.param(wita(3, 25, 8, 24), ["warning_50"], ["warning_80"], id="skips-fired"),
    pytest.param(wita(3, 25, 10), ["warning_50", "warning_80"], ["breach"], id="breach-only"),
    pytest.param(wita(3, 26, 10), [], ["warning_50", "warning_80", "breach", "escalation_2"], id="all"),
    pytest.param(wita(3, 26, 10), ["warning_50", "warning_80", "breach", "escalation_2"], [], id="all-fired"),
    pytest.param(wita(3, 26, 9, 59), ["warning_50", "warning_80", "breach"], [], id="before-escalation-2"),
]


@pytest.mark.parametrize(("now", "fired", "expected"), DUE_CASES)
def test_due(now: datetime, fired: list[str], expected: list[str]) -> None:
    clock = start(ClockName.ACKNOWLEDGEMENT, Urgency.NORMAL, wita(3, 17, 10))
    clock.fired = list(fired)
    due = clock.due(CAL, POLICY, now)
    assert [m.key for m in due] == expected
    assert all(isinstance(m, Milestone) and m.at <= now for m in due)


@pytest.mark.parametrize(
    ("now", "breached"),
    [(wita(3, 25, 9, 59), False), (wita(3, 25, 10), True), (wita(3, 26, 9), True)],
)
def test_breached(now: datetime, breached: bool) -> None:
    clock = start(ClockName.ACKNOWLEDGEMENT, Urgency.NORMAL, wita(3, 17, 10))
    assert clock.breached(CAL, now) is breached


# ---- Duration ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "amount", "unit", "axis", "seconds"),
    [
        ("1 working_day", 1.0, "working_days", "working", 8 * HOUR),
        ("3 working_days", 3.0, "working_days", "working", 24 * HOUR),
        ("4 calendar_hours", 4.0, "calendar_hours", "calendar", 4 * HOUR),
        ("1 calendar_hour", 1.0, "calendar_hours", "calendar", HOUR),
        ("2 calendar_days", 2.0, "calendar_days", "calendar", 48 * HOUR),
        ("6 working_hours", 6.0, "working_hours", "working", 6 * HOUR),
        ("1.5 working_days", 1.5, "working_days", "working", 12 * HOUR),
        ("  2 working days ", 2.0, "working_days", "working", 16 * HOUR),
    ],
)
def test_duration_parsing(text: str, amount: float, unit: str, axis: str, seconds: float) -> None:
    duration = Duration.model_validate(text)
    assert (duration.amount, duration.unit, duration.axis) == (amount, unit, axis)
    assert duration.seconds(CAL) == seconds


def test_duration_str() -> None:
    assert str(Duration.model_validate("3 working_days")) == "3 working days"
    assert str(Duration.model_validate("1.5 calendar_hours")) == "1.5 calendar hours"


def test_duration_from_dict() -> None:
    assert Duration.model_validate({"amount": 2, "unit": "working_days"}) == Duration.model_validate("2 working_days")


@pytest.mark.parametrize(
    "text",
    ["three working_days", "3 weeks", "3 working_weeks", "3 business_days", "-1 working_day",
     "0 working_days", "", "3working_days", "working_days 3", "3 days"],
)
def test_duration_bad_text(text: str) -> None:
    with pytest.raises(ValidationError):
        Duration.model_validate(text)


def test_duration_bad_text_message() -> None:
    with pytest.raises(ValidationError, match="is not a duration like '3 working_days'"):
        Duration.model_validate("3 weeks")


# ---- policy and rule validation ------------------------------------------------------------

@pytest.mark.parametrize(
    ("clock", "urgency", "message"),
    [
        ("verification", "urgent", "clocks.verification.urgent is missing"),
        ("acknowledgement", "normal", "clocks.acknowledgement.normal is missing"),
        ("completion_investigation", "emergency", "clocks.completion_investigation.emergency is missing"),
    ],
)
def test_policy_missing_a_clock_rule_is_rejected(clock: str, urgency: str, message: str) -> None:
    data = _policy_dict()
    del data["clocks"][clock][urgency]
    with pytest.raises(ValidationError, match=message):
        SlaPolicy.model_validate(data)


def test_policy_missing_a_whole_clock_names_each_urgency() -> None:
    data = _policy_dict()
    del data["clocks"]["follow_up_plan"]
    with pytest.raises(ValidationError) as info:
        SlaPolicy.model_validate(data)
    text = str(info.value)
    for urgency in ("normal", "urgent", "emergency"):
        assert f"clocks.follow_up_plan.{urgency} is missing" in text


@pytest.mark.parametrize("warn_at", [[0.5, 1.0], [0.0], [1.5]])
def test_policy_warn_at_out_of_range(warn_at: list[float]) -> None:
    data = _policy_dict()
    data["warn_at"] = warn_at
    with pytest.raises(ValidationError, match="must be between 0 and 1"):
        SlaPolicy.model_validate(data)


def test_policy_bad_duration_is_rejected() -> None:
    data = _policy_dict()
    data["clocks"]["verification"]["normal"]["due"] = "3 weeks"
    with pytest.raises(ValidationError, match="3 weeks"):
        SlaPolicy.model_validate(data)


@pytest.mark.parametrize(
    ("due", "every"),
    [("1 working_day", "4 calendar_hours"), ("24 calendar_hours", "1 working_day"), ("2 working_hours", "1 calendar_day")],
)
def test_clock_rule_mixed_axes_rejected(due: str, every: str) -> None:
    with pytest.raises(ValidationError, match="both be working time or both calendar time"):
        ClockRule.model_validate({"due": due, "escalate_every": every})


@pytest.mark.parametrize(
    ("due", "every"),
    [("1 working_day", "4 working_hours"), ("24 calendar_hours", "1 calendar_day")],
)
def test_clock_rule_same_axis_accepted(due: str, every: str) -> None:
    rule = ClockRule.model_validate({"due": due, "escalate_every": every})
    assert rule.due.axis == rule.escalate_every.axis
