"""Limits at the door: the token bucket, 429 with Retry-After, 413 for big bodies, the request id."""

from __future__ import annotations

import uuid

import httpx
import pytest
import structlog
from fastapi import Depends, FastAPI, Request

from api.auth import authenticate
from api.limits import RateLimiter, RequestIdMiddleware, RequestSizeLimitMiddleware, rate_limited, request_id_from
from api.principal import OfficerPrincipal, Principal
from api.settings import ApiSettings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_the_burst_then_one_per_refill():
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)  # one token a second
    assert [limiter.acquire("token:a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("token:a") == pytest.approx(1.0)
    clock.now += 0.5
    assert limiter.acquire("token:a") == pytest.approx(0.5)  # a refused call takes nothing
    clock.now += 0.5
    assert limiter.acquire("token:a") == 0.0
    assert limiter.acquire("token:b") == 0.0  # every credential has its own bucket


def test_a_bucket_refills_to_the_burst_and_no_further():
    clock = FakeClock()
    limiter = RateLimiter(per_minute=120, burst=2, clock=clock)
    limiter.acquire("k"), limiter.acquire("k")
    clock.now += 3600
    assert [limiter.acquire("k") for _ in range(3)] == [0.0, 0.0, pytest.approx(0.5)]


def test_the_least_recent_buckets_are_forgotten_beyond_max_keys():
    limiter = RateLimiter(per_minute=60, burst=1, clock=FakeClock(), max_keys=2)
    for key in ("a", "b", "c"):
        limiter.acquire(key)
    assert list(limiter._buckets) == ["b", "c"]
    assert limiter.acquire("a") == 0.0  # forgotten, so full again


@pytest.mark.parametrize(("per_minute", "burst"), [(0, 1), (60, 0)])
def test_a_limiter_needs_a_rate_and_a_burst(per_minute, burst):
    with pytest.raises(ValueError):
        RateLimiter(per_minute=per_minute, burst=burst)


@pytest.mark.parametrize(("sent", "kept"), [
    ("req-2026-11-26.001", True),
    ("0f8fa3bd-6a4b-4c4e-9a63-2f1d1b9e7c11", True),
    ("", False),
    ("x" * 129, False),
    ("has space", False),
    ("-leading-dash", False),
    ("naughty\r\nSet-Cookie: a=b", False),
    (None, False),
])
def test_a_callers_request_id_is_kept_only_when_sane(sent, kept):
    rid = request_id_from(sent)
    if kept:
        assert rid == sent
    else:
        assert str(uuid.UUID(rid)) == rid


def _app(settings: ApiSettings, limiter: RateLimiter | None = None) -> FastAPI:
    app = FastAPI()
    # The last added runs first: the request id then covers every answer, a 413 included.
    app.add_middleware(RequestSizeLimitMiddleware, max_bytes=settings.max_request_bytes, language=settings.language)
    app.add_middleware(RequestIdMiddleware)
    app.state.rate_limiter = limiter or RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
    app.dependency_overrides[authenticate] = lambda: OfficerPrincipal(officer_id="PD-34", role="pendamping")

    @app.get("/context")
    async def context(request: Request) -> dict:
        return {"bound": structlog.contextvars.get_contextvars().get("request_id"),
                "state": request.state.request_id}

    @app.post("/echo")
    async def echo(body: dict, principal: Principal = Depends(rate_limited)) -> dict:
        return {"keys": len(body), "actor": principal.actor}

    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://door")


async def test_the_request_id_is_bound_for_logs_and_echoed():
    async with _client(_app(ApiSettings())) as client:
        mine = await client.get("/context", headers={"X-Request-ID": "puskesos-42"})
        fresh = await client.get("/context", headers={"X-Request-ID": "bad id"})
    assert mine.headers["x-request-id"] == "puskesos-42"
    assert mine.json() == {"bound": "puskesos-42", "state": "puskesos-42"}
    assert fresh.headers["x-request-id"] == fresh.json()["bound"] == fresh.json()["state"] != "bad id"
    assert structlog.contextvars.get_contextvars().get("request_id") is None  # unbound afterwards


async def test_over_the_rate_is_429_with_retry_after():
    clock = FakeClock()
    limiter = RateLimiter(per_minute=6, burst=2, clock=clock)  # one token every 10 s
    async with _client(_app(ApiSettings(), limiter)) as client:
        codes = [(await client.post("/echo", json={"a": 1})).status_code for _ in range(2)]
        refused = await client.post("/echo", json={"a": 1})
        clock.now += 10
        again = await client.post("/echo", json={"a": 1})
    assert codes == [200, 200]
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "10"
    assert refused.json() == {"detail": "Terlalu banyak permintaan; coba lagi dalam 10 detik."}
    assert again.status_code == 200


async def test_a_body_over_the_limit_is_413_declared_or_streamed():
    settings = ApiSettings(max_request_bytes=1024)
    big = {"description": "x" * 2000}

    async def chunks():  # no Content-Length: the limit counts what arrives
        yield b'{"a": "'
        for _ in range(4):
            yield b"y" * 300
        yield b'"}'

    async with _client(_app(settings)) as client:
        small = await client.post("/echo", json={"description": "x" * 100})
        declared = await client.post("/echo", json=big)
        streamed = await client.post("/echo", content=chunks(), headers={"content-type": "application/json"})
    assert small.status_code == 200
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json() == {"detail": "Permintaan terlalu besar (maksimum 1024 bita)."}
        assert response.headers["x-request-id"]


async def test_the_size_limit_speaks_english_when_asked():
    settings = ApiSettings(max_request_bytes=1024, language="en")
    async with _client(_app(settings)) as client:
        response = await client.post("/echo", json={"description": "x" * 2000})
    assert response.json() == {"detail": "The request is too large (at most 1024 bytes)."}
