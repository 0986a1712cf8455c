"""The codec server inside the API (POST /codec/decode, /codec/encode): who may decode, and the record of it.

The real API under uvicorn with the real authenticator and PostgreSQL; the payloads are what a case's
history holds (encrypted by the API's own client codec).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, AsyncIterator

import asyncpg
import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload

from activities.store.access import AccessStore
from activities.store.codec_audit import CodecAuditStore
from api.server import serve
from casework.codec import KeyringCodec, data_converter, is_encrypted, key_id_of
from casework.keys import Keyring, new_key
from casework.tokens_cli import issue
from referral.config import Settings
from tests.integration.test_api_stack import api_settings
from tests.integration.test_codec_history import codec_client

UI = "http://localhost:8233"
CASE = {"complaint_id": "ADU-0123456789AB", "subject": {"name": "Zzyzx Servertest", "nik": "5108081507800042"}}
SUMMARY = "Penyandang Disabilitas · Desa Bengkala"


class Door:
    def __init__(self, url: str, client, store, settings) -> None:
        self.url, self.client, self.store, self.settings = url, client, store, settings
        self.tokens: dict[tuple[str, str], str] = {}

    async def token(self, kind: str, subject: str, **scope: Any) -> str:
        if (kind, subject) not in self.tokens:
            issued = await issue(AccessStore(self.store.pool), kind, subject, settings=self.settings, **scope)
            self.tokens[(kind, subject)] = issued.token
        return self.tokens[(kind, subject)]

    async def bearer(self, kind: str, subject: str, **scope: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(kind, subject, **scope)}"}

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=30)


@pytest.fixture(scope="module")
async def door(dev_env, db) -> AsyncIterator[Door]:
    client = await codec_client(dev_env, Keyring((new_key("k1"),), "codec server test"))
    settings = api_settings()
    async with serve(settings, db, client, config=replace(Settings(), ui_url=UI), host="127.0.0.1", port=0) as api:
        yield Door(api.url, client, db, settings)


async def encrypted_body(door: Door) -> dict[str, Any]:
    payloads = await door.client.data_converter.encode([CASE, SUMMARY])
    assert is_encrypted(payloads[0]) and not is_encrypted(payloads[1])
    return {"payloads": [json_format.MessageToDict(p) for p in payloads]}


def parsed(answer: httpx.Response) -> list[Payload]:
    return [json_format.ParseDict(p, Payload()) for p in answer.json()["payloads"]]


def _plain_texts(payloads: list[Payload]) -> bytes:
    return b"\n".join(p.data for p in payloads)


async def test_no_credential_is_401_and_the_ciphertext_comes_back(door: Door):
    body = await encrypted_body(door)
    async with door.http() as http:
        answer = await http.post("/codec/decode", json=body, headers={"X-Namespace": "default"})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["payloads"] == body["payloads"]  # still encrypted: the UI shows ciphertext
    assert b"Zzyzx" not in answer.content


@pytest.mark.parametrize("kind, subject, scope", [
    ("officer", "PD-34", {}),
    ("service", "puskesos-bengkala", {"channels": ["puskesos"]}),
    ("partner", "RSJ-BALI", {}),
])
async def test_a_pendamping_a_service_or_a_partner_is_403_and_the_refusal_is_recorded(door: Door, kind, subject,
                                                                                         scope):
    body = await encrypted_body(door)
    async with door.http() as http:
        answer = await http.post("/codec/decode", json=body,
                                 headers={**await door.bearer(kind, subject, **scope), "X-Namespace": "default"})
    assert answer.status_code == 403, answer.text
    assert answer.json()["payloads"] == body["payloads"] and b"Zzyzx" not in answer.content
    [record] = await CodecAuditStore(door.store.pool).recent(principal_id=subject, limit=1)
    assert (record.principal_kind, record.allowed, record.payload_count, record.decrypted_count) == (kind, False, 2, 0)
    assert record.request_id == answer.headers["x-request-id"]


@pytest.mark.parametrize("officer", ["KADIS", "KABID-PJS"])
async def test_the_kepala_dinas_and_a_head_of_bidang_decode_and_each_decode_is_recorded(door: Door, officer):
    body = await encrypted_body(door)
    async with door.http() as http:
        answer = await http.post("/codec/decode", json=body, headers={
            **await door.bearer("officer", officer), "X-Namespace": "default", "Origin": UI})
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == UI
    assert answer.headers["cache-control"] == "no-store"
    assert parsed(answer) == door.client.data_converter.payload_converter.to_payloads([CASE, SUMMARY])
    [record] = await CodecAuditStore(door.store.pool).recent(principal_id=officer, limit=1)
    assert record.allowed and record.principal_kind == "officer"
    assert record.role == ("kepala_dinas" if officer == "KADIS" else "head_of_bidang")
    assert (record.namespace, record.payload_count, record.decrypted_count) == ("default", 2, 1)
    assert record.key_ids == ("k1",) and record.complaint_ids == ("ADU-0123456789AB",) and record.origin == UI
    assert "Zzyzx" not in repr(record)  # never the data


async def test_the_worklist_session_cookie_is_a_credential_too(door: Door):
    """The dev path: signed in at /masuk, the UI sends the cookie with `includeCredentials`."""
    body = await encrypted_body(door)
    async with door.http() as http:
        http.cookies.set(door.settings.session_cookie, await door.token("officer", "KADIS"))
        answer = await http.post("/codec/decode", json=body)
    assert answer.status_code == 200 and b"Zzyzx Servertest" in _plain_texts(parsed(answer))


async def test_a_payload_under_an_unknown_key_comes_back_as_it_was_and_is_named(door: Door):
    foreign = await data_converter(KeyringCodec(Keyring((new_key("k0"),), "another office"))).encode([CASE])
    body = {"payloads": [json_format.MessageToDict(p) for p in foreign]}
    async with door.http() as http:
        answer = await http.post("/codec/decode", json=body, headers=await door.bearer("officer", "KADIS"))
    assert answer.status_code == 200
    assert answer.json()["payloads"] == body["payloads"]
    assert answer.json()["problems"] == [answer.json()["problems"][0]] and "'k0'" in answer.json()["problems"][0]


async def test_any_officer_encodes_under_the_newest_key(door: Door):
    plain = door.client.data_converter.payload_converter.to_payloads([CASE, SUMMARY])
    body = {"payloads": [json_format.MessageToDict(p) for p in plain]}
    async with door.http() as http:
        answer = await http.post("/codec/encode", json=body, headers=await door.bearer("officer", "PD-34"))
        assert answer.status_code == 200
        encoded = parsed(answer)
        assert key_id_of(encoded[0]) == "k1" and encoded[1] == plain[1]  # the summary stays clear
        assert await door.client.data_converter.payload_codec.decode(encoded) == plain
        service = await http.post("/codec/encode", json=body,
                                  headers=await door.bearer("service", "puskesos-bengkala", channels=["puskesos"]))
    assert service.status_code == 403


@pytest.mark.parametrize("content, headers, status", [
    (b'{"payloads": []}', {"Content-Type": "text/plain"}, 415),
    (b"{not json", {"Content-Type": "application/json"}, 400),
    (b'{"payloads": [{"metadata": 5}]}', {"Content-Type": "application/json"}, 400),
])
async def test_bad_requests_are_named(door: Door, content, headers, status):
    async with door.http() as http:
        answer = await http.post("/codec/decode", content=content,
                                 headers={**headers, **await door.bearer("officer", "KADIS")})
    assert answer.status_code == status and answer.json()["detail"]


async def test_no_credential_is_401_before_the_body_is_judged(door: Door):
    async with door.http() as http:
        answer = await http.post("/codec/decode", content=b"x", headers={"Content-Type": "text/plain"})
    assert answer.status_code == 401 and "payloads" not in answer.json()


async def test_the_web_ui_may_preflight_and_other_origins_may_not(door: Door):
    async with door.http() as http:
        ok = await http.options("/codec/decode", headers={
            "Origin": UI, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace"})
        evil = await http.options("/codec/decode", headers={
            "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
        elsewhere = await http.get("/openapi.json", headers={"Origin": UI})
    assert ok.status_code == 200 and ok.headers["access-control-allow-credentials"] == "true"
    assert evil.status_code == 400 and "access-control-allow-origin" not in evil.headers
    assert "access-control-allow-origin" not in elsewhere.headers  # CORS is for /codec only


async def test_the_record_is_append_only(door: Door):
    async with door.http() as http:
        await http.post("/codec/decode", json=await encrypted_body(door), headers=await door.bearer("officer", "KADIS"))
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await door.store.pool.execute("UPDATE codec_access SET allowed = false")
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await door.store.pool.execute("DELETE FROM codec_access")
