"""The API server itself, on the dev stack: it starts inside the running event loop on a free port,
serves OpenAPI, echoes request ids, and answers 503 (not a traceback) when Temporal or PostgreSQL is
down. The helpers here (`api_stack`, `Stack`) are shared by the other test_api_* modules.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any, AsyncIterator, Awaitable, Callable, TypeVar

import httpx
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from activities.store import Store, open_store
from activities.store.access import AccessStore
from api.server import bind, serve
from api.settings import ApiSettings
from casework.tokens_cli import issue
from referral.config import Settings
from tests.conftest import make_intake, running_worker, task_queue

T = TypeVar("T")
BENGKALA = "51.08.08.2010"


def api_settings(**overrides: Any) -> ApiSettings:
    """Settings independent of the environment the tests run in."""
    values: dict[str, Any] = dict(oidc_issuer=None, oidc_audience=None, language="id", rate_limit_per_minute=6000,
                                  rate_limit_burst=1000, csrf_secret="test-csrf-secret-0123456789")
    values.update(overrides)
    return ApiSettings(**values)


@dataclass
class Stack:
    """A running worker on its own task queue and the API in front of it."""

    url: str
    client: Client
    store: Store
    queue: str
    settings: ApiSettings
    _tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    async def token(self, kind: str, subject: str, **scope: Any) -> str:
        """An API token issued with the CLI's function (cached per kind, subject and scope)."""
        key = (kind, f"{subject}|{sorted(scope.items())}")
        if key not in self._tokens:
            issued = await issue(AccessStore(self.store.pool), kind, subject, settings=self.settings, **scope)
            self._tokens[key] = issued.token
        return self._tokens[key]

    async def officer(self, officer_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token('officer', officer_id)}"}

    async def service(self, service_id: str = "puskesos-bengkala", channels: tuple[str, ...] = ("puskesos",),
                      villages: tuple[str, ...] = ()) -> dict[str, str]:
        token = await self.token("service", service_id, channels=channels, villages=villages)
        return {"Authorization": f"Bearer {token}"}

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=60, follow_redirects=False)


@asynccontextmanager
async def api_stack(client: Client, store: Store, workflow_cache: int | None = None,
                    **overrides: Any) -> AsyncIterator[Stack]:
    """The API over a worker of its own; `workflow_cache` for tests of many cases at once (see running_worker)."""
    queue = task_queue()
    settings = api_settings(**overrides)
    async with running_worker(client, store, queue, workflow_cache=workflow_cache):
        async with serve(settings, store, client, config=replace(Settings(), task_queue=queue),
                         host="127.0.0.1", port=0) as running:
            yield Stack(url=running.url, client=client, store=store, queue=queue, settings=settings)


def intake_json(**overrides: Any) -> dict[str, Any]:
    """A Bengkala disability complaint as a service sends it, with its own unique reference."""
    overrides.setdefault("external_ref", f"ref-{uuid.uuid4().hex[:10]}")
    return make_intake(**overrides).model_dump(mode="json", exclude_none=True)


async def eventually(check: Callable[[], Awaitable[T | None]], within: float = 20.0, what: str = "") -> T:
    """Poll until `check` returns something truthy (visibility lags a moment behind the workflow)."""
    deadline = time.monotonic() + within
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"not within {within}s: {what}")
        await asyncio.sleep(0.25)


async def submitted_case(stack: Stack, **overrides: Any) -> dict[str, Any]:
    """Submit through the API as the Bengkala Puskesos; the receipt."""
    async with stack.http() as http:
        response = await http.post("/v1/complaints", json=intake_json(**overrides), headers=await stack.service())
    assert response.status_code == 201, response.text
    return response.json()


# ---- the server itself ----

@pytest.fixture(scope="module")
async def stack(dev_env, db) -> AsyncIterator[Stack]:
    async with api_stack(dev_env.client, db) as running:
        yield running


async def test_the_server_runs_in_the_loop_on_a_free_port_and_serves_openapi(stack: Stack):
    async with stack.http() as http:
        response = await http.get("/openapi.json", headers={"X-Request-ID": "test-req-1"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "test-req-1"
    document = response.json()
    paths = document["paths"]
    for path in ("/v1/complaints", "/v1/complaints/{complaint_id}", "/v1/complaints/{complaint_id}/person",
                 "/v1/complaints/{complaint_id}/accesses", "/v1/me/cases",
                 "/v1/complaints/{complaint_id}/actions/acknowledge",
                 "/v1/complaints/{complaint_id}/actions/change_policy"):
        assert path in paths, path
    intake = document["components"]["schemas"]["ComplaintIntake"]
    assert {"channel", "reporter", "subject", "village_code"} <= set(intake["properties"])
    body = paths["/v1/complaints/{complaint_id}/actions/reassign"]["post"]["requestBody"]["content"]
    reassign = document["components"]["schemas"][body["application/json"]["schema"]["anyOf"][0]["$ref"].split("/")[-1]]
    assert "pendamping_id" in reassign["properties"] and "actor" not in reassign["properties"]


async def test_a_port_in_use_is_a_clear_error(stack: Stack):
    port = int(stack.url.rsplit(":", 1)[1])
    with pytest.raises(OSError, match="cannot listen on 127.0.0.1"):
        bind("127.0.0.1", port)


async def test_temporal_down_is_a_503_not_a_traceback(db):
    # A lazy client to a port where nothing listens: every Temporal call fails at once.
    client = await Client.connect("127.0.0.1:9", data_converter=pydantic_data_converter, lazy=True)
    settings = api_settings()
    async with serve(settings, db, client, host="127.0.0.1", port=0) as running:
        issued = await issue(AccessStore(db.pool), "officer", "PD-34", settings=settings)
        headers = {"Authorization": f"Bearer {issued.token}"}
        async with httpx.AsyncClient(base_url=running.url, timeout=30) as http:
            case = await http.get("/v1/complaints/ADU-0123456789AB", headers=headers)
            mine = await http.get("/v1/me/cases", headers=headers)
            submitted = await http.post("/v1/complaints", json=intake_json(), headers=headers)
            page = await http.get("/kasus", headers=headers)
    for response in (case, mine, submitted):
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "10"
        assert response.json() == {"detail": "Mesin alur kerja (Temporal) tidak dapat dihubungi; coba lagi sebentar lagi."}
    assert page.status_code == 503 and "Temporal" in page.text and "Traceback" not in page.text


async def test_postgres_down_is_a_503_not_a_traceback(dev_env, unused_tcp_port):
    # No connection is made at start (min_size=0); the first request finds nothing listening.
    async with open_store(f"postgresql://postgres@127.0.0.1:{unused_tcp_port}/none", min_size=0) as store:
        async with serve(api_settings(), store, dev_env.client, host="127.0.0.1", port=0) as running:
            token = "rjk_0123456789abcdef_" + "A" * 43
            async with httpx.AsyncClient(base_url=running.url, timeout=30) as http:
                api = await http.get("/v1/me/cases", headers={"Authorization": f"Bearer {token}"})
            async with httpx.AsyncClient(base_url=running.url, timeout=30, cookies={"referral_session": token}) as http:
                page = await http.get("/kasus")
    assert api.status_code == 503
    assert api.json() == {"detail": "Basis data (PostgreSQL) tidak dapat dihubungi; coba lagi sebentar lagi."}
    assert page.status_code == 503 and "PostgreSQL" in page.text


async def test_request_log_lines_are_json_without_query_strings_or_personal_data(stack: Stack, caplog):
    caplog.set_level(logging.INFO, logger="api")  # the suite logs warnings only
    async with stack.http() as http:
        await http.get("/v1/complaints/ADU-0123456789AB/person", params={"purpose": "Zzyzx Rahasia"},
                       headers={**await stack.officer("PD-34"), "X-Request-ID": "log-check-1"})
    # Rendered as the service renders them: the root handler's JSON formatter (casework.logs).
    formatter = logging.getLogger().handlers[0].formatter
    lines = [json.loads(formatter.format(record)) for record in caplog.records if isinstance(record.msg, dict)]
    request_lines = [line for line in lines if line.get("event") == "request" and line.get("request_id") == "log-check-1"]
    assert len(request_lines) == 1, lines
    assert request_lines[0]["route"] == "/v1/complaints/{complaint_id}/person"
    assert request_lines[0]["caller"] == "PD-34" and request_lines[0]["status"] == 404
    assert not any("Zzyzx" in json.dumps(line) for line in lines)


@pytest.fixture
def unused_tcp_port() -> int:
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()
    return port



async def test_rate_limits_count_per_credential_and_bodies_have_a_size_limit(dev_env, db):
    async with api_stack(dev_env.client, db, rate_limit_per_minute=1, rate_limit_burst=2,
                         max_request_bytes=2048) as small:
        pd34, pd01 = await small.officer("PD-34"), await small.officer("PD-01")
        async with small.http() as http:
            answers = [(await http.get("/v1/me", headers=pd34)).status_code for _ in range(3)]
            limited = await http.get("/v1/me", headers=pd34)
            other = await http.get("/v1/me", headers=pd01)
            big = await http.post("/v1/complaints", content=b"{" + b" " * 4096 + b"}",
                                  headers={**pd01, "Content-Type": "application/json"})
    assert answers == [200, 200, 429]
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert limited.json()["detail"].startswith("Terlalu banyak permintaan; coba lagi dalam ")
    assert other.status_code == 200  # another credential has its own bucket
    assert big.status_code == 413
    assert big.json() == {"detail": "Permintaan terlalu besar (maksimum 2048 bita)."}
