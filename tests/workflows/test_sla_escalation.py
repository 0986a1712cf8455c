"""SLA clocks inside ComplaintWorkflow, on the time-skipping server with real activities and Postgres.

Expected moments are written out from the 2026 calendar (SKB 3 Menteri): Nyepi 19 Mar with cuti
bersama 18 Mar, Idul Fitri 21-22 Mar with cuti bersama 20, 23 and 24 Mar. Office hours 08:00-16:00 WITA.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from temporalio.client import WorkflowUpdateFailedError

from referral.calendar import FLAT_0800_1600
from tests.conftest import actor, running_worker as _running_worker, task_queue
from tests.workflows.test_complaint_lifecycle import start_case, wait_for
from workflows.complaint import ComplaintWorkflow


POLICY = json.loads((Path(__file__).parents[2] / "referral/data/sla_policy.json").read_text())
POLICY["deadline_semantics"] = "office_hours"
HOURLY_POLICY = Path(__file__).parents[2] / "var" / "test-policy-office-hours.json"
HOURLY_POLICY.parent.mkdir(exist_ok=True)
HOURLY_POLICY.write_text(json.dumps(POLICY))


def running_worker(client, db, queue, **settings):
    # These expectations were worked out on a flat 08:00-16:00 office day, counting office hours ("office_hours");
    # the Perbup 56/2025 hours and end-of-day deadlines have their own tests (test_working_time.py).
    return _running_worker(client, db, queue, **({"office_hours": FLAT_0800_1600,
                                                  "sla_policy_file": str(HOURLY_POLICY)} | settings))

WITA = timezone(timedelta(hours=8))
REPORTED = datetime(2026, 3, 17, 10, 0, tzinfo=WITA)  # Tuesday, the day before the Nyepi cuti bersama

EXPECTED = {
    # (clock, milestone): (due moment, who hears of it)
    ("acknowledgement", "warning_50"): (datetime(2026, 3, 17, 14, 0, tzinfo=WITA), None),
    ("acknowledgement", "warning_80"): (datetime(2026, 3, 25, 8, 24, tzinfo=WITA), None),
    ("acknowledgement", "breach"): (datetime(2026, 3, 25, 10, 0, tzinfo=WITA), "KABID-PJS"),
    ("acknowledgement", "escalation_2"): (datetime(2026, 3, 26, 10, 0, tzinfo=WITA), "KADIS"),
    ("verification", "warning_50"): (datetime(2026, 3, 25, 14, 0, tzinfo=WITA), None),
    ("verification", "warning_80"): (datetime(2026, 3, 26, 13, 12, tzinfo=WITA), None),
    ("verification", "breach"): (datetime(2026, 3, 27, 10, 0, tzinfo=WITA), "KABID-PJS"),
    ("verification", "escalation_2"): (datetime(2026, 3, 30, 10, 0, tzinfo=WITA), "KADIS"),
}


STEP_CLOCKS = ("acknowledgement", "verification")  # the overall clock runs too; it has its own tests


def sla_events(events):
    return [e for e in events if e.event in ("sla_warning", "sla_escalated") and e.detail["clock"] in STEP_CLOCKS]


async def test_case_of_17_march_2026_escalates_on_the_2026_calendar_once_across_a_worker_restart(time_env, db):
    client, queue = time_env.client, task_queue()
    async with running_worker(client, db, queue):
        complaint_id, handle = await start_case(time_env, queue, reported_at=REPORTED.isoformat())
        await wait_for(handle, lambda v: any(e.event == "sla_warning" for e in v.timeline), time_env,
                       step=timedelta(seconds=1))
    # The first worker is gone; a new one replays the history and carries on where it stopped.
    async with running_worker(client, db, queue):
        view = await wait_for(handle, lambda v: v.escalation_level == 2 and len(sla_events(v.timeline)) == len(EXPECTED),
                              time_env, step=timedelta(seconds=1))

    if os.environ.get("RECORD_HISTORIES"):
        history = await handle.fetch_history()
        (Path(__file__).parents[1] / "histories" / "march_2026_escalations.json").write_text(history.to_json())
    events = sla_events(await db.cases.events(complaint_id))
    assert len(events) == len(EXPECTED)  # each warning and escalation exactly once
    for event in events:
        detail = event.detail
        due, recipient = EXPECTED[(detail["clock"], detail["milestone"])]
        assert event.occurred_at == due
        assert datetime.fromisoformat(detail["due_at"]) == due
        if recipient:
            assert detail["escalated_to"] == recipient
    seen = {(e.detail["clock"], e.detail["milestone"]): e.at for e in sla_events(view.timeline)}
    assert seen == {key: due for key, (due, _) in EXPECTED.items()}
    assert (await db.cases.complaint(complaint_id)).escalation_level == 2
    ack = next(c for c in view.clocks if c.name == "acknowledgement")
    assert ack.deadline == EXPECTED[("acknowledgement", "breach")][0] and ack.breached

    outbox = await db.pool.fetch(
        "SELECT event_key, recipient_id FROM notification_outbox WHERE complaint_id = $1 AND channel = 'email'"
        " AND (event_key LIKE 'sla:acknowledgement:%' OR event_key LIKE 'sla:verification:%') ORDER BY event_key",
        complaint_id)
    assert len(outbox) == len(EXPECTED)  # one notification per milestone, once
    assert {r["recipient_id"] for r in outbox} == {"PD-34", "KABID-PJS", "KADIS"}


async def test_live_case_escalates_after_its_deadline_on_a_restarted_worker(time_env, db):
    client, queue = time_env.client, task_queue()
    async with running_worker(client, db, queue):
        complaint_id, handle = await start_case(time_env, queue)
        view = await wait_for(handle, lambda v: v.status == "assigned", time_env)
        deadline = next(c.deadline for c in view.clocks if c.name == "acknowledgement")
    # A new worker process: the pending SLA timer lives in Temporal, not in the old worker.
    async with running_worker(client, db, queue):
        await time_env.sleep(deadline - await time_env.get_current_time() + timedelta(hours=1))
        view = await wait_for(handle, lambda v: v.escalation_level >= 1, time_env)
    breach = [e for e in sla_events(await db.cases.events(complaint_id)) if e.detail["milestone"] == "breach"
              and e.detail["clock"] == "acknowledgement"]
    assert len(breach) == 1 and breach[0].occurred_at == deadline
    assert view.sla_breached


async def test_pause_stops_the_clock_and_resume_moves_the_deadline(time_env, db):
    client, queue = time_env.client, task_queue()
    async with running_worker(client, db, queue):
        complaint_id, handle = await start_case(time_env, queue)
        before = await wait_for(handle, lambda v: v.status == "assigned", time_env)
        await handle.execute_update(ComplaintWorkflow.pause, {"actor": actor("PD-34"), "reason": "menunggu warga"})
        paused = await handle.query(ComplaintWorkflow.state, None)
        assert {c.state for c in paused.clocks} == {"paused"} and paused.next_deadline is None
        await time_env.sleep(timedelta(days=3))
        await handle.execute_update(ComplaintWorkflow.resume, {"actor": actor("KABID-PJS")})
        resumed = await handle.query(ComplaintWorkflow.state, None)
        old = next(c.deadline for c in before.clocks if c.name == "acknowledgement")
        new = next(c.deadline for c in resumed.clocks if c.name == "acknowledgement")
        # Paused office time is given back (exact dates for a pause across a weekend: tests/unit/test_sla.py).
        assert new >= old and new > await time_env.get_current_time()
        assert not any(e.event.startswith("sla_escalated") for e in resumed.timeline)
    assert [e.event for e in await db.cases.events(complaint_id)].count("paused") == 1


async def test_leave_sends_a_new_case_to_a_backup_in_the_same_kecamatan(time_env, db):
    client, queue = time_env.client, task_queue()
    today = (await time_env.get_current_time()).astimezone(WITA).date()
    # Tejakula has two pendamping in the sample roster: PD-35 and PD-36.
    await db.roster.add_leave("PD-35", today - timedelta(days=1), today + timedelta(days=30), "cuti tahunan")
    try:
        async with running_worker(client, db, queue):
            complaint_id, handle = await start_case(time_env, queue, village_code="51.08.09.2001")
            view = await wait_for(handle, lambda v: v.status == "assigned", time_env)
        assert view.pendamping_id == "PD-36"
        assigned = next(e for e in view.timeline if e.event == "assigned")
        assert assigned.detail["reason"] == "backup_same_kecamatan"
    finally:
        await db.pool.execute("DELETE FROM officer_leave WHERE officer_id = 'PD-35'")


async def test_repeated_breaches_reassign_automatically_when_the_policy_says_so(time_env, db, tmp_path: Path):
    policy = POLICY | {"version": "test-auto-reassign", "auto_reassign_after_breaches": 2}
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps(policy))
    client, queue = time_env.client, task_queue()
    async with running_worker(client, db, queue, sla_policy_file=str(policy_file)):
        # Tejakula: PD-35 covers 51.08.09.2001; PD-36 is the backup in the same kecamatan.
        complaint_id, handle = await start_case(time_env, queue, village_code="51.08.09.2001",
                                                reported_at=REPORTED.isoformat())
        view = await wait_for(handle, lambda v: any(e.event == "reassigned" for e in v.timeline), time_env,
                              step=timedelta(seconds=1))
    reassigned = next(e for e in view.timeline if e.event == "reassigned")
    assert (reassigned.actor, reassigned.detail["previous"], view.pendamping_id) == ("sla", "PD-35", "PD-36")
    breaches = [e for e in sla_events(view.timeline) if e.event == "sla_escalated" and e.detail["milestone"] == "breach"]
    # The second breach (verification, due Fri 27 Mar 2026 10:00 WITA) triggers it, not the first.
    assert [b.at for b in breaches] == [datetime(2026, 3, 25, 10, 0, tzinfo=WITA), datetime(2026, 3, 27, 10, 0, tzinfo=WITA)]
    assert view.timeline.index(reassigned) > view.timeline.index(breaches[1])


async def test_extension_and_policy_change_are_supervisor_actions_recorded_once(time_env, db, tmp_path: Path):
    client, queue = time_env.client, task_queue()
    async with running_worker(client, db, queue):
        complaint_id, handle = await start_case(time_env, queue, reported_at=REPORTED.isoformat())
        await wait_for(handle, lambda v: v.escalation_level == 2, time_env, step=timedelta(seconds=1))
        with pytest.raises(WorkflowUpdateFailedError) as not_supervisor:
            await handle.execute_update(ComplaintWorkflow.extend, {
                "actor": actor("PD-34"), "clock": "verification", "by": "2 working_days", "reason": "banjir"})
        assert "head of the bidang or the kepala dinas" in str(not_supervisor.value.cause)
        with pytest.raises(WorkflowUpdateFailedError) as wrong_axis:
            await handle.execute_update(ComplaintWorkflow.extend, {
                "actor": actor("KABID-PJS"), "clock": "verification", "by": "8 calendar_hours", "reason": "banjir"})
        assert "counts working time" in str(wrong_axis.value.cause)
        await handle.execute_update(ComplaintWorkflow.extend, {
            "actor": actor("KABID-PJS"), "clock": "verification", "by": "2 working_days", "reason": "akses jalan putus"})
        view = await handle.query(ComplaintWorkflow.state, None)
        verification = next(c for c in view.clocks if c.name == "verification")
        assert verification.deadline == datetime(2026, 3, 31, 10, 0, tzinfo=WITA)  # Fri 27 Mar + 2 working days

    policy = json.loads(json.dumps(POLICY))
    policy["version"] = "2027.1"
    policy["clocks"]["verification"]["normal"]["due"] = "5 working_days"
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps(policy))
    async with running_worker(client, db, queue, sla_policy_file=str(policy_file)):
        assert (await handle.query(ComplaintWorkflow.state, None)).policy_version == "2026.2"  # not moved silently
        await handle.execute_update(ComplaintWorkflow.change_policy, {"actor": actor("KADIS")})
        view = await handle.query(ComplaintWorkflow.state, None)
    assert view.policy_version == "2027.1"
    verification = next(c for c in view.clocks if c.name == "verification")
    # 5 working days from Tue 17 Mar 10:00 is Tue 31 Mar 10:00, plus the 2-day extension: Thu 2 Apr 10:00.
    assert verification.deadline == datetime(2026, 4, 2, 10, 0, tzinfo=WITA)
    events = [e for e in await db.cases.events(complaint_id) if e.event in ("extended", "policy_changed")]
    assert [(e.event, e.actor) for e in events] == [("extended", "KABID-PJS"), ("policy_changed", "KADIS")]
    assert (await db.cases.complaint(complaint_id)).policy_version == "2027.1"


async def test_the_supervisor_command_moves_an_open_case_onto_a_corrected_calendar(time_env, db, tmp_path: Path):
    """New closures decided after a case opened (an office closure tomorrow): the case takes them as a recorded
    step, its verification deadline moves by one working day, and nothing fires twice."""
    base = (Path(__file__).parents[2] / "referral/data/local_closures.csv").read_text()
    before, after = tmp_path / "before.csv", tmp_path / "after.csv"
    before.write_text(base)
    client, queue = time_env.client, task_queue()
    async with running_worker(client, db, queue, closures_file=str(before)):
        complaint_id, handle = await start_case(time_env, queue)
        view = await wait_for(handle, lambda v: v.status == "assigned", time_env)
        old = next(c.deadline for c in view.clocks if c.name == "verification")
        old_version = view.calendar_version
    # The office closes on the next working day before the deadline (say, a local cuti bersama).
    day = (await time_env.get_current_time()).astimezone(WITA).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    after.write_text(base + f"{day.isoformat()},office,Cuti bersama daerah,Surat Edaran Bupati (test)\n")
    async with running_worker(client, db, queue, closures_file=str(after)):
        await handle.execute_update(ComplaintWorkflow.change_calendar, {"actor": actor("KADIS")})
        await handle.execute_update(ComplaintWorkflow.change_calendar, {"actor": actor("KADIS")})  # already on it
        view = await handle.query(ComplaintWorkflow.state, None)
    new = next(c.deadline for c in view.clocks if c.name == "verification")
    assert view.calendar_version != old_version
    assert new.astimezone(WITA).date() > old.astimezone(WITA).date()  # one working day later
    changed = [e for e in await db.cases.events(complaint_id) if e.event == "calendar_changed"]
    assert len(changed) == 1 and changed[0].actor == "KADIS" and changed[0].detail["to"] == view.calendar_version
    assert (await db.cases.complaint(complaint_id)).calendar_version == view.calendar_version
