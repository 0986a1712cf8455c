"""The referral network end to end on the dev server, through the API (issue 12's "done when"):

An ODGJ subject without a NIK in Desa Bengkala is assigned (Disdukcapil is asked for a NIK at once),
assessed, referred to rehabilitasi sosial, and sent to the RSJ as well. Disdukcapil is late: it is reminded
and the head of its bidang is alerted once (a policy with a 20-second Disdukcapil clock, so real time will
do). Disdukcapil's NIK is recorded by an officer from a telephone call; the RSJ answers through the API with
its partner token. The case resolves with an outcome; the API lists the sub-cases linked to the case and
`complaint_events` holds each step once. 50 reports of one person sent at the same moment end as one case.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.conftest import random_nik
from tests.integration.test_api_stack import api_stack, eventually, intake_json

FAST = json.loads((Path(__file__).parents[2] / "referral/data/sla_policy.json").read_text())
FAST["version"] = "test-fast-disdukcapil"
FAST["deadline_semantics"] = "office_hours"
FAST["referral_clocks"]["DISDUKCAPIL"] = {"due": "0.005 calendar_hours", "escalate_every": "0.005 calendar_hours"}


@pytest.fixture(scope="module")
def fast_policy(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("policy") / "policy.json"
    path.write_text(json.dumps(FAST))
    return str(path)


async def test_an_odgj_subject_without_a_nik_through_two_partner_offices(dev_env, db, fast_policy, monkeypatch):
    monkeypatch.setenv("REFERRAL_SLA_POLICY", fast_policy)
    async with api_stack(dev_env.client, db) as stack, stack.http() as http:
        pd, kabid = await stack.officer("PD-34"), await stack.officer("KABID-REHSOS")
        rsj = {"Authorization": f"Bearer {await stack.token('partner', 'RSJ_BALI')}"}
        intake = intake_json(subject={"name": "Nyoman Contoh", "sex": "L", "birth_date": "1979-03-02",
                                      "address": "Banjar Dinas Kaja"}, conditions=["odgj"])
        receipt = (await http.post("/v1/complaints", json=intake, headers=await stack.service())).json()
        case = receipt["complaint_id"]
        assert receipt["pendamping_id"] == "PD-34"

        async def view(headers=pd):
            return (await http.get(f"/v1/complaints/{case}", headers=headers)).json()

        first = await eventually(lambda: _with(view(), lambda v: v["referrals"]), what="the NIK referral")
        assert first["has_nik"] is False and first["referrals"][0]["partner"] == "DISDUKCAPIL"
        for action, body in (("acknowledge", {}), ("assess", {"category": "penyandang_disabilitas"}),
                             ("refer", {"plan": "rujukan ke RSJ dan pendampingan keluarga"}),
                             ("refer_partner", {"partners": [{"partner": "RSJ_BALI",
                                                              "need": "pemeriksaan dan perawatan jiwa"}]})):
            response = await http.post(f"/v1/complaints/{case}/actions/{action}", json=body, headers=pd)
            assert response.status_code == 200, (action, response.text)

        # Disdukcapil says nothing: reminded, then its bidang head is alerted, once.
        await eventually(lambda: _events(db, case, "referral_escalated"), within=90, what="the escalation")
        await asyncio.sleep(2)
        escalated = await _events(db, case, "referral_escalated")
        assert len(escalated) == 1 and escalated[0].detail["escalated_to"] == "KABID-PJS"
        assert len(await _events(db, case, "referral_overdue")) == 1

        # The resolution waits for both required referrals.
        refused = await http.post(f"/v1/complaints/{case}/actions/resolve", json={"outcome": "nik_issued"},
                                  headers=kabid)
        assert refused.status_code == 409 and "DISDUKCAPIL" in refused.json()["detail"]
        # PD-34 records Disdukcapil's answer given by telephone, with the new NIK; RSJ answers itself.
        nik = random_nik()
        done = await http.post(f"/v1/complaints/{case}/referrals/1/done", headers=pd,
                               json={"via": "telepon", "provided": "KTP-el diterbitkan", "nik": nik})
        assert done.status_code == 200, done.text
        wrong_office = await http.post(f"/v1/complaints/{case}/referrals/1/accept", headers=rsj, json={})
        assert wrong_office.status_code == 403
        mine = (await http.get("/v1/referrals", headers=rsj)).json()
        assert [(r["complaint_id"], r["n"]) for r in mine] == [(case, 2)]
        for answer, body in (("accept", {}), ("done", {"provided": "dirawat inap 10 hari, kontrol rutin"})):
            response = await http.post(f"/v1/complaints/{case}/referrals/2/{answer}", headers=rsj, json=body)
            assert response.status_code == 200, response.text
        await eventually(lambda: _with(view(), lambda v: v["has_nik"] and all(
            r["status"] == "done" for r in v["referrals"])), what="both referrals done")
        resolved = await http.post(f"/v1/complaints/{case}/actions/resolve", headers=kabid,
                                   json={"outcome": "served_by_partner", "partner": "RSJ_BALI"})
        assert resolved.status_code == 200, resolved.text

        final = await view(kabid)
        assert [(r["partner"], r["status"], r["workflow_id"]) for r in final["referrals"]] == [
            ("DISDUKCAPIL", "done", f"complaint-{case}-ref-1"), ("RSJ_BALI", "done", f"complaint-{case}-ref-2")]
        for n in (1, 2):  # the sub-cases are Temporal children of the case (the Web UI links them)
            described = await stack.client.get_workflow_handle(f"complaint-{case}-ref-{n}").describe()
            assert described.parent_id == f"complaint-{case}"
    row = await db.cases.complaint(case, personal=True)
    assert (row.status, row.outcome, row.subject["nik"]) == ("resolved", "served_by_partner", nik)
    keys = [e.event_key for e in await db.cases.events(case)]
    assert len(keys) == len(set(keys))
    assert [r["status"] for r in await db.referrals.referrals(case)] == ["done", "done"]


async def test_fifty_reports_of_one_person_sent_at_once_end_as_one_case_with_fifty_reports(dev_env, db):
    async with api_stack(dev_env.client, db, workflow_cache=200) as stack, stack.http() as http:
        headers = await stack.service()
        person = {"name": "Ketut Sama", "nik": random_nik(), "sex": "male", "address": "Banjar Dinas Kelod"}
        answers = await asyncio.gather(*(http.post("/v1/complaints", json=intake_json(subject=person), headers=headers)
                                         for _ in range(50)))
    bodies = [a.json() for a in answers]
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers if a.status_code >= 300]
    cases = {b["complaint_id"] for b in bodies}
    assert len(cases) == 1
    assert sum(not b.get("joined") for b in bodies) == 1  # one new case; 49 joined it
    [case] = cases
    reports = await db.pool.fetchval("SELECT reports FROM complaints WHERE complaint_id = $1", case)
    assert reports == 50
    assigned = await db.pool.fetchval(
        "SELECT count(*) FROM notification_outbox WHERE complaint_id = $1 AND event_key = '0002:assigned'", case)
    assert assigned == 2  # the pendamping is told once (e-mail and webhook)


async def _with(coro, predicate):
    value = await coro
    return value if predicate(value) else None


async def _events(db, case: str, event: str):
    return [e for e in await db.cases.events(case) if e.event == event]
