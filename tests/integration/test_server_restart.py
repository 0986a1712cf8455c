"""SLA escalations survive a restart of the Temporal server itself (the dev server's file store)."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import datetime, timezone
from pathlib import Path

from casework import devstack
from casework.intake import submit
from casework.runtime import temporal_client
from referral.config import Settings
from tests.conftest import make_intake, running_worker, task_queue


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_escalations_fire_once_after_the_server_was_down_across_the_deadlines(db, tmp_path: Path):
    policy = json.loads((Path(__file__).parents[2] / "referral/data/sla_policy.json").read_text())
    policy["version"] = "test-fast-emergency"
    policy["clocks"]["acknowledgement"]["emergency"] = {"due": "0.005 calendar_hours", "escalate_every": "0.005 calendar_hours"}
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps(policy))
    port, ui_port, queue = free_port(), free_port(), task_queue()

    async with devstack.temporal_dev_server(tmp_path, port=port, ui_port=ui_port) as address:
        client = await temporal_client(Settings(), address)
        async with running_worker(client, db, queue, sla_policy_file=str(policy_file)):
            intake = make_intake(urgency="emergency", reported_at=datetime.now(timezone.utc).isoformat())
            submitted = await submit(client, intake, queue)  # answers once the case is assigned
            assert (await db.cases.complaint(submitted.complaint_id)).status == "assigned"
    # Server and worker down while the breach (18 s) and escalation level 2 (36 s) fall due.
    await asyncio.sleep(40)
    async with devstack.temporal_dev_server(tmp_path, port=port, ui_port=ui_port) as address:
        client = await temporal_client(Settings(), address)
        async with running_worker(client, db, queue, sla_policy_file=str(policy_file)):
            for _ in range(100):
                events = await db.cases.events(submitted.complaint_id)
                if any(e.detail.get("milestone") == "escalation_2" for e in events):
                    break
                await asyncio.sleep(0.3)
            await asyncio.sleep(2)  # anything that would fire twice has had its chance
            events = await db.cases.events(submitted.complaint_id)
    ack = [e.detail["milestone"] for e in events
           if e.event in ("sla_warning", "sla_escalated") and e.detail["clock"] == "acknowledgement"]
    assert sorted(ack) == ["breach", "escalation_2", "warning_50", "warning_80"]
    assert (await db.cases.complaint(submitted.complaint_id)).escalation_level == 2
