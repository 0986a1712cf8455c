"""ComplaintWorkflow on the time-skipping server with real activities over a real Postgres."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta, timezone

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.worker import ExecuteWorkflowInput, Interceptor, WorkflowInboundInterceptor, WorkflowInterceptorClassInput

from casework.intake import complaint_id_for, start_input, workflow_id
from referral.config import Settings
from tests.conftest import actor, make_intake, running_worker, task_queue
from worker import build_worker
from workflows.complaint import ComplaintWorkflow

WITA = timezone(timedelta(hours=8))


STARTED = []  # handles to terminate after each test (see conftest.py)


async def start_case(env, queue, **overrides):
    """Start a case reported 'now' on the test server's clock (which runs ahead of the wall clock)."""
    client = env.client
    overrides.setdefault("reported_at", (await env.get_current_time()).isoformat())
    intake = make_intake(**overrides)
    complaint_id = complaint_id_for(intake)
    handle = await client.start_workflow(
        ComplaintWorkflow.run, start_input(complaint_id, intake, Settings().pii_key),
        id=workflow_id(complaint_id), task_queue=queue,
    )
    STARTED.append(handle)
    return complaint_id, handle


async def wait_for(handle, predicate, env, step=timedelta(minutes=1), tries=200):
    view = None
    for _ in range(tries):
        try:
            view = await handle.query(ComplaintWorkflow.state, None, rpc_timeout=timedelta(seconds=5))
        except RPCError:
            # After a worker restart the server first tries the old worker's sticky queue.
            continue
        if predicate(view):
            return view
        await env.sleep(step)
    raise AssertionError(f"condition never met; last state {view and view.status} {view and [e.event for e in view.timeline]}")


async def test_whole_life_of_a_case(time_env, db):
    client, queue = time_env.client, task_queue()
    async with running_worker(client, db, queue):
        complaint_id, handle = await start_case(time_env, queue)
        view = await wait_for(handle, lambda v: v.status == "assigned", time_env)
        pendamping = view.pendamping_id
        assert pendamping == "PD-34"  # the sample roster's pendamping for Desa Bengkala

        await handle.execute_update(ComplaintWorkflow.acknowledge, {"actor": actor(pendamping)})
        await handle.execute_update(ComplaintWorkflow.assess, {"actor": actor(pendamping), "note": "kunjungan rumah"})
        await handle.execute_update(ComplaintWorkflow.refer, {"actor": actor(pendamping), "plan": "alat bantu dengar"})
        await handle.execute_update(ComplaintWorkflow.resolve, {"actor": actor("KABID-REHSOS"), "outcome": "assistance_given", "programme": "ATENSI"})
        view = await handle.execute_update(ComplaintWorkflow.close, {"actor": actor(pendamping)})

        assert view.status == "closed"
        assert (await handle.query(ComplaintWorkflow.state, None)).bidang == "rehabilitasi_sosial"
        row = await db.cases.complaint(complaint_id)
        assert row.status == "closed" and row.pendamping_id == pendamping and row.outcome == "assistance_given"
        events = [e.event for e in await db.cases.events(complaint_id)]
        for step in ("received", "assigned", "acknowledged", "assessed", "referred", "resolved", "closed"):
            assert events.count(step) == 1, (step, events)
        view = await handle.query(ComplaintWorkflow.state, None)
        timeline = [e.event for e in view.timeline]
        assert [e for e in timeline if e in events] == [e for e in events if e in timeline]


async def test_wrong_actor_and_wrong_state_are_refused_before_history(time_env, db):
    client, queue = time_env.client, task_queue()
    async with running_worker(client, db, queue):
        complaint_id, handle = await start_case(time_env, queue)
        await wait_for(handle, lambda v: v.status == "assigned", time_env)
        history_before = len([e async for e in handle.fetch_history_events()])

        with pytest.raises(WorkflowUpdateFailedError) as wrong_person:
            await handle.execute_update(ComplaintWorkflow.acknowledge, {"actor": actor("PD-01")})
        assert "only the assigned pendamping (PD-34)" in str(wrong_person.value.cause)
        with pytest.raises(WorkflowUpdateFailedError) as wrong_state:
            await handle.execute_update(ComplaintWorkflow.resolve, {"actor": actor("KABID-REHSOS"), "outcome": "assistance_given", "programme": "ATENSI"})
        assert "it must be referred" in str(wrong_state.value.cause)
        with pytest.raises(WorkflowUpdateFailedError) as not_supervisor:
            await handle.execute_update(ComplaintWorkflow.reject, {"actor": actor("PD-34"), "reason": "not_ppks"})
        assert "head of the bidang or the kepala dinas" in str(not_supervisor.value.cause)

        added = [e async for e in handle.fetch_history_events()][history_before:]
        assert not [e for e in added if "UPDATE" in EventType.Name(e.event_type)], added
        if added:
            print("added", [EventType.Name(e.event_type) for e in added])
        assert [e.event for e in await db.cases.events(complaint_id)].count("acknowledged") == 0


async def test_reject_and_reopen_within_the_window(time_env, db):
    client, queue = time_env.client, task_queue()
    async with running_worker(client, db, queue):
        complaint_id, handle = await start_case(time_env, queue)
        await wait_for(handle, lambda v: v.status == "assigned", time_env)
        view = await handle.execute_update(ComplaintWorkflow.reject, {"actor": actor("KADIS"), "reason": "duplicate"})
        assert view.status == "rejected"
        view = await handle.execute_update(ComplaintWorkflow.reopen, {"actor": actor("KABID-REHSOS"), "note": "bukan duplikat"})
        assert view.status == "assigned"
        view = await handle.query(ComplaintWorkflow.state, None)
        assert [c.name for c in view.clocks if c.state == "running"] == ["acknowledgement", "verification"]


async def test_reassign_moves_the_case_and_checks_the_target(time_env, db):
    client, queue = time_env.client, task_queue()
    async with running_worker(client, db, queue):
        complaint_id, handle = await start_case(time_env, queue)
        await wait_for(handle, lambda v: v.status == "assigned", time_env)
        with pytest.raises(WorkflowUpdateFailedError) as unknown:
            await handle.execute_update(ComplaintWorkflow.reassign, {"actor": actor("KADIS"), "to": actor("KABID-PJS")})
        assert "'KABID-PJS' is not a pendamping" in str(unknown.value.cause)
        view = await handle.execute_update(ComplaintWorkflow.reassign, {"actor": actor("KADIS"), "to": actor("PD-32")})
        assert view.pendamping_id == "PD-32"
        assert (await db.cases.complaint(complaint_id)).pendamping_id == "PD-32"


async def test_an_action_retried_with_the_same_request_id_applies_once(time_env, db):
    from casework.cases import act
    from referral.models import Extension

    client, queue = time_env.client, task_queue()
    async with running_worker(client, db, queue):
        complaint_id, handle = await start_case(time_env, queue)
        await wait_for(handle, lambda v: v.status == "assigned", time_env)
        extension = Extension(actor=actor("KABID-PJS"), clock="verification", by="1 working_day", reason="jalan putus")
        first = await act(client, complaint_id, "extend", extension, Settings().pii_key, request_id="req-1")
        again = await act(client, complaint_id, "extend", extension, Settings().pii_key, request_id="req-1")
    assert again.deadlines["verification"] == first.deadlines["verification"]
    assert [e.event for e in await db.cases.events(complaint_id)].count("extended") == 1


async def test_a_new_roster_reaches_an_open_case_and_moves_it_off_a_removed_pendamping(time_env, db):
    from referral import reference

    client, queue = time_env.client, task_queue()
    sample = reference.sample_roster()
    try:
        async with running_worker(client, db, queue):
            complaint_id, handle = await start_case(time_env, queue, village_code="51.08.09.2001")
            await wait_for(handle, lambda v: v.pendamping_id == "PD-35", time_env)
            # The office's new roster: PD-35 has left; PD-36 now covers all of Tejakula.
            officers = {k: v for k, v in sample.officers.items() if k != "PD-35"}
            coverage = {code: ("PD-36" if who == "PD-35" else who) for code, who in sample.coverage.items()}
            left = await db.roster.replace_roster(reference.Roster(officers=officers, coverage=coverage))
            assert left == ["PD-35"]
            assert await db.roster.cases_of(left) == [handle.id]
            await handle.execute_update(ComplaintWorkflow.roster_changed, {"left": left})
            view = await handle.query(ComplaintWorkflow.state, None)
        assert view.pendamping_id == "PD-36"
        reassigned = next(e for e in view.timeline if e.event == "reassigned")
        assert (reassigned.actor, reassigned.detail["previous"]) == ("roster", "PD-35")
        assert (await db.cases.complaint(complaint_id)).pendamping_id == "PD-36"
    finally:
        await db.roster.replace_roster(sample)


class _KeepInputs(Interceptor):
    """Keeps every ComplaintWorkflow input object as the workflow holds it (the worker's own copy)."""

    seen: list = []

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput):
        class Inbound(WorkflowInboundInterceptor):
            async def execute_workflow(self, input: ExecuteWorkflowInput):
                _KeepInputs.seen.append(input.args[0])
                return await super().execute_workflow(input)
        return Inbound


async def test_the_worker_forgets_the_personal_data_once_the_intake_recorded_it(time_env, db):
    client, queue = time_env.client, task_queue()
    _KeepInputs.seen.clear()
    worker = build_worker(client, db, replace(Settings(), task_queue=queue), max_cached_workflows=0,
                          workflow_failure_exception_types=[Exception], interceptors=[_KeepInputs()])
    async with worker:
        complaint_id, handle = await start_case(time_env, queue)
        await wait_for(handle, lambda v: v.status == "assigned", time_env)
    assert _KeepInputs.seen, "the interceptor saw no workflow start"
    assert all(start.personal is None and start.sealed_personal is None for start in _KeepInputs.seen)
    assert (await db.cases.complaint(complaint_id, personal=True)).subject["name"]  # kept, encrypted, in Postgres
    history_input = (await handle.fetch_history()).events[0].workflow_execution_started_event_attributes.input
    assert history_input.payloads  # and in the history, under the codec: the case can be replayed
