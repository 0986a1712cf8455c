"""The FastAPI dependency that turns a request's credential into a principal.

The credential is `Authorization: Bearer <credential>`, else the session cookie
(REFERRAL_SESSION_COOKIE, for the worklist page). An API token (`rjk_...`) is checked against the
token table, a JWT (three base64url parts) against the OIDC issuer. Any failure is a 401 with
`WWW-Authenticate: Bearer` (RFC 6750) and a message from `api.messages`; an unreachable identity
provider is a 503.

Wiring: `app.state.authenticator = Authenticator(AccessStore(pool), settings)`, then routes take
`principal: Principal = Depends(authenticate)` (or `Depends(api.limits.rate_limited)`).
"""

from __future__ import annotations

import re
from typing import Literal

import structlog
from fastapi import HTTPException, Request

from activities.store.access import AccessStore
from api import messages
from api.oidc import OidcVerifier
from api.principal import IdentityProviderUnavailable, Principal, Unauthenticated
from api.settings import ApiSettings
from api.tokens import looks_like_api_token, verify_token

log = structlog.get_logger(__name__)

CredentialKind = Literal["api_token", "jwt"]
CredentialSource = Literal["header", "cookie"]
MAX_CREDENTIAL_CHARS = 8192
_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_BEARER = re.compile(r"^Bearer +(\S+) *$", re.IGNORECASE)
IDP_RETRY_AFTER_SECONDS = 30


def credential_from(authorization: str | None, cookie: str | None) -> tuple[str, CredentialSource]:
    """The raw credential and where it came from. An Authorization header wins over the cookie,
    and a header that is not `Bearer <credential>` is refused rather than skipped."""
    if authorization is not None and authorization.strip():
        match = _BEARER.match(authorization.strip())
        if match is None:
            raise Unauthenticated("malformed", "Authorization is not 'Bearer <credential>'")
        return match[1], "header"
    if cookie:
        return cookie.strip(), "cookie"
    raise Unauthenticated("missing")


def credential_kind(raw: str) -> CredentialKind:
    """Tell an API token from a JWT by its shape alone."""
    if len(raw) > MAX_CREDENTIAL_CHARS:
        raise Unauthenticated("malformed", f"credential longer than {MAX_CREDENTIAL_CHARS} characters")
    if looks_like_api_token(raw):
        return "api_token"
    if _JWT.fullmatch(raw):
        return "jwt"
    raise Unauthenticated("malformed", "neither an API token nor a JWT")


def unauthorized(reason: str, language: str = "id") -> HTTPException:
    challenge = 'Bearer realm="referral"'
    if reason != "missing":  # RFC 6750 section 3.1: no error code when no credential was sent
        challenge += f', error="invalid_token", error_description="{reason}"'
    return HTTPException(
        status_code=401, detail=messages.text(f"auth.{reason}", language), headers={"WWW-Authenticate": challenge}
    )


class Authenticator:
    """Holds what verification needs (the access store, the OIDC verifier) for the app's lifetime."""

    def __init__(self, store: AccessStore, settings: ApiSettings, oidc: OidcVerifier | None = None) -> None:
        self.store = store
        self.settings = settings
        self.oidc = oidc or (OidcVerifier(settings, store) if settings.oidc_enabled else None)

    async def principal_for(self, raw: str) -> Principal:
        if credential_kind(raw) == "api_token":
            return await verify_token(self.store, raw)
        if self.oidc is None:
            raise Unauthenticated("oidc_disabled")
        return await self.oidc.principal(raw)

    async def __call__(self, request: Request) -> Principal:
        language = self.settings.language
        source: str | None = None
        try:
            raw, source = credential_from(
                request.headers.get("authorization"), request.cookies.get(self.settings.session_cookie)
            )
            principal = await self.principal_for(raw)
        except Unauthenticated as exc:
            log.info("authentication refused", reason=exc.reason, detail=exc.detail, source=source)
            raise unauthorized(exc.reason, language) from None
        except IdentityProviderUnavailable as exc:
            log.warning("identity provider unavailable", detail=str(exc))
            raise HTTPException(
                status_code=503, detail=messages.text("auth.idp_unavailable", language),
                headers={"Retry-After": str(IDP_RETRY_AFTER_SECONDS)},
            ) from None
        request.state.principal = principal
        # A cookie rides along on cross-site requests: routes that change state may refuse it.
        request.state.credential_source = source
        structlog.contextvars.bind_contextvars(principal=principal.actor)
        return principal


def language_of(request: Request) -> str:
    """The language of the door's messages (REFERRAL_LANGUAGE, via the app's authenticator)."""
    authenticator: Authenticator | None = getattr(request.app.state, "authenticator", None)
    return authenticator.settings.language if authenticator else "id"


async def authenticate(request: Request) -> Principal:
    """FastAPI dependency: the caller, by the app's `state.authenticator`."""
    authenticator: Authenticator = request.app.state.authenticator
    return await authenticator(request)
