"""The codec server for the Temporal Web UI: POST /codec/decode and /codec/encode (Temporal's remote
codec protocol: `{"payloads": [Payload as proto JSON, ...]}` in and out), inside the API.

    routes_codec.install(app, config)     # in api.app.create_app: the router and its CORS

Who may decode. The UI cannot say which case a payload belongs to (UI 2.54 sends only the payloads and
`X-Namespace`), so the rule is by role, not by case: the kepala dinas and the heads of bidang (the
supervisors who read cases in the Temporal UI) may decode; a pendamping reads their own cases through the
API and the case page, where each read is checked per case and recorded; services and partner offices
never decode. Any officer may encode (encoding reveals nothing). No credential: 401; another role: 403.

Credentials are the API's (`api.auth.Authenticator`): `Authorization: Bearer` (an API token or an OIDC
JWT: what the UI sends with `codec.passAccessToken`, which it does only to an https endpoint) or the
worklist's session cookie (what the UI sends with "include cross-origin credentials": the way for
`worker.py --dev`, whose UI has no sign-in: sign in at <api>/masuk, then point the UI's codec setting at
<api>/codec with credentials included). No credential ever goes into a URL.

Every decode request that names a caller is recorded in `codec_access` before any plaintext leaves:
who, allowed or refused, the namespace, the number of payloads sent and decrypted, their key ids, and
the case ids found in what was decrypted. Never the data. A refused or unauthenticated request gets its
payloads back as they came (still encrypted) beside `detail`, so the UI shows ciphertext, not an error page.

Payloads that cannot be decrypted (a key this service lacks, tampered bytes) come back as they were,
and `problems` names each one by position and key id.

CORS: only the Web UI's origin (REFERRAL_UI_URL), only under /codec, with credentials, for the
Authorization, Content-Type and X-Namespace headers. A decode must be `application/json`, so a
cross-origin page can never send one without the preflight that CORS answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import structlog
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from google.protobuf import json_format
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload, Payloads

from activities.store.codec_audit import CodecAuditStore
from api.principal import OfficerPrincipal, Principal
from api.routes_support import CASE_ID, door_of
from casework.codec import CodecError, KeyringCodec, is_encrypted, key_id_of, readable_json
from referral import i18n
from referral.config import Settings
from referral.i18n import N_

log = structlog.get_logger(__name__)

PREFIX = "/codec"
DECODE_ROLES = frozenset({"kepala_dinas", "head_of_bidang"})
CORS_HEADERS = ["Authorization", "Content-Type", "X-Namespace"]
NAMESPACE_HEADER = "x-namespace"

TEXTS: dict[str, str] = {  # code -> English msgid; referral/locale holds the Bahasa Indonesia
    "codec.decode_role": N_(
        "Only the kepala dinas and heads of bidang may decrypt data in the Temporal UI; a pendamping"
        " reads their cases through the case page."),
    "codec.officers_only": N_("Only Dinas Sosial officers may use the codec server."),
    "codec.no_keys": N_("This service holds no payload keys."),
    "codec.content_type": N_("Send the body as application/json."),
    "codec.bad_body": N_("The body must be {{\"payloads\": [...]}} (Payload protobuf as JSON): {problem}"),
}


def say(code: str, language: str, **params: Any) -> str:
    return i18n.translator(language).gettext(TEXTS[code], **params)


# ---- who may (pure) ----

@dataclass(frozen=True)
class CodecDecision:
    allowed: bool
    code: str  # a TEXTS code when refused

    def __bool__(self) -> bool:
        return self.allowed


def may_decode(principal: Principal) -> CodecDecision:
    if not isinstance(principal, OfficerPrincipal):
        return CodecDecision(False, "codec.officers_only")
    if principal.role not in DECODE_ROLES:
        return CodecDecision(False, "codec.decode_role")
    return CodecDecision(True, "")


def may_encode(principal: Principal) -> CodecDecision:
    if not isinstance(principal, OfficerPrincipal):
        return CodecDecision(False, "codec.officers_only")
    return CodecDecision(True, "")


def ui_origin(ui_url: str) -> str:
    """`http://localhost:8233/namespaces` -> `http://localhost:8233` (what a browser sends as Origin)."""
    parts = urlsplit(ui_url)
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"REFERRAL_UI_URL: {ui_url!r} is not an absolute URL")
    return f"{parts.scheme}://{parts.netloc}".lower()


# ---- the body (pure) ----

class BadBody(ValueError):
    pass


def parse_payloads(body: bytes) -> list[Payload]:
    try:
        document = json.loads(body)
    except ValueError:
        raise BadBody("not JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("payloads", []), list):
        raise BadBody("payloads: a list is required")
    try:
        return list(json_format.ParseDict(document, Payloads()).payloads)
    except json_format.ParseError as exc:
        raise BadBody(str(exc)[:200]) from None


def payloads_json(payloads: list[Payload]) -> list[dict[str, Any]]:
    return [json_format.MessageToDict(p) for p in payloads]


@dataclass
class Decoded:
    payloads: list[Payload]
    decrypted: int
    key_ids: set[str]
    complaint_ids: set[str]
    problems: list[str]


def decode_each(codec: KeyringCodec, payloads: list[Payload]) -> Decoded:
    """Each payload on its own: one that cannot be decrypted comes back as it was, named in `problems`."""
    result = Decoded([], 0, set(), set(), [])
    for index, payload in enumerate(payloads):
        if not is_encrypted(payload):
            result.payloads.append(payload)
            continue
        key_id = key_id_of(payload) or "?"
        try:
            plain = codec.decrypt(payload)
        except CodecError as exc:
            result.payloads.append(payload)
            result.problems.append(f"payloads[{index}]: {exc}")
            continue
        result.payloads.append(plain)
        result.decrypted += 1
        result.key_ids.add(key_id)
        value = readable_json(plain)
        case_id = value.get("complaint_id") if isinstance(value, dict) else None
        if isinstance(case_id, str) and CASE_ID.fullmatch(case_id):
            result.complaint_ids.add(case_id)
    return result


# ---- the routes ----

router = APIRouter(prefix=PREFIX, tags=["codec"])


def _answer(status: int, detail: str, payloads: list[Payload] | None = None,
            headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail}
    if payloads is not None:  # the UI shows what comes back: give it the ciphertext it sent
        body["payloads"] = payloads_json(payloads)
    return JSONResponse(body, status_code=status, headers=headers)


def _json_body(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower() == "application/json"


async def _caller_and_payloads(request: Request, language: str) -> tuple[Principal, list[Payload]] | JSONResponse:
    """Who asks (401 first, as for every route), then what they sent (415, 400)."""
    try:
        principal = await request.app.state.authenticator(request)
    except HTTPException as exc:
        try:  # give the UI back the ciphertext it sent, when it sent something readable
            echo = parse_payloads(await request.body()) if _json_body(request) else None
        except BadBody:
            echo = None
        return _answer(exc.status_code, str(exc.detail), echo, dict(exc.headers or {}))
    if not _json_body(request):
        return _answer(415, say("codec.content_type", language))
    try:
        return principal, parse_payloads(await request.body())
    except BadBody as exc:
        return _answer(400, say("codec.bad_body", language, problem=str(exc)))


def _codec(request: Request) -> KeyringCodec | None:
    codec = getattr(request.app.state, "payload_codec", None) or door_of(request).client.data_converter.payload_codec
    return codec if isinstance(codec, KeyringCodec) else None


@router.post("/decode", summary="Decrypt payloads for the Temporal Web UI (kepala dinas, heads of bidang)")
async def decode(request: Request) -> Response:
    door = door_of(request)
    language = door.language
    asked = await _caller_and_payloads(request, language)
    if isinstance(asked, JSONResponse):
        return asked
    principal, payloads = asked
    decision = may_decode(principal)
    codec = _codec(request) if decision else None
    if decision and codec is None:
        return _answer(503, say("codec.no_keys", language), payloads)
    decoded = decode_each(codec, payloads) if codec else Decoded(payloads, 0, set(), set(), [])
    # Recorded before any plaintext leaves: if the record cannot be written, nothing is answered.
    await CodecAuditStore(door.store.pool).record(
        principal_kind=principal.kind, principal_id=principal.principal_id,
        role=principal.role if isinstance(principal, OfficerPrincipal) else None, allowed=decision.allowed,
        namespace=request.headers.get(NAMESPACE_HEADER, "").strip()[:255], payload_count=len(payloads),
        decrypted_count=decoded.decrypted, key_ids=sorted(decoded.key_ids), complaint_ids=sorted(decoded.complaint_ids),
        origin=request.headers.get("origin", "")[:255] or None,
        request_id=getattr(request.state, "request_id", None),
    )
    if not decision:
        log.info("codec decode refused", caller=principal.principal_id, payloads=len(payloads))
        return _answer(403, say(decision.code, language), payloads)
    if decoded.problems:
        log.warning("codec payloads left encrypted", count=len(decoded.problems), key_ids=sorted(
            {key_id_of(p) or "?" for p in decoded.payloads if is_encrypted(p)}))
    body: dict[str, Any] = {"payloads": payloads_json(decoded.payloads)}
    if decoded.problems:
        body["problems"] = decoded.problems
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.post("/encode", summary="Encrypt payloads under the newest key (any officer)")
async def encode(request: Request) -> Response:
    language = door_of(request).language
    asked = await _caller_and_payloads(request, language)
    if isinstance(asked, JSONResponse):
        return asked
    principal, payloads = asked
    decision = may_encode(principal)
    if not decision:
        return _answer(403, say(decision.code, language))
    codec = _codec(request)
    if codec is None:
        return _answer(503, say("codec.no_keys", language))
    return JSONResponse({"payloads": payloads_json(await codec.encode(payloads))})


# ---- CORS, for /codec only ----

class CodecCorsMiddleware:
    """Starlette's CORS for the codec paths only: the rest of the API stays same-origin."""

    def __init__(self, app: ASGIApp, origin: str) -> None:
        self.app = app
        self.cors = CORSMiddleware(app, allow_origins=[origin], allow_methods=["POST"], allow_headers=CORS_HEADERS,
                                   allow_credentials=True, max_age=600)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == PREFIX or path.startswith(PREFIX + "/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def install(app: FastAPI, config: Settings) -> None:
    """The codec routes and their CORS for the Web UI at REFERRAL_UI_URL."""
    app.include_router(router)
    app.add_middleware(CodecCorsMiddleware, origin=ui_origin(config.ui_url))
