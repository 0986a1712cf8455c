"""Who is calling: an officer on the roster, a calling system (service) or a partner office.

A principal comes from a verified credential only, never from a request body, and holds no personal
data: ids, role, bidang and scope. `actor` is the name written into a case's history.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

OfficerRole = Literal["pendamping", "head_of_bidang", "kepala_dinas"]
# Service ids and partner codes are short identifiers chosen by the office, e.g. "puskesos-sawan", "RSJ-BALI".
SYSTEM_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class _Principal(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    # The API token that authenticated the call; None for an OIDC JWT.
    token_id: str | None = None

    @property
    def principal_id(self) -> str:
        raise NotImplementedError

    @property
    def rate_key(self) -> str:
        """What the rate limit counts: the token, else (OIDC) the principal itself."""
        return f"token:{self.token_id}" if self.token_id else f"{self.kind}:{self.principal_id}"


class OfficerPrincipal(_Principal):
    """An active officer; role and bidang come from the roster (`officers` table), not the credential."""

    kind: Literal["officer"] = "officer"
    officer_id: str = Field(min_length=1)
    role: OfficerRole
    bidang: str | None = None

    @property
    def principal_id(self) -> str:
        return self.officer_id

    @property
    def actor(self) -> str:
        return self.officer_id


class ServicePrincipal(_Principal):
    """A calling system (a Puskesos app, a hotline desk, a LAPOR! bridge) that submits cases.

    `villages` empty means every village; `channels` is never empty.
    """

    kind: Literal["service"] = "service"
    service_id: str = Field(pattern=SYSTEM_ID_PATTERN)
    channels: frozenset[str] = Field(min_length=1)
    villages: frozenset[str] = frozenset()

    @property
    def principal_id(self) -> str:
        return self.service_id

    @property
    def actor(self) -> str:
        return f"service:{self.service_id}"


class PartnerPrincipal(_Principal):
    """A partner office (Disdukcapil, RSJ, ...) acting only on the referrals made to it."""

    kind: Literal["partner"] = "partner"
    partner_code: str = Field(pattern=SYSTEM_ID_PATTERN)

    @property
    def principal_id(self) -> str:
        return self.partner_code

    @property
    def actor(self) -> str:
        return f"partner:{self.partner_code}"


Principal = Annotated[OfficerPrincipal | ServicePrincipal | PartnerPrincipal, Field(discriminator="kind")]
PRINCIPAL_KINDS = ("officer", "service", "partner")


class Unauthenticated(Exception):
    """The credential does not prove who is calling. `reason` is a code of `api.messages` ("auth.<reason>").

    `detail` is for the server log only (never a secret, never personal data).
    """

    REASONS = (
        "missing", "malformed", "unknown", "expired", "revoked", "inactive_officer", "unknown_officer",
        "oidc_disabled", "wrong_issuer", "wrong_audience", "not_yet_valid", "bad_signature",
        "disallowed_algorithm", "unknown_key", "missing_claim", "bad_claims",
    )

    def __init__(self, reason: str, detail: str = "") -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown Unauthenticated reason {reason!r}")
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class IdentityProviderUnavailable(Exception):
    """The OIDC discovery document or JWKS cannot be fetched: a 503, not the caller's fault."""
