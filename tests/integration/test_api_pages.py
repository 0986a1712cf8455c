"""The worklist pages over plain HTTP: sign-in, the session cookie, CSRF and Origin checks, and the
403/409/422 answers a page gives (the browser walk-through is test_worklist_browser.py)."""

from __future__ import annotations

import re
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import httpx
import pytest

from api.routes_support import csrf_token
from tests.integration.test_api_stack import Stack, api_stack, eventually, submitted_case


@pytest.fixture(scope="module")
async def stack(dev_env, db) -> AsyncIterator[Stack]:
    async with api_stack(dev_env.client, db) as running:
        yield running


@asynccontextmanager
async def signed_in(stack: Stack, officer: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client holding the session cookie of `officer`."""
    async with stack.http() as http:
        response = await http.post("/masuk", data={"token": await stack.token("officer", officer)})
        assert response.status_code == 303, response.text
        yield http


def form_of(page: str, action: str) -> dict[str, str]:
    """The hidden fields of one action's form on the case page."""
    form = re.search(rf'<form method="post" action="[^"]*/aksi/{action}".*?</form>', page, re.S)
    assert form, f"no {action} form on the page"
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.group(0)))


async def test_a_link_without_the_cookie_reloads_once_then_asks_to_sign_in(stack: Stack):
    async with stack.http() as http:
        first = await http.get("/kasus/ADU-0123456789AB")
        again = await http.get("/kasus/ADU-0123456789AB?_ulang=1")
        form = await http.get("/masuk")
    assert first.status_code == 200 and 'http-equiv="refresh"' in first.text
    assert "/kasus/ADU-0123456789AB?_ulang=1" in first.text
    assert again.status_code == 401 and 'action="/masuk"' in again.text
    assert 'name="next" value="/kasus/ADU-0123456789AB"' in again.text
    assert form.headers["content-security-policy"].startswith("default-src 'self'")
    assert form.headers["cache-control"] == "no-store"


async def test_sign_in_refuses_bad_tokens_and_non_officers(stack: Stack):
    async with stack.http() as http:
        unknown = await http.post("/masuk", data={"token": "rjk_0123456789abcdef_" + "x" * 43})
        service = await http.post("/masuk", data={"token": await stack.token("service", "puskesos-bengkala",
                                                                               channels=("puskesos",))})
        foreign = await http.post("/masuk", data={"token": "x"}, headers={"Origin": "https://evil.example"})
        outside = await http.post("/masuk", data={"token": await stack.token("officer", "PD-34"),
                                                 "next": "//evil.example/x"})
    assert unknown.status_code == 401 and "Token tidak dikenal." in unknown.text
    assert service.status_code == 403 and "hanya untuk petugas" in service.text
    assert foreign.status_code == 403 and "CSRF" in foreign.text
    assert outside.status_code == 303 and outside.headers["location"] == "/kasus"


async def test_another_pendamping_gets_a_403_page(stack: Stack):
    case = await submitted_case(stack)
    async with signed_in(stack, "PD-01") as http:
        page = await http.get(f"/kasus/{case['complaint_id']}")
    assert page.status_code == 403
    assert "Akses ditolak" in page.text and "ditugaskan kepada pendamping PD-34, bukan PD-01" in page.text


async def test_page_forms_need_the_sessions_csrf_token_and_this_origin(stack: Stack):
    case = await submitted_case(stack)
    url = f"/kasus/{case['complaint_id']}"
    async with signed_in(stack, "PD-34") as http:
        hidden = form_of((await http.get(url)).text, "acknowledge")
        forged = await http.post(f"{url}/aksi/acknowledge", data={**hidden, "csrf": "0" * 64})
        missing = await http.post(f"{url}/aksi/acknowledge", data={"kunci": hidden["kunci"]})
        cross_site = await http.post(f"{url}/aksi/acknowledge", data=hidden, headers={"Origin": "https://evil.example"})
        assert [r.status_code for r in (forged, missing, cross_site)] == [403, 403, 403]
        done = await http.post(f"{url}/aksi/acknowledge", data=hidden,
                               headers={"Origin": stack.url})
        assert done.status_code == 303 and done.headers["location"].startswith(f"{url}?selesai=acknowledge")
        after = await http.get(done.headers["location"])
    assert "Tindakan “Konfirmasi penerimaan kasus” tercatat." in after.text
    assert "Kasus dikonfirmasi" in after.text


async def test_a_refused_or_invalid_form_shows_the_case_with_the_reason(stack: Stack):
    case = await submitted_case(stack)
    url = f"/kasus/{case['complaint_id']}"
    async with signed_in(stack, "PD-34") as http:
        page = (await http.get(url)).text
        acknowledge = form_of(page, "acknowledge")
        assert (await http.post(f"{url}/aksi/acknowledge", data=acknowledge)).status_code == 303
        # A second tab still shows the old form: a new key, so the case itself refuses it.
        refused = await http.post(f"{url}/aksi/acknowledge", data={**acknowledge, "kunci": "tab-kedua"})
        assess = form_of((await http.get(url)).text, "assess")
        await http.post(f"{url}/aksi/assess", data={**assess, "category": "penyandang_disabilitas"})
        refer = form_of((await http.get(url)).text, "refer")
        invalid = await http.post(f"{url}/aksi/refer", data={**refer, "plan": "  "})
    assert refused.status_code == 409
    assert "Kasus menolak tindakan ini: cannot acknowledge: the case is acknowledged" in refused.text
    assert invalid.status_code == 422 and "plan: Field required" in invalid.text


async def test_a_cookie_authenticated_api_call_needs_the_csrf_header(stack: Stack):
    case = await submitted_case(stack)
    api = f"/v1/complaints/{case['complaint_id']}/actions/acknowledge"
    async with signed_in(stack, "PD-34") as http:
        without = await http.post(api)
        session = http.cookies["referral_session"]
        with_token = await http.post(api, headers={"X-CSRF-Token": csrf_token(stack.settings.csrf_secret, session)})
        read = await http.get(f"/v1/complaints/{case['complaint_id']}")  # reading needs no token
        out = await http.post("/keluar", data={"csrf": csrf_token(stack.settings.csrf_secret, session)})
        after = await http.get("/kasus?_ulang=1")
    assert without.status_code == 403 and "X-CSRF-Token" in without.json()["detail"]
    assert with_token.status_code == 200, with_token.text
    assert read.status_code == 200
    assert out.status_code == 303 and out.headers["location"] == "/masuk"
    assert after.status_code == 401


async def test_actions_offered_follow_the_case_and_the_person(stack: Stack):
    case = await submitted_case(stack)
    url = f"/kasus/{case['complaint_id']}"
    offered: dict[str, Any] = {}
    for officer in ("PD-34", "KABID-PJS", "KADIS"):
        async with signed_in(stack, officer) as http:
            page = (await http.get(url)).text
        offered[officer] = re.findall(r'action="[^"]*/aksi/(\w+)"', page)
    assert offered["PD-34"] == ["acknowledge", "pause"]
    assert offered["KABID-PJS"] == ["reject", "reassign", "pause", "extend", "change_policy"]
    assert offered["KADIS"] == offered["KABID-PJS"]


async def test_a_pendamping_refers_to_partner_offices_and_records_an_answer_from_the_page(stack: Stack):
    case = await submitted_case(stack)
    url = f"/kasus/{case['complaint_id']}"
    async with signed_in(stack, "PD-34") as http:
        for action, fields in (("acknowledge", {}), ("assess", {"category": "penyandang_disabilitas"}),
                               ("refer", {"plan": "rujukan ke puskesmas dan pendampingan keluarga"})):
            form = form_of((await http.get(url)).text, action)
            assert (await http.post(f"{url}/aksi/{action}", data={**form, **fields})).status_code == 303, action
        refer = form_of((await http.get(url)).text, "refer_partner")
        half_row = await http.post(f"{url}/aksi/refer_partner", data={**refer, "mitra_1": "DINKES"})
        sent = await http.post(f"{url}/aksi/refer_partner", data={
            **refer, "mitra_1": "DINKES", "kebutuhan_1": "pemeriksaan kesehatan di rumah", "mitra_2": ""})
        page = (await http.get(url)).text
        answer = re.search(r'<form method="post" action="([^"]*/rujukan/(\d+)/accept)".*?</form>', page, re.S)
        assert answer, "no form to record the office's acceptance"
        hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', answer.group(0)))
        no_service_yet = await http.post(answer.group(1).replace("/accept", "/done"), data={**hidden, "via": "telepon"})
        accepted = await http.post(answer.group(1), data={**hidden, "via": "telepon"})

        async def shown_accepted() -> str | None:  # the sub-case tells its case by a signal: a moment later
            text = (await http.get(url)).text
            return text if re.search(r'<tr class="referral-accepted">.*?Diterima', text, re.S) else None
        await eventually(shown_accepted, what="the referral shown as accepted")
    assert half_row.status_code == 422 and "need" in half_row.text
    assert sent.status_code == 303
    assert "Rujukan ke instansi mitra" in page and "Dinas Kesehatan Kabupaten Buleleng / Puskesmas" in page
    assert no_service_yet.status_code == 422 and "provided" in no_service_yet.text
    assert accepted.status_code == 303, accepted.text
