"""API tokens and personal-data access records on a real Postgres, and the door's 401s over HTTP."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta, timezone
from typing import AsyncIterator

import asyncpg
import httpx
import pytest
from fastapi import Depends, FastAPI

from activities.store.access import AccessStore
from api.auth import Authenticator, authenticate
from api.limits import RateLimiter, rate_limited
from api.principal import OfficerPrincipal, PartnerPrincipal, Principal, ServicePrincipal, Unauthenticated
from api.settings import ApiSettings
from api.tokens import TokenNotFound, TokenRequestError, issue_token, list_tokens, revoke_token, verify_token
from tests.conftest import fresh_database

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)
SETTINGS = ApiSettings(oidc_issuer=None, oidc_audience=None, language="id")


@pytest.fixture(scope="module")
async def pool(admin_url: str) -> AsyncIterator[asyncpg.Pool]:
    # Its own database: these tests deactivate officers and try to rewrite the access record.
    async with fresh_database(admin_url, prefix="referral_access") as url:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
        try:
            yield pool
        finally:
            await pool.close()


@pytest.fixture
def store(pool: asyncpg.Pool) -> AccessStore:
    return AccessStore(pool)


async def _reason(store: AccessStore, raw: str, now: datetime = NOW) -> str:
    with pytest.raises(Unauthenticated) as info:
        await verify_token(store, raw, now=now)
    return info.value.reason


# ---- tokens ----

async def test_an_officer_token_is_shown_once_and_stored_hashed(store, pool):
    issued = await issue_token(store, kind="officer", subject="PD-01", label="laptop kantor", now=NOW,
                               settings=SETTINGS)
    prefix, token_id, secret = issued.token[:4], issued.token[4:20], issued.token[21:]
    assert (prefix, issued.token[20]) == ("rjk_", "_")
    assert token_id == issued.info.token_id and len(secret) >= 43
    assert issued.info.expires_at == NOW + timedelta(days=90)
    assert issued.token not in repr(issued)

    row = await pool.fetchrow("SELECT * FROM api_tokens WHERE token_id = $1", token_id)
    assert bytes(row["secret_hash"]) == hashlib.sha256(secret.encode()).digest()
    assert secret not in str(dict(row))

    listed = {t.token_id: t for t in await list_tokens(store)}
    assert listed[token_id].label == "laptop kantor"
    assert listed[token_id].state(NOW) == "active"
    assert not hasattr(listed[token_id], "secret_hash")


async def test_a_token_proves_its_officer_with_role_and_bidang_from_the_roster(store):
    issued = await issue_token(store, kind="officer", subject="KABID-REHSOS", now=NOW, settings=SETTINGS)
    principal = await verify_token(store, issued.token, now=NOW)
    assert principal == OfficerPrincipal(officer_id="KABID-REHSOS", role="head_of_bidang",
                                         bidang="rehabilitasi_sosial", token_id=issued.info.token_id)
    assert principal.rate_key == f"token:{issued.info.token_id}"


async def test_last_use_is_written_at_most_once_a_minute(store, pool):
    issued = await issue_token(store, kind="officer", subject="PD-02", now=NOW, settings=SETTINGS)
    token_id = issued.info.token_id

    async def last_used() -> datetime | None:
        return await pool.fetchval("SELECT last_used_at FROM api_tokens WHERE token_id = $1", token_id)

    assert await last_used() is None
    await verify_token(store, issued.token, now=NOW)
    assert await last_used() == NOW
    await verify_token(store, issued.token, now=NOW + timedelta(seconds=59))
    assert await last_used() == NOW
    await verify_token(store, issued.token, now=NOW + timedelta(seconds=61))
    assert await last_used() == NOW + timedelta(seconds=61)


async def test_service_and_partner_tokens_carry_their_scope(store):
    service = await issue_token(store, kind="service", subject="puskesos-bengkala", channels=["puskesos"],
                                villages=["51.08.08.2010"], expires_in=timedelta(days=30), now=NOW, settings=SETTINGS)
    partner = await issue_token(store, kind="partner", subject="DISDUKCAPIL", now=NOW, settings=SETTINGS)
    assert await verify_token(store, service.token, now=NOW) == ServicePrincipal(
        service_id="puskesos-bengkala", channels=frozenset({"puskesos"}), villages=frozenset({"51.08.08.2010"}),
        token_id=service.info.token_id,
    )
    assert await verify_token(store, partner.token, now=NOW) == PartnerPrincipal(
        partner_code="DISDUKCAPIL", token_id=partner.info.token_id
    )


async def test_bad_tokens_are_refused_with_their_reason(store):
    issued = await issue_token(store, kind="officer", subject="PD-03", expires_in=timedelta(hours=1), now=NOW,
                               settings=SETTINGS)
    token_id = issued.info.token_id
    wrong_secret = issued.token[:21] + ("B" if issued.token[21] != "B" else "C") + issued.token[22:]
    assert await _reason(store, "rjk_not-a-token") == "malformed"
    assert await _reason(store, f"rjk_ffffffffffffffff_{'A' * 43}") == "unknown"
    assert await _reason(store, wrong_secret) == "unknown"  # a known id with a wrong secret says no more
    assert await _reason(store, issued.token, NOW + timedelta(hours=1)) == "expired"

    revoked = await revoke_token(store, token_id, now=NOW + timedelta(minutes=5))
    assert revoked.revoked_at == NOW + timedelta(minutes=5)
    assert await _reason(store, issued.token) == "revoked"
    again = await revoke_token(store, token_id, now=NOW + timedelta(hours=2))
    assert again.revoked_at == NOW + timedelta(minutes=5)  # the first revocation stands
    assert again.state(NOW) == "revoked"
    with pytest.raises(TokenNotFound):
        await revoke_token(store, "ffffffffffffffff")


async def test_an_officer_who_left_the_roster_loses_their_tokens_at_once(store, pool):
    issued = await issue_token(store, kind="officer", subject="PD-04", now=NOW, settings=SETTINGS)
    await pool.execute("UPDATE officers SET active = false WHERE officer_id = 'PD-04'")
    try:
        assert await _reason(store, issued.token) == "inactive_officer"
        with pytest.raises(TokenRequestError, match="'PD-04' is not an active officer"):
            await issue_token(store, kind="officer", subject="PD-04", now=NOW, settings=SETTINGS)
    finally:
        await pool.execute("UPDATE officers SET active = true WHERE officer_id = 'PD-04'")


@pytest.mark.parametrize(("request_", "problem"), [
    ({"kind": "officer", "subject": "PD-99"}, "subject: 'PD-99' is not an active officer on the roster"),
    ({"kind": "service", "subject": "sms-gateway", "channels": ["sms"]}, "channels: unknown channel 'sms'"),
    ({"kind": "service", "subject": "puskesos-x", "channels": ["puskesos"], "villages": ["51.08.99.9999"]},
     "villages: unknown village code '51.08.99.9999'"),
    ({"kind": "officer", "subject": "PD-01", "expires_in": timedelta(days=-1)},
     "expires_in: the expiry must be in the future"),
    ({"kind": "partner", "subject": "RSJ-BALI", "expires_in": timedelta(days=400)},
     "expires_in: at most 365 days (REFERRAL_TOKEN_MAX_DAYS)"),
])
async def test_issue_refuses_what_it_cannot_honour(store, pool, request_, problem):
    before = await pool.fetchval("SELECT count(*) FROM api_tokens")
    with pytest.raises(TokenRequestError) as info:
        await issue_token(store, now=NOW, settings=SETTINGS, **request_)
    assert any(p.startswith(problem) for p in info.value.problems), info.value.problems
    assert await pool.fetchval("SELECT count(*) FROM api_tokens") == before


async def test_the_table_itself_refuses_incoherent_rows(pool):
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(
            "INSERT INTO api_tokens (token_id, secret_hash, kind, subject, channels, expires_at)"
            " VALUES ('00000000000000aa', $1, 'partner', 'RSJ', '{puskesos}', now() + interval '1 day')",
            b"\0" * 32,
        )


# ---- personal-data access ----

async def _a_case(pool: asyncpg.Pool, complaint_id: str) -> None:
    await pool.execute(
        "INSERT INTO complaints (complaint_id, workflow_id, channel, status, village_code, kecamatan, category,"
        " bidang, urgency, subject, reporter, description, reported_at, received_at) VALUES ($1, $2, 'hotline',"
        " 'assigned', '51.08.08.2010', 'Kubutambahan', 'penyandang_disabilitas', 'rehabilitasi_sosial', 'normal',"
        " '{}', '{}', 'uji', now(), now())", complaint_id, f"complaint-{complaint_id}")


async def test_reads_of_personal_data_are_recorded_in_order(store, pool):
    await _a_case(pool, "ADU-ACCESS000001")
    first = await store.record_access(principal_kind="officer", principal_id="PD-34", complaint_id="ADU-ACCESS000001",
                                      fields=["subject", "description"], purpose="kunjungan rumah", request_id="r-1")
    await store.record_access(principal_kind="partner", principal_id="DISDUKCAPIL", complaint_id="ADU-ACCESS000001",
                              fields=("subject",), purpose="  penerbitan KTP  ")
    records = await store.accesses_for("ADU-ACCESS000001")
    assert [(r.principal_kind, r.principal_id, r.fields, r.purpose, r.request_id) for r in records] == [
        ("officer", "PD-34", ("subject", "description"), "kunjungan rumah", "r-1"),
        ("partner", "DISDUKCAPIL", ("subject",), "penerbitan KTP", None),
    ]
    assert records[0] == first
    assert await store.accesses_for("ADU-NOSUCHCASE00") == []


@pytest.mark.parametrize(("overrides", "message"), [
    ({"purpose": "   "}, "purpose: required"),
    ({"purpose": "x" * 501}, "purpose: at most 500 characters"),
    ({"fields": []}, "fields: at least one"),
    ({"principal_kind": "robot"}, "principal_kind: 'robot'"),
    ({"complaint_id": "ADU-NOSUCHCASE00"}, "complaint_id: no case 'ADU-NOSUCHCASE00'"),
])
async def test_an_access_record_needs_a_purpose_fields_and_a_case(store, pool, overrides, message):
    if not await pool.fetchval("SELECT count(*) FROM complaints WHERE complaint_id = 'ADU-ACCESS000002'"):
        await _a_case(pool, "ADU-ACCESS000002")
    record = dict(principal_kind="officer", principal_id="KADIS", complaint_id="ADU-ACCESS000002",
                  fields=["subject"], purpose="pemeriksaan")
    record.update(overrides)
    with pytest.raises(ValueError, match=message):
        await store.record_access(**record)


@pytest.mark.parametrize("statement", [
    "UPDATE personal_data_access SET purpose = 'diubah'",
    "DELETE FROM personal_data_access",
    "TRUNCATE personal_data_access",
    "TRUNCATE complaints CASCADE",
])
async def test_the_access_record_is_append_only(store, pool, statement):
    complaint_id = f"ADU-{uuid.uuid4().hex[:12].upper()}"
    await _a_case(pool, complaint_id)
    await store.record_access(principal_kind="officer", principal_id="KADIS", complaint_id=complaint_id,
                              fields=["subject"], purpose="audit")
    count = await pool.fetchval("SELECT count(*) FROM personal_data_access")
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await pool.execute(statement)
    assert await pool.fetchval("SELECT count(*) FROM personal_data_access") == count


# ---- the door over HTTP ----

def _app(store: AccessStore, settings: ApiSettings, limiter: RateLimiter | None = None) -> FastAPI:
    app = FastAPI()
    app.state.authenticator = Authenticator(store, settings)
    app.state.rate_limiter = limiter or RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)

    @app.get("/me")
    async def me(principal: Principal = Depends(authenticate)) -> dict:
        return {"actor": principal.actor, "kind": principal.kind}

    @app.get("/limited")
    async def limited(principal: Principal = Depends(rate_limited)) -> dict:
        return {"actor": principal.actor}

    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://door")


async def test_the_door_answers_who_is_calling_or_401(store):
    good = await issue_token(store, kind="officer", subject="PD-05", settings=SETTINGS)
    gone = await issue_token(store, kind="service", subject="hotline-dinsos", channels=["hotline"], settings=SETTINGS)
    await revoke_token(store, gone.info.token_id)
    async with _client(_app(store, SETTINGS)) as client:
        by_header = await client.get("/me", headers={"Authorization": f"Bearer {good.token}"})
        client.cookies.set(SETTINGS.session_cookie, good.token)
        by_cookie = await client.get("/me")
        client.cookies.clear()
        nothing = await client.get("/me")
        revoked = await client.get("/me", headers={"Authorization": f"Bearer {gone.token}"})
        jwt_without_oidc = await client.get("/me", headers={"Authorization": "Bearer aaa.bbb.ccc"})
        basic = await client.get("/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert by_header.json() == by_cookie.json() == {"actor": "PD-05", "kind": "officer"}
    assert nothing.status_code == 401
    assert nothing.headers["www-authenticate"] == 'Bearer realm="referral"'
    assert nothing.json()["detail"].startswith("Kredensial tidak ada")
    assert revoked.status_code == 401
    assert revoked.headers["www-authenticate"].endswith('error="invalid_token", error_description="revoked"')
    assert revoked.json() == {"detail": "Token sudah dicabut."}
    assert jwt_without_oidc.json() == {"detail": "Token JWT tidak diterima: penerbit OIDC belum dikonfigurasi."}
    assert basic.status_code == 401 and "error_description=\"malformed\"" in basic.headers["www-authenticate"]


async def test_the_door_speaks_english_when_asked(store):
    english = ApiSettings(oidc_issuer=None, oidc_audience=None, language="en")
    async with _client(_app(store, english)) as client:
        response = await client.get("/me", headers={"Authorization": f"Bearer rjk_ffffffffffffffff_{'A' * 43}"})
    assert response.json() == {"detail": "Unknown token."}


async def test_each_credential_has_its_own_rate(store):
    first = await issue_token(store, kind="officer", subject="PD-06", settings=SETTINGS)
    second = await issue_token(store, kind="officer", subject="PD-06", settings=SETTINGS)
    limiter = RateLimiter(per_minute=1, burst=2)
    async with _client(_app(store, SETTINGS, limiter)) as client:
        codes = [(await client.get("/limited", headers={"Authorization": f"Bearer {first.token}"})).status_code
                 for _ in range(3)]
        other = await client.get("/limited", headers={"Authorization": f"Bearer {second.token}"})
        refused = await client.get("/limited", headers={"Authorization": f"Bearer {first.token}"})
    assert codes == [200, 200, 429]
    assert other.status_code == 200
    assert int(refused.headers["retry-after"]) >= 59
