"""OIDC bearer JWTs against a real local issuer: discovery and JWKS served over HTTP by the test,
keys generated in the test, officers looked up on the sample roster in Postgres."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, AsyncIterator, Iterator

import asyncpg
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, FastAPI
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from activities.store.access import AccessStore
from api.auth import Authenticator, authenticate
from api.oidc import OidcVerifier
from api.principal import (
    IdentityProviderUnavailable, OfficerPrincipal, PartnerPrincipal, Principal, ServicePrincipal, Unauthenticated,
)
from api.settings import ApiSettings

AUDIENCE = "referral-api"


class Issuer:
    """A tiny identity provider: discovery document and JWKS over real HTTP, keys made here."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.keys: list[dict[str, Any]] = [self._jwk(self.rsa, "rsa-1"), self._jwk(self.ec, "ec-1")]
        self.hits: Counter[str] = Counter()
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                issuer.hits[self.path] += 1
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks"}
                elif self.path == "/jwks":
                    body = {"keys": list(issuer.keys)}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def _jwk(key: Any, kid: str) -> dict[str, Any]:
        algorithm = RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else ECAlgorithm
        jwk = algorithm.to_jwk(key.public_key(), as_dict=True)
        return {**jwk, "kid": kid, "use": "sig", "alg": "RS256" if algorithm is RSAAlgorithm else "ES256"}

    def token(self, claims: dict[str, Any] | None = None, *, key: Any = None, kid: str = "rsa-1",
              alg: str = "RS256", drop: tuple[str, ...] = ()) -> str:
        now = int(time.time())
        body = {"iss": self.url, "aud": AUDIENCE, "iat": now, "exp": now + 300, "sub": "f3a1",
                "preferred_username": "pd-01", **(claims or {})}
        for name in drop:
            body.pop(name, None)
        return jwt.encode(body, key or self.rsa, algorithm=alg, headers={"kid": kid})


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    issuer = Issuer()
    issuer.thread.start()
    try:
        yield issuer
    finally:
        issuer.server.shutdown()
        issuer.server.server_close()
        issuer.thread.join(timeout=5)


@pytest.fixture(scope="module")
async def officers(db_url: str) -> AsyncIterator[AccessStore]:
    pool = await asyncpg.create_pool(db_url, min_size=1, max_size=2)
    try:
        yield AccessStore(pool)
    finally:
        await pool.close()


def _settings(issuer: Issuer, **overrides: Any) -> ApiSettings:
    values = dict(oidc_issuer=issuer.url, oidc_audience=AUDIENCE, oidc_jwks_url=None,
                  oidc_jwks_refresh_cooldown_seconds=0)
    values.update(overrides)
    return ApiSettings(**values)


@pytest.fixture
def verifier(issuer: Issuer, officers: AccessStore) -> OidcVerifier:
    return OidcVerifier(_settings(issuer), officers)


async def _reason(verifier: OidcVerifier, token: str) -> str:
    with pytest.raises(Unauthenticated) as info:
        await verifier.principal(token)
    return info.value.reason


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_a_valid_token_names_an_officer_on_the_roster(issuer, verifier):
    issuer.hits.clear()
    principal = await verifier.principal(issuer.token())  # "pd-01": the IdP lower-cased the user name
    assert principal == OfficerPrincipal(officer_id="PD-01", role="pendamping", bidang="perlindungan_jaminan_sosial")
    assert principal.rate_key == "officer:PD-01"
    head = await verifier.principal(issuer.token({"preferred_username": "KABID-REHSOS"}, key=issuer.ec,
                                                 kid="ec-1", alg="ES256"))
    assert (head.officer_id, head.role, head.bidang) == ("KABID-REHSOS", "head_of_bidang", "rehabilitasi_sosial")
    # Discovery once, the JWKS once: the second token was verified from the cache.
    assert issuer.hits == {"/.well-known/openid-configuration": 1, "/jwks": 1}


async def test_the_officer_claim_is_configurable(issuer, officers):
    verifier = OidcVerifier(_settings(issuer, oidc_officer_claim="nip"), officers)
    principal = await verifier.principal(issuer.token({"nip": "KADIS", "preferred_username": "someone"}))
    assert (principal.officer_id, principal.role) == ("KADIS", "kepala_dinas")


async def test_a_configured_jwks_url_skips_discovery(issuer, officers):
    issuer.hits.clear()
    verifier = OidcVerifier(_settings(issuer, oidc_jwks_url=f"{issuer.url}/jwks"), officers)
    assert (await verifier.principal(issuer.token())).officer_id == "PD-01"
    assert "/.well-known/openid-configuration" not in issuer.hits


@pytest.mark.parametrize(("claims", "drop", "reason"), [
    ({"iss": "https://evil.example"}, (), "wrong_issuer"),
    ({"aud": "another-api"}, (), "wrong_audience"),
    ({"exp": int(time.time()) - 120}, (), "expired"),
    ({"nbf": int(time.time()) + 600}, (), "not_yet_valid"),
    ({}, ("exp",), "missing_claim"),
    ({}, ("aud",), "missing_claim"),
    ({"preferred_username": "PD-99"}, (), "unknown_officer"),
    ({}, ("preferred_username",), "missing_claim"),
])
async def test_bad_claims_are_refused(issuer, verifier, claims, drop, reason):
    assert await _reason(verifier, issuer.token(claims, drop=drop)) == reason


async def test_a_little_clock_skew_is_tolerated(issuer, verifier):
    token = issuer.token({"exp": int(time.time()) - 10})  # within the 30 s leeway
    assert (await verifier.principal(token)).officer_id == "PD-01"


async def test_an_unknown_key_is_refused_after_one_refresh(issuer, verifier):
    await verifier.principal(issuer.token())  # JWKS cached
    issuer.hits.clear()
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert await _reason(verifier, issuer.token(key=stranger, kid="stranger")) == "unknown_key"
    assert issuer.hits["/jwks"] == 1  # the unknown kid made it look again, once
    # A key the issuer does publish, under the wrong kid: the signature does not match.
    assert await _reason(verifier, issuer.token(key=stranger, kid="rsa-1")) == "bad_signature"


async def test_a_rotated_key_is_picked_up_on_its_first_token(issuer, verifier):
    await verifier.principal(issuer.token())
    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer.keys.append(Issuer._jwk(rotated, "rsa-2"))
    try:
        assert (await verifier.principal(issuer.token(key=rotated, kid="rsa-2"))).officer_id == "PD-01"
    finally:
        issuer.keys.pop()


async def test_the_refresh_cooldown_stops_a_flood_of_unknown_kids(issuer, officers):
    verifier = OidcVerifier(_settings(issuer, oidc_jwks_refresh_cooldown_seconds=60), officers)
    await verifier.principal(issuer.token())
    issuer.hits.clear()
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for n in range(5):
        assert await _reason(verifier, issuer.token(key=stranger, kid=f"random-{n}")) == "unknown_key"
    assert issuer.hits["/jwks"] == 0


async def test_alg_confusion_hs256_signed_with_the_public_key_is_refused(issuer, verifier):
    public_pem = issuer.rsa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode())
    payload = _b64(json.dumps({"iss": issuer.url, "aud": AUDIENCE, "exp": now + 300, "iat": now,
                               "preferred_username": "KADIS"}).encode())
    signature = _b64(hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    assert await _reason(verifier, f"{header}.{payload}.{signature}") == "disallowed_algorithm"


async def test_alg_none_and_a_mismatched_key_type_are_refused(issuer, verifier):
    unsigned = jwt.encode({"iss": issuer.url, "aud": AUDIENCE, "exp": int(time.time()) + 300,
                           "preferred_username": "KADIS"}, key=None, algorithm="none", headers={"kid": "rsa-1"})
    assert await _reason(verifier, unsigned) == "disallowed_algorithm"
    # An ES256 header pointing at the RSA key: the key decides its algorithm, not the header.
    assert await _reason(verifier, issuer.token(key=issuer.ec, kid="rsa-1", alg="ES256")) == "disallowed_algorithm"


async def test_a_tampered_payload_is_refused(issuer, verifier):
    header, payload, signature = issuer.token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = _b64(json.dumps({**claims, "preferred_username": "KADIS"}).encode())
    assert await _reason(verifier, f"{header}.{forged}.{signature}") == "bad_signature"
    assert await _reason(verifier, "not.a.jwt") == "malformed"


async def test_systems_are_named_by_their_own_claims(issuer, verifier):
    service = await verifier.principal(issuer.token({
        "referral_service": "lapor-bridge", "referral_channels": ["lapor"],
        "preferred_username": "service-account-lapor-bridge",  # ignored: the system claim wins
    }))
    assert service == ServicePrincipal(service_id="lapor-bridge", channels=frozenset({"lapor"}))
    scoped = await verifier.principal(issuer.token({
        "referral_service": "puskesos-sawan", "referral_channels": ["puskesos"],
        "referral_villages": ["51.08.07.2001"],
    }))
    assert scoped.villages == frozenset({"51.08.07.2001"})
    partner = await verifier.principal(issuer.token({"referral_partner": "RSJ-BALI"}))
    assert partner == PartnerPrincipal(partner_code="RSJ-BALI")


@pytest.mark.parametrize("claims", [
    {"referral_service": "lapor-bridge"},  # no channels
    {"referral_service": "lapor-bridge", "referral_channels": ["fax"]},
    {"referral_service": "lapor-bridge", "referral_channels": "lapor"},
    {"referral_service": "puskesos-x", "referral_channels": ["puskesos"], "referral_villages": ["51.08.99.9999"]},
    {"referral_service": "has space", "referral_channels": ["lapor"]},
    {"referral_service": "lapor-bridge", "referral_channels": ["lapor"], "referral_partner": "RSJ-BALI"},
    {"referral_partner": ["RSJ-BALI"]},
])
async def test_bad_system_claims_are_refused(issuer, verifier, claims):
    assert await _reason(verifier, issuer.token(claims)) == "bad_claims"


async def test_an_unreachable_issuer_is_unavailable_not_unauthenticated(officers):
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        url = f"http://127.0.0.1:{closed.server_port}"
    verifier = OidcVerifier(ApiSettings(oidc_issuer=url, oidc_audience=AUDIENCE, oidc_http_timeout_seconds=2),
                            officers)
    token = jwt.encode({"iss": url, "aud": AUDIENCE}, rsa.generate_private_key(public_exponent=65537, key_size=2048),
                       algorithm="RS256", headers={"kid": "k"})
    with pytest.raises(IdentityProviderUnavailable):
        await verifier.principal(token)


async def test_the_door_takes_a_jwt_by_its_shape(issuer, officers):
    settings = _settings(issuer)
    app = FastAPI()
    app.state.authenticator = Authenticator(officers, settings)

    @app.get("/me")
    async def me(principal: Principal = Depends(authenticate)) -> dict:
        return {"actor": principal.actor}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://door") as client:
        ok = await client.get("/me", headers={"Authorization": f"Bearer {issuer.token()}"})
        wrong = await client.get("/me", headers={"Authorization": f"Bearer {issuer.token({'aud': 'x'})}"})
    assert ok.json() == {"actor": "PD-01"}
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "Token tidak ditujukan untuk layanan ini."}
    assert 'error_description="wrong_audience"' in wrong.headers["www-authenticate"]
