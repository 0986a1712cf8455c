"""Who may touch which case. Pure: no I/O; the routes pass the principal and the case's facts.

Which action each role may take in each state is the workflow's business (`referral.lifecycle`);
this module only answers whether a caller may touch a given case at all.

  * pendamping: reads and acts on the cases assigned to them.
  * head of bidang: reads and acts on the cases their bidang is involved in: the responsible bidang,
    the assigned pendamping's bidang, or any bidang the case was referred to.
  * kepala dinas: every case.
  * service: submits only on its channels (and villages, when its scope lists any); reads only the
    cases it submitted; never acts on a case and never gets personal data back (it holds what it sent,
    and a service credential lives on a machine, so returning data would only widen the exposure).
  * partner office: reads and acts only on the cases referred to it. It may see the person it must
    serve (the subject and the description, never who reported them) while the case is open: a
    Disdukcapil cannot issue a KTP, nor an RSJ admit a patient, without knowing who. Once the case is
    closed or rejected, its access to personal data ends.

Every answer is a `Decision` (truthy when allowed) whose `text()` is the 403 message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict

from api import messages
from api.principal import OfficerPrincipal, PartnerPrincipal, Principal, ServicePrincipal
from referral.intake import Channel
from referral.models import FINISHED_STATUSES

# The personal data of a case: the subject (name, NIK, address...), the reporter, the description,
# and officers' notes (which often describe the person).
PERSON_FIELDS = ("subject", "reporter", "description", "notes")
PARTNER_PERSON_FIELDS = ("subject", "description")


class CaseAccess(BaseModel):
    """The facts of a case that decide who may touch it (no personal data)."""

    model_config = ConfigDict(frozen=True)

    status: str
    pendamping_id: str | None = None
    bidang: str  # responsible bidang, from the category
    pendamping_bidang: str | None = None
    involved_bidang: frozenset[str] = frozenset()  # e.g. bidang the case was referred to
    submitted_by: str | None = None  # service id of the calling system that submitted it
    referral_partners: frozenset[str] = frozenset()  # partner codes the case is referred to

    @property
    def bidang_involved(self) -> frozenset[str]:
        return frozenset(b for b in (self.bidang, self.pendamping_bidang, *self.involved_bidang) if b)

    @property
    def finished(self) -> bool:
        return self.status in {s.value for s in FINISHED_STATUSES}


@dataclass(frozen=True)
class Decision:
    """Allowed or refused, with a message code of `api.messages` and its parameters."""

    allowed: bool
    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.allowed

    def text(self, language: str = "id") -> str:
        params = dict(self.params)
        what = params.pop("what", None)
        if what is not None:
            params["what"] = messages.text(f"what.{what}", language, action=params.get("action", ""))
        return messages.text(self.code, language, **params)

    @property
    def reason(self) -> str:
        return self.text("id")


def _allow(code: str, **params: Any) -> Decision:
    return Decision(True, f"policy.{code}", params)


def _refuse(code: str, **params: Any) -> Decision:
    return Decision(False, f"policy.{code}", params)


def _officer_touch(p: OfficerPrincipal, case: CaseAccess, what: str, action: str = "") -> Decision:
    """The one rule for officers, the same for reading, personal data and acting."""
    if p.role == "kepala_dinas":
        return _allow("kepala_dinas", what=what, action=action)
    if p.role == "head_of_bidang":
        if p.bidang and p.bidang in case.bidang_involved:
            return _allow("involved_head", bidang=p.bidang, what=what, action=action)
        return _refuse("bidang_not_involved", bidang=p.bidang or "-", what=what, action=action)
    if case.pendamping_id == p.officer_id:
        return _allow("assigned_pendamping", what=what, action=action)
    if case.pendamping_id is None:
        return _refuse("unassigned", what=what, action=action)
    return _refuse("not_assigned", assignee=case.pendamping_id, officer_id=p.officer_id, what=what, action=action)


def _partner_referred(p: PartnerPrincipal, case: CaseAccess, what: str, action: str = "") -> Decision:
    if p.partner_code in case.referral_partners:
        return _allow("referral_partner", partner_code=p.partner_code, what=what, action=action)
    return _refuse("partner_not_referred", partner_code=p.partner_code, what=what, action=action)


def can_read(p: Principal, case: CaseAccess) -> Decision:
    """The case's public facts: status, clocks, timeline without personal data."""
    if isinstance(p, OfficerPrincipal):
        return _officer_touch(p, case, "read")
    if isinstance(p, ServicePrincipal):
        if case.submitted_by == p.service_id:
            return _allow("submitting_service", service_id=p.service_id, what="read")
        return _refuse("service_not_submitter", service_id=p.service_id, what="read")
    return _partner_referred(p, case, "read")


def can_read_person(p: Principal, case: CaseAccess) -> Decision:
    """The case's personal data (see `person_fields` for which part). Each read must be recorded."""
    if isinstance(p, OfficerPrincipal):
        return _officer_touch(p, case, "read_person")
    if isinstance(p, ServicePrincipal):
        return _refuse("service_no_personal_data", service_id=p.service_id, what="read_person")
    referred = _partner_referred(p, case, "read_person")
    if referred and case.finished:
        return _refuse("partner_case_finished", partner_code=p.partner_code, status=case.status, what="read_person")
    return referred


def person_fields(p: Principal, case: CaseAccess) -> tuple[str, ...]:
    """Which personal-data fields the caller may read: officers all, a partner the person it serves."""
    if not can_read_person(p, case):
        return ()
    return PARTNER_PERSON_FIELDS if isinstance(p, PartnerPrincipal) else PERSON_FIELDS


def can_act(p: Principal, action: str, case: CaseAccess) -> Decision:
    """Whether the caller may attempt `action` on this case; the workflow then checks state and role."""
    if isinstance(p, OfficerPrincipal):
        return _officer_touch(p, case, "act", action)
    if isinstance(p, ServicePrincipal):
        return _refuse("service_cannot_act", service_id=p.service_id, what="act", action=action)
    return _partner_referred(p, case, "act", action)


def can_submit(p: Principal, channel: str, village_code: str) -> Decision:
    """Whether the caller may submit a new case on `channel` for `village_code`.

    Any active officer may record a report on any channel (a walk-in, a call, a LAPOR! complaint
    typed in at the office); a partner submits through a service token instead.
    """
    if channel not in {c.value for c in Channel}:
        return Decision(False, "submit.unknown_channel", {"channel": channel})
    if isinstance(p, OfficerPrincipal):
        return Decision(True, "submit.allowed")
    if isinstance(p, PartnerPrincipal):
        return Decision(False, "submit.partner", {"partner_code": p.partner_code})
    if channel not in p.channels:
        return Decision(False, "submit.channel_not_allowed", {"service_id": p.service_id, "channel": channel})
    if p.villages and village_code not in p.villages:
        return Decision(False, "submit.village_not_allowed", {"service_id": p.service_id, "village_code": village_code})
    return Decision(True, "submit.allowed")


# ---- "my cases" ----

# Search attributes a worklist filters on. PendampingId exists; the other three are new (keyword
# lists for InvolvedBidang and ReferralPartners) and must be upserted by the workflow.
PENDAMPING_ID = "PendampingId"
INVOLVED_BIDANG = "InvolvedBidang"
SUBMITTED_BY = "SubmittedBy"
REFERRAL_PARTNERS = "ReferralPartners"
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.:-]+$")


@dataclass(frozen=True)
class WorklistFilter:
    """Equalities on search attributes, all of which must hold; none means every case.

    On a keyword-list attribute Temporal reads `=` as "contains".
    """

    equals: Mapping[str, str] = field(default_factory=dict)

    @property
    def all_cases(self) -> bool:
        return not self.equals

    def to_query(self) -> str:
        """The filter as a Temporal visibility query fragment ("" for every case)."""
        for attribute, value in self.equals.items():
            if not _SAFE_VALUE.fullmatch(value):
                raise ValueError(f"worklist filter {attribute}: unsafe value {value!r}")
        return " AND ".join(f"{attribute} = '{value}'" for attribute, value in sorted(self.equals.items()))


def worklist_filter(p: Principal) -> WorklistFilter:
    """What "my cases" means for the caller; combine with status or deadline filters as needed."""
    if isinstance(p, OfficerPrincipal):
        if p.role == "kepala_dinas":
            return WorklistFilter()
        if p.role == "head_of_bidang":
            return WorklistFilter({INVOLVED_BIDANG: p.bidang or "-"})
        return WorklistFilter({PENDAMPING_ID: p.officer_id})
    if isinstance(p, ServicePrincipal):
        return WorklistFilter({SUBMITTED_BY: p.service_id})
    return WorklistFilter({REFERRAL_PARTNERS: p.partner_code})
