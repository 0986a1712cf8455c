"""Erasure after retention (issue 11): personal data is stored encrypted under a per-case data key, and the
`referral-erasure` Schedule's ErasureWorkflow erases it by deleting that key. The case keeps its whole trail
(non-personal detail readable); its personal reads say erased and the API answers 410. A case written in
clear before envelope encryption still reads, and is erased as far as the runtime role may. The runtime role
runs the erasure and still may not DELETE or TRUNCATE.

Run: TEST_UI_PORT=8361 .venv/bin/python -m pytest -q tests/integration/test_erasure.py
"""

from __future__ import annotations

import asyncio
import json
import uuid
from contextlib import suppress
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator

import asyncpg
import pytest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from activities.case_activities import CaseActivities, subject_key
from activities.envelope import VALUE_PREFIX, PersonalDataErased
from activities.erasure_activities import ErasureActivities, ensure_erasure_schedule
from activities.store import Store, open_store
from activities.store.erasure import ErasureStore
from casework.intake import workflow_id
from casework.sandbox import workflow_runner
from referral.config import Settings
from referral.intake import CaseOpening, PersonalData
from referral.records import OpenCaseRequest, ReferralEvent
from tests.conftest import actor, fresh_database, make_intake, random_nik, task_queue
from tests.integration.test_api_stack import Stack, api_stack, eventually, submitted_case
from tests.integration.test_privileges import lp, roles, runtime  # noqa: F401 (fixtures)
from worker import SANDBOX_RESTRICTIONS
from workflows.complaint import ComplaintWorkflow
from workflows.erasure import SCHEDULE_ID, EraseBatch, ErasureRequest, ErasureResult, ErasureWorkflow

NIK = random_nik()
SUBJECT = {"name": "Zzyzx Warga Erasure", "nik": NIK, "sex": "female", "address": "Banjar Dinas Kelod, Bengkala"}
REPORTER = {"name": "Qwvx Pelapor Erasure", "phone": "081299887766", "relation": "tetangga"}
NOTE, PLAN = "Zzyzx tinggal sendiri, sakit jantung", "alat bantu jalan untuk Zzyzx"
SECRETS = (NIK, "Zzyzx", "Qwvx", "081299887766", "sakit jantung")


@pytest.fixture(scope="module")
async def store(admin_url: str) -> AsyncIterator[Store]:
    """A database of this module's own: the erasure erases every due case it finds."""
    async with fresh_database(admin_url, prefix="referral_test_erasure") as url, open_store(url) as opened:
        yield opened


@pytest.fixture(scope="module")
async def stack(dev_env, store: Store) -> AsyncIterator[Stack]:
    async with api_stack(dev_env.client, store) as running:
        yield running


def erasure_worker(client: Client, store: Store, queue: str) -> Worker:
    """What worker.py registers for erasure (see the report): the workflow and its activity."""
    return Worker(client, task_queue=queue, workflows=[ErasureWorkflow],
                  activities=ErasureActivities(ErasureStore(store.pool)).all(),
                  workflow_runner=workflow_runner(SANDBOX_RESTRICTIONS))


async def raw_text(store: Store, sql: str, *args: Any) -> str:
    return json.dumps([dict(r) for r in await store.pool.fetch(sql, *args)], default=str, ensure_ascii=False)


async def closed_case(stack: Stack) -> tuple[str, str]:
    """A case taken from intake to closed, with officers' notes, a plan and a further report joined to it."""
    receipt = await submitted_case(stack, subject=SUBJECT, reporter=REPORTER, description="Zzyzx sakit jantung")
    complaint_id = receipt["complaint_id"]
    handle = stack.client.get_workflow_handle(workflow_id(complaint_id))

    async def assigned():
        view = await handle.query(ComplaintWorkflow.state, None)
        return view if view.status == "assigned" else None

    pendamping = (await eventually(assigned, what="assigned")).pendamping_id
    # The same person reported again while the case is open: found by the keyring-keyed hash, it joins.
    await submitted_case(stack, subject=SUBJECT, reporter=REPORTER | {"name": "Qwvx Kedua"})
    await eventually(lambda: stack.store.pool.fetchval(
        "SELECT reports = 2 FROM complaints WHERE complaint_id = $1", complaint_id), what="report joined")
    await handle.execute_update(ComplaintWorkflow.acknowledge, {"actor": actor(pendamping), "note": NOTE})
    await handle.execute_update(ComplaintWorkflow.assess, {"actor": actor(pendamping), "note": NOTE})
    await handle.execute_update(ComplaintWorkflow.refer, {"actor": actor(pendamping), "plan": PLAN})
    await handle.execute_update(ComplaintWorkflow.resolve, {"actor": actor("KABID-REHSOS"),
                                                             "outcome": "assistance_given", "programme": "ATENSI"})
    await handle.execute_update(ComplaintWorkflow.close, {"actor": actor(pendamping)})
    await eventually(lambda: stack.store.pool.fetchval(
        "SELECT closed_at IS NOT NULL FROM complaints WHERE complaint_id = $1", complaint_id), what="closed row")
    return complaint_id, pendamping


async def legacy_case(store: Store, closed_at: datetime | None, subject_key: str = "old-hash") -> str:
    """A case as written before envelope encryption: personal columns and a note in clear, no data key, the
    person's hash salted with REFERRAL_HASH_SALT. Closed at `closed_at`, or still open (None)."""
    complaint_id, at = f"ADU-{uuid.uuid4().hex[:12].upper()}", closed_at or datetime.now(timezone.utc)
    await store.pool.execute(
        "INSERT INTO complaints (complaint_id, workflow_id, channel, status, village_code, kecamatan, category,"
        " bidang, urgency, subject_key, subject, reporter, description, reported_at, received_at, closed_at)"
        " VALUES ($1, $2, 'puskesos', $3, '51.08.08.2010', 'Kubutambahan', 'penyandang_disabilitas',"
        " 'rehabilitasi_sosial', 'normal', $4, $5, $6, 'Zzyzx lama', $7, $7, $8)",
        complaint_id, f"complaint-{complaint_id}", "closed" if closed_at else "assigned", subject_key, SUBJECT,
        REPORTER, at, closed_at)
    await store.pool.execute(
        "INSERT INTO complaint_events (complaint_id, event_key, event, actor, detail, occurred_at)"
        " VALUES ($1, '0004:assessed', 'assessed', 'PD-34', $2, $3)",
        complaint_id, {"note": NOTE, "category": "penyandang_disabilitas"}, at)
    await store.pool.execute(
        "INSERT INTO case_referrals (complaint_id, n, partner_code, workflow_id, status, required, need, sent_at)"
        " VALUES ($1, 1, 'RSJ_BALI', $2, 'done', true, 'Zzyzx perlu rawat jalan', $3)",
        complaint_id, f"complaint-{complaint_id}-ref-1", at)
    return complaint_id


async def schedule_once(client: Client) -> ErasureResult:
    """Run the Schedule's action now and wait for that ErasureWorkflow's result."""
    handle = client.get_schedule_handle(SCHEDULE_ID)
    await handle.trigger()

    async def started():
        actions = (await handle.describe()).info.recent_actions
        return actions[-1].action if actions else None

    action = await eventually(started, what="the schedule started a workflow")
    run = client.get_workflow_handle_for(ErasureWorkflow.run, action.workflow_id,
                                         run_id=action.first_execution_run_id)
    return await asyncio.wait_for(run.result(), 60)


async def test_the_schedule_erases_a_case_after_retention_and_keeps_its_trail(stack: Stack, store: Store):
    complaint_id, pendamping = await closed_case(stack)
    client, erasure_queue = stack.client, task_queue()

    # At rest: only ciphertext, in the case row, the joined report, the trail.
    stored = await raw_text(store, "SELECT subject, reporter, description FROM complaints WHERE complaint_id = $1",
                            complaint_id)
    stored += await raw_text(store, "SELECT reporter, description FROM complaint_reports WHERE complaint_id = $1",
                             complaint_id)
    stored += await raw_text(store, "SELECT detail FROM complaint_events WHERE complaint_id = $1", complaint_id)
    assert not [s for s in SECRETS if s in stored] and stored.count(VALUE_PREFIX) >= 3 + 2 + 3
    # ... and in clear through the store's personal reads.
    row = await store.cases.complaint(complaint_id, personal=True)
    assert (row.subject["nik"], row.reporter["name"], row.description) == (NIK, REPORTER["name"], "Zzyzx sakit jantung")
    before = await store.cases.events(complaint_id)
    personal = {e.event: e.detail for e in await store.cases.events(complaint_id, personal=True)}
    assert (personal["assessed"]["note"], personal["referred"]["plan"]) == (NOTE, PLAN)
    assert before[[e.event for e in before].index("assessed")].detail["note"] is None  # personal=False hides it

    # Finished six years ago (and a case from before envelope encryption, seven): due under the default five.
    await store.pool.execute("UPDATE complaints SET closed_at = closed_at - interval '6 years' WHERE complaint_id = $1",
                             complaint_id)
    legacy = await legacy_case(store, datetime.now(timezone.utc) - timedelta(days=7 * 366))
    assert (await store.cases.complaint(legacy, personal=True)).subject == SUBJECT  # old rows still read
    assert (await store.cases.events(legacy, personal=True))[0].detail["note"] == NOTE
    await store.pool.execute(  # a case closed a year ago is not due
        "UPDATE complaints SET closed_at = now() - interval '1 year' WHERE complaint_id = $1", await legacy_case(
            store, datetime.now(timezone.utc)))

    async with erasure_worker(client, store, erasure_queue):
        assert await ensure_erasure_schedule(client, erasure_queue) is True
        try:
            assert await ensure_erasure_schedule(client, erasure_queue) is False  # a restart leaves it alone
            handle = client.get_schedule_handle(SCHEDULE_ID)
            await handle.pause(note="legal hold review")
            assert await ensure_erasure_schedule(client, "another-queue") is True  # moved with the worker ...
            described = (await handle.describe()).schedule
            assert described.action.task_queue == "another-queue" and described.state.paused  # ... pause kept
            assert await ensure_erasure_schedule(client, erasure_queue) is True
            await handle.unpause()
            result = await schedule_once(client)
            again = await client.execute_workflow(ErasureWorkflow.run, ErasureRequest(),
                                                  id=f"erasure-{uuid.uuid4().hex}", task_queue=erasure_queue)
        finally:
            await client.get_schedule_handle(SCHEDULE_ID).delete()
    assert (result.erased, result.left_in_clear, result.retention_years) == (2, 1, 5)
    assert again.erased == 0  # once erased, never again

    # The trail: every event still there, their non-personal detail as before, the erasure recorded once.
    after = await store.cases.events(complaint_id)
    assert [(e.event_key, e.detail) for e in after[:-1]] == [(e.event_key, e.detail) for e in before]
    erased_event = after[-1]
    assert (erased_event.event, erased_event.actor) == ("personal_data_erased", "retention")
    assert erased_event.detail["data_key"] == "deleted" and erased_event.detail["retention_years"] == 5
    assert "left_in_clear" not in erased_event.detail
    assert {e.event for e in after} >= {"received", "report_joined", "assigned", "acknowledged", "assessed",
                                        "referred", "resolved", "closed"}
    assessed = next(e for e in await store.cases.events(complaint_id, personal=True) if e.event == "assessed")
    assert assessed.detail == {**personal["assessed"], "note": None}  # the category is still there
    # The personal data: gone from every read; the key and the hash deleted.
    row = await store.cases.complaint(complaint_id, personal=True)
    assert row.erased_at is not None and (row.subject, row.reporter, row.description) == (None, None, None)
    assert (row.status, row.outcome, row.village_code) == ("closed", "assistance_given", "51.08.08.2010")
    keys = await store.pool.fetchrow("SELECT wrapped_key, wrapping_key_id, subject_key FROM case_keys"
                                     " JOIN complaints USING (complaint_id) WHERE complaint_id = $1", complaint_id)
    assert tuple(keys.values()) == (None, None, None)

    # The case written in clear: what the runtime role may clear is cleared, the rest is named (not valued).
    legacy_row = await store.pool.fetchrow("SELECT subject, subject_key FROM complaints WHERE complaint_id = $1",
                                           legacy)
    assert tuple(legacy_row.values()) == (None, None)
    assert await store.pool.fetchval("SELECT need FROM case_referrals WHERE complaint_id = $1", legacy) is None
    legacy_event = (await store.cases.events(legacy))[-1]
    assert legacy_event.detail["data_key"] == "none"
    assert legacy_event.detail["left_in_clear"] == ["complaints.reporter", "complaints.description",
                                                    "complaint_events.detail"]
    assert (await store.cases.complaint(legacy, personal=True)).reporter is None  # erased reads as erased
    assert (await store.cases.events(legacy, personal=True))[0].detail["note"] is None

    # The API: 410 for the pendamping (nothing read, nothing recorded), still 403 for a service.
    url = f"/v1/complaints/{complaint_id}/person"
    recorded = await store.pool.fetchval("SELECT count(*) FROM personal_data_access WHERE complaint_id = $1",
                                         complaint_id)
    async with stack.http() as http:
        gone = await http.get(url, params={"purpose": "kunjungan lapangan"}, headers=await stack.officer(pendamping))
        service = await http.get(url, params={"purpose": "cek"}, headers=await stack.service())
        old = await http.get(f"/v1/complaints/{legacy}/person", params={"purpose": "arsip"},
                             headers=await stack.officer("KADIS"))  # long gone from Temporal
        old_service = await http.get(f"/v1/complaints/{legacy}/person", params={"purpose": "arsip"},
                                     headers=await stack.service())
    assert gone.status_code == 410, gone.text
    assert gone.json()["detail"].startswith(f"Data pribadi kasus {complaint_id} telah dihapus pada ")
    assert service.status_code == 403
    assert old.status_code == 410 and old_service.status_code == 404
    assert await store.pool.fetchval("SELECT count(*) FROM personal_data_access WHERE complaint_id = $1",
                                     complaint_id) == recorded
    with suppress(RPCError):  # the closed case's workflow waits out its reopen window
        await client.get_workflow_handle(workflow_id(complaint_id)).terminate(reason="test finished")


async def test_a_case_hashed_with_the_old_salt_is_still_found_as_a_duplicate(store: Store):
    person = SUBJECT | {"nik": random_nik()}
    salted = subject_key(person["nik"], person["name"], None, Settings().hash_salt, "51.08.08.2010")
    open_before = await legacy_case(store, None, subject_key=salted)
    activities = CaseActivities(store, Settings())
    keyed, older = activities.subject_keys(person["nik"], person["name"], None, "51.08.08.2010")
    assert older == [salted] and keyed != salted
    request, personal = intake_request(f"ADU-{uuid.uuid4().hex[:12].upper()}", datetime.now(timezone.utc), person)
    written = await store.cases.record_intake(request, personal, keyed, "Kubutambahan", "rehabilitasi_sosial", [],
                                              also_match=older)
    assert written.joined_to == open_before
    report = await store.pool.fetchrow("SELECT reporter, description FROM complaint_reports WHERE complaint_id = $1",
                                       open_before)
    assert all(str(v).startswith(VALUE_PREFIX) for v in report.values())  # joined to a clear case: encrypted anyway


# ---- the runtime role ----

def intake_request(complaint_id: str, at: datetime,
                   subject: dict[str, Any] | None = None) -> tuple[OpenCaseRequest, PersonalData]:
    intake = make_intake(subject=subject or SUBJECT | {"nik": None, "birth_date": "1950-01-02"}, reporter=REPORTER)
    personal = PersonalData.of(intake)
    request = OpenCaseRequest(complaint_id=complaint_id, workflow_id=f"complaint-{complaint_id}", run_id="run-1",
                              opening=CaseOpening.of(intake), personal=personal, received_at=at, assign_on=at.date())
    return request, personal


async def test_the_runtime_role_writes_encrypted_records_a_nik_and_runs_the_erasure(runtime: Store):  # noqa: F811
    complaint_id, at = f"ADU-{uuid.uuid4().hex[:12].upper()}", datetime.now(timezone.utc) - timedelta(days=3000)
    request, personal = intake_request(complaint_id, at)
    await runtime.cases.record_intake(request, personal, f"hash-{complaint_id}", "Kubutambahan",
                                      "rehabilitasi_sosial", [])
    for status, detail in (("sent", {"need": "penerbitan NIK"}), ("done", {"provided": "KTP-el Zzyzx", "note": NOTE})):
        await runtime.referrals.record(ReferralEvent(
            complaint_id=complaint_id, n=1, partner="DISDUKCAPIL", workflow_id=f"ref-{complaint_id}-1",
            key=f"referral:1:{status}", event=f"referral_{status}", actor="DISDUKCAPIL", occurred_at=at,
            status=status, required=True, detail=detail), [])
    # A NIK issued later: decrypted, set, encrypted again (the runtime role may not read it any other way).
    new_nik = random_nik()
    assert await runtime.referrals.record_nik(complaint_id, new_nik, f"hash2-{complaint_id}",
                                              "penyandang_disabilitas") is None
    subject = (await runtime.cases.complaint(complaint_id, personal=True)).subject
    assert subject == SUBJECT | {"nik": new_nik, "birth_date": "1950-01-02"}
    assert new_nik not in await raw_text(runtime, "SELECT subject FROM complaints WHERE complaint_id = $1",
                                         complaint_id)
    referral = (await runtime.referrals.referrals(complaint_id, personal=True))[0]
    assert (referral["need"], referral["provided"]) == ("penerbitan NIK", "KTP-el Zzyzx")
    done = next(e for e in await runtime.cases.events(complaint_id, personal=True) if e.event == "referral_done")
    assert (done.detail["provided"], done.detail["note"], done.detail["n"]) == ("KTP-el Zzyzx", NOTE, 1)
    # Closed long ago (the runtime role writes the row's status as the workflow does), then erased by it.
    await runtime.pool.execute("UPDATE complaints SET status = 'closed', closed_at = $2 WHERE complaint_id = $1",
                               complaint_id, at)
    activities = ErasureActivities(ErasureStore(runtime.pool), years=5)
    batch = await ActivityEnvironment().run(activities.erase_due_cases,
                                            EraseBatch(as_of=datetime.now(timezone.utc), limit=100))
    assert batch.erased >= 1
    assert (await runtime.cases.complaint(complaint_id, personal=True)).erased_at is not None
    assert (await runtime.referrals.referrals(complaint_id, personal=True))[0]["need"] is None
    assert [e.event for e in await runtime.cases.events(complaint_id)] == [
        "received", "referral_sent", "referral_done", "personal_data_erased"]
    # Still no DELETE or TRUNCATE, no rewriting the reporter's words, and no key put back.
    for statement in ("DELETE FROM case_keys", "TRUNCATE case_keys", "DELETE FROM complaints",
                      "TRUNCATE complaint_events", "UPDATE complaints SET reporter = NULL, description = NULL"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await runtime.pool.execute(statement)
    with pytest.raises(asyncpg.RaiseError, match="is erased and stays erased"):
        await runtime.pool.execute("UPDATE case_keys SET wrapping_key_id = 'k', wrapped_key = '\\x00'::bytea,"
                                   " erased_at = NULL WHERE complaint_id = $1", complaint_id)
    with pytest.raises(PersonalDataErased):
        await runtime.referrals.record_nik(complaint_id, random_nik(), "h", "penyandang_disabilitas")
