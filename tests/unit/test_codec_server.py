"""The codec server's pure parts: who may decode, the body, per-payload decoding, CORS, the dev server flag."""

from __future__ import annotations

import base64
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from activities.store.codec_audit import record_problems
from api.principal import OfficerPrincipal, PartnerPrincipal, ServicePrincipal
from api.routes_codec import (
    PREFIX, BadBody, CodecCorsMiddleware, _codec, decode_each, may_decode, may_encode, parse_payloads, payloads_json,
    ui_origin,
)
from casework import devstack
from casework.codec import KeylessCodec, KeyringCodec, data_converter
from casework.keys import Keyring, new_key

KADIS = OfficerPrincipal(officer_id="KADIS", role="kepala_dinas")
KABID = OfficerPrincipal(officer_id="KABID-PJS", role="head_of_bidang", bidang="perlindungan_jaminan_sosial")
PENDAMPING = OfficerPrincipal(officer_id="PD-34", role="pendamping", bidang="rehabilitasi_sosial")
SERVICE = ServicePrincipal(service_id="puskesos-bengkala", channels=frozenset({"puskesos"}))
PARTNER = PartnerPrincipal(partner_code="RSJ-BALI")


@pytest.mark.parametrize("principal, decode, encode, code", [
    (KADIS, True, True, ""),
    (KABID, True, True, ""),
    (PENDAMPING, False, True, "codec.decode_role"),
    (SERVICE, False, False, "codec.officers_only"),
    (PARTNER, False, False, "codec.officers_only"),
])
def test_who_may_decode_and_encode(principal, decode, encode, code):
    decision = may_decode(principal)
    assert bool(decision) is decode and decision.code == code
    assert bool(may_encode(principal)) is encode


@pytest.mark.parametrize("url, origin", [
    ("http://localhost:8233", "http://localhost:8233"),
    ("https://Temporal.Dinsos.example/namespaces/default", "https://temporal.dinsos.example"),
])
def test_ui_origin(url, origin):
    assert ui_origin(url) == origin


def test_ui_origin_needs_an_absolute_url():
    with pytest.raises(ValueError, match="REFERRAL_UI_URL"):
        ui_origin("localhost:8233")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_the_body_is_proto_json_payloads():
    body = b'{"payloads": [{"metadata": {"encoding": "%s"}, "data": "%s"}]}' % (
        _b64(b"json/plain").encode(), _b64(b'"hi"').encode())
    [payload] = parse_payloads(body)
    assert payload.metadata["encoding"] == b"json/plain" and payload.data == b'"hi"'
    assert payloads_json([payload]) == [{"metadata": {"encoding": _b64(b"json/plain")}, "data": _b64(b'"hi"')}]
    assert parse_payloads(b"{}") == []


@pytest.mark.parametrize("body, problem", [
    (b"not json", "not JSON"), (b"[]", "payloads: a list"), (b'{"payloads": 3}', "payloads: a list"),
    (b'{"payloads": [{"nonsense": 1}]}', "nonsense"),
])
def test_a_bad_body_is_named(body, problem):
    with pytest.raises(BadBody, match=problem):
        parse_payloads(body)


async def test_decode_each_decrypts_what_it_can_and_names_the_rest():
    ring = Keyring((new_key("k1"),), "test")
    converter = data_converter(KeyringCodec(ring))
    case = {"complaint_id": "ADU-0123456789AB", "subject": {"name": "Zzyzx"}}
    encrypted = await converter.encode([case, "a summary", {"complaint_id": "not-a-case-id"}])
    foreign = (await data_converter(KeyringCodec(Keyring((new_key("k0"),), "other"))).encode([case]))[0]
    decoded = decode_each(converter.payload_codec, [*encrypted, foreign])
    assert decoded.decrypted == 2 and decoded.key_ids == {"k1"}
    assert decoded.complaint_ids == {"ADU-0123456789AB"}  # only well-formed case ids are recorded
    assert decoded.payloads[:3] == converter.payload_converter.to_payloads(
        [case, "a summary", {"complaint_id": "not-a-case-id"}])
    assert decoded.payloads[3] == foreign  # left as it came
    assert decoded.problems == [decoded.problems[0]] and "payloads[3]" in decoded.problems[0]
    assert "'k0'" in decoded.problems[0] and "Zzyzx" not in decoded.problems[0]


def test_audit_record_problems_name_each_field():
    problems = record_problems(principal_kind="robot", principal_id="", namespace="n" * 300, payload_count=1,
                               decrypted_count=2, key_ids=["ok", "bad id"], complaint_ids=[], origin=None,
                               request_id="r" * 200)
    joined = "; ".join(problems)
    for field in ("principal_kind", "principal_id", "namespace", "decrypted_count", "key_ids", "request_id"):
        assert field in joined


def _cors_app() -> TestClient:
    app = FastAPI()

    @app.post(PREFIX + "/decode")
    async def decode() -> dict:
        return {"payloads": []}

    @app.post("/v1/other")
    async def other() -> dict:
        return {}

    app.add_middleware(CodecCorsMiddleware, origin="http://localhost:8233")
    return TestClient(app)


def test_cors_lets_the_web_ui_preflight_with_credentials_and_its_headers():
    client = _cors_app()
    answer = client.options(PREFIX + "/decode", headers={
        "Origin": "http://localhost:8233", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace"})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "http://localhost:8233"
    assert answer.headers["access-control-allow-credentials"] == "true"
    allowed = answer.headers["access-control-allow-headers"].lower()
    assert all(h in allowed for h in ("authorization", "content-type", "x-namespace"))
    posted = client.post(PREFIX + "/decode", headers={"Origin": "http://localhost:8233"})
    assert posted.headers["access-control-allow-origin"] == "http://localhost:8233"


def test_cors_refuses_other_origins_and_other_paths():
    client = _cors_app()
    other_origin = client.options(PREFIX + "/decode", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert other_origin.status_code == 400 and "access-control-allow-origin" not in other_origin.headers
    elsewhere = client.post("/v1/other", headers={"Origin": "http://localhost:8233"})
    assert "access-control-allow-origin" not in elsewhere.headers


def test_the_dev_server_points_its_ui_at_the_codec_server(tmp_path: Path):
    endpoint = devstack.codec_endpoint("http://localhost:8000/")
    assert endpoint == "http://localhost:8000/codec"
    command = devstack.dev_server_command("temporal", tmp_path, 7233, 8233, endpoint)
    assert command[command.index("--ui-codec-endpoint") + 1] == "http://localhost:8000/codec"
    assert "--ui-codec-endpoint" not in devstack.dev_server_command("temporal", tmp_path, 7233, 8233, None)


def test_a_keyless_codec_is_not_a_codec_server():
    """A process connected with codec=False holds no keys: its codec routes answer 503."""
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(payload_codec=KeylessCodec())))
    assert _codec(request) is None  # type: ignore[arg-type]
    keyed = KeyringCodec(Keyring((new_key("k1"),), "test"))
    request.app.state.payload_codec = keyed
    assert _codec(request) is keyed  # type: ignore[arg-type]
