"""Unit tests for intake validation (referral.intake, re-exported by casework.intake), complaint ids and
the Temporal visibility query built by casework.cases.list_query. No servers."""

from __future__ import annotations

import copy
import json
import re
import unicodedata
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from casework.cases import list_query
from casework.intake import IntakeError, complaint_id_for, parse_intake, workflow_id
from referral import reference
from referral.intake import (
    CaseOpening,
    ComplaintIntake,
    PersonalData,
    Sex,
    check_nik,
    intake_schema,
    intake_warnings,
    nik_birth_dates,
    nik_sex,
)

WITA = timezone(timedelta(hours=8))
NOW = datetime(2026, 4, 15, 10, 0, tzinfo=WITA)
TODAY = NOW.date()

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
        ("9371012902000001", None),     # Papua Selatan (93); 29 Feb 2000 (a leap year; 1900 was not)
        ("9601016902040001", None),     # Papua Barat Daya (96); a woman born 29 Feb 1904 or 2004
        ("9471010101500001", None),     # Papua Tengah (94)
        ("9571010101500001", None),     # Papua Pegunungan (95)
        ("510808151290001", "exactly 16 digits"),
        ("51080815129000011", "exactly 16 digits"),
        ("51080815129O0001", "exactly 16 digits"),
        ("٥١٠٨٠٨١٥١٢٩٠٠٠٠١", "exactly 16 digits"),  # Arabic-Indic digits: \d would take them
        ("5108080013900001", "day must be 01-31"),   # day 00 (and month 13): the day is checked first
        ("5108083212900001", "day must be 01-31"),   # day 32
        ("5108084012900001", "day must be 01-31"),   # day 40
        ("5108087212900001", "day must be 01-31"),   # day 72
        ("5108080513900001", "month must be 01-12"),
        ("5108080500900001", "month must be 01-12"),
        ("5108083102900001", "not a real date"),     # 31 Feb
        ("5108087102900001", "not a real date"),     # a woman born 31 Feb
        ("5108082902010001", "not a real date"),     # 29 Feb: neither 1901 nor 2001 is a leap year
        ("5108083104900001", "not a real date"),     # 31 Apr
        ("1008081512900001", "province code"),
        ("2008081512900001", "province code"),        # 20 is not a province
        ("5408081512900001", "province code"),        # nor is 54 (Timor Timur never had NIKs)
        ("9708081512900001", "province code"),
        ("5100081512900001", "cannot be 00"),
        ("5108001512900001", "cannot be 00"),
        ("5108081512900000", "serial part"),
    ],
)
def test_check_nik(nik: str, error: str | None) -> None:
    if error is None:
        assert check_nik(nik, TODAY) == nik
    else:
        with pytest.raises(ValueError, match=error):
            check_nik(nik, TODAY)


@pytest.mark.parametrize(
    ("nik", "today", "real"),
    [
        ("5108080106990001", date(1999, 1, 1), False),  # 1 Jun 1999 and 2099: both still to come
        ("5108080106990001", date(1999, 6, 1), True),
        ("5108080106260001", date(2026, 4, 15), True),  # 1926 has passed, 2026 has not
        ("5108081504260001", date(2026, 4, 15), True),  # born today
    ],
)
def test_nik_birth_date_in_the_future_for_both_centuries(nik: str, today: date, real: bool) -> None:
    if real:
        check_nik(nik, today)
    else:
        with pytest.raises(ValueError, match="in the future"):
            check_nik(nik, today)


def test_nik_decoding() -> None:
    assert nik_birth_dates("5108086512900001") == [date(1990, 12, 25), date(2090, 12, 25)]
    assert nik_birth_dates("5108086512900001", not_after=TODAY) == [date(1990, 12, 25)]
    assert nik_birth_dates("5108082902000001") == [date(2000, 2, 29)]
    assert (nik_sex("5108086512900001"), nik_sex("5108081512900001")) == (Sex.FEMALE, Sex.MALE)


@pytest.mark.parametrize(
    ("given", "stored"),
    [("5108 0865 1290 0001", "5108086512900001"), ("5108-0865-1290-0001", "5108086512900001"),
     ("５１０８０８６５１２９００００１", "5108086512900001")],  # full-width digits: NFKC makes them ASCII
)
def test_nik_separators_and_full_width_digits(given: str, stored: str) -> None:
    nik = parse_intake(doc(subject__nik=given), now=NOW).subject.nik
    assert nik == stored and nik.isascii()


def test_nik_error_never_echoes_the_nik() -> None:
    with pytest.raises(IntakeError) as info:
        parse_intake(doc(subject__nik="5108083102900001"), now=NOW)
    assert "5108083102900001" not in str(info.value) and "3102" not in str(info.value)


def test_schema_nik_pattern_agrees_with_check_nik() -> None:
    pattern = re.compile(intake_schema()["$defs"]["Subject"]["properties"]["nik"]["pattern"])
    for nik, error in [("5108081512900001", None), ("9601016902040001", None), ("2008081512900001", "province"),
                       ("5100081512900001", "00"), ("5108087212900001", "day"), ("5108080513900001", "month"),
                       ("5108081512900000", "serial"), ("510808151290001", "digits")]:
        assert bool(pattern.fullmatch(nik)) is (error is None), nik


# ---- text: NFKC, control characters, lengths ------------------------------------------------

@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        pytest.param({"subject__name": "Ni\x00Kadek"}, "subject.name: contains a control character (U+0000)", id="nul-name"),
        pytest.param({"description": "Warga tanpa layanan\x00 sama sekali"}, "description: contains a control character (U+0000)", id="nul-description"),
        pytest.param({"reporter__name": "Petugas\nPuskesos"}, "reporter.name: contains a control character (U+000A)", id="newline-name"),
        pytest.param({"subject__address": "Banjar\tKelod"}, "subject.address: contains a control character (U+0009)", id="tab-address"),
        pytest.param({"subject__address": "Banjar \u202eKelod"}, "subject.address: contains a control character (U+202E)", id="rlo-address"),
        pytest.param({"subject__name": "\u2066Ayu\u2069"}, "subject.name: contains a control character (U+2066)", id="isolate-name"),
        pytest.param({"description": "Warga \u202atanpa layanan apapun"}, "description: contains a control character (U+202A)", id="lre-description"),
        pytest.param({"subject__name": "Ni\u200bKadek"}, "subject.name: contains a control character (U+200B)", id="zwsp-name"),
        pytest.param({"subject__name": "Ni\u200dKadek"}, "subject.name: contains a control character (U+200D)", id="zwj-name"),
        pytest.param({"subject__name": "Ni\u2028Kadek"}, "subject.name: contains a control character (U+2028)", id="line-separator-name"),
        pytest.param({"subject__name": "Ni\ufeffKadek"}, "subject.name: contains a control character (U+FEFF)", id="bom-name"),
        pytest.param({"subject__name": "Ni\ud800Kadek"}, "subject.name: contains a control character (U+D800)", id="lone-surrogate"),
        pytest.param({"reporter__relation": "ibu\x1b[31m"}, "reporter.relation: contains a control character (U+001B)", id="escape-relation"),
        pytest.param({"external_ref": "REF\x7f1"}, "external_ref: contains a control character (U+007F)", id="del-external-ref"),
        pytest.param({"village_code": "51.08.08.2010\x00"}, "village_code: contains a control character (U+0000)", id="nul-village"),
        pytest.param({"subject__nik": "5108086512900001\x00"}, "subject.nik: contains a control character (U+0000)", id="nul-nik"),
        pytest.param({"subject__name": 42}, "subject.name: Input should be a valid string", id="number-for-name"),
        pytest.param({"subject__name": b"Ayu"}, "subject.name: Input should be a valid string", id="bytes-for-name"),
    ],
)
def test_control_characters_are_refused_naming_the_field(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(IntakeError) as info:
        parse_intake(doc(**changes), now=NOW)
    assert info.value.problems == [problem]


def test_description_keeps_newlines_tabs_and_emoji_joiners() -> None:
    text = "Baris satu\r\nbaris dua\rbaris tiga\u2028\tdengan tab 👨\u200d👩\u200d👧 keluarga"
    intake = parse_intake(doc(description=text), now=NOW)
    assert intake.description == "Baris satu\nbaris dua\nbaris tiga\n\tdengan tab 👨\u200d👩\u200d👧 keluarga"


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("  Ni Kadek Ayu  ", "Ni Kadek Ayu"),
        ("Ｎｉ　Ｋａｄｅｋ", "Ni Kadek"),          # full-width letters and the ideographic space
        ("Kade\u0301k", "Kadék"),                 # combining accent composed
        ("\u00a0Ayu\u3000", "Ayu"),                # no-break and ideographic spaces stripped
        ("ﬁtri", "fitri"),                         # ligature
        ("محمد", "محمد"),                          # right-to-left letters are text, not controls
        ("Ayu 🌺", "Ayu 🌺"),
    ],
)
def test_text_is_stripped_and_nfkc_normalised(given: str, stored: str) -> None:
    name = parse_intake(doc(subject__name=given), now=NOW).subject.name
    assert name == stored and unicodedata.is_normalized("NFKC", name)


def test_lengths_count_the_normalised_text() -> None:
    composed = parse_intake(doc(subject__name="e\u0301" * 200), now=NOW)  # 400 code points in, 200 out
    assert composed.subject.name == "é" * 200
    with pytest.raises(IntakeError) as info:
        parse_intake(doc(subject__name="\ufdfa" * 20), now=NOW)  # 20 characters that NFKC makes 360
    assert info.value.problems == ["subject.name: String should have at most 200 characters"]


@pytest.mark.parametrize(
    ("path", "longest"),
    [("subject__name", 200), ("reporter__name", 200), ("reporter__relation", 100), ("subject__address", 500),
     ("external_ref", 120), ("description", 5000)],
)
def test_every_text_has_a_maximum(path: str, longest: int) -> None:
    parse_intake(doc(**{path: "a" * longest}), now=NOW)
    for too_long in ("a" * (longest + 1), "a" * 10_000_000):
        with pytest.raises(IntakeError) as info:
            parse_intake(doc(**{path: too_long}), now=NOW)
        assert info.value.problems == [f"{path.replace('__', '.')}: String should have at most {longest} characters"]


# ---- sex ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("given", "stored"),
    [("male", Sex.MALE), ("FEMALE", Sex.FEMALE), ("L", Sex.MALE), ("p", Sex.FEMALE), ("LAKI-LAKI", Sex.MALE),
     ("Laki-laki", Sex.MALE), (" perempuan ", Sex.FEMALE), ("ＰＥＲＥＭＰＵＡＮ", Sex.FEMALE)],
)
def test_sex_spellings(given: str, stored: Sex) -> None:
    assert parse_intake(doc(subject__sex=given), now=NOW).subject.sex is stored


@pytest.mark.parametrize("given", ["pria", "x", "", None, 1, "laki"])
def test_unknown_sex_is_refused(given: Any) -> None:
    with pytest.raises(IntakeError) as info:
        parse_intake(doc(subject__sex=given), now=NOW)
    assert info.value.problems == ["subject.sex: must be male or female (or L/P, LAKI-LAKI/PEREMPUAN)"]


# ---- reported_at window, late paper reports -------------------------------------------------

@pytest.mark.parametrize(
    ("reported_at", "max_backdate", "accepted"),
    [
        ("2026-03-16T10:00:00+08:00", timedelta(days=30), True),    # exactly 30 days
        ("2026-03-16T09:59:00+08:00", timedelta(days=30), False),
        ("2026-03-16T09:59:00+08:00", timedelta(days=45), True),    # the policy's value is used
        ("2026-04-15T09:59:00+08:00", timedelta(0), False),
        ("1900-01-01T00:00:00+00:00", timedelta(days=30), False),
        ("0001-01-01T00:00:00+14:00", timedelta(days=30), False),
        ("9999-12-31T23:59:59-12:00", timedelta(days=30), False),
    ],
)
def test_reported_at_window(reported_at: str, max_backdate: timedelta, accepted: bool) -> None:
    data = doc(reported_at=reported_at)
    if accepted:
        parse_intake(data, now=NOW, max_backdate=max_backdate)
        return
    with pytest.raises(IntakeError) as info:
        parse_intake(data, now=NOW, max_backdate=max_backdate)
    assert problem_paths(info.value) == {"reported_at"}


def test_an_old_paper_report_is_refused_saying_how_to_enter_it() -> None:
    with pytest.raises(IntakeError) as info:
        parse_intake(doc(reported_at="2026-02-01T09:00:00+08:00"), now=NOW)
    assert info.value.problems == [
        "reported_at: is more than 30 days ago: enter a late paper report with reported_at = when it reached"
        " the office, and the date on the paper in original_reported_on"]
    late = parse_intake(doc(original_reported_on="2026-02-01"), now=NOW)
    assert late.original_reported_on == date(2026, 2, 1) and late.reported_at == NOW - timedelta(minutes=30)
    assert CaseOpening.of(late).original_reported_on == date(2026, 2, 1)


@pytest.mark.parametrize("original", ["2026-04-16", "2025-04-01", "1926-02-01", "not a date"])
def test_original_reported_on_lies_within_a_year_before_reported_at(original: str) -> None:
    with pytest.raises(IntakeError) as info:
        parse_intake(doc(original_reported_on=original), now=NOW)
    assert problem_paths(info.value) == {"original_reported_on"}


def test_birth_date_must_be_past_and_after_1900() -> None:
    for bad in ("2026-04-17", "1899-12-31"):
        with pytest.raises(IntakeError) as info:
            parse_intake(doc(subject__birth_date=bad), now=NOW)
        assert problem_paths(info.value) == {"subject.birth_date"}


# ---- conditions -----------------------------------------------------------------------------

def test_conditions_come_from_the_reference_file() -> None:
    codes = reference.conditions()
    assert {"odgj", "sakit_kronis", "miskin_ekstrem", "tanpa_nik"} <= set(codes)
    assert all(re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", c) and codes[c].label for c in codes)
    assert parse_intake(doc(conditions=["odgj", "miskin_ekstrem"]), now=NOW).conditions == ["odgj", "miskin_ekstrem"]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"conditions": ["odgj", "gila"]}, "conditions.1: 'gila' is not a condition code"),
        ({"conditions": ["odgj", "odgj"]}, "conditions: 'odgj' is listed more than once"),
        ({"conditions": ["tanpa_nik"]}, "conditions: tanpa_nik contradicts subject.nik"),
        ({"conditions": "odgj"}, "conditions: Input should be a valid list"),
        ({"conditions": ["ODGJ"]}, "conditions.0: 'ODGJ' is not a condition code"),
    ],
)
def test_bad_conditions(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(IntakeError) as info:
        parse_intake(doc(**changes), now=NOW)
    assert len(info.value.problems) == 1 and info.value.problems[0].startswith(problem)


def test_tanpa_nik_is_added_when_there_is_no_nik() -> None:
    assert parse_intake(doc(subject__nik=_DELETE), now=NOW).conditions == ["tanpa_nik"]
    assert parse_intake(doc(subject__nik=None, conditions=["odgj"]), now=NOW).conditions == ["odgj", "tanpa_nik"]
    assert parse_intake(doc(subject__nik=None, conditions=["tanpa_nik", "odgj"]), now=NOW).conditions == ["tanpa_nik", "odgj"]
    assert parse_intake(VALID, now=NOW).conditions == []


# ---- warnings -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("subject", "warnings"),
    [
        ({}, []),                                                            # NIK of a woman, sex female
        ({"birth_date": "1990-12-25"}, []),
        ({"birth_date": "1990-12-24"}, ["nik_birth_date_mismatch"]),
        ({"sex": "male"}, ["nik_sex_mismatch"]),
        ({"sex": "L", "birth_date": "1991-12-25"}, ["nik_birth_date_mismatch", "nik_sex_mismatch"]),
        ({"nik": None, "birth_date": "1990-12-24", "sex": "male"}, []),      # nothing to compare with
    ],
)
def test_intake_warnings(subject: dict[str, Any], warnings: list[str]) -> None:
    intake = parse_intake(doc(**{f"subject__{k}": v for k, v in subject.items()}), now=NOW)
    assert intake_warnings(intake) == warnings
    assert intake_warnings(PersonalData.of(intake)) == warnings  # what the intake activity holds


# ---- the document, the schema, the parts the workflow sees ----------------------------------

@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ('{"channel": "lapor", "channel": "hotline"}', "(document): not valid JSON: duplicate key 'channel'"),
        (b'{"channel": "\xff"}', "(document): not UTF-8 text"),
        ("[" * 150_000 + "]" * 150_000, "(document): larger than 256 KiB"),
        ("[" * 50_000, "(document): nested too deeply"),
        ("1" * 5000, "(document): not valid JSON: Exceeds the limit"),
    ],
)
def test_unreadable_documents(data: str | bytes, problem: str) -> None:
    with pytest.raises(IntakeError) as info:
        parse_intake(data, now=NOW)
    assert len(info.value.problems) == 1 and info.value.problems[0].startswith(problem)


def test_a_leading_byte_order_mark_is_allowed() -> None:
    text = json.dumps(VALID)
    assert parse_intake("\ufeff" + text, now=NOW) == parse_intake(b"\xef\xbb\xbf" + text.encode(), now=NOW)


def test_a_surrogate_in_a_key_does_not_hide_the_other_problems() -> None:
    text = json.dumps(doc(subject__name="Ni\x00Kadek")).replace('"channel"', '"x\\ud800", "channel"', 1)
    text = text.replace('"x\\ud800", ', '"x\\ud800": 1, ')
    with pytest.raises(IntakeError) as info:
        parse_intake(text, now=NOW)
    assert info.value.problems == ["x\\ud800: Extra inputs are not permitted",
                                   "subject.name: contains a control character (U+0000)"]


def test_schema_lists_codes_as_enums_with_names_and_patterns() -> None:
    schema = intake_schema()
    props = schema["properties"]
    assert schema["additionalProperties"] is False
    assert len(props["village_code"]["enum"]) == 148 and "51.08.08.2010 = Desa Bengkala, Kec. Kubutambahan" in props["village_code"]["description"]
    assert len(props["category"]["enum"]) == 26 and "fakir_miskin = Fakir Miskin" in props["category"]["description"]
    assert set(props["conditions"]["items"]["enum"]) == set(reference.conditions())
    assert props["conditions"]["uniqueItems"] is True
    phone = re.compile(schema["$defs"]["Reporter"]["properties"]["phone"]["pattern"])
    assert phone.fullmatch("081234567890") and not phone.fullmatch("٠٨١٢٣٤٥٦٧٨٩٠")
    assert "LAKI-LAKI" in schema["$defs"]["Subject"]["properties"]["sex"]["enum"]
    assert "original_reported_on" in props and "reported_at" in schema["required"]


def test_phone_digits_are_ascii() -> None:
    with pytest.raises(IntakeError) as info:
        parse_intake(doc(reporter__phone="٠٨١٢٣٤٥٦٧٨٩٠"), now=NOW)  # Arabic-Indic digits
    assert problem_paths(info.value) == {"reporter.phone"}


def test_case_opening_carries_conditions_and_no_personal_data() -> None:
    intake = parse_intake(doc(conditions=["odgj"]), now=NOW)
    opening = CaseOpening.of(intake)
    assert opening.conditions == ["odgj"] and opening.village_code == "51.08.08.2010"
    dumped = opening.model_dump_json()
    for personal in ("Ni Kadek Ayu", "5108086512900001", "081234567890", "Banjar Dinas", "belum menerima"):
        assert personal not in dumped
    # An opening recorded before `conditions` existed still reads (running cases' histories).
    old = {k: v for k, v in opening.model_dump(mode="json").items() if k not in ("conditions", "original_reported_on")}
    assert CaseOpening.model_validate(old).conditions == []


def test_personal_data_survives_the_round_trip_through_json() -> None:
    intake = parse_intake(doc(subject__birth_date="1990-12-25", reporter__phone="+62 812-3456-7890",
                              subject__sex="P", description="Baris satu\nbaris dua\tdengan tab"), now=NOW)
    personal = PersonalData.of(intake)
    assert PersonalData.model_validate(json.loads(personal.model_dump_json())) == personal


def test_province_codes_reference() -> None:
    provinces = reference.nik_provinces()
    assert len(provinces) == 38 and provinces["51"] == "Bali"
    assert [provinces[c] for c in ("91", "92", "93", "94", "95", "96")] == [
        "Papua", "Papua Barat", "Papua Selatan", "Papua Tengah", "Papua Pegunungan", "Papua Barat Daya"]


# ---- complaint ids --------------------------------------------------------------------------

ID_PATTERN = re.compile(r"^ADU-[0-9A-F]{12}$")


def test_complaint_id_is_stable_for_the_same_external_ref_from_the_same_sender() -> None:
    first = parse_intake(VALID, now=NOW)
    again = parse_intake(doc(subject__name="Orang Lain", description="Laporan yang dikirim ulang."), now=NOW)
    assert complaint_id_for(first) == complaint_id_for(again) == complaint_id_for(first)
    assert complaint_id_for(first, "puskesos-bengkala") == complaint_id_for(again, "puskesos-bengkala")
    # Pinned: the id of an external_ref must never change between releases, or resubmissions start a second case.
    assert complaint_id_for(first) == "ADU-F6FB0E9FC950"
    assert workflow_id("ADU-F6FB0E9FC950") == "complaint-ADU-F6FB0E9FC950"


def test_complaint_id_differs_for_another_sender_or_channel() -> None:
    first = parse_intake(VALID, now=NOW)
    other_channel = parse_intake(doc(channel="lapor"), now=NOW)
    assert len({complaint_id_for(first), complaint_id_for(other_channel), complaint_id_for(first, "desa-lain")}) == 3


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
