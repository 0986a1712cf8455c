"""Who may touch which case: api.policy as tables."""

from __future__ import annotations

import pytest

from api import messages
from api.policy import (
    PARTNER_PERSON_FIELDS, PERSON_FIELDS, CaseAccess, can_act, can_read, can_read_person, can_submit,
    person_fields, worklist_filter,
)
from api.principal import OfficerPrincipal, PartnerPrincipal, ServicePrincipal

PJS, REHSOS, DAYASOS = "perlindungan_jaminan_sosial", "rehabilitasi_sosial", "pemberdayaan_sosial"

PD34 = OfficerPrincipal(officer_id="PD-34", role="pendamping", bidang=PJS)
PD33 = OfficerPrincipal(officer_id="PD-33", role="pendamping", bidang=PJS)
KABID_PJS = OfficerPrincipal(officer_id="KABID-PJS", role="head_of_bidang", bidang=PJS)
KABID_REHSOS = OfficerPrincipal(officer_id="KABID-REHSOS", role="head_of_bidang", bidang=REHSOS)
KABID_DAYASOS = OfficerPrincipal(officer_id="KABID-DAYASOS", role="head_of_bidang", bidang=DAYASOS)
KADIS = OfficerPrincipal(officer_id="KADIS", role="kepala_dinas")
PUSKESOS = ServicePrincipal(service_id="puskesos-bengkala", channels=frozenset({"puskesos"}),
                            villages=frozenset({"51.08.08.2010"}))
HOTLINE = ServicePrincipal(service_id="hotline", channels=frozenset({"hotline", "whatsapp"}))
DUKCAPIL = PartnerPrincipal(partner_code="DISDUKCAPIL")
RSJ = PartnerPrincipal(partner_code="RSJ-BALI")

# A disability case in Desa Bengkala: responsible bidang rehsos, pendamping PD-34 of bidang PJS,
# submitted by the Puskesos, referred to Disdukcapil for a KTP.
CASE = CaseAccess(status="referred", pendamping_id="PD-34", bidang=REHSOS, pendamping_bidang=PJS,
                  submitted_by="puskesos-bengkala", referral_partners=frozenset({"DISDUKCAPIL"}))
UNASSIGNED = CaseAccess(status="received", bidang=REHSOS, submitted_by="hotline")
CLOSED = CASE.model_copy(update={"status": "closed"})
REFERRED_ON = CASE.model_copy(update={"involved_bidang": frozenset({DAYASOS})})


@pytest.mark.parametrize(("who", "case", "allowed", "code"), [
    (PD34, CASE, True, "policy.assigned_pendamping"),
    (PD33, CASE, False, "policy.not_assigned"),
    (PD34, UNASSIGNED, False, "policy.unassigned"),
    (KABID_REHSOS, CASE, True, "policy.involved_head"),  # responsible bidang
    (KABID_PJS, CASE, True, "policy.involved_head"),  # the pendamping's bidang
    (KABID_DAYASOS, CASE, False, "policy.bidang_not_involved"),
    (KABID_DAYASOS, REFERRED_ON, True, "policy.involved_head"),  # referred on to a third bidang
    (KABID_REHSOS, UNASSIGNED, True, "policy.involved_head"),
    (KABID_PJS, UNASSIGNED, False, "policy.bidang_not_involved"),
    (KADIS, CASE, True, "policy.kepala_dinas"),
    (KADIS, UNASSIGNED, True, "policy.kepala_dinas"),
    (PUSKESOS, CASE, True, "policy.submitting_service"),
    (HOTLINE, CASE, False, "policy.service_not_submitter"),
    (HOTLINE, UNASSIGNED, True, "policy.submitting_service"),
    (DUKCAPIL, CASE, True, "policy.referral_partner"),
    (RSJ, CASE, False, "policy.partner_not_referred"),
    (DUKCAPIL, CLOSED, True, "policy.referral_partner"),  # its own referral's outcome stays readable
])
def test_can_read(who, case, allowed, code):
    decision = can_read(who, case)
    assert (decision.allowed, decision.code) == (allowed, code)
    assert bool(decision) is allowed


@pytest.mark.parametrize(("who", "case", "allowed", "code", "fields"), [
    (PD34, CASE, True, "policy.assigned_pendamping", PERSON_FIELDS),
    (PD33, CASE, False, "policy.not_assigned", ()),
    (KABID_PJS, CASE, True, "policy.involved_head", PERSON_FIELDS),
    (KABID_DAYASOS, CASE, False, "policy.bidang_not_involved", ()),
    (KADIS, CASE, True, "policy.kepala_dinas", PERSON_FIELDS),
    (PUSKESOS, CASE, False, "policy.service_no_personal_data", ()),  # even the service that sent it
    (DUKCAPIL, CASE, True, "policy.referral_partner", PARTNER_PERSON_FIELDS),
    (DUKCAPIL, CLOSED, False, "policy.partner_case_finished", ()),
    (RSJ, CASE, False, "policy.partner_not_referred", ()),
])
def test_can_read_person_and_which_fields(who, case, allowed, code, fields):
    decision = can_read_person(who, case)
    assert (decision.allowed, decision.code) == (allowed, code)
    assert person_fields(who, case) == fields


def test_a_partner_never_sees_who_reported():
    assert "reporter" not in person_fields(DUKCAPIL, CASE)
    assert "reporter" in person_fields(PD34, CASE)


@pytest.mark.parametrize(("who", "action", "case", "allowed", "code"), [
    ("PD34", "acknowledge", CASE, True, "policy.assigned_pendamping"),
    ("PD33", "acknowledge", CASE, False, "policy.not_assigned"),
    ("KABID_PJS", "reassign", CASE, True, "policy.involved_head"),
    ("KABID_DAYASOS", "reject", CASE, False, "policy.bidang_not_involved"),
    ("KADIS", "reopen", CLOSED, True, "policy.kepala_dinas"),
    ("PUSKESOS", "close", CASE, False, "policy.service_cannot_act"),
    ("DUKCAPIL", "partner_report", CASE, True, "policy.referral_partner"),
    ("RSJ", "partner_report", CASE, False, "policy.partner_not_referred"),
])
def test_can_act(who, action, case, allowed, code):
    decision = can_act(globals()[who], action, case)
    assert (decision.allowed, decision.code) == (allowed, code)


@pytest.mark.parametrize(("who", "channel", "village", "allowed", "code"), [
    (PD34, "walk_in", "51.08.01.2001", True, "submit.allowed"),
    (KADIS, "lapor", "51.08.08.2010", True, "submit.allowed"),
    (PUSKESOS, "puskesos", "51.08.08.2010", True, "submit.allowed"),
    (PUSKESOS, "hotline", "51.08.08.2010", False, "submit.channel_not_allowed"),
    (PUSKESOS, "puskesos", "51.08.07.2001", False, "submit.village_not_allowed"),
    (HOTLINE, "whatsapp", "51.08.07.2001", True, "submit.allowed"),  # no village list: every village
    (HOTLINE, "fax", "51.08.07.2001", False, "submit.unknown_channel"),
    (DUKCAPIL, "other_service", "51.08.08.2010", False, "submit.partner"),
])
def test_can_submit(who, channel, village, allowed, code):
    decision = can_submit(who, channel, village)
    assert (decision.allowed, decision.code) == (allowed, code)


@pytest.mark.parametrize(("who", "equals", "query"), [
    (PD34, {"PendampingId": "PD-34"}, "PendampingId = 'PD-34'"),
    (KABID_REHSOS, {"InvolvedBidang": REHSOS}, f"InvolvedBidang = '{REHSOS}'"),
    (KADIS, {}, ""),
    (PUSKESOS, {"SubmittedBy": "puskesos-bengkala"}, "SubmittedBy = 'puskesos-bengkala'"),
    (DUKCAPIL, {"ReferralPartners": "DISDUKCAPIL"}, "ReferralPartners = 'DISDUKCAPIL'"),
])
def test_worklist_filter(who, equals, query):
    f = worklist_filter(who)
    assert dict(f.equals) == equals
    assert f.all_cases is (not equals)
    assert f.to_query() == query


def test_refusals_say_why_in_both_languages():
    refused = can_act(PD33, "acknowledge", CASE)
    assert refused.reason == (
        "Anda tidak dapat melakukan 'acknowledge' pada kasus ini: kasus ini ditugaskan kepada pendamping"
        " PD-34, bukan PD-33."
    )
    assert refused.text("en") == "You cannot acknowledge this case: this case is assigned to pendamping PD-34, not PD-33."
    assert can_read_person(PUSKESOS, CASE).reason == (
        "Layanan puskesos-bengkala tidak dapat melihat data pribadi kasus ini: layanan tidak pernah menerima"
        " data pribadi kembali."
    )
    assert can_submit(PUSKESOS, "puskesos", "51.08.07.2001").text("en") == (
        "Service puskesos-bengkala may not submit cases for village 51.08.07.2001."
    )


def test_every_message_has_both_languages_with_the_same_placeholders():
    import string

    def names(template: str) -> set[str]:
        return {field for _, field, _, _ in string.Formatter().parse(template) if field}

    for code, entry in messages.MESSAGES.items():
        assert set(entry) == set(messages.LANGUAGES), code
        assert names(entry["id"]) == names(entry["en"]), code
