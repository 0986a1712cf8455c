"""An SLA storm: 1,000 webhook rows due at once reach a local HTTP receiver (own process) within 10 s (p99).

    .venv/bin/python -m pytest -q -s tests/integration/test_outbox_throughput.py
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import asyncpg
import httpx
import pytest

from tests.integration.test_outbox_support import (  # noqa: F401 (fixtures)
    dispatcher, empty_outbox, free_port, open_case, outbox_url, pool, running, settings,
)

CASES = 250  # x 4 rows: warning and reminder to the pendamping, escalation to the kabid and the kepala dinas
KABID = ("KABID-PJS", "KABID-REHSOS", "KABID-DAYASOS")
P99_GOAL_SECONDS = 10.0

# The receiver runs in its own process (as a real one would), on uvicorn, and only notes arrival times.
RECEIVER = """
import json, sys, time
import uvicorn

arrivals = []

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["method"] == "POST":
        arrivals.append((json.loads(body)["outbox_id"], time.time()))
        answer = b""
    else:
        answer = json.dumps(arrivals).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(len(answer)).encode())]})
    await send({"type": "http.response.body", "body": answer})

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"the webhook receiver did not open port {port}")


async def storm(pool: asyncpg.Pool, due: datetime) -> int:
    rows = []
    for case in range(CASES):
        complaint_id = f"C-STORM{case:03}"
        await open_case(pool, complaint_id)
        pendamping, kabid = f"PD-{1 + case % 36:02}", KABID[case % 3]
        for key, recipient in (("w", pendamping), ("r", pendamping), ("e1", kabid), ("e2", "KADIS")):
            rows.append((complaint_id, f"sla:{key}", recipient, "webhook", "Peringatan SLA", "Isi", due))
    await pool.executemany(
        "INSERT INTO complaint_events (complaint_id, event_key, event, actor, occurred_at)"
        " VALUES ($1, $2, 'sla_warning', 'sla', $3)",
        [(c, k, d) for c, k, *_, d in rows],
    )
    await pool.executemany(
        "INSERT INTO notification_outbox (complaint_id, event_key, recipient_id, channel, subject, body, not_before)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        rows,
    )
    return len(rows)


@pytest.mark.timeout(120)
async def test_a_storm_of_webhooks_arrives_within_ten_seconds(pool: asyncpg.Pool) -> None:
    port = free_port()
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    try:
        await asyncio.to_thread(wait_for_port, port)
        url = f"http://127.0.0.1:{port}/"
        async with running(dispatcher(pool, settings(webhook_url=url))), httpx.AsyncClient() as client:
            due = datetime.now(timezone.utc) + timedelta(seconds=1)  # lands between two polls of the dispatcher
            total = await storm(pool, due)
            deadline = time.monotonic() + 60
            arrivals: list[list[float]] = []
            while len(arrivals) < total and time.monotonic() < deadline:
                await asyncio.sleep(0.25)
                arrivals = (await client.get(url)).json()
    finally:
        receiver.terminate()
        receiver.wait(10)

    assert len(arrivals) == total == 1000
    assert len({outbox_id for outbox_id, _ in arrivals}) == total  # each once
    latencies = sorted(at - due.timestamp() for _, at in arrivals)
    p50, p99, worst = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99) - 1], latencies[-1]
    spread = max(at for _, at in arrivals) - min(at for _, at in arrivals)
    print(f"\n{total} webhooks: due->received p50 {p50:.2f} s, p99 {p99:.2f} s, max {worst:.2f} s;"
          f" {total / spread:.0f}/s once sending")
    assert p99 < P99_GOAL_SECONDS
