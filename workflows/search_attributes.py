"""The typed search attributes of a case, declared once. None of them holds personal data."""

from temporalio.common import SearchAttributeKey

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

ALL = [
    COMPLAINT_STATUS, VILLAGE_CODE, KECAMATAN, PENDAMPING_ID, BIDANG, PPKS_CATEGORY, URGENCY,
    ESCALATION_LEVEL, SLA_BREACHED, NEXT_DEADLINE,
]

# Name and type as `temporal server start-dev --search-attribute` and the operator API spell them.
CLI_TYPES = {
    "KEYWORD": "Keyword", "INT": "Int", "BOOL": "Bool", "DATETIME": "Datetime",
}


def cli_flags() -> list[str]:
    flags = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={CLI_TYPES[key.indexed_value_type.name.split('_', 3)[-1]]}"]
    return flags
