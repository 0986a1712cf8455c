"""The door with OIDC bearer JWTs: keys generated here, discovery and JWKS served locally over HTTP
(the `Issuer` of test_oidc.py), the API and the sign-in page accepting the JWT like an API token."""

from __future__ import annotations

import re
import time
from typing import AsyncIterator, Iterator

import pytest

from tests.integration.test_api_stack import Stack, api_stack, eventually, intake_json, submitted_case
from tests.integration.test_oidc import AUDIENCE, Issuer


@pytest.fixture(scope="module")
def idp() -> Iterator[Issuer]:
    issuer = Issuer()
    issuer.thread.start()
    try:
        yield issuer
    finally:
        issuer.server.shutdown()
        issuer.server.server_close()
        issuer.thread.join(timeout=5)


@pytest.fixture(scope="module")
async def stack(dev_env, db, idp: Issuer) -> AsyncIterator[Stack]:
    async with api_stack(dev_env.client, db, oidc_issuer=idp.url, oidc_audience=AUDIENCE,
                         oidc_jwks_refresh_cooldown_seconds=0) as running:
        yield running


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_officers_jwts_read_by_the_roster_and_bad_ones_are_401(stack: Stack, idp: Issuer):
    case = await submitted_case(stack)
    url = f"/v1/complaints/{case['complaint_id']}"
    now = int(time.time())
    async with stack.http() as http:
        own = await http.get(url, headers=bearer(idp.token({"preferred_username": "pd-34"})))
        other = await http.get(url, headers=bearer(idp.token({"preferred_username": "PD-01"}, key=idp.ec,
                                                             kid="ec-1", alg="ES256")))
        expired = await http.get(url, headers=bearer(idp.token({"preferred_username": "PD-34", "exp": now - 600})))
        audience = await http.get(url, headers=bearer(idp.token({"preferred_username": "PD-34", "aud": "other"})))
        stranger = await http.get(url, headers=bearer(idp.token({"preferred_username": "budi"})))
    assert own.status_code == 200, own.text
    assert other.status_code == 403 and "bukan PD-01" in other.json()["detail"]
    assert (expired.status_code, expired.json()["detail"]) == (401, "Token sudah kedaluwarsa.")
    assert (audience.status_code, audience.json()["detail"]) == (401, "Token tidak ditujukan untuk layanan ini.")
    assert stranger.status_code == 401 and "bukan petugas aktif" in stranger.json()["detail"]


async def test_a_service_jwt_submits_within_its_claimed_scope(stack: Stack, idp: Issuer):
    service = idp.token({"referral_service": "lapor-bridge", "referral_channels": ["lapor"]})
    async with stack.http() as http:
        created = await http.post("/v1/complaints", json=intake_json(channel="lapor"), headers=bearer(service))
        wrong = await http.post("/v1/complaints", json=intake_json(channel="puskesos"), headers=bearer(service))
    assert created.status_code == 201, created.text
    assert wrong.status_code == 403 and "kanal puskesos" in wrong.json()["detail"]


async def test_the_sign_in_page_accepts_a_jwt_like_a_token(stack: Stack, idp: Issuer):
    case = await submitted_case(stack)
    jwt = idp.token({"preferred_username": "PD-34"})
    async with stack.http() as http:
        signed_in = await http.post("/masuk", data={"token": jwt, "next": f"/kasus/{case['complaint_id']}"})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == f"/kasus/{case['complaint_id']}"
        cookie = signed_in.headers["set-cookie"]
        assert re.search(r"httponly", cookie, re.I) and re.search(r"samesite=strict", cookie, re.I)
        page = await http.get(f"/kasus/{case['complaint_id']}")
        assert page.status_code == 200, page.text
        assert "Desa Bengkala" in page.text

        async def listed() -> bool:
            worklist = await http.get("/kasus")
            return worklist.status_code == 200 and case["complaint_id"] in worklist.text

        await eventually(listed, what="the case on the JWT holder's worklist")
        bad = await http.post("/masuk", data={"token": idp.token({"preferred_username": "PD-34", "aud": "x"})})
    assert bad.status_code == 401 and "Token tidak ditujukan untuk layanan ini." in bad.text
