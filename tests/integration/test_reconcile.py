"""`reconcile` against a real difference: a row changed behind the workflow's back is found (exit 1), repaired
(exit 0) and found no more; a row at a later step is never moved back; a missing event is reported, never
invented. Run as the operator runs it, in a child process, on a Temporal dev server of its own (so "every
open case" means this test's cases) and a fresh database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest

from activities.store import open_store
from casework import cases, devstack
from casework.intake import submit
from tests.conftest import ROOT, actor, fresh_database, make_intake, running_worker, task_queue
from tests.faults.harness import TEST_PAYLOAD_KEYS, client_for, free_port


def reconcile(env: dict[str, str], *args: str, lang: str = "id") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "starter.py", "reconcile", "--settle", "0.5", *args], cwd=ROOT,
                          env={**env, "REFERRAL_CLI_LANG": lang}, capture_output=True, text=True, timeout=60)


async def areconcile(env: dict[str, str], *args: str, lang: str = "id") -> subprocess.CompletedProcess:
    # In a thread: the worker answering the `record` queries runs in this event loop.
    return await asyncio.to_thread(reconcile, env, *args, lang=lang)


@pytest.fixture(autouse=True)
def payload_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command and the worker encrypt Temporal's payloads alike: a test keyring unless one is configured."""
    if not (os.environ.get("REFERRAL_KEYS") or os.environ.get("REFERRAL_KEYS_FILE")):
        monkeypatch.setenv("REFERRAL_KEYS", TEST_PAYLOAD_KEYS)


async def test_reconcile_finds_repairs_and_never_invents(admin_url: str, tmp_path: Path):
    port, ui_port, queue = free_port(), free_port(), task_queue()
    async with fresh_database(admin_url, prefix="referral_reconcile") as url, open_store(url) as store, \
            devstack.temporal_dev_server(tmp_path / "temporal", port=port, ui_port=ui_port) as address:
        client = await client_for(address)
        env = {**os.environ, "TEMPORAL_ADDRESS": address, "DATABASE_URL": url, "REFERRAL_LOG_FORMAT": "json"}
        async with running_worker(client, store, queue):
            changed, lost = [(await submit(client, make_intake(external_ref=f"reconcile-{uuid.uuid4().hex[:8]}"),
                                           queue)).complaint_id for _ in range(2)]
            await cases.act(client, lost, "acknowledge",
                            cases.ACTIONS["acknowledge"].model_validate({"actor": actor("PD-34")}))

            clean = await areconcile(env)
            assert (clean.returncode, clean.stdout) == (0, ""), clean.stderr
            assert "2 kasus diperiksa: 0 perbedaan pada 0 kasus" in clean.stderr

            # Behind the workflow's back: the row says closed by another pendamping.
            await store.pool.execute("UPDATE complaints SET status = 'closed', pendamping_id = 'PD-01'"
                                     " WHERE complaint_id = $1", changed)
            found = await areconcile(env)
            assert found.returncode == 1, found.stderr
            assert found.stdout.splitlines() == [
                f"{changed}: kolom status berbeda: workflow 'assigned', PostgreSQL 'closed'",
                f"{changed}: kolom pendamping_id berbeda: workflow 'PD-34', PostgreSQL 'PD-01'"]
            english = await areconcile(env, lang="en")
            assert english.returncode == 1
            assert english.stdout.splitlines()[0] == f"{changed}: column status differs: workflow 'assigned', PostgreSQL 'closed'"

            repaired = await areconcile(env, "--repair")
            assert repaired.returncode == 0, repaired.stderr
            assert repaired.stdout.splitlines()[-1] == f"{changed}: baris diperbaiki dari keadaan workflow"
            row = await store.cases.complaint(changed)
            assert (row.status, row.pendamping_id) == ("assigned", "PD-34")
            again = await areconcile(env)
            assert (again.returncode, again.stdout) == (0, ""), again.stderr

            # A row at a later step than the workflow's is never moved back.
            await store.pool.execute("UPDATE complaints SET status = 'closed', sequence = 99 WHERE complaint_id = $1",
                                     changed)
            refused = await areconcile(env, "--repair", "--case", changed)
            assert refused.returncode == 1
            assert f"{changed}: baris tidak diperbaiki" in refused.stdout
            assert (await store.cases.complaint(changed)).status == "closed"

            # An event lost from the trail (the append-only guard lifted by hand) is reported, not invented.
            await _delete_event(url, lost, "0003:acknowledged")
            missing = await areconcile(env, "--repair", "--case", lost)
            assert missing.returncode == 1, missing.stderr
            assert missing.stdout.splitlines() == [
                f"{lost}: peristiwa 0003:acknowledged dicatat oleh workflow tetapi tidak ada di PostgreSQL"]
            assert "0003:acknowledged" not in {e.event_key for e in await store.cases.events(lost)}

            unknown = await areconcile(env, "--case", "ADU-000000000000")
            assert unknown.returncode == 3
            assert unknown.stderr.strip() == "galat: kasus ADU-000000000000 tidak ditemukan"
        no_worker = await areconcile(env, "--case", lost)  # nobody answers the query
        assert no_worker.returncode == 4, no_worker.stderr
        assert f"{lost}: tidak dapat ditanya" in no_worker.stderr


async def _delete_event(url: str, complaint_id: str, key: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute("ALTER TABLE complaint_events DISABLE TRIGGER complaint_events_no_change")
            await conn.execute("DELETE FROM complaint_events WHERE complaint_id = $1 AND event_key = $2",
                               complaint_id, key)
            await conn.execute("ALTER TABLE complaint_events ENABLE TRIGGER complaint_events_no_change")
    finally:
        await conn.close()
