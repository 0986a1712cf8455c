"""The intake form: what a service or a person submits, validated and normalised.

`parse_intake` returns a `ComplaintIntake` or raises `IntakeError`, whose `problems` name every bad
field, one line each, field path first (`subject.name: contains a control character (U+0000)`).
Whatever it accepts can be stored in Postgres, so an accepted case never stalls on its intake.

Text. Every text field is stripped and normalised to NFKC (full-width letters and digits become
ASCII), then refused if it holds a control character: Unicode categories Cc and Cf (NUL, the bidi
overrides and isolates U+202A-U+202E and U+2066-U+2069, zero-width spaces, the BOM), surrogates
(Cs: JSON can carry "\\ud800", UTF-8 and Postgres cannot) and, in one-line fields, the separators
U+2028/U+2029. The description is the only multi-line field: its line breaks (CRLF, CR, NEL,
U+2028, U+2029) become "\\n", and it may keep "\\n", "\\t" and the zero-width (non-)joiners
U+200C/U+200D that emoji sequences and some scripts need. Lengths count the characters of the
normalised plain text, before sealing. A JSON document is at most 256 KiB, in UTF-8 (a leading
byte-order mark is ignored), without duplicate keys.

NIK. Sixteen ASCII digits 0-9 (spaces and dashes between them are dropped; other scripts' digits
are refused): a province code from `nik_provinces.csv` (the 38 provinces, new Papua provinces
included), kabupaten and kecamatan not 00, a birth date DDMMYY with 40 added to the day for women
that exists in 19YY or 20YY and is not in the future in both, a serial that is not 0000.
A NIK that disagrees with the given `birth_date` or `sex` is accepted (a NIK is never corrected
and often mistyped): `intake_warnings` names the disagreement for the case record.

`sex`: `male`/`female`, `L`/`P` or `LAKI-LAKI`/`PEREMPUAN`, in any case; stored as male/female.

`reported_at` is the legal start of the SLA clocks, so it must lie in a window: at most 10 minutes
ahead of our clock (`CLOCK_SKEW`) and at most `max_backdate` in the past (a parameter of
`parse_intake`, default 30 days; the SLA policy's `max_backdate_days`). An older paper report is
refused with a message that says how to enter it: `reported_at` = when it reached the office (its
clocks start then), and the date written on the paper in `original_reported_on`, an informational
date with no SLA effect (not after `reported_at`, at most a year before it).

`conditions`: optional codes from `conditions.csv` (e.g. `odgj`, `miskin_ekstrem`), each at most
once. `tanpa_nik` is added when the subject has no NIK, and refused next to a NIK.

Personal data lives only in `Reporter`, `Subject` and the description; `CaseOpening` is the part the
workflow may see in clear. Problem lines never echo a name, NIK, phone or description.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from functools import partial
from typing import Annotated, Any, Callable

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from referral import reference
from referral.sla import Urgency

CLOCK_SKEW = timedelta(minutes=10)
DEFAULT_MAX_BACKDATE = timedelta(days=30)
ORIGINAL_REPORT_MAX_AGE = timedelta(days=366)
MAX_DOCUMENT_SIZE = 256 * 1024
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
_LATEST_ZONE = timezone(timedelta(hours=14))  # "today" is the latest calendar date anywhere on earth


class Channel(StrEnum):
    PUSKESOS = "puskesos"
    PENDAMPING = "pendamping"
    HOTLINE = "hotline"
    WHATSAPP = "whatsapp"
    LAPOR = "lapor"
    WALK_IN = "walk_in"
    OTHER_SERVICE = "other_service"


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"


# ---- text -----------------------------------------------------------------------------------

_LINE_BREAKS = re.compile("\r\n|[\r\x85\u2028\u2029]")
_MULTILINE_KEEPS = frozenset("\n\t\u200c\u200d")
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def clean_text(value: object, multiline: bool = False, longest: int = 10_000) -> str:
    """Stripped, NFKC-normal text without control characters; a PydanticCustomError otherwise."""
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    if len(value) > 10 * longest:  # refuse absurd sizes before spending time normalising them
        raise PydanticCustomError("string_too_long", "String should have at most {n} characters", {"n": longest})
    if multiline:
        value = _LINE_BREAKS.sub("\n", value)
    text = unicodedata.normalize("NFKC", value.strip()).strip()
    allowed = _MULTILINE_KEEPS if multiline else frozenset()
    for char in text:
        if unicodedata.category(char) in _REFUSED_CATEGORIES and char not in allowed:
            raise PydanticCustomError(
                "control_character", "contains a control character (U+{code})", {"code": f"{ord(char):04X}"})
    return str(text)


def _text(min_length: int, max_length: int, multiline: bool = False) -> Any:
    """A text field: cleaned by `clean_text`, then its length checked on the normalised text."""
    clean = partial(clean_text, multiline=multiline, longest=max_length)
    # The constraints sit on `str` itself, so they check the text the validator returns.
    return Annotated[str, Field(min_length=min_length, max_length=max_length), BeforeValidator(clean)]


Name = _text(1, 200)
Code = _text(1, 120)
Relation = _text(1, 100)
Address = _text(1, 500)
Description = _text(10, 5000, multiline=True)
PhoneText = _text(1, 40)
NikText = _text(1, 40)
ConditionText = _text(1, 40)


# ---- NIK ------------------------------------------------------------------------------------

_NIK = re.compile(r"[0-9]{16}")  # not \d: it also matches Arabic-Indic and other scripts' digits
_NIK_SEPARATORS = re.compile(r"[ \-]")


def nik_pattern() -> str:
    """The NIK's shape as an ECMA-262 regular expression, for the JSON Schema."""
    provinces = "|".join(sorted(reference.nik_provinces()))
    day = "(0[1-9]|[12][0-9]|3[01]|4[1-9]|[56][0-9]|7[01])"
    return rf"^({provinces})(?!00)[0-9]{{2}}(?!00)[0-9]{{2}}{day}(0[1-9]|1[0-2])[0-9]{{2}}(?!0000)[0-9]{{4}}$"


def nik_sex(nik: str) -> Sex:
    """Women have 40 added to the day of birth."""
    return Sex.FEMALE if int(nik[6:8]) > 40 else Sex.MALE


def nik_birth_dates(nik: str, not_after: date | None = None) -> list[date]:
    """The real dates the NIK's DDMMYY can mean (19YY and 20YY), none after `not_after`."""
    day, month, year = int(nik[6:8]) % 40, int(nik[8:10]), int(nik[10:12])
    found = []
    for century in (1900, 2000):
        try:
            born = date(century + year, month, day)
        except ValueError:
            continue
        if not_after is None or born <= not_after:
            found.append(born)
    return found


def check_nik(nik: str, today: date | None = None) -> str:
    """A plausible NIK (see the module docstring); ValueError naming the wrong part."""
    if not _NIK.fullmatch(nik):
        raise ValueError("must be exactly 16 digits 0-9")
    day, month = int(nik[6:8]), int(nik[8:10])
    if nik[0:2] not in reference.nik_provinces():
        raise ValueError("region part (first 2 digits) is not an Indonesian province code")
    if nik[2:4] == "00" or nik[4:6] == "00":
        raise ValueError("region part (kabupaten/kecamatan digits) cannot be 00")
    if not (1 <= day <= 31 or 41 <= day <= 71):
        raise ValueError("birth-date part: day must be 01-31, or 41-71 for women")
    if not 1 <= month <= 12:
        raise ValueError("birth-date part: month must be 01-12")
    if not nik_birth_dates(nik, today or _today()):
        raise ValueError("birth-date part: not a real date in 19YY or 20YY, or in the future")
    if nik[12:16] == "0000":
        raise ValueError("serial part (last 4 digits) cannot be 0000")
    return nik


# ---- validation context ---------------------------------------------------------------------

def _now(info: ValidationInfo | None = None) -> datetime:
    context = (info.context if info else None) or {}
    return context.get("now") or datetime.now(timezone.utc)


def _today(info: ValidationInfo | None = None) -> date:
    return _now(info).astimezone(_LATEST_ZONE).date()


def _sex(value: object) -> object:
    words = {"male": Sex.MALE, "l": Sex.MALE, "laki-laki": Sex.MALE,
             "female": Sex.FEMALE, "p": Sex.FEMALE, "perempuan": Sex.FEMALE}
    key = unicodedata.normalize("NFKC", value).strip().casefold() if isinstance(value, str) else None
    if key not in words:
        raise PydanticCustomError("sex", "must be male or female (or L/P, LAKI-LAKI/PEREMPUAN)")
    return words[key]


SexInput = Annotated[Sex, BeforeValidator(_sex), WithJsonSchema({
    "type": "string", "enum": ["male", "female", "L", "P", "LAKI-LAKI", "PEREMPUAN"],
    "description": "male/female, L/P or LAKI-LAKI/PEREMPUAN, in any case; stored as male/female",
})]

_PHONE = re.compile(r"(\+62|62|0)8[0-9]{7,12}")
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")


def _condition_code(value: str) -> str:
    if value not in reference.conditions():
        raise ValueError(f"{value!r} is not a condition code ({', '.join(reference.conditions())})")
    return value


def _enum_with_names(intro: str, names: Callable[[], dict[str, str]]) -> Callable[[dict[str, Any]], None]:
    """json_schema_extra listing the codes as an enum and their names in the description."""
    def extra(schema: dict[str, Any]) -> None:
        codes = names()
        schema["enum"] = list(codes)
        schema["description"] = intro + "; ".join(f"{code} = {name}" for code, name in codes.items())
    return extra


_VILLAGE_ENUM = _enum_with_names("Kemendagri code of a desa/kelurahan in Kabupaten Buleleng: ", lambda: {
    code: f"{v.label}, Kec. {v.kecamatan}" for code, v in reference.villages().items()})
_CATEGORY_ENUM = _enum_with_names("PPKS category (Permensos 8/2012): ", lambda: {
    code: c.name for code, c in reference.categories().items()})
_CONDITION_ENUM = _enum_with_names("Condition of the person: ", lambda: {
    code: c.label for code, c in reference.conditions().items()})
ConditionCode = Annotated[ConditionText, AfterValidator(_condition_code), Field(json_schema_extra=_CONDITION_ENUM)]


# ---- the form -------------------------------------------------------------------------------

class Reporter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    phone: PhoneText | None = Field(default=None, json_schema_extra={
        "pattern": f"^{_PHONE.pattern}$",
        "description": "Indonesian mobile number; spaces, dashes, dots and parentheses are dropped"})
    relation: Relation = Field(description="e.g. self, family, neighbour, kepala desa")

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        digits = _PHONE_SEPARATORS.sub("", value)
        if not _PHONE.fullmatch(digits):
            raise ValueError("must be an Indonesian mobile number such as 081234567890 or +6281234567890")
        return digits


class Subject(BaseModel):
    """The person who needs the service."""

    model_config = ConfigDict(extra="forbid")
    name: Name
    nik: NikText | None = Field(default=None, json_schema_extra=lambda s: s.update(
        pattern=nik_pattern(), description="16-digit NIK (spaces and dashes are dropped)"))
    sex: SexInput
    birth_date: date | None = None
    address: Address

    @field_validator("nik")
    @classmethod
    def _nik(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else check_nik(_NIK_SEPARATORS.sub("", value), _today(info))

    @field_validator("birth_date")
    @classmethod
    def _birth_date(cls, value: date | None, info: ValidationInfo) -> date | None:
        if value is not None and not EARLIEST_BIRTH_DATE <= value <= _today(info):
            raise ValueError(f"must lie between {EARLIEST_BIRTH_DATE.isoformat()} and today")
        return value


class ComplaintIntake(BaseModel):
    """What a service or a person submits. `python starter.py schema` prints its JSON Schema."""

    model_config = ConfigDict(extra="forbid")
    external_ref: Code | None = Field(default=None, description="The sender's own id; the same ref returns the same case")
    channel: Channel
    reporter: Reporter
    subject: Subject
    village_code: Code = Field(json_schema_extra=_VILLAGE_ENUM)
    category: Code = Field(json_schema_extra=_CATEGORY_ENUM)
    description: Description
    urgency: Urgency = Urgency.NORMAL
    reported_at: AwareDatetime = Field(description="When the report reached the office: the SLA clocks start here")
    original_reported_on: date | None = Field(default=None, description=(
        "A late paper report: the date written on it (informational, no SLA effect)"))
    conditions: list[ConditionCode] = Field(
        default_factory=list, validate_default=True, max_length=20, json_schema_extra={"uniqueItems": True},
        description="Codes of conditions.csv; tanpa_nik is added when there is no NIK")

    @field_validator("village_code")
    @classmethod
    def _village(cls, value: str) -> str:
        if value not in reference.villages():
            raise ValueError(f"{value!r} is not a desa/kelurahan code in Kabupaten Buleleng (51.08.xx.xxxx)")
        return value

    @field_validator("category")
    @classmethod
    def _category(cls, value: str) -> str:
        if value not in reference.categories():
            raise ValueError(f"{value!r} is not one of the 26 PPKS category codes (see `starter.py schema`)")
        return value

    @field_validator("reported_at")
    @classmethod
    def _reported_in_window(cls, value: datetime, info: ValidationInfo) -> datetime:
        now = _now(info)
        max_backdate = (info.context or {}).get("max_backdate", DEFAULT_MAX_BACKDATE)
        if value > now + CLOCK_SKEW:
            raise ValueError("is in the future")
        if value < now - max_backdate:
            raise ValueError(
                f"is more than {max_backdate.days} days ago: enter a late paper report with reported_at ="
                " when it reached the office, and the date on the paper in original_reported_on")
        return value

    @field_validator("original_reported_on")
    @classmethod
    def _original_before_reported(cls, value: date | None, info: ValidationInfo) -> date | None:
        reported_at = info.data.get("reported_at")
        latest = reported_at.date() if reported_at else _today(info)
        if value is not None and not latest - ORIGINAL_REPORT_MAX_AGE <= value <= latest:
            raise ValueError("must lie on or before the day of reported_at, and at most a year before it")
        return value

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for code in value:
            if value.count(code) > 1:
                raise ValueError(f"{code!r} is listed more than once")
        subject = info.data.get("subject")
        if subject is None:  # the subject has its own problems; nothing to compare with
            return value
        if subject.nik and "tanpa_nik" in value:
            raise ValueError("tanpa_nik contradicts subject.nik: leave it out when the NIK is known")
        return value if subject.nik or "tanpa_nik" in value else [*value, "tanpa_nik"]


class CaseOpening(BaseModel):
    """The part of an intake the workflow sees in clear: no names, NIK, phone or description.

    Deliberately loose (no window or reference checks): it is read back from running cases' histories.
    """

    external_ref: str | None = None
    channel: Channel
    sender_id: str | None = None  # the calling service (from its credential): external_ref is unique per sender
    village_code: str
    category: str
    urgency: Urgency
    reported_at: AwareDatetime
    original_reported_on: date | None = None
    conditions: list[str] = []

    @classmethod
    def of(cls, intake: ComplaintIntake) -> "CaseOpening":
        return cls.model_validate(intake.model_dump(include=set(cls.model_fields)))


class PersonalData(BaseModel):
    """Sealed by the starter (referral.sealing), unsealed only to be stored in Postgres."""

    reporter: Reporter
    subject: Subject
    description: str

    @classmethod
    def of(cls, intake: ComplaintIntake) -> "PersonalData":
        return cls(reporter=intake.reporter, subject=intake.subject, description=intake.description)


def intake_warnings(intake: ComplaintIntake | PersonalData) -> list[str]:
    """Codes for what was accepted but is doubtful, to record on the case. Never personal data.

    Takes the intake or only its personal part (what the intake activity unseals): both have `subject`.
    """
    subject = intake.subject
    if not subject.nik:
        return []
    warnings = []
    if subject.birth_date and subject.birth_date not in nik_birth_dates(subject.nik):
        warnings.append("nik_birth_date_mismatch")
    if nik_sex(subject.nik) != subject.sex:
        warnings.append("nik_sex_mismatch")
    return warnings


# ---- parsing --------------------------------------------------------------------------------

class IntakeError(ValueError):
    """Invalid intake: `problems` names every bad field, one line each, field path first."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid complaint:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


def intake_schema() -> dict[str, Any]:
    return ComplaintIntake.model_json_schema()


def parse_intake(data: str | bytes | dict[str, Any], now: datetime | None = None,
                 max_backdate: timedelta = DEFAULT_MAX_BACKDATE) -> ComplaintIntake:
    """Validate a JSON document (text or bytes) or an already decoded object."""
    if now is not None and now.tzinfo is None:
        raise TypeError("now must be timezone-aware")
    raw = _document(data) if isinstance(data, (str, bytes, bytearray)) else data
    problems: list[str] = []
    raw = _without_surrogate_keys(raw, (), problems)
    context = {"now": now or datetime.now(timezone.utc), "max_backdate": max_backdate}
    try:
        intake = ComplaintIntake.model_validate(raw, context=context)
    except ValidationError as exc:
        problems += [_problem(err["loc"], err["msg"]) for err in exc.errors()]
    if problems:
        raise IntakeError(problems)
    return intake


def _document(data: str | bytes | bytearray) -> Any:
    if len(data) > MAX_DOCUMENT_SIZE:
        raise IntakeError([f"(document): larger than {MAX_DOCUMENT_SIZE // 1024} KiB"])
    try:
        text = data.decode("utf-8-sig") if isinstance(data, (bytes, bytearray)) else data.removeprefix("\ufeff")
        return json.loads(text, object_pairs_hook=_without_duplicate_keys)
    except UnicodeDecodeError:
        problem = "not UTF-8 text"
    except RecursionError:
        problem = "nested too deeply"
    except ValueError as exc:  # JSONDecodeError, a duplicate key, an integer too long to read
        problem = f"not valid JSON: {exc}"
    raise IntakeError([_problem((), problem)])


def _without_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"duplicate key {key[:60]!r}")
        found[key] = value
    return found


def _without_surrogate_keys(raw: Any, path: tuple[str, ...], problems: list[str]) -> Any:
    """Keys with surrogates (JSON can carry them) would fail the whole document in pydantic; no field
    name has one, so each is reported as an unknown field and the rest is validated as usual."""
    if not isinstance(raw, dict):
        return raw
    kept = {}
    for key, value in raw.items():
        if isinstance(key, str) and any("\ud800" <= c <= "\udfff" for c in key):
            problems.append(_problem((*path, key), "Extra inputs are not permitted"))
        else:
            kept[key] = _without_surrogate_keys(value, (*path, str(key)), problems)
    return kept


def _problem(loc: tuple[int | str, ...], message: str) -> str:
    path = ".".join(_printable(str(part))[:60] for part in loc) or "(document)"
    return f"{path}: {_printable(message.removeprefix('Value error, '))}"


def _printable(text: str) -> str:
    """A problem line is printed and logged: no control characters or surrogates in it."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)
