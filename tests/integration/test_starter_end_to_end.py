"""A case's whole life through `starter.py`, on the Temporal dev server and the real Postgres."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from referral.config import Settings
from tests.conftest import ROOT, random_nik, running_worker, task_queue

HISTORIES = Path(__file__).resolve().parents[1] / "histories"

BENGKALA = {
    "channel": "puskesos",
    "reporter": {"name": "Kadek Pelapor", "phone": "081234567890", "relation": "puskesos"},
    "subject": {"name": "Ketut Warga", "nik": random_nik(), "sex": "male", "address": "Banjar Dinas Kelodan"},
    "village_code": "51.08.08.2010",
    "category": "penyandang_disabilitas",
    "description": "Warga tuna rungu wicara belum menerima alat bantu dengar.",
    "urgency": "normal",
}


def starter(env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the CLI in a child process (blocking: only for tests without a worker in this loop)."""
    return subprocess.run([sys.executable, "starter.py", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=timeout)


async def astarter(env: dict[str, str], *args: str, stdin: str | None = None,
                   timeout: float = 60) -> subprocess.CompletedProcess:
    # In a thread, so the worker running in this event loop keeps serving the CLI's requests.
    return await asyncio.to_thread(starter, env, *args, stdin=stdin, timeout=timeout)


async def test_bengkala_case_from_intake_to_closure_through_the_starter(dev_env, db, db_url, tmp_path):
    queue = task_queue()
    env = {**os.environ, "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
           "REFERRAL_TASK_QUEUE": queue, "DATABASE_URL": db_url}
    complaint = {**BENGKALA, "external_ref": f"puskesos-bengkala-{queue}",
                 "reported_at": datetime.now(timezone.utc).isoformat()}
    path = tmp_path / "complaint.json"
    path.write_text(json.dumps(complaint))

    async with running_worker(dev_env.client, db, queue):
        first = await astarter(env, "submit", str(path))
        assert first.returncode == 0, first.stderr
        submitted = json.loads(first.stdout)
        assert submitted["workflow_id"] == f"complaint-{submitted['complaint_id']}"
        again = await astarter(env, "submit", "-", stdin=json.dumps(complaint))
        assert json.loads(again.stdout)["complaint_id"] == submitted["complaint_id"]  # no second workflow
        case = submitted["complaint_id"]

        refused = await astarter(env, "act", case, "acknowledge", "--actor", "PD-01")
        assert refused.returncode == 1 and "only the assigned pendamping (PD-34)" in refused.stderr
        for action in (
            ["acknowledge", "--actor", "PD-34"],
            ["assess", "--actor", "PD-34", "--note", "kunjungan rumah 27/11"],
            ["refer", "--actor", "PD-34", "--plan", "alat bantu dengar dan terapi wicara"],
            ["resolve", "--actor", "KABID-REHSOS", "--outcome", "assistance_given", "--programme", "ATENSI"],
            ["close", "--actor", "PD-34"],
        ):
            done = await astarter(env, "act", case, *action)
            assert done.returncode == 0, (action, done.stderr)
        status = await astarter(env, "status", case)
        view = json.loads(status.stdout)
        listed = await astarter(env, "list", "--village", "51.08.08.2010", "--json")

        if os.environ.get("RECORD_HISTORIES"):
            handle = dev_env.client.get_workflow_handle(submitted["workflow_id"])
            history = await handle.fetch_history()
            (HISTORIES / "bengkala_whole_life.json").write_text(history.to_json())

    assert view["status"] == "closed" and view["pendamping_id"] == "PD-34"
    assert view["bidang"] == "rehabilitasi_sosial" and view["kecamatan"] == "Kubutambahan"
    steps = ["received", "assigned", "acknowledged", "assessed", "referred", "resolved", "closed"]
    events = await db.cases.events(case)
    for step in steps:
        assert [e.event for e in events].count(step) == 1, step
    assert [e["event"] for e in view["timeline"] if e["event"] in steps] == steps
    assert [e.event for e in events if e.event in steps] == steps
    row = await db.cases.complaint(case, personal=True)
    assert (row.status, row.pendamping_id, row.bidang, row.outcome) == (
        "closed", "PD-34", "rehabilitasi_sosial", "assistance_given")
    assert row.subject["nik"] == BENGKALA["subject"]["nik"]  # personal data lives in Postgres ...
    history_text = (await dev_env.client.get_workflow_handle(submitted["workflow_id"]).fetch_history()).to_json()
    assert BENGKALA["subject"]["nik"] not in history_text and "Ketut Warga" not in history_text  # ... not in Temporal
    assert "kunjungan rumah 27/11" not in history_text  # officers' notes are sealed in Temporal too ...
    opened = await db.cases.events(case, personal=True)  # encrypted under the case's data key at rest
    assert next(e for e in opened if e.event == "assessed").detail["note"] == "kunjungan rumah 27/11"
    assert next(e for e in view["timeline"] if e["event"] == "assessed")["detail"]["note"] == "kunjungan rumah 27/11"
    assert case in [r["complaint_id"] for r in json.loads(listed.stdout)]


def test_invalid_complaint_exits_2_naming_every_field_and_starts_nothing(tmp_path):
    bad = {**BENGKALA, "village_code": "51.71.01.1001", "category": "pengangguran", "urgency": "soon",
           "reported_at": (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()}
    bad["subject"] = {**BENGKALA["subject"], "nik": "12345"}
    result = starter({**os.environ, "TEMPORAL_ADDRESS": "127.0.0.1:1"}, "submit", "-", stdin=json.dumps(bad))
    assert result.returncode == 2 and result.stdout == ""
    for field in ("village_code", "category", "urgency", "subject.nik", "reported_at"):
        assert f"- {field}:" in result.stderr


async def test_readme_saved_view_queries_run_on_the_dev_server(dev_env):
    from casework.cases import list_cases

    readme = (ROOT / "README.md").read_text()
    queries = [line.split("`")[1] for line in readme.splitlines()
               if line.startswith("| ") and "`WorkflowType = 'ComplaintWorkflow'" in line]
    assert len(queries) >= 5
    for query in queries:
        await list_cases(dev_env.client, query, limit=5)  # raises on a query the server rejects


async def test_roster_import_moves_open_cases_off_an_officer_who_left(dev_env, db, db_url, tmp_path):
    """`starter.py roster import`: PD-35 leaves; PD-36 now covers all of Tejakula and takes the open case."""
    from casework.intake import submit
    from referral import reference
    from tests.conftest import make_intake

    sample = (ROOT / "referral/data/roster_sample.csv").read_text().splitlines()
    new_roster = [line for line in sample if not line.startswith("PD-35,")]
    tejakula = next(line for line in sample if line.startswith("PD-35,")).rsplit(",", 1)[1]
    new_roster = [line + ";" + tejakula if line.startswith("PD-36,") else line for line in new_roster]
    roster_file = tmp_path / "roster.csv"
    roster_file.write_text("\n".join(new_roster) + "\n")
    queue = task_queue()
    try:
        async with running_worker(dev_env.client, db, queue):
            submitted = await submit(dev_env.client, make_intake(village_code="51.08.09.2001"), queue,
                                     Settings().pii_key)
            assert submitted.pendamping_id == "PD-35"
            env = {**os.environ, "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
                   "DATABASE_URL": db_url, "REFERRAL_TASK_QUEUE": queue}
            result = await astarter(env, "roster", "import", str(roster_file))
            assert result.returncode == 0, result.stderr
            assert "1 dari 1 kasus aktif" in result.stdout  # officers read the CLI in Bahasa Indonesia
            view = await dev_env.client.get_workflow_handle(submitted.workflow_id).query("state", None)
        assert view["pendamping_id"] == "PD-36"
    finally:
        await db.roster.replace_roster(reference.sample_roster())
