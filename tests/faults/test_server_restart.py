"""The Temporal server itself goes down (the dev server on its file store) while a case's SLA deadlines fall
due: once it is back, the warnings, the breach and both escalations are each recorded and sent once.

The worker keeps running through the outage, as a deployment's would while the cluster restarts."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta, timezone

from casework import devstack
from casework.intake import submit
from tests.conftest import make_intake, running_worker, task_queue
from tests.faults.checks import ALL_ACK_MILESTONES, Expected, verify_cases, verify_notifications
from tests.faults.harness import ChildWorker, client_for, eventually, fast_policy, free_port, worker_env


async def test_escalations_fire_once_after_the_server_was_down_across_the_deadlines(
        fault_db, fault_db_url, receiver, tmp_path):
    began = time.monotonic()
    port, ui_port, queue = free_port(), free_port(), task_queue()
    server_dir = tmp_path / "temporal"
    env = worker_env(f"127.0.0.1:{port}", fault_db_url, queue, receiver.url,
                     REFERRAL_SLA_POLICY=str(fast_policy(tmp_path)))

    worker = ChildWorker(env, tmp_path / "worker.log")
    try:
        async with devstack.temporal_dev_server(server_dir, port=port, ui_port=ui_port) as address:
            client = await client_for(address)
            await worker.start()
            intake = make_intake(urgency="emergency", external_ref=f"fault-server-{uuid.uuid4().hex[:8]}")
            case = (await submit(client, intake, queue)).complaint_id  # answers once the case is assigned
            assert (await fault_db.cases.complaint(case)).status == "assigned"
        # The server is down (the worker is not) while all four milestones fall due: the warnings at 10.8 s and
        # 17.3 s, the breach at 21.6 s and escalation level 2 at 43.2 s after the report.
        down = time.monotonic()
        await asyncio.sleep((intake.reported_at + timedelta(seconds=45) - datetime.now(timezone.utc)).total_seconds())
        async with devstack.temporal_dev_server(server_dir, port=port, ui_port=ui_port) as address:
            outage = time.monotonic() - down
            assert worker.process.poll() is None, worker.tail()  # it kept waiting for the server
            await eventually(lambda: _level(fault_db, case, 2), 60, "escalation level 2 recorded")
            await worker.stop()
            client = await client_for(address)
            async with running_worker(client, fault_db, queue):
                await verify_cases(client, fault_db, {case: Expected(
                    "assigned", ("received", "assigned"), ALL_ACK_MILESTONES, only_milestones=True,
                    escalation_level=2)})
    finally:
        await worker.stop()
    delivered = await verify_notifications(fault_db, receiver, [case])
    assert delivered >= 5  # the assignment, two warnings, the breach, level 2 (and the piket at night)
    print(f"server restart: server down {outage:.0f} s, whole test {time.monotonic() - began:.1f} s")


async def _level(store, complaint_id: str, level: int) -> bool:
    row = await store.cases.complaint(complaint_id)
    return row is not None and row.escalation_level >= level
