"""The typed search attributes of a case, declared once, and the one mapping from a case to them.

None of them holds personal data. `for_case` is used at start (by the client), on every recorded step
(by the workflow) and, read back with `row_of`, by `starter.py list` and the API's case lists.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

COMPLAINT_STATUS = SearchAttributeKey.for_keyword("ComplaintStatus")
VILLAGE_CODE = SearchAttributeKey.for_keyword("VillageCode")
KECAMATAN = SearchAttributeKey.for_keyword("Kecamatan")
PENDAMPING_ID = SearchAttributeKey.for_keyword("PendampingId")
BIDANG = SearchAttributeKey.for_keyword("Bidang")
PPKS_CATEGORY = SearchAttributeKey.for_keyword("PpksCategory")
URGENCY = SearchAttributeKey.for_keyword("Urgency")
ESCALATION_LEVEL = SearchAttributeKey.for_int("EscalationLevel")
SLA_BREACHED = SearchAttributeKey.for_bool("SlaBreached")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("NextDeadline")
NEEDS_ATTENTION = SearchAttributeKey.for_bool("NeedsAttention")
CONDITIONS = SearchAttributeKey.for_keyword_list("Conditions")
INVOLVED_BIDANG = SearchAttributeKey.for_keyword_list("InvolvedBidang")
SUBMITTED_BY = SearchAttributeKey.for_keyword("SubmittedBy")
REFERRAL_PARTNERS = SearchAttributeKey.for_keyword_list("ReferralPartners")
REFERRAL_STATUS = SearchAttributeKey.for_keyword("ReferralStatus")  # of a sub-case at a partner office

ALL = [
    COMPLAINT_STATUS, VILLAGE_CODE, KECAMATAN, PENDAMPING_ID, BIDANG, PPKS_CATEGORY, URGENCY,
    ESCALATION_LEVEL, SLA_BREACHED, NEXT_DEADLINE, NEEDS_ATTENTION, CONDITIONS, INVOLVED_BIDANG, SUBMITTED_BY,
    REFERRAL_PARTNERS, REFERRAL_STATUS,
]

# Name and type as `temporal server start-dev --search-attribute` and the operator API spell them.
CLI_TYPES = {
    "KEYWORD": "Keyword", "INT": "Int", "BOOL": "Bool", "DATETIME": "Datetime", "KEYWORD_LIST": "KeywordList",
}


def cli_flags() -> list[str]:
    flags = []
    for key in ALL:
        kind = key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_")
        flags += ["--search-attribute", f"{key.name}={CLI_TYPES[kind]}"]
    return flags


def for_case(case: dict[str, Any]) -> dict[SearchAttributeKey, Any]:
    """Case facts (status, village_code, kecamatan, …) -> attribute values; None unsets."""
    return {
        COMPLAINT_STATUS: case["status"],
        VILLAGE_CODE: case["village_code"],
        KECAMATAN: case["kecamatan"],
        URGENCY: case["urgency"],
        PENDAMPING_ID: case.get("pendamping_id") or "",
        BIDANG: case["bidang"],
        PPKS_CATEGORY: case["category"],
        ESCALATION_LEVEL: int(case.get("escalation_level") or 0),
        SLA_BREACHED: bool(case.get("sla_breached")),
        NEXT_DEADLINE: case.get("next_deadline"),
        NEEDS_ATTENTION: bool(case.get("needs_attention")),
        CONDITIONS: list(case.get("conditions") or []),
        INVOLVED_BIDANG: sorted(set(case.get("involved_bidang") or [case["bidang"]]) - {None, ""}),
        SUBMITTED_BY: case.get("submitted_by") or "",
        REFERRAL_PARTNERS: sorted(set(case.get("referral_partners") or [])),
    }


def for_joined_report(joined_to: str) -> dict[SearchAttributeKey, Any]:
    """A further report that joined an open case: it is listed as joined, never as a case of its own."""
    return {COMPLAINT_STATUS: "joined", NEEDS_ATTENTION: False}


def typed(values: dict[SearchAttributeKey, Any]) -> TypedSearchAttributes:
    return TypedSearchAttributes([SearchAttributePair(k, v) for k, v in values.items() if v is not None])


def row_of(attributes: TypedSearchAttributes) -> dict[str, Any]:
    """A case list row read back from visibility (the inverse of `for_case`)."""
    deadline: datetime | None = attributes.get(NEXT_DEADLINE)
    return {
        "status": attributes.get(COMPLAINT_STATUS),
        "kecamatan": attributes.get(KECAMATAN),
        "village_code": attributes.get(VILLAGE_CODE),
        "category": attributes.get(PPKS_CATEGORY),
        "bidang": attributes.get(BIDANG),
        "pendamping_id": attributes.get(PENDAMPING_ID) or None,
        "urgency": attributes.get(URGENCY),
        "escalation_level": attributes.get(ESCALATION_LEVEL),
        "sla_breached": attributes.get(SLA_BREACHED),
        "needs_attention": attributes.get(NEEDS_ATTENTION) or False,
        "conditions": list(attributes.get(CONDITIONS) or []),
        "involved_bidang": list(attributes.get(INVOLVED_BIDANG) or []),
        "submitted_by": attributes.get(SUBMITTED_BY) or None,
        "referral_partners": list(attributes.get(REFERRAL_PARTNERS) or []),
        "next_deadline": deadline.isoformat() if deadline else None,
    }
