"""bench/goals.py: the issue's goals judged against a report."""

from __future__ import annotations

import pytest

from bench.goals import evaluate, judge, storm_with_intake, verdict


@pytest.mark.parametrize("value, target, better, expected", [
    (0.95, 0.9, "higher", True), (0.9, 0.9, "higher", True), (0.5, 0.9, "higher", False),
    (499.0, 500, "lower", True), (500.0, 500, "lower", False), (None, 500, "lower", None),
])
def test_judge(value, target, better, expected):
    assert judge("x", None, value, target, better)["pass"] is expected


def test_judge_refuses_an_unknown_direction():
    with pytest.raises(ValueError, match="better must be"):
        judge("x", None, 1.0, 1.0, "bigger")


def storm(cases: int, p99: float, overlap: bool) -> dict:
    return {"cases": cases, "escalation_lag_ms": {"p99": p99}, "notice_delivery_lag_ms": {"p99": 3000.0},
            "escalated_in_postgres": {"never": 0, "more_than_once": 0},
            "escalated_in_timeline": {"more_than_once": 0},
            "task_timeouts": {"workflow_task_timed_out": 0}, **({"overlapping_intake": {"submitted": 5}} if overlap else {})}


def test_storm_with_intake_prefers_the_thousand():
    storms = {"1000": storm(1000, 1.0, False), "1000_with": storm(1000, 2.0, True), "5000_with": storm(5000, 3.0, True)}
    assert storm_with_intake(storms)[0] == "1000_with"
    assert storm_with_intake({"5000_with": storms["5000_with"]})[0] == "5000_with"
    assert storm_with_intake({"1000": storms["1000"]}) == (None, None)


def test_evaluate_a_report():
    report = {
        "stores": {"file": {
            "whole_life": {"ratio_to_twin": 0.95, "ratio_to_bare": 0.4},
            "intake": {"10_per_second": {"submit_to_assigned_ms": {"via_receipt": {"p99": 300.0}}}},
            "storms": {"1000": storm(1000, 900.0, False), "1000_with_intake": storm(1000, 2500.0, True)},
        }},
        "memory": {"rss": {"kib_per_cached_case": 120.0}},
    }
    goals = {g["goal"]: g["pass"] for g in evaluate(report)}
    assert goals["whole life >= 0.9x the no-op twin"] is True
    assert goals["whole life >= 0.5x the bare case"] is False
    assert goals["intake p99 submit -> assigned at 10/s (ms)"] is True
    assert goals["storm escalation lag p99, overlapping 5/s intake (ms)"] is False
    assert goals["escalation notice delivery p99, every storm (ms)"] is True
    assert goals["storm cases not escalated exactly once"] is True
    assert goals["WORKFLOW_TASK_TIMED_OUT events, every storm history"] is True
    assert goals["worker RSS per cached case (KiB)"] is True
    assert verdict(evaluate(report)) == {"passed": 6, "failed": 2, "not_measured": 0}


def test_phases_left_out_are_not_measured():
    goals = evaluate({"stores": {"memory": {"whole_life": {"ratio_to_twin": 1.0, "ratio_to_bare": 1.0}}}})
    assert verdict(goals) == {"passed": 2, "failed": 0, "not_measured": 6}
