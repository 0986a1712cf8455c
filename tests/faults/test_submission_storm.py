"""1,000 concurrent submissions of 100 distinct references (each sent 10 times at once, as a sender that
retries impatiently would): exactly 100 cases, each received and assigned once, each receipt naming its
case, and exactly one of each ten answered as the new case."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict

from casework.intake import Submitted, submit
from referral import reference
from tests.conftest import make_intake, running_worker, task_queue
from tests.faults.checks import Expected, verify_cases, verify_notifications
from tests.faults.harness import child_worker, client_for, eventually, worker_env

REFERENCES, COPIES = 100, 10


async def test_a_thousand_concurrent_submissions_of_a_hundred_references_open_a_hundred_cases(
        dev_env, fault_db, fault_db_url, receiver, tmp_path):
    began = time.monotonic()
    client, queue = await client_for(dev_env.client.service_client.config.target_host), task_queue()
    villages = sorted(reference.villages())
    run = uuid.uuid4().hex[:8]
    intakes = [make_intake(external_ref=f"storm-{run}-{n:03d}", village_code=villages[n % len(villages)])
               for n in range(REFERENCES)]
    env = worker_env(client.service_client.config.target_host, fault_db_url, queue, receiver.url)
    async with child_worker(env, tmp_path / "worker.log") as worker:
        sent = time.monotonic()
        answers: list[Submitted] = await asyncio.gather(
            *(submit(client, intakes[n % REFERENCES], queue) for n in range(REFERENCES * COPIES)))
        answered = time.monotonic() - sent
        by_reference: dict[str, list[Submitted]] = defaultdict(list)
        for n, answer in enumerate(answers):
            by_reference[intakes[n % REFERENCES].external_ref].append(answer)
        for ref, receipts in by_reference.items():
            assert len({r.complaint_id for r in receipts}) == 1, (ref, receipts)
            assert [r.existing for r in receipts].count(False) == 1, (ref, receipts)  # one started the case
            assert all(r.status == "assigned" for r in receipts), (ref, receipts)
        ids = sorted({r.complaint_id for r in answers})
        assert len(ids) == REFERENCES
        assert await fault_db.pool.fetchval("SELECT count(*) FROM complaints") == REFERENCES
        await eventually(lambda: _count_is(client, f"TaskQueue = '{queue}'", REFERENCES), 30,
                         f"{REFERENCES} workflows in visibility")
        await worker.stop()

    async with running_worker(client, fault_db, queue):
        await verify_cases(client, fault_db, {case: Expected("assigned", ("received", "assigned")) for case in ids})
    assert await verify_notifications(fault_db, receiver, ids) == REFERENCES  # one assignment notice each
    print(f"storm: {REFERENCES * COPIES} submissions answered in {answered:.1f} s; "
          f"whole test {time.monotonic() - began:.1f} s")


async def _count_is(client, query: str, expected: int) -> bool:
    return (await client.count_workflows(query)).count == expected
