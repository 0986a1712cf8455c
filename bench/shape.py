"""The shape of a workflow history: what a case costs the engine, counted per step. Pure.

A history is cut into segments: `start` (everything before the first accepted action update, the
receipt update included) and one per accepted update, named after it. Each segment counts local
activities (markers), regular activities, search-attribute upserts and timers. The no-op twin
(bench/twin.py) replays exactly these counts, so the two can be compared on equal terms.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, NamedTuple

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

LOCAL_ACTIVITY_MARKER = "core_local_activity"


class Event(NamedTuple):
    """One history event, reduced to what a shape needs."""

    kind: str  # the EventType name without its EVENT_TYPE_ prefix, e.g. "TIMER_STARTED"
    marker: str | None = None
    update: str | None = None


@dataclass
class Segment:
    local_activities: int = 0
    activities: int = 0
    upserts: int = 0
    timers_started: int = 0
    timers_canceled: int = 0
    timers_fired: int = 0


@dataclass
class Shape:
    start: Segment = field(default_factory=Segment)
    updates: dict[str, Segment] = field(default_factory=dict)  # in the order they were accepted
    workflow_tasks: int = 0
    task_timeouts: int = 0
    events: int = 0


def reduce_event(event: HistoryEvent) -> Event:
    kind = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
    if kind == "MARKER_RECORDED":
        return Event(kind, marker=event.marker_recorded_event_attributes.marker_name)
    if kind == "WORKFLOW_EXECUTION_UPDATE_ACCEPTED":
        return Event(kind, update=event.workflow_execution_update_accepted_event_attributes.accepted_request.input.name)
    return Event(kind)


def shape_of(events: Iterable[Event], receipt_update: str | None = None) -> Shape:
    shape = Shape()
    current = shape.start
    for event in events:
        shape.events += 1
        kind = event.kind
        if kind == "WORKFLOW_EXECUTION_UPDATE_ACCEPTED" and event.update != receipt_update:
            name, n = event.update or "?", 2
            while name in shape.updates:
                name, n = f"{event.update}#{n}", n + 1
            current = shape.updates[name] = Segment()
        elif kind == "MARKER_RECORDED" and event.marker == LOCAL_ACTIVITY_MARKER:
            current.local_activities += 1
        elif kind == "ACTIVITY_TASK_SCHEDULED":
            current.activities += 1
        elif kind == "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES":
            current.upserts += 1
        elif kind == "TIMER_STARTED":
            current.timers_started += 1
        elif kind == "TIMER_CANCELED":
            current.timers_canceled += 1
        elif kind == "TIMER_FIRED":
            current.timers_fired += 1
        elif kind == "WORKFLOW_TASK_COMPLETED":
            shape.workflow_tasks += 1
        elif kind == "WORKFLOW_TASK_TIMED_OUT":
            shape.task_timeouts += 1
    return shape


def totals(shape: Shape, validated: set[str] | None = None) -> dict[str, int]:
    """What one case's history contains, summed over its segments."""
    segments = [shape.start, *shape.updates.values()]
    counts = {key: sum(getattr(s, key) for s in segments) for key in asdict(Segment())}
    counts["updates"] = len(shape.updates)
    if validated is not None:
        counts["updates_with_validators"] = sum(1 for name in shape.updates if name.split("#")[0] in validated)
    counts["workflow_tasks"] = shape.workflow_tasks
    counts["events"] = shape.events
    return counts


def differences(real: Shape, twin: Shape) -> list[str]:
    """Where the twin's history departs from the real one's (empty when they have the same shape)."""
    problems = []
    for name in ["start", *dict.fromkeys([*real.updates, *twin.updates])]:
        a = real.start if name == "start" else real.updates.get(name)
        b = twin.start if name == "start" else twin.updates.get(name)
        if a is None or b is None:
            problems.append(f"{name}: only in the {'twin' if a is None else 'real case'}")
            continue
        for key, value in asdict(a).items():
            if getattr(b, key) != value:
                problems.append(f"{name}.{key}: real {value}, twin {getattr(b, key)}")
    return problems


def as_plan(shape: Shape) -> dict[str, Any]:
    """The twin's input: the counts per segment, as plain data."""
    return {"start": asdict(shape.start), "updates": {k: asdict(v) for k, v in shape.updates.items()}}


def deadline_path(events: Iterable[HistoryEvent], due: float) -> dict[str, float] | None:
    """Where the time between a deadline and its handling went, from the timer that fired for it.

    For the fired timer whose intended fire time is closest to `due` (epoch seconds): how late it was
    armed (the intended fire time minus the deadline: a duration computed from a stale workflow time),
    how long the workflow task that armed it ran (workflow time stands still within a task, local
    activities included), how late the server fired it, and how long the workflow task it caused
    waited for a worker and ran.
    """
    started: dict[int, tuple[float, float | None]] = {}  # timer id -> (intended fire, arming task's start)
    candidates = []
    pending: dict[str, float] | None = None
    task_started: float | None = None
    for event in events:
        at = event.event_time.ToMicroseconds() / 1e6
        kind = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
        if kind == "TIMER_STARTED":
            timeout = event.timer_started_event_attributes.start_to_fire_timeout.ToMicroseconds() / 1e6
            started[event.event_id] = (at + timeout, at - task_started if task_started is not None else None)
        elif kind == "TIMER_FIRED":
            timer = started.get(event.timer_fired_event_attributes.started_event_id)
            if timer is not None:
                pending = {"intended": timer[0], "fired": at}
                if timer[1] is not None:
                    pending["arming_task"] = timer[1]
                candidates.append(pending)
        elif kind == "WORKFLOW_TASK_STARTED":
            task_started = at
            if pending is not None:
                pending["task_started"] = at
        elif pending is not None and kind == "WORKFLOW_TASK_COMPLETED":
            pending["task_completed"] = at
            pending = None
    if not candidates:
        return None
    best = min(candidates, key=lambda c: abs(c["intended"] - due))
    path = {"armed_late_s": best["intended"] - due, "fired_late_s": best["fired"] - best["intended"],
            "fired_at": best["fired"]}
    if "arming_task" in best:
        path["arming_task_ran_s"] = best["arming_task"]
    if "task_started" in best:
        path["task_waited_s"] = best["task_started"] - best["fired"]
    if "task_started" in best and "task_completed" in best:
        path["task_ran_s"] = best["task_completed"] - best["task_started"]
    return path


def first_task_seconds(events: Iterable[HistoryEvent]) -> float | None:
    """How long a case's first workflow task ran (started -> completed, failed or timed out): the task that
    runs the intake's local activities and assigns the case, the one a burst of new cases crowds."""
    started = None
    for event in events:
        kind = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
        if kind == "WORKFLOW_TASK_STARTED" and started is None:
            started = event.event_time.ToMicroseconds() / 1e6
        elif started is not None and kind in ("WORKFLOW_TASK_COMPLETED", "WORKFLOW_TASK_FAILED",
                                              "WORKFLOW_TASK_TIMED_OUT"):
            return event.event_time.ToMicroseconds() / 1e6 - started
    return None


def payload_encodings(messages: Iterable[Message]) -> dict[str, int]:
    """How many payloads the messages (e.g. a history's events) hold, by their `encoding` metadata: what a
    payload codec had to encode (search attributes included, which no codec sees)."""
    counts: Counter[str] = Counter()

    def walk(message: Message) -> None:
        if isinstance(message, Payload):
            counts[message.metadata.get("encoding", b"?").decode("utf-8", "replace")] += 1
            return
        for described, value in message.ListFields():
            if described.message_type is None:
                continue
            if described.message_type.GetOptions().map_entry:
                if described.message_type.fields_by_name["value"].message_type is not None:
                    for item in value.values():
                        walk(item)
            elif described.is_repeated:
                for item in value:
                    walk(item)
            else:
                walk(value)

    for message in messages:
        walk(message)
    return dict(sorted(counts.items()))
