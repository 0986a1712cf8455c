"""kill -9 of the worker while an activity is inside its Postgres transaction: the next worker finishes the
step, once, and the officer's request is answered."""

from __future__ import annotations

import asyncio
import time
import uuid

from activities.store import Store
from casework import cases
from casework.intake import submit
from tests.conftest import actor, make_intake, running_worker, task_queue
from tests.faults.checks import Expected, verify_cases, verify_notifications
from tests.faults.harness import ChildWorker, HeldStep, act_until_done, client_for, eventually, worker_env


async def outbox_idle(store: Store, complaint_id: str) -> bool:
    """No notification of the case due now and unsent: nothing is in flight when the worker dies."""
    return not await store.pool.fetchval(
        "SELECT count(*) FROM notification_outbox WHERE complaint_id = $1 AND channel = 'webhook'"
        " AND status IN ('pending', 'sending') AND not_before <= now()", complaint_id)


async def test_worker_killed_mid_activity_the_next_worker_records_the_step_once(
        dev_env, fault_db, fault_db_url, receiver, tmp_path):
    began = time.monotonic()
    client, queue = await client_for(dev_env.client.service_client.config.target_host), task_queue()
    env = worker_env(client.service_client.config.target_host, fault_db_url, queue, receiver.url)
    first, second = ChildWorker(env, tmp_path / "worker-1.log"), ChildWorker(env, tmp_path / "worker-2.log")
    acting: asyncio.Task | None = None
    try:
        await first.start()
        intake = make_intake(urgency="emergency", external_ref=f"fault-kill-{uuid.uuid4().hex[:8]}")
        case = (await submit(client, intake, queue)).complaint_id
        await eventually(lambda: outbox_idle(fault_db, case), 30, "the assignment notice delivered")

        acknowledge = cases.ACTIONS["acknowledge"].model_validate({"actor": actor("PD-34")})
        async with HeldStep.on(fault_db_url, "acknowledged") as held:
            acting = asyncio.create_task(act_until_done(client, case, "acknowledge", acknowledge))
            await eventually(held.holding, 30, "the acknowledge activity held mid-transaction")
            row = await fault_db.cases.complaint(case)
            assert row.status == "assigned"  # the upsert waits in the same, uncommitted transaction
            first.kill()
            await second.start()
        # The lock is released: the killed worker's session (still blocked on it) ends, the second worker's
        # attempt goes through.
        await asyncio.wait_for(acting, 90)
        await eventually(lambda: _status_is(fault_db, case, "acknowledged"), 30, "acknowledged in Postgres")
        assert '"case_event": "acknowledged"' not in first.log.read_text()  # not done before the kill...
        assert '"case_event": "acknowledged"' in second.log.read_text()  # ...but by the next worker
    finally:
        if acting is not None and not acting.done():
            acting.cancel()
        for worker in (first, second):
            await worker.stop()

    async with running_worker(client, fault_db, queue):
        await verify_cases(client, fault_db, {case: Expected("acknowledged", ("received", "assigned", "acknowledged"))})
    delivered = await verify_notifications(fault_db, receiver, [case])
    assert delivered == 1  # the assignment notice to PD-34; acknowledging tells no one
    print(f"worker kill: {time.monotonic() - began:.1f} s")


async def _status_is(store: Store, complaint_id: str, status: str) -> bool:
    row = await store.cases.complaint(complaint_id)
    return row is not None and row.status == status
