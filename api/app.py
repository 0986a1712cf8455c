"""The HTTP service: the FastAPI app, its middleware and its error answers.

    app = create_app(ApiSettings(), store, client)      # api.server.serve runs it under uvicorn

Errors are answered, never a traceback: JSON `{"detail": ...}` (plus `problems` for a 422) under
/v1, an HTML page in Bahasa Indonesia elsewhere. A Temporal or PostgreSQL that cannot be reached is a
503 with Retry-After. Each request is logged once as JSON (method, route template, status, duration,
request id, caller id): never a query string, a body or any personal data.
"""

from __future__ import annotations

import time
import traceback
from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client, RPCTimeoutOrCancelledError
from temporalio.service import RPCError

from referral.setup import load_policy
from activities.store import Store
from api import (
    routes_actions, routes_case_page, routes_complaints, routes_me, routes_pages, routes_person, routes_referrals,
)
from api import routes_codec
from api.auth import Authenticator
from api.limits import RateLimiter, RequestIdMiddleware, RequestSizeLimitMiddleware
from api.pages import STATIC_DIR, build_templates, render
from api.routes_pages import SignInNeeded, sign_in_needed
from api.routes_support import RETRY_AFTER_SECONDS, Door, problem_lines, say, unavailable_kind
from api.settings import ApiSettings
from referral.config import Settings
from referral.sla import SlaPolicy

log = structlog.get_logger("api")
API_PREFIXES = ("/v1/", "/openapi.json", "/docs")
DESCRIPTION = """Referral cases of Dinas Sosial Kabupaten Buleleng: submit complaints, read and act on cases.

Every request carries `Authorization: Bearer <credential>`: an API token (`rjk_...`, issued with
`python starter.py token issue`) or an OIDC JWT. The actor of every action is the credential's owner.
Officers also use the worklist pages at `/kasus` (Bahasa Indonesia)."""


def create_app(settings: ApiSettings, store: Store, client: Client, config: Settings | None = None,
               policy: SlaPolicy | None = None) -> FastAPI:
    config = config or Settings()
    app = FastAPI(title="Buleleng referral API", version="1", description=DESCRIPTION, redoc_url=None)
    door = Door(settings=settings, config=config, store=store, client=client,
                policy=policy or load_policy(config.sla_policy_file))
    app.state.door = door
    app.state.authenticator = Authenticator(door.access, settings)
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
    app.state.templates = build_templates(config.utc_offset_minutes, settings.language)
    for module in (routes_complaints, routes_person, routes_actions, routes_referrals, routes_me, routes_pages,
                   routes_case_page):
        app.include_router(module.router)
    routes_codec.install(app, config)  # the Web UI's codec server at /codec, with CORS for REFERRAL_UI_URL
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    install_error_answers(app)
    # Each one added wraps the ones before: the request id is outermost, so every log line carries it.
    app.add_middleware(ErrorFenceMiddleware)
    app.add_middleware(RequestSizeLimitMiddleware, max_bytes=settings.max_request_bytes, language=settings.language)
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    return app


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with the intake's JSON Schema as a component (the body is parsed by hand)."""
    if app.openapi_schema is None:
        document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schema, definitions = routes_complaints.intake_openapi()
        components = document.setdefault("components", {}).setdefault("schemas", {})
        components.update(definitions)
        components["ComplaintIntake"] = schema
        document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        document["security"] = [{"bearer": []}]
        app.openapi_schema = document
    return app.openapi_schema


# ---- error answers ----

def wants_json(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIXES)


def error_answer(request: Request, status: int, detail: Any, headers: dict[str, str] | None = None) -> Response:
    """`{"detail": ..., "problems": [...]}` for the API; the error page for people."""
    problems = detail.get("problems", []) if isinstance(detail, dict) else []
    message = detail.get("message", "") if isinstance(detail, dict) else detail
    if wants_json(request):
        body: dict[str, Any] = {"detail": message}
        if isinstance(detail, dict):
            body["problems"] = problems
        return JSONResponse(body, status_code=status, headers=headers)
    return render(request, "error.html", {"status": status, "message": message, "problems": problems, "me": None,
                                          "csrf": ""}, status_code=status, headers=headers)


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    return error_answer(request, exc.status_code, exc.detail, dict(exc.headers or {}))


async def validation_error(request: Request, exc: RequestValidationError) -> Response:
    language = request.app.state.door.language
    return error_answer(request, 422, {"message": say("request.invalid", language),
                                       "problems": problem_lines(exc.errors(), language)})


def _where(exc: BaseException) -> str:
    """The innermost frame of a failure: enough to find it, without the message (which may hold data)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "-"


async def dependency_error(request: Request, exc: Exception) -> Response:
    """503 when Temporal, a worker or PostgreSQL cannot be reached; any other failure is a logged 500."""
    language = request.app.state.door.language
    kind = unavailable_kind(exc)
    if kind is None:
        log.error("request failed", error=type(exc).__name__, where=_where(exc))
        request_id = getattr(request.state, "request_id", "-")
        return error_answer(request, 500, say("internal", language, request_id=request_id))
    log.warning("dependency unavailable", dependency=kind, error=type(exc).__name__)
    return error_answer(request, 503, say(f"unavailable.{kind}", language),
                        {"Retry-After": str(RETRY_AFTER_SECONDS)})


def install_error_answers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(SignInNeeded, sign_in_needed)  # type: ignore[arg-type]
    for kind in (RPCError, RPCTimeoutOrCancelledError, RuntimeError, OSError, asyncpg.PostgresConnectionError,
                 asyncpg.InterfaceError, asyncpg.TooManyConnectionsError, asyncpg.CannotConnectNowError,
                 asyncpg.UndefinedTableError):
        app.add_exception_handler(kind, dependency_error)


class ErrorFenceMiddleware:
    """Any other exception becomes our 500 answer (JSON or page) and one log line without its message,
    instead of Starlette's plain-text 500 and a traceback whose message may hold personal data."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:  # too late to answer: let the server end the response
                raise
            response = await dependency_error(Request(scope, receive), exc)
            await response(scope, receive, send)


# ---- the access log ----

class AccessLogMiddleware:
    """One JSON line per request; the route template, not the path's query string (a purpose may
    name a person). Pure ASGI, so the request id bound by RequestIdMiddleware is in the line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or scope.get("path")
            principal = (scope.get("state") or {}).get("principal")
            log.info("request", method=scope.get("method"), route=route, status=status,
                     duration_ms=round((time.perf_counter() - started) * 1000, 1),
                     caller=getattr(principal, "actor", None))
