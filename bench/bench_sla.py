"""How much the working-day SLA arithmetic costs on each workflow wake-up, as ratios.

The workflow recomputes every running clock's milestones whenever it wakes (an update, a timer). This
measures that against a baseline, in the same process: the same clocks counted in calendar time
(plain datetime arithmetic). Run: python bench/bench_sla.py [--rounds N]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import structlog  # noqa: E402

from referral.holiday_source import build_calendar  # noqa: E402
from referral.sla import Clock, ClockName, Pause, SlaPolicy, Urgency  # noqa: E402

WITA = timezone(timedelta(hours=8))


def case_clocks(policy: SlaPolicy, calendar, urgency: Urgency, pauses: int) -> list[Clock]:
    start = datetime(2026, 3, 17, 10, tzinfo=WITA)
    names = [name for name in ClockName if name.value in policy.clocks]  # the policy may omit "overall"
    clocks = [Clock.start(name, policy.rule(name, urgency), calendar, start) for name in names]
    for clock in clocks:
        for i in range(pauses):
            begin = start + timedelta(days=2 * i + 1)
            clock.pauses.append(Pause(started_at=begin, ended_at=begin + timedelta(hours=20), reason="x", actor="PD-01"))
    return clocks


def per_wakeup(clocks, calendar, policy, rounds: int) -> float:
    began = time.perf_counter()
    for _ in range(rounds):
        for clock in clocks:
            clock.milestones(calendar, policy)
    return (time.perf_counter() - began) / rounds


def calendar_call(calendar, rounds: int) -> float:
    """One `add_working_seconds` over 60 working days (the longest default clock) from Tue 17 Mar 2026."""
    start, span = datetime(2026, 3, 17, 10, tzinfo=WITA), 60 * calendar.office_seconds_per_day
    began = time.perf_counter()
    for _ in range(rounds):
        calendar.add_working_seconds(start, span)
    return (time.perf_counter() - began) / rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=300)
    rounds = parser.parse_args().rounds
    # The calendar warns about each year of computed Bali closures; not what this measures.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    policy = SlaPolicy.model_validate_json(
        (Path(__file__).resolve().parents[1] / "referral/data/sla_policy.json").read_text())
    calendar = build_calendar(2026)
    print(f"add_working_seconds over 60 working days: {calendar_call(calendar, rounds * 10) * 1e6:.1f} µs per call")
    baseline = per_wakeup(case_clocks(policy, calendar, Urgency.URGENT, 0), calendar, policy, rounds)
    print(f"baseline (4 calendar-time clocks): {baseline * 1e6:.0f} µs per wake-up")
    for label, urgency, pauses in (
        ("4 working-day clocks", Urgency.NORMAL, 0),
        ("4 working-day clocks, 3 pauses each", Urgency.NORMAL, 3),
        ("4 working-day clocks, 10 pauses each", Urgency.NORMAL, 10),
    ):
        cost = per_wakeup(case_clocks(policy, calendar, urgency, pauses), calendar, policy, rounds)
        print(f"{label:40s} {cost * 1e6:8.0f} µs   ratio {cost / baseline:6.1f}x baseline")


if __name__ == "__main__":
    main()
