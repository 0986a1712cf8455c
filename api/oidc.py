"""OIDC bearer JWTs: verify against the issuer's JWKS, then map the token to a principal.

Verification: the header's `alg` must be in REFERRAL_OIDC_ALGORITHMS (asymmetric only, so `none` and
HS* never pass); the key is found by `kid` in the JWKS (PyJWT's PyJWKClient: cached for
REFERRAL_OIDC_JWKS_CACHE_SECONDS, refetched on an unknown kid at most once per
REFERRAL_OIDC_JWKS_REFRESH_COOLDOWN_SECONDS) and is bound to its own algorithm; `iss` must equal
REFERRAL_OIDC_ISSUER, `aud` contain REFERRAL_OIDC_AUDIENCE, `exp` is required and `exp`/`nbf`/`iat`
are checked with REFERRAL_OIDC_LEEWAY_SECONDS of leeway.

Mapping (first match wins; a role or group claim in the token is never trusted, the roster is):
  * `referral_partner` (REFERRAL_OIDC_PARTNER_CLAIM): a partner office with that code.
  * `referral_service` (REFERRAL_OIDC_SERVICE_CLAIM): a calling system with that id; its scope comes
    from `referral_channels` (list of channels, required) and `referral_villages` (list of village
    codes, optional: absent or empty means every village). Both system claims at once is refused.
  * otherwise `preferred_username` (REFERRAL_OIDC_OFFICER_CLAIM) names an officer id on the roster,
    matched without regard to case (identity providers often lower-case user names); the officer must
    be active, and role and bidang come from the roster.
System claims go first because a client-credentials token (Keycloak's service accounts) also carries
a `preferred_username` such as "service-account-<client>".
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Protocol

import httpx
import jwt
from jwt import PyJWKClient

from activities.store.access import OfficerRecord
from api.principal import (
    SYSTEM_ID_PATTERN, IdentityProviderUnavailable, OfficerPrincipal, PartnerPrincipal, Principal,
    ServicePrincipal, Unauthenticated,
)
from api.settings import ApiSettings
from referral import reference
from referral.intake import Channel

CHANNELS_CLAIM = "referral_channels"
VILLAGES_CLAIM = "referral_villages"
_SYSTEM_ID = re.compile(SYSTEM_ID_PATTERN)
# The key type each algorithm family must be verified with.
_KEY_TYPE = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
# PyJWT's errors, most specific first, and the reason each one means.
_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid"),
    (jwt.InvalidIssuerError, "wrong_issuer"),
    (jwt.InvalidAudienceError, "wrong_audience"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.InvalidSignatureError, "bad_signature"),
    (jwt.InvalidAlgorithmError, "disallowed_algorithm"),
    (jwt.InvalidKeyError, "unknown_key"),
)


class OfficerLookup(Protocol):
    async def officer(self, officer_id: str, *, ignore_case: bool = False) -> OfficerRecord | None: ...


class OidcVerifier:
    """Verifies JWTs of one configured issuer. Build one per process and keep it (it caches the JWKS)."""

    def __init__(self, settings: ApiSettings, officers: OfficerLookup) -> None:
        if not settings.oidc_enabled:
            raise ValueError("REFERRAL_OIDC_ISSUER is not set: OIDC bearer tokens are off")
        self.settings = settings
        self.officers = officers
        self._jwks: PyJWKClient | None = None
        self._jwks_lock = asyncio.Lock()

    async def principal(self, token: str) -> Principal:
        """The principal a JWT proves; Unauthenticated (or IdentityProviderUnavailable) otherwise."""
        claims = await self.verified_claims(token)
        system = system_principal(claims, self.settings)
        if system is not None:
            return system
        name = claims.get(self.settings.oidc_officer_claim)
        if not isinstance(name, str) or not name.strip():
            raise Unauthenticated("missing_claim", f"no {self.settings.oidc_officer_claim} claim")
        officer = await self.officers.officer(name.strip(), ignore_case=True)
        if officer is None:
            raise Unauthenticated("unknown_officer", f"{self.settings.oidc_officer_claim} not on the roster")
        if not officer.active:
            raise Unauthenticated("inactive_officer", f"officer {officer.officer_id}")
        return OfficerPrincipal(officer_id=officer.officer_id, role=officer.role, bidang=officer.bidang)

    async def verified_claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("malformed", f"JWT header: {exc}") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in self.settings.oidc_algorithms:
            raise Unauthenticated("disallowed_algorithm", f"alg {alg!r}")
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("unknown_key", "no kid in the JWT header")
        client = await self._jwks_client()
        try:
            key = await asyncio.to_thread(client.get_signing_key, kid)
        except jwt.PyJWKClientConnectionError as exc:
            raise IdentityProviderUnavailable(f"JWKS: {exc}") from None
        except jwt.PyJWKClientError as exc:
            raise Unauthenticated("unknown_key", f"kid {kid!r}: {exc}") from None
        if key.key_type != _KEY_TYPE.get(alg[:2]):
            raise Unauthenticated("disallowed_algorithm", f"alg {alg} with a {key.key_type} key")
        try:
            # Passing the PyJWK binds verification to the key's own algorithm, whatever the header says.
            return jwt.decode(
                token, key=key, algorithms=list(self.settings.oidc_algorithms),
                audience=self.settings.oidc_audience, issuer=self.settings.oidc_issuer,
                leeway=self.settings.oidc_leeway_seconds,
                options={"require": ["exp", "iss", "aud"], "enforce_minimum_key_length": True},
            )
        except jwt.PyJWTError as exc:
            reason = next((r for kind, r in _REASONS if isinstance(exc, kind)), "malformed")
            raise Unauthenticated(reason, str(exc)) from None

    async def _jwks_client(self) -> PyJWKClient:
        if self._jwks is None:
            async with self._jwks_lock:
                if self._jwks is None:
                    url = self.settings.oidc_jwks_url or await self._discover_jwks_url()
                    self._jwks = PyJWKClient(
                        url, cache_jwk_set=True, lifespan=self.settings.oidc_jwks_cache_seconds,
                        timeout=self.settings.oidc_http_timeout_seconds,
                        cooldown_duration=self.settings.oidc_jwks_refresh_cooldown_seconds,
                    )
        return self._jwks

    async def _discover_jwks_url(self) -> str:
        issuer = self.settings.oidc_issuer or ""
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            async with httpx.AsyncClient(timeout=self.settings.oidc_http_timeout_seconds) as http:
                response = await http.get(url)
                response.raise_for_status()
                document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise IdentityProviderUnavailable(f"discovery at {url}: {exc}") from None
        # OIDC Discovery 1.0 section 4.3: the document must name the very issuer it was fetched for.
        if not isinstance(document, dict) or document.get("issuer") != issuer:
            raise IdentityProviderUnavailable(f"discovery at {url} names another issuer")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise IdentityProviderUnavailable(f"discovery at {url} has no usable jwks_uri")
        return jwks_uri


def system_principal(claims: dict[str, Any], settings: ApiSettings) -> ServicePrincipal | PartnerPrincipal | None:
    """A service or partner from verified claims, None when the token names neither (then an officer)."""
    partner = claims.get(settings.oidc_partner_claim)
    service = claims.get(settings.oidc_service_claim)
    if partner is not None and service is not None:
        raise Unauthenticated("bad_claims", "both a service and a partner claim")
    if partner is not None:
        if not isinstance(partner, str) or not _SYSTEM_ID.fullmatch(partner):
            raise Unauthenticated("bad_claims", f"{settings.oidc_partner_claim} is not a partner code")
        return PartnerPrincipal(partner_code=partner)
    if service is None:
        return None
    if not isinstance(service, str) or not _SYSTEM_ID.fullmatch(service):
        raise Unauthenticated("bad_claims", f"{settings.oidc_service_claim} is not a service id")
    channels = claims.get(CHANNELS_CLAIM)
    villages = claims.get(VILLAGES_CLAIM) or []
    if not _strings(channels) or not channels or not set(channels) <= {c.value for c in Channel}:
        raise Unauthenticated("bad_claims", f"{CHANNELS_CLAIM} must list known channels")
    if not _strings(villages) or not set(villages) <= set(reference.villages()):
        raise Unauthenticated("bad_claims", f"{VILLAGES_CLAIM} must list known village codes")
    return ServicePrincipal(service_id=service, channels=frozenset(channels), villages=frozenset(villages))


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
