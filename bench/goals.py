"""The issue's goals, judged against a finished report. Pure.

Each goal yields one line per store it applies to: the value, the target and whether it passed
(`None` when the run did not measure it, e.g. a phase left out).
"""

from __future__ import annotations

from typing import Any, Callable

Goal = dict[str, Any]


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def judge(name: str, store: str | None, value: float | None, target: float, better: str, note: str = "") -> Goal:
    """better: "higher" (value >= target passes) or "lower" (value < target passes)."""
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', got {better!r}")
    passed = None if value is None else (value >= target if better == "higher" else value < target)
    line: Goal = {"goal": name, "store": store, "value": value,
                  "target": f"{'>=' if better == 'higher' else '<'} {target:g}", "pass": passed}
    if note:
        line["note"] = note
    return line


def storm_with_intake(storms: dict[str, Any], size: int = 1000) -> tuple[str | None, dict[str, Any] | None]:
    """The storm of `size` cases that overlapped an intake; else the largest such storm run."""
    overlapping = {k: v for k, v in storms.items() if v.get("overlapping_intake")}
    if not overlapping:
        return None, None
    exact = [k for k, v in overlapping.items() if v.get("cases") == size]
    key = exact[0] if exact else max(overlapping, key=lambda k: overlapping[k].get("cases", 0))
    return key, overlapping[key]


def evaluate(report: dict[str, Any]) -> list[Goal]:
    goals: list[Goal] = []
    for store, phases in (report.get("stores") or {}).items():
        whole = phases.get("whole_life") or {}
        goals.append(judge("whole life >= 0.9x the no-op twin", store, whole.get("ratio_to_twin"), 0.9, "higher"))
        goals.append(judge("whole life >= 0.5x the bare case", store, whole.get("ratio_to_bare"), 0.5, "higher"))
        goals.append(judge("intake p99 submit -> assigned at 10/s (ms)", store,
                           _get(phases, "intake", "10_per_second", "submit_to_assigned_ms", "via_receipt", "p99"),
                           500, "lower", "the submit call returns once the case is assigned"))
        storms = phases.get("storms") or {}
        key, storm = storm_with_intake(storms)
        note = f"storm {key}" + ("" if storm is None or storm.get("cases") == 1000 else " (not the 1,000 of the goal)")
        goals.append(judge("storm escalation lag p99, overlapping 5/s intake (ms)", store,
                           _get(storm, "escalation_lag_ms", "p99"), 2000, "lower", note))
        delivery = [_get(s, "notice_delivery_lag_ms", "p99") for s in storms.values()]
        measured = [d for d in delivery if d is not None]
        goals.append(judge("escalation notice delivery p99, every storm (ms)", store,
                           max(measured) if measured else None, 10_000, "lower"))
        timeouts: list[int] = [t for s in storms.values()
                               if (t := _get(s, "task_timeouts", "workflow_task_timed_out")) is not None]
        wrong = [(_get(s, "escalated_in_postgres", "never") or 0) + (_get(s, "escalated_in_postgres", "more_than_once") or 0)
                 + (_get(s, "escalated_in_timeline", "more_than_once") or 0) for s in storms.values()]
        goals.append(judge("storm cases not escalated exactly once", store, sum(wrong) if storms else None, 1, "lower"))
        goals.append(judge("WORKFLOW_TASK_TIMED_OUT events, every storm history", store,
                           sum(timeouts) if timeouts else None, 1, "lower"))
    goals.append(judge("worker RSS per cached case (KiB)", None,
                       _get(report, "memory", "rss", "kib_per_cached_case"), 150, "lower"))
    return goals


def verdict(goals: list[Goal]) -> dict[str, int]:
    count: Callable[[Any], int] = lambda wanted: sum(1 for g in goals if g["pass"] is wanted)
    return {"passed": count(True), "failed": count(False), "not_measured": count(None)}
