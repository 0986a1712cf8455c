"""Settings of the HTTP door, read from `REFERRAL_*` environment variables (pydantic-settings)."""

from __future__ import annotations

import secrets
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Asymmetric signatures only: an HS* token verified with a public key is the classic alg confusion.
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


class ApiSettings(BaseSettings):
    """Every field is `REFERRAL_<FIELD>` in the environment, e.g. `REFERRAL_OIDC_ISSUER`."""

    model_config = SettingsConfigDict(env_prefix="REFERRAL_", extra="ignore", frozen=True)

    # OIDC bearer JWTs (off while oidc_issuer is unset: only API tokens are accepted).
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None  # default: jwks_uri from <issuer>/.well-known/openid-configuration
    oidc_officer_claim: str = "preferred_username"
    oidc_service_claim: str = "referral_service"
    oidc_partner_claim: str = "referral_partner"
    oidc_algorithms: Annotated[tuple[str, ...], NoDecode] = ("RS256", "ES256")
    oidc_leeway_seconds: int = Field(default=30, ge=0, le=300)
    oidc_jwks_cache_seconds: float = Field(default=300, gt=0)
    oidc_jwks_refresh_cooldown_seconds: float = Field(default=30, ge=0)
    oidc_http_timeout_seconds: float = Field(default=5, gt=0)

    # Opaque API tokens.
    token_default_days: int = Field(default=90, ge=1)
    token_max_days: int = Field(default=365, ge=1)

    # Limits per credential and per request.
    rate_limit_per_minute: float = Field(default=120, gt=0)
    rate_limit_burst: int = Field(default=30, ge=1)
    max_request_bytes: int = Field(default=1_048_576, ge=1024)

    # Where the worklist page keeps the credential when it is not in the Authorization header.
    session_cookie: str = "referral_session"
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    cookie_secure: bool = False  # true behind HTTPS: the session cookie is then sent over HTTPS only
    # Keys the page forms' CSRF tokens; random per process unless set (set it when several processes serve).
    csrf_secret: str = Field(default_factory=lambda: secrets.token_urlsafe(32), min_length=16, repr=False)
    language: Literal["id", "en"] = "id"

    # Where `python api.py` listens (REFERRAL_API_HOST, REFERRAL_API_PORT; port 0 picks a free one).
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=0, le=65535)

    @field_validator("oidc_algorithms", mode="before")
    @classmethod
    def _split_algorithms(cls, value: object) -> object:
        if isinstance(value, str):  # "RS256,ES256" in the environment
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("oidc_algorithms")
    @classmethod
    def _asymmetric_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [alg for alg in value if alg not in ASYMMETRIC_ALGORITHMS]
        if bad or not value:
            raise ValueError(
                f"REFERRAL_OIDC_ALGORITHMS: {', '.join(bad) or 'empty'} not allowed"
                f" (choose from {', '.join(ASYMMETRIC_ALGORITHMS)})"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ApiSettings:
        if self.token_default_days > self.token_max_days:
            raise ValueError(
                f"REFERRAL_TOKEN_DEFAULT_DAYS ({self.token_default_days}) exceeds"
                f" REFERRAL_TOKEN_MAX_DAYS ({self.token_max_days})"
            )
        if self.oidc_issuer and not self.oidc_audience:
            raise ValueError("REFERRAL_OIDC_AUDIENCE is required when REFERRAL_OIDC_ISSUER is set")
        return self

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer)
