"""Unit tests for intake validation (casework.intake.parse_intake, referral.models), complaint ids and
the Temporal visibility query built by casework.cases.list_query. No servers."""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from casework.cases import list_query
from casework.intake import IntakeError, complaint_id_for, parse_intake, workflow_id
from referral.intake import ComplaintIntake, Sex, check_nik

WITA = timezone(timedelta(hours=8))
NOW = datetime(2026, 4, 15, 10, 0, tzinfo=WITA)

VALID: dict[str, Any] = {
    "external_ref": "LAPOR-2026-000123",
    "channel": "puskesos",
    "reporter": {"name": "Petugas Puskesos Bengkala", "phone": "081234567890", "relation": "puskesos"},
    "subject": {
        "name": "Ni Kadek Ayu",
        "nik": "5108086512900001",  # 51 Bali, 08 Buleleng, 08 Kubutambahan, day 65 = 25th for a woman, 12/90
        "sex": "female",
        "address": "Banjar Dinas Kelod, Bengkala",
    },
    "village_code": "51.08.08.2010",  # Desa Bengkala, Kubutambahan
    "category": "penyandang_disabilitas",
    "description": "Warga penyandang disabilitas belum menerima layanan.",
    "urgency": "normal",
    "reported_at": "2026-04-15T09:30:00+08:00",
}


def doc(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(VALID)
    for path, value in changes.items():
        target = data
        *parents, leaf = path.split("__")
        for key in parents:
            target = target[key]
        if value is _DELETE:
            del target[leaf]
        else:
            target[leaf] = value
    return data


_DELETE = object()


def problem_paths(error: IntakeError) -> set[str]:
    return {p.split(":", 1)[0] for p in error.problems}


# ---- valid intake ---------------------------------------------------------------------------

def test_valid_intake_passes() -> None:
    intake = parse_intake(VALID, now=NOW)
    assert isinstance(intake, ComplaintIntake)
    assert intake.village_code == "51.08.08.2010"
    assert intake.subject.nik == "5108086512900001"
    assert intake.subject.sex is Sex.FEMALE
    assert intake.reported_at == datetime(2026, 4, 15, 9, 30, tzinfo=WITA)


def test_valid_intake_from_json_text_and_bytes() -> None:
    text = json.dumps(VALID)
    assert parse_intake(text, now=NOW) == parse_intake(text.encode(), now=NOW) == parse_intake(VALID, now=NOW)


def test_optional_fields_may_be_left_out() -> None:
    intake = parse_intake(doc(external_ref=_DELETE, reporter__phone=_DELETE, subject__nik=_DELETE, urgency=_DELETE), now=NOW)
    assert intake.external_ref is None and intake.reporter.phone is None and intake.subject.nik is None
    assert intake.urgency.value == "normal"


@pytest.mark.parametrize(
    ("phone", "stored"),
    [("081234567890", "081234567890"), ("+6281234567890", "+6281234567890"),
     ("+62 812-3456-7890", "+6281234567890"), ("(0812) 3456 789", "08123456789"), ("6285737123456", "6285737123456")],
)
def test_indonesian_mobile_numbers_accepted(phone: str, stored: str) -> None:
    assert parse_intake(doc(reporter__phone=phone), now=NOW).reporter.phone == stored


# ---- every bad field is named ---------------------------------------------------------------

SEVERAL_BAD = dict(
    village_code="51.03.01.2001",          # Badung, not Buleleng
    category="orang_kaya",                 # not a PPKS category
    subject__nik="510808651290001",        # 15 digits
    reporter__phone="+441234567890",       # a UK number
    reporter__name=_DELETE,                # missing
    favourite_colour="biru",               # unknown extra field
)
SEVERAL_BAD_PATHS = {"village_code", "category", "subject.nik", "reporter.phone", "reporter.name", "favourite_colour"}


def test_several_bad_fields_are_all_listed() -> None:
    with pytest.raises(IntakeError) as info:
        parse_intake(doc(**SEVERAL_BAD), now=NOW)
    assert problem_paths(info.value) == SEVERAL_BAD_PATHS
    message = str(info.value)
    assert message.startswith("invalid complaint:")
    for path in SEVERAL_BAD_PATHS:
        assert f"  - {path}: " in message


def test_several_bad_fields_with_future_reported_at_are_all_listed() -> None:
    with pytest.raises(IntakeError) as info:
        parse_intake(doc(**SEVERAL_BAD, reported_at="2026-04-16T10:00:00+08:00"), now=NOW)
    assert problem_paths(info.value) == SEVERAL_BAD_PATHS | {"reported_at"}


@pytest.mark.parametrize(
    ("changes", "path", "fragment"),
    [
        pytest.param({"village_code": "51.03.01.2001"}, "village_code", "not a desa/kelurahan code in Kabupaten Buleleng", id="village-badung"),
        pytest.param({"village_code": "51.08.99.9999"}, "village_code", "Kabupaten Buleleng", id="village-unknown"),
        pytest.param({"category": "orang_kaya"}, "category", "not one of the 26 PPKS category codes", id="unknown-category"),
        pytest.param({"subject__nik": "510808651290001"}, "subject.nik", "must be exactly 16 digits", id="nik-15-digits"),
        pytest.param({"subject__nik": "5108080513900001"}, "subject.nik", "month must be 01-12", id="nik-month-13"),
        pytest.param({"subject__nik": "5108087212900001"}, "subject.nik", "day must be 01-31, or 41-71", id="nik-day-72"),
        pytest.param({"subject__nik": "0108081512900001"}, "subject.nik", "province code", id="nik-province-01"),
        pytest.param({"reporter__phone": "+441234567890"}, "reporter.phone", "Indonesian mobile number", id="phone-uk"),
        pytest.param({"reporter__phone": "0362123456"}, "reporter.phone", "Indonesian mobile number", id="phone-landline"),
        pytest.param({"reporter__name": _DELETE}, "reporter.name", "Field required", id="missing-reporter-name"),
        pytest.param({"reporter__name": "   "}, "reporter.name", "at least 1 character", id="blank-reporter-name"),
        pytest.param({"favourite_colour": "biru"}, "favourite_colour", "Extra inputs are not permitted", id="extra-field"),
        pytest.param({"subject__hobby": "x"}, "subject.hobby", "Extra inputs are not permitted", id="extra-nested-field"),
        pytest.param({"channel": "telegram"}, "channel", "Input should be", id="unknown-channel"),
        pytest.param({"description": "tolong"}, "description", "at least 10 characters", id="short-description"),
        pytest.param({"reported_at": "2026-04-15T09:30:00"}, "reported_at", "timezone", id="naive-reported-at"),
        pytest.param({"reported_at": "2026-04-16T10:00:00+08:00"}, "reported_at", "is in the future", id="future-reported-at"),
    ],
)
def test_each_bad_field_is_named(changes: dict[str, Any], path: str, fragment: str) -> None:
    with pytest.raises(IntakeError) as info:
        parse_intake(doc(**changes), now=NOW)
    assert problem_paths(info.value) == {path}
    assert fragment in info.value.problems[0]


@pytest.mark.parametrize(
    ("reported_at", "accepted"),
    [
        ("2026-04-15T10:05:00+08:00", True),   # 5 minutes ahead: clock skew allowance
        ("2026-04-15T10:10:00+08:00", True),   # exactly 10 minutes ahead
        ("2026-04-15T10:11:00+08:00", False),
        ("2026-04-15T02:09:00+00:00", True),   # 10:09 WITA written in UTC
        ("2026-04-15T02:11:00+00:00", False),  # 10:11 WITA written in UTC
    ],
)
def test_reported_at_clock_skew(reported_at: str, accepted: bool) -> None:
    if accepted:
        parse_intake(doc(reported_at=reported_at), now=NOW)
    else:
        with pytest.raises(IntakeError) as info:
            parse_intake(doc(reported_at=reported_at), now=NOW)
        assert info.value.problems == ["reported_at: is in the future"]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [("{not json", "(document): not valid JSON"), ("[]", "(document): "), (b"42", "(document): ")],
)
def test_not_an_object(data: str | bytes, fragment: str) -> None:
    with pytest.raises(IntakeError) as info:
        parse_intake(data, now=NOW)
    assert info.value.problems[0].startswith(fragment)


def test_intake_error_is_a_value_error() -> None:
    assert issubclass(IntakeError, ValueError)


# ---- NIK ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("nik", "error"),
    [
        ("5108081512900001", None),     # man born 15 Dec 1990
        ("5108084101000001", None),     # woman born 1 Jan 2000 (day 41)
        ("5108087112900001", None),     # woman born 31 Dec 1990 (day 71)
        ("5108086512900001", None),     # woman, day 65
        ("510808151290001", "exactly 16 digits"),
        ("51080815129000011", "exactly 16 digits"),
        ("51080815129O0001", "exactly 16 digits"),
        ("5108080013900001", "day must be 01-31"),   # day 00 (and month 13): the day is checked first
        ("5108083212900001", "day must be 01-31"),   # day 32
        ("5108084012900001", "day must be 01-31"),   # day 40
        ("5108080513900001", "month must be 01-12"),
        ("5108080500900001", "month must be 01-12"),
        ("1008081512900001", "province code"),
        ("9708081512900001", "province code"),
        ("5100081512900001", "cannot be 00"),
        ("5108001512900001", "cannot be 00"),
        ("5108081512900000", "serial part"),
    ],
)
def test_check_nik(nik: str, error: str | None) -> None:
    if error is None:
        assert check_nik(nik) == nik
    else:
        with pytest.raises(ValueError, match=error):
            check_nik(nik)




# ---- complaint ids --------------------------------------------------------------------------

ID_PATTERN = re.compile(r"^ADU-[0-9A-F]{12}$")


def test_complaint_id_is_stable_for_the_same_external_ref() -> None:
    first = parse_intake(VALID, now=NOW)
    again = parse_intake(doc(subject__name="Orang Lain", description="Laporan yang dikirim ulang.", channel="lapor"), now=NOW)
    assert complaint_id_for(first) == complaint_id_for(again) == complaint_id_for(first)
    # Pinned: the id of an external_ref must never change between releases, or resubmissions start a second case.
    assert complaint_id_for(first) == "ADU-C471DAF74B7E"
    assert workflow_id("ADU-C471DAF74B7E") == "complaint-ADU-C471DAF74B7E"


def test_complaint_id_differs_for_another_external_ref() -> None:
    a = parse_intake(VALID, now=NOW)
    b = parse_intake(doc(external_ref="LAPOR-2026-000124"), now=NOW)
    assert complaint_id_for(a) != complaint_id_for(b)


def test_complaint_id_without_external_ref_is_new_each_time() -> None:
    intake = parse_intake(doc(external_ref=_DELETE), now=NOW)
    ids = {complaint_id_for(intake) for _ in range(5)}
    assert len(ids) == 5
    assert all(ID_PATTERN.match(i) for i in ids)


@pytest.mark.parametrize("external_ref", ["LAPOR-2026-000123", "5108086512900001", "Ni Kadek Ayu 081234567890"])
def test_complaint_id_contains_no_personal_data(external_ref: str) -> None:
    intake = parse_intake(doc(external_ref=external_ref), now=NOW)
    cid = complaint_id_for(intake)
    assert ID_PATTERN.match(cid)
    personal = [intake.subject.name, intake.subject.nik, intake.reporter.name, intake.reporter.phone,
                intake.subject.address, external_ref, "Kadek", "5108", "0812"]
    lowered = cid.lower()
    for value in personal:
        assert value is not None and value.lower() not in lowered


# ---- list_query -----------------------------------------------------------------------------

BASE = "WorkflowType = 'ComplaintWorkflow'"

LIST_CASES = [
    pytest.param({}, BASE, id="everything"),
    pytest.param({"status": "assigned"}, f"{BASE} AND ComplaintStatus = 'assigned'", id="status"),
    pytest.param({"kecamatan": "Kubutambahan"}, f"{BASE} AND Kecamatan = 'Kubutambahan'", id="kecamatan"),
    pytest.param({"breached": True}, f"{BASE} AND SlaBreached = true", id="breached"),
    pytest.param({"breached": False}, BASE, id="not-breached-means-no-filter"),
    pytest.param({"escalation_level": 2}, f"{BASE} AND EscalationLevel >= 2", id="escalation-level"),
    pytest.param({"escalation_level": 0}, f"{BASE} AND EscalationLevel >= 0", id="escalation-level-0"),
    pytest.param({"status": ""}, BASE, id="empty-status-ignored"),
    pytest.param(
        {"kecamatan": "O'Brien"}, f"{BASE} AND Kecamatan = 'O\\'Brien'", id="quote-is-escaped",
    ),
    pytest.param(
        {"status": "x' OR 'a' = 'a"}, f"{BASE} AND ComplaintStatus = 'x\\' OR \\'a\\' = \\'a'", id="injection-escaped",
    ),
    pytest.param(
        {"kecamatan": "back\\slash'"}, f"{BASE} AND Kecamatan = 'back\\\\slash\\''", id="backslash-escaped-first",
    ),
    pytest.param(
        {"status": "received", "village": "51.08.08.2010", "pendamping": "PD-34", "bidang": "rehabilitasi_sosial",
         "kecamatan": "Kubutambahan", "category": "anak_telantar", "breached": True, "escalation_level": 1},
        f"{BASE} AND ComplaintStatus = 'received' AND VillageCode = '51.08.08.2010' AND PendampingId = 'PD-34'"
        " AND Bidang = 'rehabilitasi_sosial' AND Kecamatan = 'Kubutambahan' AND PpksCategory = 'anak_telantar'"
        " AND SlaBreached = true AND EscalationLevel >= 1",
        id="all-filters-in-order",
    ),
]


@pytest.mark.parametrize(("filters", "expected"), LIST_CASES)
def test_list_query(filters: dict[str, Any], expected: str) -> None:
    assert list_query(**filters) == expected
