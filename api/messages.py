"""Every text the door shows a caller, in Bahasa Indonesia (`id`, the default) and English (`en`).

One table of English msgids (`MSGIDS`), keyed by a stable code that callers and tests may branch on; the gettext
catalogs in referral/locale translate them and `text` fills the {params}. Texts never carry personal
data: only officer, service and partner ids, codes and numbers.
"""

from __future__ import annotations

from typing import Any

from referral import i18n
from referral.i18n import N_

MSGIDS: dict[str, str] = {  # code -> English msgid; referral/locale holds the Bahasa Indonesia
    # 401: who is calling
    "auth.missing": N_("No credentials: send an 'Authorization: Bearer <token>' header."),
    "auth.malformed": N_("Malformed credentials: expected an API token (rjk_...) or a JWT."),
    "auth.unknown": N_("Unknown token."),
    "auth.expired": N_("The token has expired."),
    "auth.revoked": N_("The token has been revoked."),
    "auth.inactive_officer": N_("The token's officer is no longer active on the roster."),
    "auth.unknown_officer": N_("This user is not an active officer on the Dinas Sosial roster."),
    "auth.oidc_disabled": N_("JWTs are not accepted: no OIDC issuer is configured."),
    "auth.wrong_issuer": N_("The token comes from an untrusted issuer."),
    "auth.wrong_audience": N_("The token is not meant for this service."),
    "auth.not_yet_valid": N_("The token is not valid yet."),
    "auth.bad_signature": N_("The token's signature is invalid."),
    "auth.disallowed_algorithm": N_("The token's signature algorithm is not allowed."),
    "auth.unknown_key": N_("The token's signing key is unknown."),
    "auth.missing_claim": N_("The token lacks a required claim."),
    "auth.bad_claims": N_("The token's claims are invalid for a calling system."),
    # 503: the identity provider cannot be reached
    "auth.idp_unavailable": N_("The identity provider cannot be reached; try again shortly."),
    # 413 / 429
    "limits.too_large": N_("The request is too large (at most {max_bytes} bytes)."),
    "limits.too_many": N_("Too many requests; try again in {seconds} seconds."),
    # What a policy decision is about (filled into {what} below).
    "what.read": N_("open this case"),
    "what.read_person": N_("see this case's personal data"),
    "what.act": N_("{action} this case"),
    # 403: who may touch which case (api.policy)
    "policy.kepala_dinas": N_("The kepala dinas may {what}."),
    "policy.assigned_pendamping": N_("The assigned pendamping may {what}."),
    "policy.involved_head": N_("The head of {bidang} is involved in this case and may {what}."),
    "policy.submitting_service": N_("Service {service_id} submitted this case and may {what}."),
    "policy.referral_partner": N_("This case is referred to partner {partner_code}, which may {what}."),
    "policy.not_assigned": N_("You cannot {what}: this case is assigned to pendamping {assignee}, not {officer_id}."),
    "policy.unassigned": N_("You cannot {what}: this case is not assigned to a pendamping yet."),
    "policy.bidang_not_involved": N_("You cannot {what}: your bidang ({bidang}) is not involved in this case."),
    "policy.service_not_submitter": N_("Service {service_id} cannot {what}: it did not submit this case."),
    "policy.service_no_personal_data": N_("Service {service_id} cannot {what}:"
                                          " services never get personal data back."),
    "policy.service_cannot_act": N_("Service {service_id} cannot {what}: services"
                                    " only submit cases and read the ones they submitted."),
    "policy.partner_not_referred": N_("Partner {partner_code} cannot {what}: this case is not referred to it."),
    "policy.partner_case_finished": N_("Partner {partner_code} cannot {what}: this case is already {status}."),
    # submitting a case
    "submit.allowed": N_("May submit cases."),
    "submit.unknown_channel": N_("Unknown channel {channel}."),
    "submit.channel_not_allowed": N_("Service {service_id} may not submit cases on channel {channel}."),
    "submit.village_not_allowed": N_("Service {service_id} may not submit cases for village {village_code}."),
    "submit.partner": N_("Partner {partner_code} cannot submit new cases; use a service token."),
}


LANGUAGES = i18n.LANGUAGES
# code -> {language: text}, as the catalogs give them (for checks and for callers that list them).
MESSAGES: dict[str, dict[str, str]] = {
    code: {language: i18n.translator(language).gettext(msgid) for language in LANGUAGES}
    for code, msgid in MSGIDS.items()
}


def text(code: str, language: str = "id", **params: Any) -> str:
    """The message `code` in `language` (an unknown language reads in Indonesian), with its {params} filled."""
    return i18n.translator(language).gettext(MSGIDS[code], **params)
