"""Opaque API tokens for officers, services and partners: issue, list, revoke, verify.

A token reads `rjk_<token_id>_<secret>`: a 16-hex-digit id (public, names the row) and a secret of
32 random bytes (urlsafe base64). Only SHA-256(secret) is stored: the secret carries 256 bits of
entropy, so a fast hash cannot be brute-forced and needs no key of its own that could be lost.
The token is shown once, at issue.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable

import structlog

from activities.store.access import LAST_USED_GRANULARITY, AccessStore, TokenIdTaken, TokenInfo
from api.principal import (
    SYSTEM_ID_PATTERN, OfficerPrincipal, PartnerPrincipal, Principal, ServicePrincipal, Unauthenticated,
)
from api.settings import ApiSettings
from referral import reference
from referral.intake import Channel

log = structlog.get_logger(__name__)

TOKEN_PREFIX = "rjk_"
SECRET_BYTES = 32
LABEL_MAX = 200
_TOKEN = re.compile(r"^rjk_(?P<token_id>[0-9a-f]{16})_(?P<secret>[A-Za-z0-9_-]{43,128})$")
_SYSTEM_ID = re.compile(SYSTEM_ID_PATTERN)
KINDS = ("officer", "service", "partner")


class TokenRequestError(ValueError):
    """An issue request that cannot be honoured; `problems` names every bad field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("cannot issue the token: " + "; ".join(self.problems))


class TokenNotFound(LookupError):
    def __init__(self, token_id: str) -> None:
        self.token_id = token_id
        super().__init__(f"no API token {token_id!r}")


@dataclass(frozen=True)
class IssuedToken:
    """The new token (shown once, kept out of repr so it never lands in a log) and what is stored."""

    token: str = field(repr=False)
    info: TokenInfo


def looks_like_api_token(raw: str) -> bool:
    return raw.startswith(TOKEN_PREFIX)


def parse_token(raw: str) -> tuple[str, str]:
    """(token_id, secret) of a well-formed token; Unauthenticated("malformed") otherwise."""
    match = _TOKEN.fullmatch(raw)
    if match is None:
        raise Unauthenticated("malformed", "not rjk_<16 hex>_<secret>")
    return match["token_id"], match["secret"]


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


def _new_token() -> tuple[str, str]:
    return secrets.token_hex(8), secrets.token_urlsafe(SECRET_BYTES)


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


def request_problems(
    *, kind: str, subject: str, expires_in: timedelta, channels: Iterable[str], villages: Iterable[str],
    label: str, settings: ApiSettings,
) -> list[str]:
    """Every problem of an issue request that needs no database (the roster is checked apart)."""
    problems: list[str] = []
    channels, villages = list(channels), list(villages)
    if kind not in KINDS:
        problems.append(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    if not subject:
        problems.append("subject: required (officer id, service id or partner code)")
    elif kind in ("service", "partner") and not _SYSTEM_ID.fullmatch(subject):
        problems.append(f"subject: {subject!r} is not a valid {kind} id (letters, digits, '.', '_', '-'; 64 at most)")
    if expires_in <= timedelta(0):
        problems.append("expires_in: the expiry must be in the future")
    elif expires_in > timedelta(days=settings.token_max_days):
        problems.append(f"expires_in: at most {settings.token_max_days} days (REFERRAL_TOKEN_MAX_DAYS)")
    if kind == "service":
        if not channels:
            problems.append("channels: a service token needs at least one channel")
        known = {c.value for c in Channel}
        problems += [
            f"channels: unknown channel {c!r} (expected one of {', '.join(sorted(known))})"
            for c in channels if c not in known
        ]
        problems += [f"villages: unknown village code {v!r}" for v in villages if v not in reference.villages()]
    elif kind in KINDS and (channels or villages):
        problems.append(f"channels/villages: only a service token has them, not a {kind} token")
    if len(label) > LABEL_MAX:
        problems.append(f"label: at most {LABEL_MAX} characters, got {len(label)}")
    return problems


async def issue_token(
    store: AccessStore, *, kind: str, subject: str, expires_in: timedelta | None = None,
    channels: Iterable[str] = (), villages: Iterable[str] = (), label: str = "",
    settings: ApiSettings | None = None, now: datetime | None = None,
) -> IssuedToken:
    """Issue a token; `expires_in` defaults to REFERRAL_TOKEN_DEFAULT_DAYS. TokenRequestError lists
    every problem: an officer not active on the roster, an unknown channel or village, a past expiry."""
    settings = settings or ApiSettings()
    now = _now(now)
    expires_in = expires_in if expires_in is not None else timedelta(days=settings.token_default_days)
    channels, villages = sorted(set(channels)), sorted(set(villages))
    label = label.strip()
    problems = request_problems(kind=kind, subject=subject, expires_in=expires_in, channels=channels,
                                villages=villages, label=label, settings=settings)
    if kind == "officer" and subject:
        officer = await store.officer(subject)
        if officer is None or not officer.active:
            problems.append(f"subject: {subject!r} is not an active officer on the roster")
    if problems:
        raise TokenRequestError(problems)
    for _attempt in range(3):
        token_id, secret = _new_token()
        try:
            info = await store.insert_token(
                token_id=token_id, secret_hash=hash_secret(secret), kind=kind, subject=subject,  # type: ignore[arg-type]
                channels=channels, villages=villages, label=label, created_at=now, expires_at=now + expires_in,
            )
        except TokenIdTaken:
            continue
        log.info("api token issued", token_id=token_id, kind=kind, subject=subject, expires_at=info.expires_at.isoformat())
        return IssuedToken(token=f"{TOKEN_PREFIX}{token_id}_{secret}", info=info)
    raise RuntimeError("could not find a free token id in 3 attempts")  # 64-bit ids: practically never


async def list_tokens(store: AccessStore) -> list[TokenInfo]:
    """Every token, active, expired or revoked, oldest first: never a secret or a hash."""
    return await store.tokens()


async def revoke_token(store: AccessStore, token_id: str, *, now: datetime | None = None) -> TokenInfo:
    """Revoke a token at once; revoking twice keeps the first time. TokenNotFound if there is none."""
    info = await store.revoke_token(token_id, _now(now))
    if info is None:
        raise TokenNotFound(token_id)
    log.info("api token revoked", token_id=token_id, kind=info.kind, subject=info.subject)
    return info


async def verify_token(store: AccessStore, raw: str, *, now: datetime | None = None) -> Principal:
    """The principal a token proves, or Unauthenticated: malformed, unknown, revoked, expired, or an
    officer no longer active. Role and bidang are read from the roster at each call."""
    now = _now(now)
    token_id, secret = parse_token(raw)
    stored = await store.token(token_id)
    # Same answer for an unknown id and a wrong secret: the id alone proves nothing.
    if stored is None or not hmac.compare_digest(hash_secret(secret), stored.secret_hash):
        raise Unauthenticated("unknown", f"token {token_id}")
    info = stored.info
    if info.revoked_at is not None:
        raise Unauthenticated("revoked", f"token {token_id}")
    if info.expires_at <= now:
        raise Unauthenticated("expired", f"token {token_id}")
    principal: OfficerPrincipal | ServicePrincipal | PartnerPrincipal
    if info.kind == "officer":
        officer = stored.officer
        if officer is None or not officer.active:
            raise Unauthenticated("inactive_officer", f"token {token_id}, officer {info.subject}")
        principal = OfficerPrincipal(officer_id=officer.officer_id, role=officer.role, bidang=officer.bidang,
                                     token_id=token_id)
    elif info.kind == "service":
        principal = ServicePrincipal(service_id=info.subject, channels=frozenset(info.channels),
                                     villages=frozenset(info.villages), token_id=token_id)
    else:
        principal = PartnerPrincipal(partner_code=info.subject, token_id=token_id)
    if info.last_used_at is None or now - info.last_used_at >= LAST_USED_GRANULARITY:
        await store.touch_token(token_id, now)
    return principal
