"""Every text the door shows a caller, in Bahasa Indonesia (`id`, the default) and English (`en`).

One dict, keyed by a stable code that callers and tests may branch on; `text` fills the {params}.
Texts never carry personal data: only officer, service and partner ids, codes and numbers.
"""

from __future__ import annotations

from typing import Any

MESSAGES: dict[str, dict[str, str]] = {
    # 401: who is calling
    "auth.missing": {
        "id": "Kredensial tidak ada: kirim header 'Authorization: Bearer <token>'.",
        "en": "No credentials: send an 'Authorization: Bearer <token>' header.",
    },
    "auth.malformed": {
        "id": "Kredensial tidak dikenali bentuknya: harus token API (rjk_...) atau JWT.",
        "en": "Malformed credentials: expected an API token (rjk_...) or a JWT.",
    },
    "auth.unknown": {"id": "Token tidak dikenal.", "en": "Unknown token."},
    "auth.expired": {"id": "Token sudah kedaluwarsa.", "en": "The token has expired."},
    "auth.revoked": {"id": "Token sudah dicabut.", "en": "The token has been revoked."},
    "auth.inactive_officer": {
        "id": "Petugas pemilik token tidak lagi aktif dalam daftar petugas.",
        "en": "The token's officer is no longer active on the roster.",
    },
    "auth.unknown_officer": {
        "id": "Pengguna ini bukan petugas aktif dalam daftar petugas Dinas Sosial.",
        "en": "This user is not an active officer on the Dinas Sosial roster.",
    },
    "auth.oidc_disabled": {
        "id": "Token JWT tidak diterima: penerbit OIDC belum dikonfigurasi.",
        "en": "JWTs are not accepted: no OIDC issuer is configured.",
    },
    "auth.wrong_issuer": {
        "id": "Token diterbitkan oleh penerbit yang tidak dipercaya.",
        "en": "The token comes from an untrusted issuer.",
    },
    "auth.wrong_audience": {
        "id": "Token tidak ditujukan untuk layanan ini.",
        "en": "The token is not meant for this service.",
    },
    "auth.not_yet_valid": {"id": "Token belum berlaku.", "en": "The token is not valid yet."},
    "auth.bad_signature": {"id": "Tanda tangan token tidak sah.", "en": "The token's signature is invalid."},
    "auth.disallowed_algorithm": {
        "id": "Algoritma tanda tangan token tidak diizinkan.",
        "en": "The token's signature algorithm is not allowed.",
    },
    "auth.unknown_key": {
        "id": "Kunci penanda tangan token tidak dikenal.",
        "en": "The token's signing key is unknown.",
    },
    "auth.missing_claim": {
        "id": "Token tidak memuat klaim yang diperlukan.",
        "en": "The token lacks a required claim.",
    },
    "auth.bad_claims": {
        "id": "Klaim token tidak sah untuk sistem pemanggil.",
        "en": "The token's claims are invalid for a calling system.",
    },
    # 503: the identity provider cannot be reached
    "auth.idp_unavailable": {
        "id": "Penyedia identitas tidak dapat dihubungi; coba lagi sebentar lagi.",
        "en": "The identity provider cannot be reached; try again shortly.",
    },
    # 413 / 429
    "limits.too_large": {
        "id": "Permintaan terlalu besar (maksimum {max_bytes} bita).",
        "en": "The request is too large (at most {max_bytes} bytes).",
    },
    "limits.too_many": {
        "id": "Terlalu banyak permintaan; coba lagi dalam {seconds} detik.",
        "en": "Too many requests; try again in {seconds} seconds.",
    },
    # What a policy decision is about (filled into {what} below).
    "what.read": {"id": "membuka kasus ini", "en": "open this case"},
    "what.read_person": {"id": "melihat data pribadi kasus ini", "en": "see this case's personal data"},
    "what.act": {"id": "melakukan '{action}' pada kasus ini", "en": "{action} this case"},
    # 403: who may touch which case (api.policy)
    "policy.kepala_dinas": {
        "id": "Kepala dinas dapat {what}.",
        "en": "The kepala dinas may {what}.",
    },
    "policy.assigned_pendamping": {
        "id": "Pendamping yang ditugaskan dapat {what}.",
        "en": "The assigned pendamping may {what}.",
    },
    "policy.involved_head": {
        "id": "Kepala bidang {bidang} terlibat dalam kasus ini dan dapat {what}.",
        "en": "The head of {bidang} is involved in this case and may {what}.",
    },
    "policy.submitting_service": {
        "id": "Layanan {service_id} mengajukan kasus ini dan dapat {what}.",
        "en": "Service {service_id} submitted this case and may {what}.",
    },
    "policy.referral_partner": {
        "id": "Kasus ini dirujuk kepada mitra {partner_code}, yang dapat {what}.",
        "en": "This case is referred to partner {partner_code}, which may {what}.",
    },
    "policy.not_assigned": {
        "id": "Anda tidak dapat {what}: kasus ini ditugaskan kepada pendamping {assignee}, bukan {officer_id}.",
        "en": "You cannot {what}: this case is assigned to pendamping {assignee}, not {officer_id}.",
    },
    "policy.unassigned": {
        "id": "Anda tidak dapat {what}: kasus ini belum ditugaskan kepada pendamping.",
        "en": "You cannot {what}: this case is not assigned to a pendamping yet.",
    },
    "policy.bidang_not_involved": {
        "id": "Anda tidak dapat {what}: bidang Anda ({bidang}) tidak terlibat dalam kasus ini.",
        "en": "You cannot {what}: your bidang ({bidang}) is not involved in this case.",
    },
    "policy.service_not_submitter": {
        "id": "Layanan {service_id} tidak dapat {what}: kasus ini tidak diajukan oleh layanan ini.",
        "en": "Service {service_id} cannot {what}: it did not submit this case.",
    },
    "policy.service_no_personal_data": {
        "id": "Layanan {service_id} tidak dapat {what}: layanan tidak pernah menerima data pribadi kembali.",
        "en": "Service {service_id} cannot {what}: services never get personal data back.",
    },
    "policy.service_cannot_act": {
        "id": "Layanan {service_id} tidak dapat {what}: layanan hanya mengajukan kasus dan membaca kasus"
              " yang diajukannya.",
        "en": "Service {service_id} cannot {what}: services only submit cases and read the ones they submitted.",
    },
    "policy.partner_not_referred": {
        "id": "Mitra {partner_code} tidak dapat {what}: kasus ini tidak dirujuk kepada mitra ini.",
        "en": "Partner {partner_code} cannot {what}: this case is not referred to it.",
    },
    "policy.partner_case_finished": {
        "id": "Mitra {partner_code} tidak dapat {what}: kasus ini sudah {status}.",
        "en": "Partner {partner_code} cannot {what}: this case is already {status}.",
    },
    # submitting a case
    "submit.allowed": {"id": "Boleh mengajukan kasus.", "en": "May submit cases."},
    "submit.unknown_channel": {
        "id": "Kanal {channel} tidak dikenal.",
        "en": "Unknown channel {channel}.",
    },
    "submit.channel_not_allowed": {
        "id": "Layanan {service_id} tidak diizinkan mengajukan kasus melalui kanal {channel}.",
        "en": "Service {service_id} may not submit cases on channel {channel}.",
    },
    "submit.village_not_allowed": {
        "id": "Layanan {service_id} tidak diizinkan mengajukan kasus untuk desa {village_code}.",
        "en": "Service {service_id} may not submit cases for village {village_code}.",
    },
    "submit.partner": {
        "id": "Mitra {partner_code} tidak dapat mengajukan kasus baru; gunakan token layanan.",
        "en": "Partner {partner_code} cannot submit new cases; use a service token.",
    },
}

LANGUAGES = ("id", "en")


def text(code: str, language: str = "id", **params: Any) -> str:
    """The message `code` in `language` (falling back to Indonesian), with its {params} filled."""
    entry = MESSAGES[code]
    return entry.get(language, entry["id"]).format(**params)
