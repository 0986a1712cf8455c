"""bench/shape.py: a history's shape per step, and where a deadline's lag went."""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

from bench.shape import Event, Segment, deadline_path, differences, payload_encodings, shape_of, totals

LA = Event("MARKER_RECORDED", marker="core_local_activity")


def case_events() -> list[Event]:
    return [
        Event("WORKFLOW_EXECUTION_STARTED"), Event("WORKFLOW_TASK_COMPLETED"),
        Event("WORKFLOW_EXECUTION_UPDATE_ACCEPTED", update="opened"), LA, LA,
        Event("UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"), Event("TIMER_STARTED"),
        Event("WORKFLOW_TASK_COMPLETED"), Event("WORKFLOW_EXECUTION_UPDATE_ACCEPTED", update="acknowledge"), LA,
        Event("MARKER_RECORDED", marker="other_marker"), Event("UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"),
        Event("TIMER_CANCELED"), Event("TIMER_STARTED"), Event("WORKFLOW_TASK_TIMED_OUT"),
        Event("WORKFLOW_TASK_COMPLETED"), Event("WORKFLOW_EXECUTION_UPDATE_ACCEPTED", update="acknowledge"),
        Event("ACTIVITY_TASK_SCHEDULED"), Event("TIMER_FIRED"),
    ]


def test_segments_start_at_each_action_update_and_the_receipt_stays_in_start():
    shape = shape_of(case_events(), receipt_update="opened")
    assert shape.start == Segment(local_activities=2, upserts=1, timers_started=1)
    assert list(shape.updates) == ["acknowledge", "acknowledge#2"]
    assert shape.updates["acknowledge"] == Segment(local_activities=1, upserts=1, timers_started=1, timers_canceled=1)
    assert shape.updates["acknowledge#2"] == Segment(activities=1, timers_fired=1)
    assert (shape.workflow_tasks, shape.task_timeouts, shape.events) == (3, 1, 19)


def test_totals_count_updates_with_validators():
    counts = totals(shape_of(case_events(), receipt_update="opened"), validated={"acknowledge"})
    assert counts["local_activities"] == 3 and counts["upserts"] == 2 and counts["timers_started"] == 2
    assert counts["updates"] == 2 and counts["updates_with_validators"] == 2
    assert "updates_with_validators" not in totals(shape_of(case_events()))


def test_without_a_receipt_name_every_update_is_a_step():
    assert list(shape_of(case_events()).updates) == ["opened", "acknowledge", "acknowledge#2"]


def test_differences_name_the_step_and_the_count():
    real = shape_of(case_events(), receipt_update="opened")
    twin = shape_of(case_events()[:-3], receipt_update="opened")
    assert differences(real, real) == []
    assert differences(real, twin) == ["acknowledge#2: only in the real case"]
    twin.start.upserts = 5
    assert "start.upserts: real 1, twin 5" in differences(real, twin)


def _event(event_id: int, kind: str, at: float, **attributes) -> HistoryEvent:
    event = HistoryEvent(event_id=event_id, event_type=EventType.Value(f"EVENT_TYPE_{kind}"), **attributes)
    event.event_time.FromMicroseconds(int(at * 1e6))
    return event


def test_deadline_path_splits_the_lag():
    arming = _event(4, "WORKFLOW_TASK_STARTED", 97.0)
    started = _event(5, "TIMER_STARTED", 100.0)
    started.timer_started_event_attributes.start_to_fire_timeout.FromSeconds(60)
    other = _event(6, "TIMER_STARTED", 100.0)
    other.timer_started_event_attributes.start_to_fire_timeout.FromSeconds(3600)
    fired = _event(7, "TIMER_FIRED", 160.25)
    fired.timer_fired_event_attributes.started_event_id = 5
    events = [arming, started, other, fired, _event(8, "WORKFLOW_TASK_SCHEDULED", 160.25),
              _event(9, "WORKFLOW_TASK_STARTED", 160.5), _event(10, "WORKFLOW_TASK_COMPLETED", 161.0)]
    path = deadline_path(events, due=158.0)
    assert path is not None
    assert round(path["armed_late_s"], 3) == 2.0  # intended 160.0 for a deadline at 158.0
    assert round(path["arming_task_ran_s"], 3) == 3.0  # the task that armed it ran from 97.0 to 100.0
    assert round(path["fired_late_s"], 3) == 0.25
    assert round(path["task_waited_s"], 3) == 0.25 and round(path["task_ran_s"], 3) == 0.5
    assert deadline_path(events[:3], due=158.0) is None


def test_payload_encodings_counts_every_payload_by_its_encoding():
    started = _event(1, "WORKFLOW_EXECUTION_STARTED", 1.0)
    attributes = started.workflow_execution_started_event_attributes
    attributes.input.payloads.add(metadata={"encoding": b"binary/encrypted"}, data=b"sealed")
    attributes.header.fields["trace"].metadata["encoding"] = b"binary/encrypted"  # a map of messages
    attributes.search_attributes.indexed_fields["Status"].metadata["encoding"] = b"json/plain"
    attributes.memo.fields["raw"].data = b"no encoding"
    update = _event(2, "WORKFLOW_EXECUTION_UPDATE_ACCEPTED", 2.0)
    update.workflow_execution_update_accepted_event_attributes.accepted_request.input.args.payloads.add(
        metadata={"encoding": b"binary/encrypted"})
    assert payload_encodings([started, update]) == {"?": 1, "binary/encrypted": 3, "json/plain": 1}
    assert payload_encodings([_event(3, "TIMER_FIRED", 3.0)]) == {}


def _at(kind: str, seconds: float) -> HistoryEvent:
    event = HistoryEvent(event_type=EventType.Value(f"EVENT_TYPE_{kind}"))
    event.event_time.FromMicroseconds(int(seconds * 1e6))
    return event


def test_first_task_runs_from_its_start_to_its_first_end_completed_or_timed_out():
    from bench.shape import first_task_seconds

    timed_out = [_at("WORKFLOW_EXECUTION_STARTED", 0), _at("WORKFLOW_TASK_SCHEDULED", 0),
                 _at("WORKFLOW_TASK_STARTED", 1.5), _at("WORKFLOW_TASK_TIMED_OUT", 11.5),
                 _at("WORKFLOW_TASK_STARTED", 12), _at("WORKFLOW_TASK_COMPLETED", 12.25)]
    assert first_task_seconds(timed_out) == 10.0
    assert first_task_seconds(timed_out[:3] + [_at("WORKFLOW_TASK_COMPLETED", 2.0)]) == 0.5
    assert first_task_seconds(timed_out[:3]) is None
