"""Generated intakes through `parse_intake`: refused with every problem naming a field, or accepted with
every invariant holding, and then storable in Postgres.

The generator starts from a well-formed intake and, for most documents, corrupts a few fields: control
characters, surrogates, huge and empty strings, combining marks, full-width and Arabic-Indic digits,
right-to-left text, emoji, impossible NIK dates, far past and future dates, extra fields, wrong types,
missing fields, and whole documents that are not objects, sent as a dict, as JSON text or as bytes.
Derandomized (no example database), so CI sees the same examples every run.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from referral import reference
from referral.intake import (
    CLOCK_SKEW,
    CaseOpening,
    ComplaintIntake,
    IntakeError,
    PersonalData,
    check_nik,
    intake_warnings,
    parse_intake,
)

# Hypothesis keeps caches (its Unicode tables) in its home folder: under var/, which git ignores.
set_hypothesis_home_dir(Path(__file__).resolve().parents[2] / "var" / "hypothesis")

WITA = timezone(timedelta(hours=8))
NOW = datetime(2026, 4, 15, 10, 0, tzinfo=WITA)
EXAMPLES = 5000
STORED_EXAMPLES = 800

FUZZ = settings(
    max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

# ---- generated text -------------------------------------------------------------------------

ODD_PIECES = [
    "\x00", "\x1b", "\x7f", "\x85", "\u00ad", "\u200b", "\u200c", "\u200d", "\u200e", "\u202a", "\u202e",
    "\u2066", "\u2069", "\ufeff", "\u2028", "\u2029", "\ud800", "\udfff", "\ud83d", "\n", "\r\n", "\r", "\t",
    "\u0301", "\u0308\u0301", "\uff15", "\uff21", "\u3000", "\u00a0", "\u0665", "\u06f5", "\ufdfa", "\ufb01",
    "\U0001f600", "\U0001f468\u200d\U0001f469\u200d\U0001f467", "محمد", "עברית", "\U000e0001", "\U0010ffff",
    "\ue000", "\ufffe", "'", '"', "\\", "%s", "{}", "NULL", "..", ":",
]
LETTERS = st.characters(categories=("L", "M", "N", "P", "S", "Zs"))  # all allowed (NFKC may lengthen them)
plain_text = st.text(LETTERS, min_size=1, max_size=40).filter(lambda s: s.strip())
odd_text = st.lists(st.one_of(st.characters(), st.sampled_from(ODD_PIECES)), max_size=30).map("".join)
HUGE = ["a" * 5001, "\u0301" * 20_000, "é" * 201, " " * 100, "x" * 2_000_000]
FIELD_NAMES = {
    "external_ref", "channel", "reporter", "subject", "village_code", "category", "description", "urgency",
    "reported_at", "original_reported_on", "conditions", "name", "phone", "relation", "nik", "sex",
    "birth_date", "address",
}
extra_key = st.text(st.characters(exclude_characters=".:"), min_size=1, max_size=12).filter(
    lambda k: k not in FIELD_NAMES)

wrong_type = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30), st.floats(),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
odd_value = st.one_of(odd_text, st.sampled_from(HUGE), st.just(""), wrong_type)


def nik(plausible: bool) -> st.SearchStrategy[str]:
    """NIKs with real parts (plausible), or with any parts in any script of digits."""
    two = lambda lo, hi: st.integers(lo, hi).map(lambda n: f"{n:02d}")  # noqa: E731
    provinces = st.sampled_from(sorted(reference.nik_provinces()))
    if plausible:
        parts = (provinces, two(1, 30), two(1, 30), st.one_of(two(1, 28), two(41, 68)), two(1, 12), two(0, 99),
                 st.integers(1, 9999).map(lambda n: f"{n:04d}"))
    else:
        parts = (st.one_of(provinces, st.sampled_from(["00", "20", "54", "97", "99"])),
                 st.one_of(two(1, 30), st.just("00")), st.one_of(two(1, 30), st.just("00")),
                 st.one_of(two(29, 31), two(69, 71), two(0, 99)), st.one_of(two(1, 12), two(0, 19)), two(0, 99),
                 st.one_of(st.integers(1, 9999).map(lambda n: f"{n:04d}"), st.just("0000")))
    digits = st.tuples(*parts).map("".join)
    spaced = digits.map(lambda d: f"{d[:4]} {d[4:8]}-{d[8:12]} {d[12:]}")
    full_width = digits.map(lambda d: "".join(chr(0xFF10 + int(c)) for c in d))
    if plausible:
        return st.one_of(digits, digits, spaced, full_width)
    arabic_indic = digits.map(lambda d: "".join(chr(0x0660 + int(c)) for c in d))
    return st.one_of(digits, arabic_indic)


def moment(near: datetime, anywhere: bool) -> st.SearchStrategy[str]:
    """reported_at: around the window's edges, or anywhere in years 1-9999, in any UTC offset."""
    offsets = st.integers(-40 * 86400, 15 * 60).map(lambda s: near + timedelta(seconds=s))
    zones = st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
    years = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(timezone.utc))
    return st.tuples(years if anywhere else offsets, zones).map(lambda t: t[0].astimezone(t[1]).isoformat())


NIK = nik(plausible=True)
REPORTED_AT = moment(NOW, anywhere=False)
ODD_DATE = st.one_of(moment(NOW, anywhere=True), st.sampled_from([
    "2026-02-30T10:00:00+08:00", "2026-04-15T10:00:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
    "2026-04-15", "15/04/2026", "1e308", "2026-13-01", "1850-01-01", "2099-01-01"]))
ODD_BY_PATH = {
    ("subject", "nik"): nik(plausible=False),
    ("reporter", "phone"): st.sampled_from(["+441234567890", "0362123456", "٠٨١٢٣٤٥٦٧٨٩٠", "08123", "+62 8"]),
    ("reported_at",): ODD_DATE, ("original_reported_on",): ODD_DATE, ("subject", "birth_date"): ODD_DATE,
}


def well_formed() -> st.SearchStrategy[dict[str, Any]]:
    optional = lambda s: st.one_of(st.just(None), s)  # noqa: E731
    reporter = st.fixed_dictionaries(
        {"name": plain_text, "relation": plain_text},
        optional={"phone": optional(st.sampled_from(
            ["081234567890", "+62 812-3456-7890", "(0812) 3456 789", "６２８５７３７１２３４５６"]))},
    )
    subject = st.fixed_dictionaries(
        {"name": plain_text, "address": plain_text,
         "sex": st.sampled_from(["male", "female", "L", "P", "laki-laki", "PEREMPUAN", "Laki-Laki", " p "])},
        optional={"nik": optional(NIK),
                  "birth_date": st.dates(date(1900, 1, 1), NOW.date()).map(date.isoformat)},
    )
    return st.fixed_dictionaries(
        {"channel": st.sampled_from(["puskesos", "hotline", "whatsapp", "lapor", "walk_in"]),
         "reporter": reporter, "subject": subject,
         "village_code": st.sampled_from(sorted(reference.villages())),
         "category": st.sampled_from(sorted(reference.categories())),
         "description": st.text(st.one_of(LETTERS, st.sampled_from(["\n", "\t", "\r", "\u2028", "\u200d"])),
                                min_size=10, max_size=300),
         "reported_at": REPORTED_AT},
        optional={"external_ref": optional(plain_text),
                  "urgency": st.sampled_from(["normal", "urgent", "emergency"]),
                  "original_reported_on": st.dates(date(2024, 1, 1), date(2026, 12, 31)).map(date.isoformat),
                  "conditions": st.lists(st.sampled_from(sorted(reference.conditions())), max_size=4)},
    )


WELL_FORMED = well_formed()
PATHS = [("external_ref",), ("channel",), ("reporter",), ("reporter", "name"), ("reporter", "phone"),
         ("reporter", "relation"), ("subject",), ("subject", "name"), ("subject", "nik"), ("subject", "sex"),
         ("subject", "birth_date"), ("subject", "address"), ("village_code",), ("category",), ("description",),
         ("urgency",), ("reported_at",), ("original_reported_on",), ("conditions",)]
TEXT_PATHS = [("reporter", "name"), ("reporter", "relation"), ("subject", "name"), ("subject", "address"),
              ("subject", "nik"), ("external_ref",), ("description",), ("description",), ("village_code",)]


@st.composite
def documents(draw: st.DrawFn, corrupt: bool = True) -> tuple[Any, list[str]]:
    """A document (dict, JSON text or bytes) and the extra keys it was given."""
    doc = draw(WELL_FORMED)
    extras: list[str] = []
    for _ in range(draw(st.integers(0, 3))):  # odd characters inside otherwise good text
        path = draw(st.sampled_from(TEXT_PATHS))
        parent = doc[path[0]] if len(path) == 2 else doc
        if isinstance(parent.get(path[-1]), str):
            text, piece = parent[path[-1]], draw(st.sampled_from(ODD_PIECES))
            at = draw(st.integers(0, len(text)))
            parent[path[-1]] = text[:at] + piece + text[at:]
    for _ in range(draw(st.integers(0, 3)) if corrupt else 0):
        path = draw(st.sampled_from(PATHS))
        parent = doc
        for key in path[:-1]:
            parent = parent[key] if isinstance(parent.get(key), dict) else {}
        kind = draw(st.sampled_from(["value", "value", "typed", "delete", "extra"]))
        if kind == "delete":
            parent.pop(path[-1], None)
        elif kind == "extra":
            extras.append(draw(extra_key))
            parent[extras[-1]] = draw(odd_value)
        elif kind == "typed" and path in ODD_BY_PATH:
            parent[path[-1]] = draw(ODD_BY_PATH[path])
        else:
            parent[path[-1]] = draw(odd_value)
    if corrupt and draw(st.integers(0, 49)) == 0:
        doc = draw(wrong_type)
        extras = [str(key) for key in doc] if isinstance(doc, dict) else []
    form = draw(st.sampled_from(["dict", "dict", "text", "bytes"]))
    if form == "text":
        return json.dumps(doc, ensure_ascii=draw(st.booleans())), extras
    if form == "bytes":
        return json.dumps(doc).encode(), extras
    return doc, extras


# ---- the property ---------------------------------------------------------------------------

REFUSED = {"Cc", "Cf", "Cs", "Zl", "Zp"}
TEXT_LIMITS = {("reporter", "name"): 200, ("reporter", "relation"): 100, ("subject", "name"): 200,
               ("subject", "address"): 500, ("external_ref",): 120, ("description",): 5000}


def check_refusal(error: IntakeError, extras: list[str]) -> None:
    assert error.problems
    allowed = FIELD_NAMES | {"(document)"} | {_escaped(k) for k in extras}
    for problem in error.problems:
        path, sep, message = problem.partition(": ")
        assert sep and message, problem
        first = path.split(".")[0]
        assert first in allowed or first.isdigit(), problem
        assert problem.isprintable(), problem


def _escaped(key: str) -> str:
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in key)[:60]


def check_accepted(intake: ComplaintIntake, max_backdate: timedelta) -> None:
    for path, longest in TEXT_LIMITS.items():
        value: Any = intake
        for key in path:
            value = getattr(value, key)
        if value is None:
            continue
        multiline = path == ("description",)
        assert value == value.strip() and 0 < len(value) <= longest
        assert unicodedata.is_normalized("NFKC", value)
        assert all(unicodedata.category(c) not in REFUSED or (multiline and c in "\n\t\u200c\u200d") for c in value)
        value.encode("utf-8")  # no surrogates
    subject = intake.subject
    if subject.nik is not None:
        assert re.fullmatch(r"[0-9]{16}", subject.nik) and subject.nik.isascii()
        check_nik(subject.nik, NOW.date())
    if intake.reporter.phone is not None:
        assert re.fullmatch(r"(\+62|62|0)8[0-9]{7,12}", intake.reporter.phone)
    assert NOW - max_backdate <= intake.reported_at <= NOW + CLOCK_SKEW
    assert len(set(intake.conditions)) == len(intake.conditions)
    assert set(intake.conditions) <= set(reference.conditions())
    assert ("tanpa_nik" in intake.conditions) is (subject.nik is None)
    assert set(intake_warnings(intake)) <= {"nik_birth_date_mismatch", "nik_sex_mismatch"}
    personal = PersonalData.of(intake)
    assert PersonalData.model_validate(json.loads(personal.model_dump_json())) == personal
    assert CaseOpening.model_validate_json(CaseOpening.of(intake).model_dump_json()) == CaseOpening.of(intake)


BACKDATES = [timedelta(days=30), timedelta(0), timedelta(days=45)]


def run_generated(count: int, corrupt: bool, each: Callable[[ComplaintIntake], None] | None = None,
                  backdates: list[timedelta] = BACKDATES) -> Counter:
    seen: Counter = Counter()

    @settings(FUZZ, max_examples=count)
    @given(documents(corrupt), st.sampled_from(backdates))
    def one(generated: tuple[Any, list[str]], max_backdate: timedelta) -> None:
        data, extras = generated
        seen["total"] += 1
        try:
            intake = parse_intake(data, now=NOW, max_backdate=max_backdate)
        except IntakeError as error:
            seen["refused"] += 1
            check_refusal(error, extras)
            return
        seen["accepted"] += 1
        check_accepted(intake, max_backdate)
        if each:
            each(intake)

    one()
    return seen


def test_generated_intakes_are_refused_by_field_or_accepted_clean() -> None:
    seen = run_generated(EXAMPLES, corrupt=True)
    print(f"generated intakes: {dict(seen)}")
    assert seen["total"] >= EXAMPLES
    assert seen["accepted"] >= 500 and seen["refused"] >= 2000  # both sides of the property were exercised


# ---- accepted means storable ----------------------------------------------------------------

async def test_accepted_intakes_insert_into_postgres(admin_url: str) -> None:
    accepted: list[ComplaintIntake] = []
    run_generated(STORED_EXAMPLES, corrupt=False, each=accepted.append, backdates=[timedelta(days=30)])
    assert len(accepted) >= 300, len(accepted)
    conn = await asyncpg.connect(admin_url)
    try:
        assert await conn.fetchval("SHOW server_encoding") == "UTF8"
        await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
        await conn.execute(
            "CREATE TEMP TABLE accepted_intake (n int PRIMARY KEY, external_ref text, description text NOT NULL,"
            " subject jsonb NOT NULL, reporter jsonb NOT NULL, conditions text[] NOT NULL,"
            " reported_at timestamptz NOT NULL, original_reported_on date)")
        for n, intake in enumerate(accepted):
            await conn.execute(
                "INSERT INTO accepted_intake VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                n, intake.external_ref, intake.description, intake.subject.model_dump(mode="json"),
                intake.reporter.model_dump(mode="json"), intake.conditions, intake.reported_at,
                intake.original_reported_on)
        rows = await conn.fetch("SELECT * FROM accepted_intake ORDER BY n")
    finally:
        await conn.close()
    print(f"stored {len(rows)} accepted intakes")
    assert len(rows) == len(accepted)
    for row, intake in zip(rows, accepted):  # stored without loss
        assert row["description"] == intake.description and row["external_ref"] == intake.external_ref
        assert row["subject"] == intake.subject.model_dump(mode="json")
        assert row["reporter"] == intake.reporter.model_dump(mode="json")
        assert row["reported_at"] == intake.reported_at
