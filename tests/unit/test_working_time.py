"""Buleleng's real working time with the shipped policy: Perbup 56/2025 office hours, Bali's closures and
deadlines at the close of office on the Nth working day ("paling lambat N hari kerja"). Dates written out.

August 2027: Penampahan Galungan, Galungan and Umanis Galungan close 10-12 Aug; 17 Aug is Independence Day;
Penampahan Kuningan closes 20 Aug. Office hours Mon-Thu 07:30-16:00 (break 12:00-12:45), Fri 07:00-14:00
(break 11:00-11:30).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from referral.setup import load_policy
from referral.holiday_source import build_calendar
from referral.sla import CaseClocks, ClockName, Urgency

WITA = timezone(timedelta(hours=8))
POLICY = load_policy(None)
CAL_2027 = build_calendar(2027)
MON_9_AUG = datetime(2027, 8, 9, 10, 0, tzinfo=WITA)


def clocks(at: datetime, *names: ClockName, urgency: Urgency = Urgency.NORMAL, calendar=CAL_2027) -> CaseClocks:
    found = CaseClocks(semantics=POLICY.deadline_semantics)
    for name in names:
        found.start(name, POLICY.rule(name, urgency), calendar, at)
    return found


def test_the_shipped_policy_counts_to_the_close_of_office():
    assert POLICY.deadline_semantics == "end_of_day"


def test_verification_of_a_case_reported_monday_9_august_2027_is_due_wednesday_18_august_16_00():
    verification = clocks(MON_9_AUG, ClockName.VERIFICATION).get(ClockName.VERIFICATION)
    # Working days after the report: Fri 13, Mon 16, Wed 18 (10-12 Aug Galungan, 17 Aug Independence Day).
    assert verification.deadline(CAL_2027) == datetime(2027, 8, 18, 16, 0, tzinfo=WITA)


def test_a_deadline_on_a_friday_falls_at_14_00_and_warnings_fall_at_50_and_80_percent_of_the_working_time():
    ack = clocks(MON_9_AUG, ClockName.ACKNOWLEDGEMENT).get(ClockName.ACKNOWLEDGEMENT)
    plan = {m.key: m.at for m in ack.milestones(CAL_2027, POLICY)}
    # Working time between: Mon 9 Aug 10:00-16:00 less the break (5 h 15 min) + Fri 13 Aug 07:00-14:00 less its
    # break (6 h 30 min) = 705 min. 50% = 352.5 min: 315 on Monday, then Fri 07:37:30. 80% = 564 min: Fri 11:39.
    assert plan == {
        "warning_50": datetime(2027, 8, 13, 7, 37, 30, tzinfo=WITA),
        "warning_80": datetime(2027, 8, 13, 11, 39, tzinfo=WITA),
        "breach": datetime(2027, 8, 13, 14, 0, tzinfo=WITA),
        "escalation_2": datetime(2027, 8, 16, 16, 0, tzinfo=WITA),  # one working day later, at the close
    }


def test_the_overall_clock_counts_fourteen_working_days_from_the_report():
    overall = clocks(MON_9_AUG, ClockName.OVERALL).get(ClockName.OVERALL)
    # 13, 16, 18, 19, (20 Penampahan Kuningan), 23-27, 30, 31 Aug, 1, 2, 3 Sep: the 14th is Friday 3 September.
    assert overall.deadline(CAL_2027) == datetime(2027, 9, 3, 14, 0, tzinfo=WITA)


def test_a_pause_moves_an_end_of_day_deadline_to_the_close_of_the_day_it_lands_on():
    case = clocks(datetime(2027, 8, 23, 9, 0, tzinfo=WITA), ClockName.VERIFICATION)  # Monday
    clock = case.get(ClockName.VERIFICATION)
    assert clock.deadline(CAL_2027) == datetime(2027, 8, 26, 16, 0, tzinfo=WITA)  # Tue, Wed, Thu
    case.pause(datetime(2027, 8, 23, 10, 0, tzinfo=WITA), "menunggu dokumen", "PD-34")
    case.resume(datetime(2027, 8, 23, 14, 0, tzinfo=WITA))  # 3 h 15 min of office time given back
    assert clock.deadline(CAL_2027) == datetime(2027, 8, 27, 14, 0, tzinfo=WITA)  # into Friday: its close


def test_an_extension_by_whole_working_days_keeps_the_close_of_office():
    case = clocks(MON_9_AUG, ClockName.ACKNOWLEDGEMENT)
    ack = case.get(ClockName.ACKNOWLEDGEMENT)
    by = POLICY.rule(ClockName.ACKNOWLEDGEMENT, Urgency.NORMAL).due.model_copy(update={"amount": 2.0})
    case.extend(ClockName.ACKNOWLEDGEMENT, by, CAL_2027, POLICY, MON_9_AUG)
    assert ack.deadline(CAL_2027) == datetime(2027, 8, 18, 16, 0, tzinfo=WITA)  # Fri 13 + Mon 16 + Wed 18


def test_a_corrected_calendar_moves_the_next_milestone_and_never_fires_one_twice():
    """A case started on a calendar without the 2027 closures takes the corrected one (the supervisor command)."""
    bare = build_calendar(2027, bali_closed=())  # as if Galungan were not known
    case = clocks(MON_9_AUG, ClockName.VERIFICATION, calendar=bare)
    clock = case.get(ClockName.VERIFICATION)
    assert clock.deadline(bare) == datetime(2027, 8, 12, 16, 0, tzinfo=WITA)  # Tue 10, Wed 11, Thu 12
    clock.fired = ["warning_50"]  # it already warned once
    case.apply_rules(POLICY, CAL_2027, Urgency.NORMAL, False, datetime(2027, 8, 11, 9, 0, tzinfo=WITA), rearm=False)
    assert clock.deadline(CAL_2027) == datetime(2027, 8, 18, 16, 0, tzinfo=WITA)
    upcoming = [m.key for m in clock.milestones(CAL_2027, POLICY)]
    assert upcoming == ["warning_80", "breach", "escalation_2"]  # the 50% warning does not fire again


@pytest.mark.parametrize("urgency, clock, expected", [
    (Urgency.URGENT, ClockName.ACKNOWLEDGEMENT, datetime(2027, 8, 9, 14, 0, tzinfo=WITA)),  # 4 calendar hours
    (Urgency.EMERGENCY, ClockName.VERIFICATION, datetime(2027, 8, 9, 16, 0, tzinfo=WITA)),  # 6 calendar hours
])
def test_calendar_hour_clocks_stay_as_they_are(urgency, clock, expected):
    assert clocks(MON_9_AUG, clock, urgency=urgency).get(clock).deadline(CAL_2027) == expected
