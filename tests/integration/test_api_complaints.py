"""Submitting, reading and listing complaints over real HTTP (curl and httpx) on the dev stack.

Every endpoint's 401 is checked here in one table; the 403/404/422 of submitting, reading and listing
below (actions and personal data have their own modules).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
from temporalio.service import RPCError, RPCStatusCode

from casework.intake import complaint_id_for, workflow_id
from tests.conftest import make_intake
from tests.integration.test_api_stack import BENGKALA, Stack, api_stack, eventually, intake_json, submitted_case


@pytest.fixture(scope="module")
async def stack(dev_env, db) -> AsyncIterator[Stack]:
    async with api_stack(dev_env.client, db) as running:
        yield running


@pytest.fixture(scope="module")
async def bengkala(stack: Stack) -> dict[str, Any]:
    return await submitted_case(stack)


async def curl(url: str, token: str, body_file: Path) -> tuple[int, dict[str, Any], str]:
    """Real curl, as a calling service would run it: (status, JSON body, response headers)."""
    process = await asyncio.create_subprocess_exec(
        "curl", "--silent", "--show-error", "--max-time", "60", "--dump-header", "-", "--request", "POST",
        "--header", f"Authorization: Bearer {token}", "--header", "Content-Type: application/json",
        "--data-binary", f"@{body_file}", "--write-out", "\n%{http_code}", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    text = out.decode()
    headers, _, rest = text.partition("\r\n\r\n")
    body, _, status = rest.rpartition("\n")
    return int(status), json.loads(body), headers


async def test_a_service_submits_with_curl_201_then_200_for_the_same_reference(stack: Stack, tmp_path: Path):
    token = await stack.token("service", "puskesos-bengkala", channels=("puskesos",), villages=(BENGKALA,))
    body = tmp_path / "complaint.json"
    body.write_text(json.dumps(intake_json(external_ref="puskesos-bengkala-001")), encoding="utf-8")

    status, first, headers = await curl(f"{stack.url}/v1/complaints", token, body)
    assert status == 201, first
    assert first["complaint_id"].startswith("ADU-") and first["repeat"] is False
    assert (first["status"], first["pendamping_id"]) == ("assigned", "PD-34")
    assert f"location: /v1/complaints/{first['complaint_id']}".lower() in headers.lower()

    status, again, _ = await curl(f"{stack.url}/v1/complaints", token, body)
    assert status == 200, again
    assert again == {**first, "repeat": True}


async def test_an_invalid_complaint_is_422_naming_every_field_and_starts_nothing(stack: Stack):
    document = intake_json(external_ref="puskesos-bengkala-bad-1")
    document["village_code"] = "51.08.99.9999"
    document["subject"]["nik"] = "1234"
    del document["description"]
    async with stack.http() as http:
        response = await http.post("/v1/complaints", json=document, headers=await stack.service())
    assert response.status_code == 422
    answer = response.json()
    assert answer["detail"].startswith("Pengaduan tidak valid")
    fields = sorted(problem.split(":")[0] for problem in answer["problems"])
    assert fields == ["description", "subject.nik", "village_code"]
    never = complaint_id_for(make_intake(external_ref="puskesos-bengkala-bad-1"), "puskesos-bengkala")
    with pytest.raises(RPCError) as info:
        await stack.client.get_workflow_handle(workflow_id(never)).describe()
    assert info.value.status == RPCStatusCode.NOT_FOUND


async def test_a_document_that_is_not_json_is_422(stack: Stack):
    async with stack.http() as http:
        response = await http.post("/v1/complaints", content=b"{not json", headers={
            **await stack.service(), "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["problems"][0].startswith("(document): not valid JSON")


async def test_submitting_outside_the_service_scope_or_as_a_partner_is_403(stack: Stack):
    hotline = await stack.service("hotline-dinsos", channels=("hotline",))
    sawan_only = await stack.service("puskesos-sinabun", villages=("51.08.07.2010",))
    partner = {"Authorization": f"Bearer {await stack.token('partner', 'RSJ-BALI')}"}
    async with stack.http() as http:
        wrong_channel = await http.post("/v1/complaints", json=intake_json(), headers=hotline)
        wrong_village = await http.post("/v1/complaints", json=intake_json(), headers=sawan_only)
        as_partner = await http.post("/v1/complaints", json=intake_json(), headers=partner)
    assert wrong_channel.status_code == 403
    assert wrong_channel.json()["detail"] == (
        "Layanan hotline-dinsos tidak diizinkan mengajukan kasus melalui kanal puskesos.")
    assert wrong_village.status_code == 403
    assert "tidak diizinkan mengajukan kasus untuk desa 51.08.08.2010" in wrong_village.json()["detail"]
    assert as_partner.status_code == 403 and "gunakan token layanan" in as_partner.json()["detail"]


async def test_an_officer_may_record_a_walk_in_report(stack: Stack):
    async with stack.http() as http:
        response = await http.post("/v1/complaints", json=intake_json(channel="walk_in"),
                                   headers=await stack.officer("PD-34"))
    assert response.status_code == 201, response.text
    assert response.json()["pendamping_id"] == "PD-34"


# ---- reading a case ----

async def test_the_assigned_pendamping_reads_state_clocks_and_a_page_of_timeline(stack: Stack, bengkala):
    complaint_id = bengkala["complaint_id"]
    async with stack.http() as http:
        whole = await http.get(f"/v1/complaints/{complaint_id}", headers=await stack.officer("PD-34"))
        page = await http.get(f"/v1/complaints/{complaint_id}", params={"offset": 1, "limit": 1},
                              headers=await stack.officer("PD-34"))
    assert whole.status_code == 200, whole.text
    view = whole.json()
    assert (view["village_code"], view["category"], view["pendamping_id"]) == (
        BENGKALA, "penyandang_disabilitas", "PD-34")
    assert [e["event"] for e in view["timeline"]][:2] == ["received", "assigned"]
    assert {c["name"] for c in view["clocks"]} >= {"acknowledgement", "verification"}
    assert page.status_code == 200
    assert [e["event"] for e in page.json()["timeline"]] == ["assigned"]
    assert page.json()["timeline_offset"] == 1


async def test_reading_someone_elses_case_is_403_and_an_unknown_one_404(stack: Stack, bengkala):
    complaint_id = bengkala["complaint_id"]
    async with stack.http() as http:
        other = await http.get(f"/v1/complaints/{complaint_id}", headers=await stack.officer("PD-01"))
        head_elsewhere = await http.get(f"/v1/complaints/{complaint_id}", headers=await stack.officer("KABID-DAYASOS"))
        head_involved = await http.get(f"/v1/complaints/{complaint_id}", headers=await stack.officer("KABID-REHSOS"))
        unknown = await http.get("/v1/complaints/ADU-000000000000", headers=await stack.officer("KADIS"))
        malformed = await http.get("/v1/complaints/not-a-case", headers=await stack.officer("KADIS"))
        too_long_page = await http.get(f"/v1/complaints/{complaint_id}", params={"limit": 5000},
                                       headers=await stack.officer("PD-34"))
    assert other.status_code == 403
    assert other.json()["detail"] == (
        "Anda tidak dapat membuka kasus ini: kasus ini ditugaskan kepada pendamping PD-34, bukan PD-01.")
    assert head_elsewhere.status_code == 403 and "pemberdayaan_sosial" in head_elsewhere.json()["detail"]
    assert head_involved.status_code == 200
    assert unknown.status_code == 404 and unknown.json()["detail"] == "Kasus ADU-000000000000 tidak ditemukan."
    assert malformed.status_code == 404
    assert too_long_page.status_code == 422 and too_long_page.json()["problems"][0].startswith("limit:")


async def test_the_submitting_service_reads_its_case_and_no_other_service_does(stack: Stack, bengkala):
    complaint_id = bengkala["complaint_id"]
    async with stack.http() as http:
        own = await http.get(f"/v1/complaints/{complaint_id}", headers=await stack.service())
        other = await http.get(f"/v1/complaints/{complaint_id}",
                               headers=await stack.service("puskesos-sinabun", villages=("51.08.07.2010",)))
    assert own.status_code == 200, own.text
    assert other.status_code == 403
    assert other.json()["detail"] == ("Layanan puskesos-sinabun tidak dapat membuka kasus ini: kasus ini tidak"
                                      " diajukan oleh layanan ini.")


# ---- lists ----

async def test_lists_hold_only_what_the_caller_may_read(stack: Stack, bengkala):
    complaint_id = bengkala["complaint_id"]

    async def ids(headers: dict[str, str], **params: Any) -> set[str]:
        async with stack.http() as http:
            response = await http.get("/v1/complaints", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return {row["complaint_id"] for row in response.json()}

    async def listed() -> bool:
        return complaint_id in await ids(await stack.officer("PD-34"), village=BENGKALA)

    await eventually(listed, what="the case in PD-34's list")
    assert complaint_id in await ids(await stack.officer("KADIS"), kecamatan="Kubutambahan",
                                     category="penyandang_disabilitas")
    assert complaint_id in await ids(await stack.officer("KABID-REHSOS"), status="assigned")
    assert complaint_id not in await ids(await stack.officer("PD-01"), village=BENGKALA)
    assert complaint_id not in await ids(await stack.officer("KABID-DAYASOS"))
    assert complaint_id not in await ids(await stack.officer("KADIS"), breached=True, village=BENGKALA)
    async with stack.http() as http:
        bad = await http.get("/v1/complaints", params={"village": "x' OR 1=1", "status": "lost"},
                             headers=await stack.officer("KADIS"))
    assert bad.status_code == 422
    assert sorted(p.split(":")[0] for p in bad.json()["problems"]) == ["status", "village"]


async def test_my_cases_put_breached_cases_first_then_the_nearest_deadline(stack: Stack, bengkala):
    # An emergency reported 70 minutes ago: its one-hour acknowledgement clock has already run out.
    late = await submitted_case(stack, urgency="emergency",
                                reported_at=(datetime.now(timezone.utc) - timedelta(minutes=70)).isoformat())

    async def worklist() -> list[dict[str, Any]] | None:
        async with stack.http() as http:
            response = await http.get("/v1/me/cases", headers=await stack.officer("PD-34"))
        assert response.status_code == 200, response.text
        rows = response.json()
        ours = {r["complaint_id"]: r for r in rows}
        ready = late["complaint_id"] in ours and ours[late["complaint_id"]]["sla_breached"]
        return rows if ready and bengkala["complaint_id"] in ours else None

    rows = await eventually(worklist, what="both cases in PD-34's worklist, the emergency breached")
    breached = [r["sla_breached"] for r in rows]
    assert breached == sorted(breached, reverse=True)  # every breached case before every other
    open_deadlines = [r["next_deadline"] for r in rows if not r["sla_breached"] and r["next_deadline"]]
    assert open_deadlines == sorted(open_deadlines, key=datetime.fromisoformat)
    first = rows[0]
    assert first["sla_breached"] and first["village"] == "Desa Bengkala, Kec. Kubutambahan"
    assert {r["pendamping_id"] for r in rows} == {"PD-34"}


async def test_me_names_the_credential_owner(stack: Stack):
    async with stack.http() as http:
        officer = await http.get("/v1/me", headers=await stack.officer("KABID-REHSOS"))
        service = await http.get("/v1/me", headers=await stack.service())
    assert officer.json() == {"kind": "officer", "id": "KABID-REHSOS", "actor": "KABID-REHSOS",
                              "role": "head_of_bidang", "bidang": "rehabilitasi_sosial", "channels": [],
                              "villages": []}
    assert service.json()["actor"] == "service:puskesos-bengkala"


# ---- 401 on every endpoint ----

ENDPOINTS = [
    ("POST", "/v1/complaints"), ("GET", "/v1/complaints"), ("GET", "/v1/complaints/{id}"),
    ("GET", "/v1/complaints/{id}/person?purpose=x"), ("GET", "/v1/complaints/{id}/accesses"),
    ("POST", "/v1/complaints/{id}/actions/acknowledge"), ("POST", "/v1/complaints/{id}/actions/change_policy"),
    ("GET", "/v1/me"), ("GET", "/v1/me/cases"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_every_endpoint_is_401_without_a_credential_or_with_a_bad_one(stack: Stack, bengkala, method, path):
    url = path.replace("{id}", bengkala["complaint_id"])
    revoked = await stack.token("officer", "PD-33", label="to revoke")
    await stack.store.pool.execute("UPDATE api_tokens SET revoked_at = now() WHERE token_id = $1", revoked[4:20])
    async with stack.http() as http:
        missing = await http.request(method, url, json={} if method == "POST" else None)
        unknown = await http.request(method, url, headers={"Authorization": "Bearer rjk_0123456789abcdef_" + "x" * 43})
        not_bearer = await http.request(method, url, headers={"Authorization": "Basic dXNlcjpwYXNz"})
        was_revoked = await http.request(method, url, headers={"Authorization": f"Bearer {revoked}"})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="referral"'
    assert missing.json() == {"detail": "Kredensial tidak ada: kirim header 'Authorization: Bearer <token>'."}
    assert (unknown.status_code, unknown.json()["detail"]) == (401, "Token tidak dikenal.")
    assert not_bearer.status_code == 401 and 'error="invalid_token"' in not_bearer.headers["www-authenticate"]
    assert (was_revoked.status_code, was_revoked.json()["detail"]) == (401, "Token sudah dicabut.")
