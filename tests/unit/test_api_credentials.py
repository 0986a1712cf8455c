"""The pure parts of credentials: token shape and hashing, issue-request checks, telling credentials
apart, the 401 challenge, and the door's settings."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from pydantic import ValidationError

from api.auth import credential_from, credential_kind, unauthorized
from api.principal import Unauthenticated
from api.settings import ApiSettings
from api.tokens import hash_secret, parse_token, request_problems

SECRET = "A" * 43
TOKEN = f"rjk_0123456789abcdef_{SECRET}"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"


def test_a_token_splits_into_its_id_and_secret():
    assert parse_token(TOKEN) == ("0123456789abcdef", SECRET)
    assert parse_token("rjk_0123456789abcdef_a_b-c" + "x" * 40)[1] == "a_b-c" + "x" * 40  # '_' inside the secret


@pytest.mark.parametrize("raw", [
    "", "rjk_", "rjk_0123456789abcdef", f"rjk_0123456789ABCDEF_{SECRET}", f"rjk_0123456789abcde_{SECRET}",
    "rjk_0123456789abcdef_short", f"xyz_0123456789abcdef_{SECRET}", f"rjk_0123456789abcdef_{SECRET}=",
    f" {TOKEN}",
])
def test_malformed_tokens_are_refused_as_malformed(raw):
    with pytest.raises(Unauthenticated) as info:
        parse_token(raw)
    assert info.value.reason == "malformed"


def test_only_a_sha256_of_the_secret_is_kept():
    assert hash_secret(SECRET) == hashlib.sha256(SECRET.encode()).digest()
    assert len(hash_secret(SECRET)) == 32


def _problems(**overrides):
    request = dict(kind="service", subject="puskesos-sawan", expires_in=timedelta(days=30), channels=["puskesos"],
                   villages=["51.08.07.2001"], label="", settings=ApiSettings())
    request.update(overrides)
    return request_problems(**request)


@pytest.mark.parametrize(("overrides", "expected"), [
    ({}, []),
    ({"kind": "officer", "subject": "PD-01", "channels": [], "villages": []}, []),
    ({"kind": "partner", "subject": "RSJ-BALI", "channels": [], "villages": []}, []),
    ({"kind": "robot"}, ["kind: 'robot' is not one of officer, service, partner"]),
    ({"subject": ""}, ["subject: required (officer id, service id or partner code)"]),
    ({"subject": "puskesos sawan"}, ["subject: 'puskesos sawan' is not a valid service id"]),
    ({"expires_in": timedelta(seconds=-1)}, ["expires_in: the expiry must be in the future"]),
    ({"expires_in": timedelta(0)}, ["expires_in: the expiry must be in the future"]),
    ({"expires_in": timedelta(days=366)}, ["expires_in: at most 365 days (REFERRAL_TOKEN_MAX_DAYS)"]),
    ({"channels": []}, ["channels: a service token needs at least one channel"]),
    ({"channels": ["puskesos", "fax"]}, ["channels: unknown channel 'fax'"]),
    ({"villages": ["51.08.99.9999"]}, ["villages: unknown village code '51.08.99.9999'"]),
    ({"kind": "partner", "subject": "RSJ-BALI", "villages": []},
     ["channels/villages: only a service token has them, not a partner token"]),
    ({"label": "x" * 201}, ["label: at most 200 characters, got 201"]),
])
def test_issue_requests_name_every_bad_field(overrides, expected):
    problems = _problems(**overrides)
    assert len(problems) == len(expected)
    for problem, start in zip(problems, expected):
        assert problem.startswith(start)


@pytest.mark.parametrize(("authorization", "cookie", "expected"), [
    (f"Bearer {TOKEN}", None, (TOKEN, "header")),
    (f"bearer   {TOKEN}  ", None, (TOKEN, "header")),
    (None, TOKEN, (TOKEN, "cookie")),
    (f"Bearer {JWT}", TOKEN, (JWT, "header")),  # the header wins
    ("", JWT, (JWT, "cookie")),
])
def test_the_credential_comes_from_the_header_else_the_cookie(authorization, cookie, expected):
    assert credential_from(authorization, cookie) == expected


@pytest.mark.parametrize(("authorization", "cookie", "reason"), [
    (None, None, "missing"),
    (None, "", "missing"),
    ("Basic dXNlcjpwYXNz", TOKEN, "malformed"),  # a wrong header is refused, not skipped for the cookie
    ("Bearer", None, "malformed"),
    ("Bearer a b", None, "malformed"),
])
def test_missing_or_wrong_headers(authorization, cookie, reason):
    with pytest.raises(Unauthenticated) as info:
        credential_from(authorization, cookie)
    assert info.value.reason == reason


@pytest.mark.parametrize(("raw", "kind"), [
    (TOKEN, "api_token"),
    ("rjk_nonsense", "api_token"),  # the token check then calls it malformed
    (JWT, "jwt"),
    ("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "jwt"),  # alg none: a JWT, refused by the verifier
])
def test_credentials_are_told_apart_by_shape(raw, kind):
    assert credential_kind(raw) == kind


@pytest.mark.parametrize("raw", ["hunter2", "a.b", "a.b.c.d", "x" * 9000, "a.b.c d"])
def test_other_shapes_are_malformed(raw):
    with pytest.raises(Unauthenticated) as info:
        credential_kind(raw)
    assert info.value.reason == "malformed"


def test_401_challenges_follow_rfc_6750():
    missing = unauthorized("missing")
    assert missing.status_code == 401
    assert missing.headers == {"WWW-Authenticate": 'Bearer realm="referral"'}
    assert missing.detail.startswith("Kredensial tidak ada")
    revoked = unauthorized("revoked", "en")
    assert revoked.headers["WWW-Authenticate"] == (
        'Bearer realm="referral", error="invalid_token", error_description="revoked"'
    )
    assert revoked.detail == "The token has been revoked."


def test_unauthenticated_knows_only_its_reasons():
    with pytest.raises(ValueError):
        Unauthenticated("because")


def test_settings_defaults(monkeypatch):
    for name in ("OIDC_ISSUER", "OIDC_AUDIENCE", "OIDC_ALGORITHMS", "TOKEN_DEFAULT_DAYS", "LANGUAGE"):
        monkeypatch.delenv(f"REFERRAL_{name}", raising=False)
    settings = ApiSettings()
    assert settings.oidc_enabled is False
    assert settings.oidc_algorithms == ("RS256", "ES256")
    assert (settings.token_default_days, settings.token_max_days) == (90, 365)
    assert settings.oidc_officer_claim == "preferred_username"


def test_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("REFERRAL_OIDC_ISSUER", "https://sso.bulelengkab.example/realms/dinsos")
    monkeypatch.setenv("REFERRAL_OIDC_AUDIENCE", "referral-api")
    monkeypatch.setenv("REFERRAL_OIDC_ALGORITHMS", "RS256, PS256")
    monkeypatch.setenv("REFERRAL_RATE_LIMIT_BURST", "5")
    settings = ApiSettings()
    assert settings.oidc_enabled
    assert settings.oidc_algorithms == ("RS256", "PS256")
    assert settings.rate_limit_burst == 5


@pytest.mark.parametrize(("env", "message"), [
    ({"REFERRAL_OIDC_ALGORITHMS": "RS256,HS256"}, "HS256 not allowed"),
    ({"REFERRAL_OIDC_ALGORITHMS": "none"}, "none not allowed"),
    ({"REFERRAL_OIDC_ISSUER": "https://sso.example"}, "REFERRAL_OIDC_AUDIENCE is required"),
    ({"REFERRAL_TOKEN_DEFAULT_DAYS": "400"}, "exceeds REFERRAL_TOKEN_MAX_DAYS"),
])
def test_unsafe_settings_are_refused(monkeypatch, env, message):
    monkeypatch.delenv("REFERRAL_OIDC_AUDIENCE", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message):
        ApiSettings()
