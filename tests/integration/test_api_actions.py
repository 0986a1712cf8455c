"""Acting on cases over HTTP: the actor from the credential, 403 from the policy, 409 from the case,
422 naming the field, and Idempotency-Key as the Temporal update id."""

from __future__ import annotations

from typing import Any, AsyncIterator

import pytest

from tests.integration.test_api_stack import Stack, api_stack, submitted_case


@pytest.fixture(scope="module")
async def stack(dev_env, db) -> AsyncIterator[Stack]:
    async with api_stack(dev_env.client, db) as running:
        yield running


async def act(stack: Stack, complaint_id: str, action: str, who: str, body: Any = None,
              headers: dict[str, str] | None = None):
    async with stack.http() as http:
        return await http.post(f"/v1/complaints/{complaint_id}/actions/{action}", json=body,
                               headers={**await stack.officer(who), **(headers or {})})


async def timeline(stack: Stack, complaint_id: str) -> list[dict[str, Any]]:
    async with stack.http() as http:
        response = await http.get(f"/v1/complaints/{complaint_id}", headers=await stack.officer("KADIS"))
    assert response.status_code == 200, response.text
    return response.json()["timeline"]


async def test_the_assigned_pendamping_acknowledges_and_the_case_records_who(stack: Stack):
    case = await submitted_case(stack)
    response = await act(stack, case["complaint_id"], "acknowledge", "PD-34", {"note": "segera dikunjungi"})
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["pendamping_id"]) == ("acknowledged", "PD-34")
    last = (await timeline(stack, case["complaint_id"]))[-1]
    assert (last["event"], last["actor"], last["detail"]["note"]) == ("acknowledged", "PD-34", "segera dikunjungi")

    again = await act(stack, case["complaint_id"], "acknowledge", "PD-34")
    assert again.status_code == 409
    assert again.json() == {"detail": "cannot acknowledge: the case is acknowledged, it must be assigned"}


async def test_another_pendamping_or_a_service_is_403_before_the_case_is_asked(stack: Stack):
    case = await submitted_case(stack)
    other = await act(stack, case["complaint_id"], "acknowledge", "PD-01")
    assert other.status_code == 403
    assert other.json()["detail"] == ("Anda tidak dapat melakukan 'acknowledge' pada kasus ini: kasus ini"
                                      " ditugaskan kepada pendamping PD-34, bukan PD-01.")
    async with stack.http() as http:
        service = await http.post(f"/v1/complaints/{case['complaint_id']}/actions/acknowledge",
                                  headers=await stack.service())
    assert service.status_code == 403 and service.json()["detail"].startswith("Layanan puskesos-bengkala tidak dapat")
    assert [e["event"] for e in await timeline(stack, case["complaint_id"])] == ["received", "assigned"]


async def test_a_kadis_only_action_sent_with_a_pendamping_token_is_refused(stack: Stack):
    case = await submitted_case(stack)
    refused = await act(stack, case["complaint_id"], "change_policy", "PD-34")
    assert refused.status_code == 409
    assert refused.json()["detail"] == "only the head of the bidang or the kepala dinas can change policy this case"
    done = await act(stack, case["complaint_id"], "change_policy", "KADIS")
    assert done.status_code == 200, done.text
    assert (await timeline(stack, case["complaint_id"]))[-1]["actor"] == "KADIS"


async def test_bodies_are_422_naming_every_bad_field_and_the_actor_is_never_taken_from_them(stack: Stack):
    case = await submitted_case(stack)
    complaint_id = case["complaint_id"]
    await act(stack, complaint_id, "acknowledge", "PD-34")
    with_actor = await act(stack, complaint_id, "assess", "PD-34",
                           {"actor": {"id": "KADIS", "role": "kepala_dinas"}, "needs_investigation": "maybe"})
    assert with_actor.status_code == 422
    assert with_actor.json()["detail"] == "Permintaan tidak valid: periksa setiap kolom yang disebut."
    assert sorted(with_actor.json()["problems"]) == [
        "actor: pelaku diambil dari kredensial Anda; jangan kirim kolom ini",
        "needs_investigation: Input should be a valid boolean, unable to interpret input",
    ]
    no_plan = await act(stack, complaint_id, "refer", "PD-34", {"note": "x"})
    assert no_plan.status_code == 422 and no_plan.json()["problems"] == ["plan: Field required"]
    bad_extension = await act(stack, complaint_id, "extend", "KADIS", {"clock": "verification", "by": "2 weeks",
                                                                        "reason": "menunggu"})
    assert bad_extension.status_code == 422
    assert bad_extension.json()["problems"][0].startswith("by: ")
    unknown = await act(stack, complaint_id, "reassign", "KABID-PJS", {"pendamping_id": "PD-99"})
    assert unknown.status_code == 422
    assert unknown.json()["problems"] == ["pendamping_id: 'PD-99' bukan petugas aktif dalam daftar petugas"]
    not_json = await act(stack, complaint_id, "pause", "PD-34", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 422  # no body at all: `reason` is required
    assert [e["event"] for e in await timeline(stack, complaint_id)] == ["received", "assigned", "acknowledged"]


async def test_a_supervisor_reassigns_by_roster_id_and_the_old_pendamping_loses_the_case(stack: Stack):
    case = await submitted_case(stack)
    complaint_id = case["complaint_id"]
    moved = await act(stack, complaint_id, "reassign", "KABID-PJS", {"pendamping_id": "PD-33", "note": "cuti"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["pendamping_id"] == "PD-33"
    same = await act(stack, complaint_id, "reassign", "KADIS", {"pendamping_id": "PD-33"})
    assert same.status_code == 409 and same.json()["detail"] == "the case is already assigned to PD-33"
    # PD-33 works in pemberdayaan sosial: the head of PD-34's bidang is no longer involved.
    no_longer = await act(stack, complaint_id, "reassign", "KABID-PJS", {"pendamping_id": "PD-34"})
    assert no_longer.status_code == 403
    async with stack.http() as http:
        old = await http.get(f"/v1/complaints/{complaint_id}", headers=await stack.officer("PD-34"))
        new = await http.get(f"/v1/complaints/{complaint_id}", headers=await stack.officer("PD-33"))
    assert (old.status_code, new.status_code) == (403, 200)


async def test_an_idempotency_key_makes_a_retry_harmless(stack: Stack):
    case = await submitted_case(stack)
    complaint_id = case["complaint_id"]
    body = {"reason": "menunggu dokumen warga"}
    key = {"Idempotency-Key": "pause-0001"}
    first = await act(stack, complaint_id, "pause", "PD-34", body, key)
    retry = await act(stack, complaint_id, "pause", "PD-34", body, key)
    assert (first.status_code, retry.status_code) == (200, 200), retry.text
    assert first.json() == retry.json()
    # The same key from another caller is another request: the case refuses a second pause.
    other = await act(stack, complaint_id, "pause", "KABID-PJS", body, key)
    assert other.status_code == 409 and other.json()["detail"] == "cannot pause: the clocks are already paused"
    assert [e["event"] for e in await timeline(stack, complaint_id)].count("paused") == 1
    bad = await act(stack, complaint_id, "resume", "PD-34", None, {"Idempotency-Key": "bad key!"})
    assert bad.status_code == 422 and bad.json()["problems"][0].startswith("Idempotency-Key: ")


async def test_an_unknown_action_is_404_naming_the_actions(stack: Stack):
    case = await submitted_case(stack)
    response = await act(stack, case["complaint_id"], "approve", "KADIS")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("unknown action 'approve': one of acknowledge, assess")
    missing = await act(stack, "ADU-000000000000", "acknowledge", "KADIS")
    assert missing.status_code == 404
