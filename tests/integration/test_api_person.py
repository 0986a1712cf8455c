"""Personal data over HTTP: who may read the person and the officers' notes, every read recorded in
personal_data_access, and the record shown to supervisors."""

from __future__ import annotations

from typing import Any, AsyncIterator

import pytest

from tests.conftest import random_nik
from tests.integration.test_api_stack import Stack, api_stack, submitted_case

SUBJECT = {"name": "Zzyzx Warga Bengkala", "nik": random_nik(), "sex": "male",
           "address": "Banjar Dinas Kelodan, Bengkala"}
REPORTER = {"name": "Qwvx Pelapor", "phone": "081299887766", "relation": "tetangga"}


@pytest.fixture(scope="module")
async def stack(dev_env, db) -> AsyncIterator[Stack]:
    async with api_stack(dev_env.client, db) as running:
        yield running


@pytest.fixture(scope="module")
async def case(stack: Stack) -> dict[str, Any]:
    return await submitted_case(stack, subject=SUBJECT, reporter=REPORTER)


async def accesses(stack: Stack, complaint_id: str) -> list[dict[str, Any]]:
    rows = await stack.store.pool.fetch(
        "SELECT principal_kind, principal_id, fields, purpose, request_id FROM personal_data_access"
        " WHERE complaint_id = $1 ORDER BY id", complaint_id)
    return [dict(r) for r in rows]


async def test_the_pendamping_reads_the_person_and_the_read_is_recorded(stack: Stack, case):
    complaint_id = case["complaint_id"]
    async with stack.http() as http:
        response = await http.get(f"/v1/complaints/{complaint_id}/person", params={"purpose": "kunjungan lapangan"},
                                  headers={**await stack.officer("PD-34"), "X-Request-ID": "person-read-1"})
    assert response.status_code == 200, response.text
    person = response.json()
    assert person["subject"]["name"] == SUBJECT["name"] and person["subject"]["nik"] == SUBJECT["nik"]
    assert person["subject"]["address"] == SUBJECT["address"]
    assert person["reporter"]["phone"] == REPORTER["phone"]
    assert person["description"].startswith("Warga penyandang disabilitas")
    assert person["fields"] == ["subject", "reporter", "description"]
    recorded = await accesses(stack, complaint_id)
    assert recorded[-1] == {"principal_kind": "officer", "principal_id": "PD-34",
                            "fields": ["subject", "reporter", "description"], "purpose": "kunjungan lapangan",
                            "request_id": "person-read-1"}
    assert person["access_id"] > 0


async def test_person_data_is_403_for_others_and_422_without_a_purpose_and_nothing_is_recorded(stack: Stack, case):
    complaint_id = case["complaint_id"]
    before = await accesses(stack, complaint_id)
    url = f"/v1/complaints/{complaint_id}/person"
    async with stack.http() as http:
        other = await http.get(url, params={"purpose": "ingin tahu"}, headers=await stack.officer("PD-01"))
        service = await http.get(url, params={"purpose": "cek"}, headers=await stack.service())
        no_purpose = await http.get(url, headers=await stack.officer("PD-34"))
        blank = await http.get(url, params={"purpose": "   "}, headers=await stack.officer("PD-34"))
        too_long = await http.get(url, params={"purpose": "x" * 501}, headers=await stack.officer("PD-34"))
    assert other.status_code == 403
    assert other.json()["detail"] == ("Anda tidak dapat melihat data pribadi kasus ini: kasus ini ditugaskan kepada"
                                      " pendamping PD-34, bukan PD-01.")
    assert service.status_code == 403
    assert "layanan tidak pernah menerima data pribadi kembali" in service.json()["detail"]
    assert no_purpose.status_code == 422 and no_purpose.json()["problems"] == ["purpose: Field required"]
    assert blank.status_code == 422 and blank.json()["problems"][0].startswith("purpose: wajib diisi")
    assert too_long.status_code == 422
    assert await accesses(stack, complaint_id) == before


async def test_supervisors_of_the_case_see_who_read_it_and_no_one_else_does(stack: Stack, case):
    complaint_id = case["complaint_id"]
    async with stack.http() as http:
        await http.get(f"/v1/complaints/{complaint_id}/person", params={"purpose": "verifikasi data"},
                       headers=await stack.officer("KABID-REHSOS"))
        seen = {who: await http.get(f"/v1/complaints/{complaint_id}/accesses", headers=await stack.officer(who))
                for who in ("KABID-REHSOS", "KABID-PJS", "KADIS", "PD-34", "KABID-DAYASOS")}
        service = await http.get(f"/v1/complaints/{complaint_id}/accesses", headers=await stack.service())
    for who in ("KABID-REHSOS", "KABID-PJS", "KADIS"):
        assert seen[who].status_code == 200, (who, seen[who].text)
    rows = seen["KADIS"].json()
    assert {(r["principal_id"], r["purpose"]) for r in rows} >= {("KABID-REHSOS", "verifikasi data")}
    assert all(set(r) == {"id", "principal_kind", "principal_id", "fields", "purpose", "at", "request_id"} for r in rows)
    for who in ("PD-34", "KABID-DAYASOS"):
        assert seen[who].status_code == 403
    assert seen["PD-34"].json()["detail"].startswith("Hanya kepala bidang yang terlibat")
    assert service.status_code == 403


async def test_officers_notes_are_opened_for_the_pendamping_and_that_read_is_recorded(stack: Stack):
    case = await submitted_case(stack, subject={**SUBJECT, "nik": random_nik()})  # its own person, not a repeat
    complaint_id = case["complaint_id"]
    async with stack.http() as http:
        plain = await http.get(f"/v1/complaints/{complaint_id}", headers=await stack.officer("PD-34"))
        assert plain.status_code == 200
        assert await accesses(stack, complaint_id) == []  # no note yet: nothing personal was read
        acted = await http.post(f"/v1/complaints/{complaint_id}/actions/acknowledge",
                                json={"note": "Zzyzx tinggal bersama ibunya"}, headers=await stack.officer("PD-34"))
        assert acted.status_code == 200, acted.text
        read = await http.get(f"/v1/complaints/{complaint_id}", params={"purpose": "menyiapkan kunjungan"},
                              headers={**await stack.officer("PD-34"), "X-Request-ID": "notes-read-1"})
    assert read.json()["timeline"][-1]["detail"]["note"] == "Zzyzx tinggal bersama ibunya"
    assert await accesses(stack, complaint_id) == [{
        "principal_kind": "officer", "principal_id": "PD-34", "fields": ["notes"], "purpose": "menyiapkan kunjungan",
        "request_id": "notes-read-1"}]


async def test_the_submitting_service_reads_the_case_with_notes_hidden(stack: Stack):
    case = await submitted_case(stack)
    complaint_id = case["complaint_id"]
    async with stack.http() as http:
        await http.post(f"/v1/complaints/{complaint_id}/actions/acknowledge", json={"note": "rahasia"},
                        headers=await stack.officer("PD-34"))
        read = await http.get(f"/v1/complaints/{complaint_id}", headers=await stack.service())
    assert read.status_code == 200, read.text
    assert read.json()["timeline"][-1]["detail"]["note"] is None
    assert await accesses(stack, complaint_id) == []
