"""The referral network on the time-skipping server: sub-cases at partner offices with their own clocks, NIK
first through Disdukcapil, repeat reports that join the open case, and the outcomes a case ends with."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from referral.config import Settings
from referral.sealing import seal_text
from tests.conftest import actor, random_nik, running_worker, task_queue
from tests.workflows.test_complaint_lifecycle import STARTED, start_case, wait_for
from workflows.complaint import ComplaintWorkflow
from workflows.partner_referral import PartnerReferralWorkflow

PARTNER = {"DISDUKCAPIL": {"id": "partner:DISDUKCAPIL", "role": "partner"},
           "RSJ_BALI": {"id": "partner:RSJ_BALI", "role": "partner"}}


def sealed(text: str) -> str:
    return seal_text(text, Settings().pii_key)


async def to_assessed(handle) -> None:
    await handle.execute_update(ComplaintWorkflow.acknowledge, {"actor": actor("PD-34")})
    await handle.execute_update(ComplaintWorkflow.assess, {"actor": actor("PD-34"), "category": "penyandang_disabilitas"})


def subject_without_nik(name: str = "Warga Tanpa NIK") -> dict:
    return {"name": name, "sex": "L", "birth_date": "1980-07-15", "address": "Banjar Dinas Kaja"}


async def test_an_odgj_subject_without_a_nik_is_referred_to_disdukcapil_first_and_its_nik_moves_the_case_on(time_env, db):
    client, queue = time_env.client, task_queue()
    async with running_worker(client, db, queue):
        complaint_id, handle = await start_case(time_env, queue, subject=subject_without_nik(), conditions=["odgj"])
        view = await wait_for(handle, lambda v: v.referrals, time_env)
        assert view.has_nik is False
        [ref] = view.referrals
        assert (ref.partner, ref.status, ref.required, ref.workflow_id) == (
            "DISDUKCAPIL", "sent", True, f"complaint-{complaint_id}-ref-1")
        child = client.get_workflow_handle(ref.workflow_id)
        STARTED.append(child)
        await to_assessed(handle)
        # Steps that need a NIK wait for it: a BPJS referral and an assistance outcome are refused now.
        with pytest.raises(WorkflowUpdateFailedError) as waits:
            await handle.execute_update(ComplaintWorkflow.refer_partner, {
                "actor": actor("PD-34"), "partners": [{"partner": "BPJS_KES", "need": sealed("PBI-JKN")}]})
        assert "needs the subject's NIK first" in str(waits.value.cause)
        # Disdukcapil registers the person at home and answers with the new NIK.
        nik = random_nik()
        await child.execute_update(PartnerReferralWorkflow.done, {
            "actor": PARTNER["DISDUKCAPIL"], "provided": sealed("KTP-el dicetak"), "nik": sealed(nik)})
        view = await wait_for(handle, lambda v: v.has_nik, time_env)
        assert view.referrals[0].status == "done"
        await handle.execute_update(ComplaintWorkflow.refer_partner, {
            "actor": actor("PD-34"), "partners": [{"partner": "BPJS_KES", "need": sealed("PBI-JKN"), "required": False}]})
        bpjs = client.get_workflow_handle(f"complaint-{complaint_id}-ref-2")
        STARTED.append(bpjs)
        await wait_for(handle, lambda v: len(v.referrals) == 2 and any(
            e.event == "referral_sent" and e.detail.get("n") == 2 for e in v.timeline), time_env)
    row = await db.cases.complaint(complaint_id, personal=True)
    assert row.subject["nik"] == nik  # in Postgres only
    history = (await handle.fetch_history()).to_json() + (await child.fetch_history()).to_json()
    assert nik not in history  # sealed all the way through Temporal
    events = [e.event for e in await db.cases.events(complaint_id)]
    assert events.count("referral_sent") == 2 and events.count("referral_done") == 1


async def test_two_referrals_one_late_office_is_reminded_then_its_bidang_head_alerted_once(time_env, db):
    client, queue = time_env.client, task_queue()
    async with running_worker(client, db, queue):
        complaint_id, handle = await start_case(time_env, queue, category="penyandang_disabilitas")
        await wait_for(handle, lambda v: v.status == "assigned", time_env)
        await to_assessed(handle)
        await handle.execute_update(ComplaintWorkflow.refer_partner, {"actor": actor("PD-34"), "partners": [
            {"partner": "DISDUKCAPIL", "need": sealed("cetak ulang KTP-el")},
            {"partner": "RSJ_BALI", "need": sealed("pemeriksaan dan perawatan jiwa")}]})
        view = await handle.query(ComplaintWorkflow.state, None)
        disdukcapil, rsj = (client.get_workflow_handle(r.workflow_id) for r in view.referrals)
        STARTED.extend([disdukcapil, rsj])
        await rsj.execute_update(PartnerReferralWorkflow.accept, {"actor": PARTNER["RSJ_BALI"]})
        await rsj.execute_update(PartnerReferralWorkflow.done, {"actor": PARTNER["RSJ_BALI"],
                                                                 "provided": sealed("dirawat 14 hari")})
        # Disdukcapil says nothing: 10 working days, then 3 more.
        view = await wait_for(handle, lambda v: v.referrals[0].status == "overdue", time_env, step=timedelta(hours=6))
        assert [r.status for r in view.referrals] == ["overdue", "done"]
        await time_env.sleep(timedelta(days=10))
        escalated = [e for e in await db.cases.events(complaint_id) if e.event == "referral_escalated"]
        assert len(escalated) == 1 and escalated[0].detail["escalated_to"] == "KABID-PJS"
        reminders = [e for e in await db.cases.events(complaint_id) if e.event == "referral_overdue"]
        assert len(reminders) == 1
        outbox = await db.pool.fetch(
            "SELECT DISTINCT recipient_id FROM notification_outbox WHERE complaint_id = $1 AND event_key = ANY($2)",
            complaint_id, [reminders[0].event_key, escalated[0].event_key])
        assert {r["recipient_id"] for r in outbox} == {"MITRA-DISDUKCAPIL", "KABID-PJS"}
        # The case waits for the required referral before it can be resolved ...
        await handle.execute_update(ComplaintWorkflow.refer, {"actor": actor("PD-34"), "plan": sealed("alat bantu")})
        with pytest.raises(WorkflowUpdateFailedError) as waits:
            await handle.execute_update(ComplaintWorkflow.resolve, {"actor": actor("KABID-REHSOS"),
                                                                     "outcome": "placed_in_institution"})
        assert "waits for DISDUKCAPIL" in str(waits.value.cause)
        # ... and an officer records the office's answer given by telephone.
        await disdukcapil.execute_update(PartnerReferralWorkflow.done, {
            "actor": actor("PD-34"), "via": "telepon", "provided": sealed("KTP-el siap diambil")})
        await wait_for(handle, lambda v: v.referrals[0].status == "done", time_env)
        summary = await handle.execute_update(ComplaintWorkflow.resolve, {
            "actor": actor("KABID-REHSOS"), "outcome": "served_by_partner", "partner": "RSJ_BALI"})
        assert summary.status == "resolved"
    rows = await db.referrals.referrals(complaint_id)
    assert [(r["partner_code"], r["status"], r["via"]) for r in rows] == [("DISDUKCAPIL", "done", "telepon"),
                                                                         ("RSJ_BALI", "done", "api")]
    keys = [e.event_key for e in await db.cases.events(complaint_id)]
    assert len(keys) == len(set(keys))  # each step once


async def test_closing_the_case_withdraws_its_open_referrals(time_env, db):
    client, queue = time_env.client, task_queue()
    async with running_worker(client, db, queue):
        complaint_id, handle = await start_case(time_env, queue)
        await wait_for(handle, lambda v: v.status == "assigned", time_env)
        await to_assessed(handle)
        await handle.execute_update(ComplaintWorkflow.refer_partner, {"actor": actor("PD-34"), "partners": [
            {"partner": "PANTI_LKS", "need": sealed("tempat di panti"), "required": False}]})
        child = client.get_workflow_handle(f"complaint-{complaint_id}-ref-1")
        await handle.execute_update(ComplaintWorkflow.reject, {"actor": actor("KADIS"), "reason": "withdrawn"})
        view = await wait_for(handle, lambda v: v.referrals[0].status == "withdrawn" and any(
            e.event == "referral_withdrawn" for e in v.timeline), time_env, step=timedelta(seconds=1))
        assert view.status == "rejected"
        assert (await child.query(PartnerReferralWorkflow.state)).status == "withdrawn"
    events = [e.event for e in await db.cases.events(complaint_id)]
    assert events.count("referral_withdrawn") == 1


async def test_a_repeat_report_joins_the_open_case_and_a_repeat_after_closure_starts_a_linked_case(time_env, db):
    client, queue = time_env.client, task_queue()
    nik = random_nik()
    person = {"name": "Made Contoh", "nik": nik, "sex": "male", "address": "Banjar Dinas Kelod"}
    async with running_worker(client, db, queue):
        first_id, first = await start_case(time_env, queue, subject=person)
        await wait_for(first, lambda v: v.status == "assigned", time_env)
        again_id, again = await start_case(time_env, queue, subject=person, channel="hotline")
        result = await again.result()
        assert (result.status, result.joined_to) == ("joined", first_id)
        view = await wait_for(first, lambda v: v.reports == 2, time_env)
        assert [e.event for e in view.timeline].count("report_joined") == 1
        assert await db.cases.complaint(again_id) is None  # no second case, no second set of clocks
        notices = await db.pool.fetchval(
            "SELECT count(*) FROM notification_outbox WHERE complaint_id = $1 AND recipient_id = 'PD-34'"
            " AND event_key NOT LIKE 'sla:%'", first_id)
        assert notices == 2  # the assignment, once, by e-mail and webhook (the clocks may have warned too)
        # The first case ends; a repeat soon after starts a new case linked to it.
        await first.execute_update(ComplaintWorkflow.reject, {"actor": actor("KADIS"), "reason": "not_verified"})
        later_id, later = await start_case(time_env, queue, subject=person)
        view = await wait_for(later, lambda v: v.status == "assigned", time_env)
        assert view.previous_case == first_id
    assert (await db.cases.complaint(later_id)).complaint_id == later_id
