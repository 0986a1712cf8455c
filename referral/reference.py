"""Reference data for the Buleleng referral engine: desa/kelurahan, PPKS categories, bidang, roster,
intake conditions and the province codes a NIK starts with.

Pure module (stdlib only) so that workflow code can import it inside the Temporal sandbox.
The CSVs live in the ``referral.data`` package; see ``referral/data/README.md`` for sources.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cache
from importlib import resources

BIDANG_CODES = ("perlindungan_jaminan_sosial", "rehabilitasi_sosial", "pemberdayaan_sosial")
ROLES = ("pendamping", "head_of_bidang", "kepala_dinas")
ROSTER_COLUMNS = ("officer_id", "role", "bidang", "name", "email", "villages")
_SNAKE_CASE_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_EMAIL_RE = re.compile(r"^[^@\s;,]+@[^@\s;,]+\.[^@\s;,]+$")


@dataclass(frozen=True)
class Village:
    """A desa or kelurahan, keyed by its Kemendagri code (e.g. ``51.08.08.2010``)."""

    code: str
    name: str
    kecamatan: str
    kind: str  # "desa" | "kelurahan"

    @property
    def label(self) -> str:
        """Display name, e.g. ``Desa Bengkala`` or ``Kelurahan Banyuasri``."""
        return f"{self.kind.capitalize()} {self.name}"


@dataclass(frozen=True)
class Category:
    """One of the 26 PPKS categories (Permensos 8/2012) and the bidang that handles it. A `sensitive`
    category's mere mention identifies a vulnerable person in a small desa: notifications never name it."""

    code: str
    name: str
    english: str
    bidang: str
    sensitive: bool = False


@dataclass(frozen=True)
class Officer:
    """A Dinas Sosial officer: pendamping (with villages), head_of_bidang or kepala_dinas."""

    officer_id: str
    role: str
    bidang: str | None
    name: str
    email: str
    villages: tuple[str, ...]


def _rows(filename: str) -> list[dict[str, str]]:
    text = resources.files("referral.data").joinpath(filename).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@cache
def villages() -> dict[str, Village]:
    """All 148 desa/kelurahan of Kabupaten Buleleng, by Kemendagri code."""
    return {
        r["code"]: Village(code=r["code"], name=r["name"], kecamatan=r["kecamatan"], kind=r["kind"])
        for r in _rows("villages.csv")
    }


@cache
def categories() -> dict[str, Category]:
    """The 26 PPKS categories, by code."""
    out: dict[str, Category] = {}
    for r in _rows("ppks_categories.csv"):
        if r["bidang"] not in BIDANG_CODES:
            raise ValueError(f"ppks_categories.csv: {r['code']} has unknown bidang {r['bidang']!r}")
        out[r["code"]] = Category(code=r["code"], name=r["name"], english=r["english"], bidang=r["bidang"],
                                  sensitive=(r.get("sensitive") or "").strip() == "yes")
    return out


@dataclass(frozen=True)
class Condition:
    """A circumstance of the person that an intake may flag (e.g. ``odgj``), with its Indonesian label."""

    code: str
    label: str


@cache
def conditions() -> dict[str, Condition]:
    """The conditions an intake may list, by snake_case code (``conditions.csv``)."""
    out: dict[str, Condition] = {}
    for r in _rows("conditions.csv"):
        if not _SNAKE_CASE_RE.match(r["code"]) or r["code"] in out:
            raise ValueError(f"conditions.csv: code {r['code']!r} is not a unique snake_case code")
        out[r["code"]] = Condition(code=r["code"], label=r["label"])
    return out


@cache
def nik_provinces() -> dict[str, str]:
    """Two-digit province code (the first two NIK digits) -> province name: the 38 provinces."""
    return {r["code"]: r["name"] for r in _rows("nik_provinces.csv")}


@cache
def _default_bidang_names() -> dict[str, str]:
    names = {r["code"]: r["name"] for r in _rows("bidang.csv")}
    if tuple(names) != BIDANG_CODES:
        raise ValueError(f"bidang.csv codes {tuple(names)} != {BIDANG_CODES}")
    return names


def bidang_names() -> dict[str, str]:
    """Bidang code -> display name.

    ``REFERRAL_BIDANG_NAMES`` (a JSON object code -> name) overrides the names of known codes,
    e.g. after a restructuring renames a bidang; unknown codes raise ValueError.
    """
    names = dict(_default_bidang_names())
    raw = os.environ.get("REFERRAL_BIDANG_NAMES", "").strip()
    if not raw:
        return names
    try:
        override = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"REFERRAL_BIDANG_NAMES is not valid JSON: {exc}") from None
    if not isinstance(override, dict) or not all(
        isinstance(v, str) and v.strip() for v in override.values()
    ):
        raise ValueError("REFERRAL_BIDANG_NAMES must be a JSON object of bidang code -> non-empty name")
    unknown = sorted(set(override) - set(names))
    if unknown:
        raise ValueError(
            f"REFERRAL_BIDANG_NAMES has unknown bidang code(s): {', '.join(unknown)}"
            f" (known: {', '.join(BIDANG_CODES)})"
        )
    names.update({k: v.strip() for k, v in override.items()})
    return names


def kecamatan_of(village_code: str) -> str:
    """Kecamatan name of a village code; KeyError if the code is unknown."""
    try:
        return villages()[village_code].kecamatan
    except KeyError:
        raise KeyError(f"unknown village code {village_code!r}") from None


class RosterError(ValueError):
    """The roster is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"- {p}" for p in self.problems)
        super().__init__(f"invalid roster ({len(self.problems)} problem(s)):\n{lines}")


@dataclass(frozen=True)
class Roster:
    """A validated roster: every village has exactly one pendamping, each bidang a head."""

    officers: dict[str, Officer]
    coverage: dict[str, str]  # village_code -> pendamping officer_id

    def pendamping(self) -> list[Officer]:
        """All pendamping, in officer_id order."""
        found = (o for o in self.officers.values() if o.role == "pendamping")
        return sorted(found, key=lambda o: o.officer_id)

    def heads(self) -> dict[str, Officer]:
        """Bidang code -> head_of_bidang."""
        return {o.bidang: o for o in self.officers.values() if o.role == "head_of_bidang" and o.bidang}

    def kepala_dinas(self) -> Officer:
        """The (single) kepala dinas."""
        return next(o for o in self.officers.values() if o.role == "kepala_dinas")

    def pendamping_for(self, village_code: str) -> Officer:
        """The pendamping covering a village; KeyError if the code is unknown."""
        try:
            return self.officers[self.coverage[village_code]]
        except KeyError:
            raise KeyError(f"unknown village code {village_code!r}") from None


def _village_desc(code: str) -> str:
    v = villages()[code]
    return f"{code} ({v.label}, Kec. {v.kecamatan})"


def parse_roster(text: str) -> Roster:
    """Parse and validate roster CSV text (columns: officer_id,role,bidang,name,email,villages).

    Raises RosterError listing every problem, not just the first.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing_cols = [c for c in ROSTER_COLUMNS if c not in (reader.fieldnames or [])]
    if missing_cols:
        raise RosterError([f"missing column(s): {', '.join(missing_cols)}"])

    known = villages()
    problems: list[str] = []
    officers: dict[str, Officer] = {}
    first_row: dict[str, int] = {}
    covered_by: dict[str, list[str]] = defaultdict(list)

    for lineno, row in enumerate(reader, start=2):
        f = {c: (row.get(c) or "").strip() for c in ROSTER_COLUMNS}
        oid, role, bidang, email = f["officer_id"], f["role"], f["bidang"], f["email"]
        who = f"{oid} (line {lineno})" if oid else f"line {lineno}"
        if not oid:
            problems.append(f"{who}: missing officer_id")
        elif oid in first_row:
            problems.append(f"duplicate officer_id {oid} (lines {first_row[oid]} and {lineno})")
        else:
            first_row[oid] = lineno
        if role not in ROLES:
            problems.append(f"{who}: unknown role {role!r} (expected one of {', '.join(ROLES)})")
        if role == "kepala_dinas":
            if bidang:
                problems.append(f"{who}: kepala_dinas must have an empty bidang, got {bidang!r}")
        elif bidang not in BIDANG_CODES:
            problems.append(f"{who}: unknown bidang {bidang!r} (expected one of {', '.join(BIDANG_CODES)})")
        if not f["name"]:
            problems.append(f"{who}: missing name")
        if not _EMAIL_RE.match(email):
            problems.append(f"{who}: bad email {email!r}")

        codes = tuple(c.strip() for c in f["villages"].split(";") if c.strip())
        if role == "pendamping" and not codes:
            problems.append(f"{who}: pendamping without villages")
        if role in ROLES and role != "pendamping" and codes:
            problems.append(f"{who}: {role} must not list villages (got {';'.join(codes)})")
        for code, n in Counter(codes).items():
            if n > 1:
                problems.append(f"{who}: village {code} listed {n} times")
        for code in dict.fromkeys(codes):
            if code not in known:
                problems.append(f"{who}: unknown village code {code!r}")
            elif role == "pendamping" and oid:
                covered_by[code].append(oid)

        if oid and oid not in officers:
            officers[oid] = Officer(oid, role, bidang or None, f["name"], email, codes)

    for code, ids in covered_by.items():
        if len(ids) > 1:
            problems.append(f"village {_village_desc(code)} covered twice: by {' and '.join(ids)}")
    for code in known:
        if code not in covered_by:
            problems.append(f"village {_village_desc(code)} is not covered by any pendamping")

    heads = defaultdict(list)
    for o in officers.values():
        if o.role == "head_of_bidang" and o.bidang in BIDANG_CODES:
            heads[o.bidang].append(o.officer_id)
    for b in BIDANG_CODES:
        if not heads[b]:
            problems.append(f"missing head_of_bidang for bidang {b}")
        elif len(heads[b]) > 1:
            problems.append(f"bidang {b} has more than one head_of_bidang: {', '.join(heads[b])}")
    kadis = [o.officer_id for o in officers.values() if o.role == "kepala_dinas"]
    if len(kadis) != 1:
        listed = f": {', '.join(kadis)}" if kadis else ""
        problems.append(f"expected exactly one kepala_dinas, found {len(kadis)}{listed}")

    if problems:
        raise RosterError(problems)
    return Roster(officers=officers, coverage={c: ids[0] for c, ids in sorted(covered_by.items())})


@cache
def sample_roster() -> Roster:
    """The SAMPLE roster shipped in ``referral/data/roster_sample.csv`` (fictitious people)."""
    text = resources.files("referral.data").joinpath("roster_sample.csv").read_text(encoding="utf-8")
    return parse_roster(text)


def load_roster(path: str | None = None) -> Roster:
    """Load the roster from ``path``, else ``$REFERRAL_ROSTER_FILE``, else the sample roster."""
    path = path or os.environ.get("REFERRAL_ROSTER_FILE") or None
    if path is None:
        return sample_roster()
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return parse_roster(fh.read())


@dataclass(frozen=True)
class PiketShift:
    """An officer on duty (piket) from `starts_on` to `ends_on`, for urgent escalations outside office hours."""

    starts_on: str
    ends_on: str
    officer_id: str


def load_piket(path: str | None = None) -> list[PiketShift]:
    """The piket rota: ``$REFERRAL_PIKET_FILE`` (CSV starts_on,ends_on,officer_id), else the SAMPLE rota."""
    from datetime import date

    path = path or os.environ.get("REFERRAL_PIKET_FILE") or None
    text = (open(path, encoding="utf-8-sig").read() if path
            else resources.files("referral.data").joinpath("piket_sample.csv").read_text(encoding="utf-8"))
    shifts, problems = [], []
    for lineno, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        try:
            starts, ends = date.fromisoformat(row["starts_on"].strip()), date.fromisoformat(row["ends_on"].strip())
        except (KeyError, ValueError, AttributeError):
            problems.append(f"line {lineno}: starts_on and ends_on must be dates YYYY-MM-DD")
            continue
        if ends < starts:
            problems.append(f"line {lineno}: ends_on is before starts_on")
        shifts.append(PiketShift(starts.isoformat(), ends.isoformat(), (row.get("officer_id") or "").strip()))
    if problems:
        raise RosterError(problems)
    return shifts


@dataclass(frozen=True)
class Partner:
    """An office a case can be referred to (the referral network); its time to answer is in the SLA policy."""

    code: str
    name: str
    kind: str
    bidang: str  # the bidang whose head hears when this office is late
    email: str
    required: bool  # by default the case waits for this referral before it can be resolved
    needs_nik_first: bool  # a referral that cannot start before the subject has a NIK

    @property
    def recipient_id(self) -> str:
        """The partner's address in the outbox (partners are notified like officers)."""
        return f"MITRA-{self.code}"


@cache
def partners() -> dict[str, Partner]:
    out = {}
    for r in _rows("partners.csv"):
        if r["bidang"] not in BIDANG_CODES:
            raise ValueError(f"partners.csv: {r['code']} has unknown bidang {r['bidang']!r}")
        out[r["code"]] = Partner(code=r["code"], name=r["name"], kind=r["kind"], bidang=r["bidang"],
                                 email=r["email"], required=r["required"] == "yes", needs_nik_first=r["needs_nik_first"] == "yes")
    return out


@dataclass(frozen=True)
class OutcomeKind:
    """How a case ends (resolve/close): `detail` names what must come with it (programme, meeting_date,
    partner); `needs_nik` outcomes wait for the subject's NIK."""

    code: str
    name: str
    english: str
    detail: str
    needs_nik: bool


@cache
def outcomes() -> dict[str, OutcomeKind]:
    return {r["code"]: OutcomeKind(code=r["code"], name=r["name"], english=r["english"], detail=r["detail"],
                                   needs_nik=r["needs_nik"] == "yes") for r in _rows("outcomes.csv")}


@cache
def programmes() -> dict[str, str]:
    return {r["code"]: r["name"] for r in _rows("programmes.csv")}
