"""Limits at the door: a rate limit per credential, the request-size limit, and a request id.

* Rate: a token bucket per credential (`Principal.rate_key`: the API token, or the officer / system
  for an OIDC JWT), REFERRAL_RATE_LIMIT_PER_MINUTE refilled, REFERRAL_RATE_LIMIT_BURST deep. In
  memory, so per process: with N worker processes a caller gets up to N times the rate.
  Routes take `principal: Principal = Depends(rate_limited)`; over the limit is a 429 with Retry-After.
* Size: `RequestSizeLimitMiddleware` answers 413 (JSON, our message) for a body over
  REFERRAL_MAX_REQUEST_BYTES, declared in Content-Length or streamed. (FastAPI's own
  `max_body_size` answers a declared one in plain English text, whatever the handlers say.)
* Request id: `RequestIdMiddleware` takes the caller's X-Request-ID when it is sane, else a uuid4;
  binds it as `request_id` in structlog's contextvars, exposes `request.state.request_id`, and
  echoes it in the response header.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections import OrderedDict
from typing import Callable

import structlog
from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import messages
from api.auth import authenticate, language_of
from api.principal import Principal

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


class RateLimiter:
    """Token buckets by key. `acquire` never awaits, so it is atomic on the event loop."""

    def __init__(self, per_minute: float, burst: int, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 10_000) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("rate limit: per_minute must be > 0 and burst >= 1")
        self.rate = per_minute / 60.0  # tokens per second
        self.burst = burst
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def acquire(self, key: str) -> float:
        """Take one token: 0.0 if allowed, else the seconds until one is available."""
        now = self.clock()
        tokens, at = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        # The least recently seen key goes first; it has refilled the most, so forgetting it costs little.
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait


async def rate_limited(request: Request, principal: Principal = Depends(authenticate)) -> Principal:
    """FastAPI dependency: the authenticated caller, within its rate (`app.state.rate_limiter`)."""
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.acquire(principal.rate_key)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        language = language_of(request)
        structlog.get_logger(__name__).info("rate limited", rate_key=principal.rate_key, retry_after=seconds)
        raise HTTPException(
            status_code=429, detail=messages.text("limits.too_many", language, seconds=seconds),
            headers={"Retry-After": str(seconds)},
        )
    return principal


class _TooLarge(HTTPException):
    """Raised from `receive` once the body passes the limit; FastAPI turns it into our 413."""


class RequestSizeLimitMiddleware:
    """413 for a body over `max_bytes`: at once when Content-Length says so (the body is never read),
    else as soon as the streamed bytes pass the limit. Pure ASGI; add it outermost."""

    def __init__(self, app: ASGIApp, max_bytes: int, language: str = "id") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.detail = messages.text("limits.too_large", language, max_bytes=max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(status_code=413, detail=self.detail)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if started:  # too late to change the status: let the server end the response
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        await JSONResponse({"detail": self.detail}, status_code=413)(scope, receive, send)


def request_id_from(header: str | None) -> str:
    """The caller's request id if it is a short token of safe characters, else a fresh uuid4."""
    if header and _SANE_REQUEST_ID.fullmatch(header):
        return header
    return str(uuid.uuid4())


class RequestIdMiddleware:
    """Pure ASGI middleware (contextvars reach the endpoint, unlike with BaseHTTPMiddleware)."""

    def __init__(self, app: ASGIApp, header: str = REQUEST_ID_HEADER) -> None:
        self.app = app
        self.header = header
        self._raw_header = header.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or []).get(self._raw_header)
        request_id = request_id_from(sent.decode("latin-1") if sent else None)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != self._raw_header]
                message = {**message, "headers": [*headers, (self._raw_header, request_id.encode("latin-1"))]}
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            await self.app(scope, receive, send_with_id)
