"""The officers' pages: sign in and out, and "Kasus saya" (the worklist). Bahasa Indonesia.

Signing in puts the credential (an API token, or an OIDC JWT pasted the same way) in an HttpOnly,
SameSite=Strict session cookie; every page then authenticates it as the API does. A link from an
e-mail is a cross-site navigation, on which a browser withholds a Strict cookie: such a first request
gets a tiny page that reloads itself from this site, and the cookie comes along.

Every form that changes something carries a CSRF token bound to the session's credential, and a
browser's Origin header must name this host.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from api import messages
from api.auth import authenticate, credential_from
from api.limits import rate_limited
from api.pages import render
from api.principal import IdentityProviderUnavailable, OfficerPrincipal, Principal, Unauthenticated
from api.routes_me import worklist
from api.routes_support import csrf_ok, csrf_token, door_of, same_origin, say

router = APIRouter(include_in_schema=False)
SIGN_IN = "/masuk"
HOME = "/kasus"
BOUNCED = "_ulang"  # marks the one self-reload that recovers a Strict cookie


class SignInNeeded(Exception):
    """A page needs a signed-in officer; `message` says why the credential (if any) was refused."""

    def __init__(self, message: str | None, had_credential: bool) -> None:
        self.message = message
        self.had_credential = had_credential


def raw_credential(request: Request) -> str | None:
    cookie = request.cookies.get(door_of(request).settings.session_cookie)
    try:
        return credential_from(request.headers.get("authorization"), cookie)[0]
    except Unauthenticated:
        return None


async def page_officer(request: Request) -> OfficerPrincipal:
    """FastAPI dependency for pages: the signed-in officer (else the sign-in page), within the rate limit."""
    try:
        principal: Principal = await rate_limited(request, await authenticate(request))
    except HTTPException as exc:
        if exc.status_code == 401:
            raise SignInNeeded(None if raw_credential(request) is None else str(exc.detail),
                               raw_credential(request) is not None) from None
        raise
    if not isinstance(principal, OfficerPrincipal):
        raise HTTPException(403, say("page.officers_only", door_of(request).language))
    return principal


def safe_next(path: Any) -> str:
    """Only a path on this site (never //host or a scheme) may be the place to go after signing in."""
    text = str(path or "")
    return text if text.startswith("/") and not text.startswith("//") and "\\" not in text else HOME


def page_context(request: Request, principal: OfficerPrincipal | None = None, **extra: Any) -> dict[str, Any]:
    door = door_of(request)
    credential = raw_credential(request)
    return {"me": principal, "csrf": csrf_token(door.settings.csrf_secret, credential) if credential else "", **extra}


def sign_in_page(request: Request, message: str | None = None, status_code: int = 200,
                 next_path: str = HOME) -> Response:
    response = render(request, "signin.html", page_context(request, message=message, next=safe_next(next_path)),
                      status_code=status_code)
    if status_code == 401:
        response.delete_cookie(door_of(request).settings.session_cookie, path="/")
    return response


async def sign_in_needed(request: Request, exc: SignInNeeded) -> Response:
    """Exception handler: reload once (a Strict cookie withheld on a cross-site link), else sign in."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not exc.had_credential and BOUNCED not in request.query_params and request.method == "GET":
        joiner = "&" if request.url.query else "?"
        return render(request, "bounce.html", {"target": f"{target}{joiner}{BOUNCED}=1"})
    return sign_in_page(request, exc.message, 401, next_path=request.url.path)


def check_form(request: Request, form: Any) -> None:
    """403 unless the form comes from this site and carries this session's CSRF token."""
    door = door_of(request)
    if not same_origin(request.headers.get("origin"), request.headers.get("host")) or not csrf_ok(
            door.settings.csrf_secret, raw_credential(request), form.get("csrf")):
        raise HTTPException(403, say("csrf.bad", door.language))


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse(HOME, status_code=303)


@router.get(SIGN_IN)
async def sign_in_form(request: Request, next: str = HOME) -> Response:
    return sign_in_page(request, next_path=next)


@router.post(SIGN_IN)
async def sign_in(request: Request) -> Response:
    door = door_of(request)
    form = await request.form()
    next_path = safe_next(form.get("next"))
    if not same_origin(request.headers.get("origin"), request.headers.get("host")):
        raise HTTPException(403, say("csrf.bad", door.language))
    token = str(form.get("token") or "").strip()
    try:
        principal = await request.app.state.authenticator.principal_for(token) if token else None
    except Unauthenticated as exc:
        return sign_in_page(request, messages.text(f"auth.{exc.reason}", door.language), 401, next_path)
    except IdentityProviderUnavailable:
        return sign_in_page(request, messages.text("auth.idp_unavailable", door.language), 503, next_path)
    if principal is None:
        return sign_in_page(request, messages.text("auth.missing", door.language), 401, next_path)
    if not isinstance(principal, OfficerPrincipal):
        return sign_in_page(request, say("page.officers_only", door.language), 403, next_path)
    response = RedirectResponse(next_path, status_code=303)
    settings = door.settings
    response.set_cookie(settings.session_cookie, token, max_age=settings.session_hours * 3600, path="/",
                        httponly=True, samesite="strict", secure=settings.cookie_secure)
    return response


@router.post("/keluar")
async def sign_out(request: Request) -> Response:
    check_form(request, await request.form())
    response = RedirectResponse(SIGN_IN, status_code=303)
    response.delete_cookie(door_of(request).settings.session_cookie, path="/")
    return response


@router.get(HOME)
async def my_cases_page(request: Request, selesai: bool = False,
                        principal: OfficerPrincipal = Depends(page_officer)) -> Response:
    rows = await worklist(door_of(request), principal, include_finished=selesai)
    return render(request, "worklist.html", page_context(request, principal, rows=rows, finished=selesai))


def case_url(complaint_id: str, **query: str) -> str:
    params = "&".join(f"{key}={quote(value)}" for key, value in query.items() if value)
    return f"{HOME}/{quote(complaint_id)}" + (f"?{params}" if params else "")
