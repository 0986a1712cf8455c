"""No case stops moving unseen: the failures a careless calling service or a hurried officer caused.

Each test here failed before the core was rebuilt (issue 8) and passes now. On the time-skipping server
with real activities over a real Postgres.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError

from casework.intake import complaint_id_for, workflow_id
from referral.case import ComplaintStart
from referral.config import Settings
from referral.intake import CaseOpening
from referral.sealing import seal, seal_text
from tests.conftest import actor, make_intake, running_worker, task_queue
from tests.workflows.test_complaint_lifecycle import STARTED, start_case, wait_for
from workflows import search_attributes as sa
from workflows.complaint import ComplaintWorkflow


async def update_events(handle) -> int:
    return len([e async for e in handle.fetch_history_events() if "UPDATE" in EventType.Name(e.event_type)])


async def test_data_postgres_refuses_puts_the_case_in_needs_attention_and_tells_the_head_of_bidang(time_env, db):
    """A description with a NUL byte (sent around the intake check) used to make the intake retry forever."""
    client, queue = time_env.client, task_queue()
    intake = make_intake(reported_at=(await time_env.get_current_time()).isoformat())
    personal = {"reporter": intake.reporter.model_dump(mode="json"), "subject": intake.subject.model_dump(mode="json"),
                "description": "Warga\x00 penyandang disabilitas belum menerima layanan."}
    complaint_id = complaint_id_for(intake)
    start = ComplaintStart(complaint_id=complaint_id, case=CaseOpening.of(intake),
                           sealed_personal=seal(personal, Settings().pii_key))
    async with running_worker(client, db, queue):
        handle = await client.start_workflow(ComplaintWorkflow.run, start, id=workflow_id(complaint_id), task_queue=queue)
        STARTED.append(handle)
        view = await wait_for(handle, lambda v: v.needs_attention is not None, time_env, step=timedelta(seconds=1))
        # Refused before encryption (activities.envelope.UnstorableValue), as PostgreSQL refuses it in clear.
        assert "NUL character, which PostgreSQL refuses" in view.needs_attention and "\x00" not in view.needs_attention
        assert (await handle.describe()).typed_search_attributes.get(sa.NEEDS_ATTENTION) is True
        events = await db.cases.events(complaint_id)
        assert [e.event for e in events] == ["needs_attention"]
        outbox = await db.pool.fetch("SELECT DISTINCT recipient_id FROM notification_outbox WHERE complaint_id = $1",
                                     complaint_id)
        assert [r["recipient_id"] for r in outbox] == ["KABID-REHSOS"]  # penyandang disabilitas: rehabilitasi sosial
        assert (await db.cases.complaint(complaint_id)).needs_attention == view.needs_attention

        # Nothing a pendamping can do yet; the head of bidang can reject it (the data will never store).
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(ComplaintWorkflow.acknowledge, {"actor": actor("PD-34")})
        assert "still being set up" in str(refused.value.cause)
        await handle.execute_update(ComplaintWorkflow.reject, {"actor": actor("KABID-REHSOS"), "reason": "not_ppks"})
        view = await wait_for(handle, lambda v: v.status == "rejected", time_env)
        assert view.needs_attention is None
        assert (await handle.describe()).typed_search_attributes.get(sa.NEEDS_ATTENTION) is False


async def test_a_note_sealed_under_another_key_or_damaged_is_refused_before_history(time_env, db):
    client, queue = time_env.client, task_queue()
    async with running_worker(client, db, queue):
        complaint_id, handle = await start_case(time_env, queue)
        await wait_for(handle, lambda v: v.status == "assigned", time_env)
        before = await update_events(handle)
        for note in (seal_text("kunjungan", "a key this office does not hold"), "sealed:v1:AAAA-damaged", "sealed:v9:x"):
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(ComplaintWorkflow.acknowledge, {"actor": actor("PD-34"), "note": note})
            assert "note:" in str(refused.value.cause)
        assert await update_events(handle) == before
        # The case still moves: the same acknowledgement with a good note is taken.
        good = seal_text("kunjungan rumah", Settings().pii_key)
        summary = await handle.execute_update(ComplaintWorkflow.acknowledge, {"actor": actor("PD-34"), "note": good})
        assert summary.status == "acknowledged"
    notes = [e.detail.get("note") for e in await db.cases.events(complaint_id, personal=True) if e.event == "acknowledged"]
    assert notes == ["kunjungan rumah"]


@pytest.mark.parametrize("by", ["2000 working_days", "9" * 400 + " calendar_days", "0 working_days", "-1 working_days"])
async def test_an_impossible_extension_is_refused_before_history(time_env, db, by):
    client, queue = time_env.client, task_queue()
    async with running_worker(client, db, queue):
        complaint_id, handle = await start_case(time_env, queue)
        await wait_for(handle, lambda v: v.status == "assigned", time_env)
        before = await update_events(handle)
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(ComplaintWorkflow.extend, {
                "actor": actor("KABID-PJS"), "clock": "verification", "by": by, "reason": "banjir"})
        assert await update_events(handle) == before
        # The case was not harmed: its SLA loop and its next action still work.
        summary = await handle.execute_update(ComplaintWorkflow.acknowledge, {"actor": actor("PD-34")})
        assert summary.status == "acknowledged"


async def test_an_extension_past_the_cases_calendar_is_refused(time_env, db):
    client, queue = time_env.client, task_queue()
    async with running_worker(client, db, queue):
        complaint_id, handle = await start_case(time_env, queue)
        await wait_for(handle, lambda v: v.status == "assigned", time_env)
        request = {"actor": actor("KABID-PJS"), "clock": "verification", "by": "390 working_days", "reason": "x" * 5}
        await handle.execute_update(ComplaintWorkflow.extend, request)
        before = await update_events(handle)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(ComplaintWorkflow.extend, request)
        assert "beyond this case's calendar" in str(refused.value.cause)
        assert await update_events(handle) == before


async def test_updates_answer_compactly_and_the_state_query_pages_the_timeline(time_env, db):
    client, queue = time_env.client, task_queue()
    async with running_worker(client, db, queue):
        complaint_id, handle = await start_case(time_env, queue)
        await wait_for(handle, lambda v: v.status == "assigned", time_env)
        summary = await handle.execute_update(ComplaintWorkflow.acknowledge, {"actor": actor("PD-34")})
        assert "timeline" not in summary.model_dump()
        assert set(summary.deadlines) == {"verification", "overall"} or set(summary.deadlines) == {"verification"}
        full = await handle.query(ComplaintWorkflow.state, None)
        page = await handle.query(ComplaintWorkflow.state, {"offset": 1, "limit": 1})
        assert page.timeline_total == full.timeline_total == len(full.timeline) >= 3
        assert page.timeline == full.timeline[1:2] and page.timeline_offset == 1


async def test_a_long_case_continues_as_new_carrying_its_state(time_env, db):
    client, queue = time_env.client, task_queue()
    async with running_worker(client, db, queue, history_limit=40):
        complaint_id, handle = await start_case(time_env, queue)
        first_run = (await handle.describe()).run_id
        await wait_for(handle, lambda v: v.status == "assigned", time_env)
        for _ in range(6):  # each pause and resume is recorded: the history grows past its limit
            await handle.execute_update(ComplaintWorkflow.pause, {"actor": actor("PD-34"), "reason": "menunggu warga"})
            await handle.execute_update(ComplaintWorkflow.resume, {"actor": actor("PD-34")})
        latest = client.get_workflow_handle(handle.id)
        view = await wait_for(latest, lambda v: v.status == "assigned", time_env)
        assert (await latest.describe()).run_id != first_run
        assert view.pendamping_id == "PD-34" and view.timeline_total >= 14
        assert [c.state for c in view.clocks if c.name == "acknowledgement"] == ["running"]
        summary = await latest.execute_update(ComplaintWorkflow.acknowledge, {"actor": actor("PD-34")})
        assert summary.status == "acknowledged"
        first = client.get_workflow_handle(handle.id, run_id=first_run)
        history = await first.fetch_history()
        assert any(e.HasField("workflow_execution_continued_as_new_event_attributes") for e in history.events)
        import os
        from pathlib import Path
        if os.environ.get("RECORD_HISTORIES"):
            (Path(__file__).parents[1] / "histories" / "continued_as_new.json").write_text(history.to_json())
    events = [e.event for e in await db.cases.events(complaint_id)]
    assert events.count("paused") == 6 and events.count("acknowledged") == 1
