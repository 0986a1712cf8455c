"""Builds a case's `WorkingCalendar`: national holidays, Bali's closures and the office's own closures.

Runs in the worker (an activity), never in workflow code: the result is recorded in the case's
history, so a later change to the holidays package, to the closures file or to the office hours
leaves running cases on the calendar they started under (its `version` tells them apart).

Closed days come from three places:

1. National holidays and cuti bersama: the `holidays` package, country ID, categories public and
   government (the SKB 3 Menteri; exact for 2026).
2. Bali's Galungan-cycle days, computed for every year from the pawukon cycle (`referral.pawukon`).
   Which of them close the office is policy: `bali_closed`, by default Penampahan Galungan,
   Galungan, Umanis Galungan and Penampahan Kuningan (Kuningan is always a Saturday; Pagerwesi is
   not closed unless chosen).
3. The closures file (`referral/data/local_closures.csv`, or the file named by
   REFERRAL_CLOSURES_FILE): UTF-8 CSV with the header `date,kind,reason,source`:

   ================  =============================================================================
   kind              meaning
   ================  =============================================================================
   bali_confirmed    a day closed by that year's Surat Edaran Gubernur Bali; `source` must name the
                     SE. A year with any such row is CONFIRMED: its rows replace the computed Bali
                     days of that year entirely (the SE may add or drop days; `bali_closed` does
                     not filter them).
   bali_unconfirmed  a computed Bali day written down while the year's SE is not out. It closes
                     nothing by itself (the computation does) and must fall on a Galungan-cycle
                     day; it may not share a year with bali_confirmed rows (remove it when the SE
                     arrives).
   office            any other closure decided for the office (a local cuti bersama, a piodalan of
                     the office temple): always closed, whatever the year's Bali status.
   ================  =============================================================================

   A file with only the older `date,reason` columns is read as `office` closures.

A year of the calendar without bali_confirmed rows uses the computed days, is listed in the
calendar's `unconfirmed_years` ("dihitung, belum dikonfirmasi") and is logged as a warning.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Literal, get_args

import holidays
import structlog

from referral import pawukon
from referral.calendar import PERBUP_BULELENG_56_2025, WeeklyHours, WorkingCalendar, nominal_day_seconds
from referral.pawukon import BaliHoliday

log = structlog.get_logger(__name__)

ClosureKind = Literal["bali_confirmed", "bali_unconfirmed", "office"]
CLOSURE_KINDS: tuple[str, ...] = get_args(ClosureKind)
DEFAULT_CLOSURES_FILE = "local_closures.csv"
DEFAULT_BALI_CLOSED = frozenset({
    BaliHoliday.PENAMPAHAN_GALUNGAN,
    BaliHoliday.GALUNGAN,
    BaliHoliday.UMANIS_GALUNGAN,
    BaliHoliday.PENAMPAHAN_KUNINGAN,
})


@dataclass(frozen=True)
class Closure:
    day: date
    kind: ClosureKind
    reason: str = ""
    source: str = ""


def read_closures(path: str | None = None) -> tuple[Closure, ...]:
    """The closures file at `path`, or the one shipped in `referral/data/`."""
    text = (
        Path(path).read_text(encoding="utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
        if path
        else resources.files("referral.data").joinpath(DEFAULT_CLOSURES_FILE).read_text(encoding="utf-8")
    )
    return parse_closures(text)


def parse_closures(text: str) -> tuple[Closure, ...]:
    """Every row of a closures CSV; an error names the file line and the column at fault."""
    closures: list[Closure] = []
    reader = csv.DictReader(io.StringIO(text))
    has_kind = "kind" in (reader.fieldnames or ())
    for row in reader:
        where = f"closures file line {reader.line_num}"
        try:
            day = date.fromisoformat((row.get("date") or "").strip())
        except ValueError as exc:
            raise ValueError(f"{where}: date must be YYYY-MM-DD ({exc})") from exc
        kind = (row.get("kind") or "").strip() if has_kind else "office"
        if kind not in CLOSURE_KINDS:
            raise ValueError(f"{where}: kind must be one of {', '.join(CLOSURE_KINDS)}, not {kind!r}")
        closure = Closure(day, kind, (row.get("reason") or "").strip(), (row.get("source") or "").strip())
        if kind == "bali_confirmed" and not closure.source:
            raise ValueError(f"{where}: a bali_confirmed row must name its Surat Edaran Gubernur Bali in source")
        if kind == "bali_unconfirmed" and pawukon.cycle_day(day) not in pawukon.CYCLE_DAY.values():
            raise ValueError(
                f"{where}: {day} is not a Galungan-cycle day, so it cannot be a computed Bali closure; "
                "use kind office for another closure, or bali_confirmed with the SE that decided it"
            )
        closures.append(closure)
    confirmed_years = {c.day.year for c in closures if c.kind == "bali_confirmed"}
    stale = sorted({c.day.year for c in closures if c.kind == "bali_unconfirmed"} & confirmed_years)
    if stale:
        raise ValueError(
            f"closures file: {', '.join(map(str, stale))} has bali_confirmed rows: remove its bali_unconfirmed rows"
        )
    return tuple(closures)


@dataclass(frozen=True)
class LocalClosures:
    days: dict[date, str]  # every closed date -> its reason
    computed: dict[date, BaliHoliday]  # the closed dates that come from the pawukon computation
    unconfirmed_years: tuple[int, ...]


def local_closures(
    first_year: int,
    last_year: int,
    closures: Iterable[Closure],
    bali_closed: Iterable[BaliHoliday | str] = DEFAULT_BALI_CLOSED,
) -> LocalClosures:
    """Bali's and the office's closed days of the years, confirmed rows winning over the computation."""
    closures = [c for c in closures if first_year <= c.day.year <= last_year]
    policy = pawukon.parse_holidays(bali_closed)
    confirmed_years = {c.day.year for c in closures if c.kind == "bali_confirmed"}
    computed = {
        day: holiday
        for day, holiday in pawukon.holidays_in_years(first_year, last_year, policy).items()
        if day.year not in confirmed_years
    }
    days = {day: f"{pawukon.LABELS[holiday]} (dihitung, belum dikonfirmasi)" for day, holiday in computed.items()}
    for closure in closures:
        if closure.kind != "bali_unconfirmed":
            days.setdefault(closure.day, closure.reason)
    unconfirmed = tuple(y for y in range(first_year, last_year + 1) if policy and y not in confirmed_years)
    return LocalClosures(days=dict(sorted(days.items())), computed=computed, unconfirmed_years=unconfirmed)


def build_calendar(
    first_year: int,
    years: int = 3,
    closures_file: str | None = None,
    office_hours: WeeklyHours = PERBUP_BULELENG_56_2025,
    office_seconds_per_day: float | None = None,
    utc_offset_minutes: int = 480,
    bali_closed: Iterable[BaliHoliday | str] = DEFAULT_BALI_CLOSED,
) -> WorkingCalendar:
    """The calendar for `years` years from `first_year`; see the module docstring for the sources.

    `office_seconds_per_day` defaults to the most common day length of `office_hours`.
    """
    if years < 1:
        raise ValueError(f"years must be at least 1 (got {years})")
    last_year = first_year + years - 1
    national = holidays.country_holidays(
        "ID", years=range(first_year, last_year + 1), categories=("public", "government")
    )
    local = local_closures(first_year, last_year, read_closures(closures_file), bali_closed)
    for year in local.unconfirmed_years:
        computed = [d.isoformat() for d in sorted(local.computed) if d.year == year]
        log.warning("bali closures computed, not confirmed by an SE Gubernur Bali", year=year, days=computed)
    draft = WorkingCalendar(
        version="draft",
        utc_offset_minutes=utc_offset_minutes,
        office_hours=office_hours,
        office_seconds_per_day=(
            nominal_day_seconds(office_hours) if office_seconds_per_day is None else office_seconds_per_day
        ),
        first_year=first_year,
        last_year=last_year,
        non_working_days=tuple(set(national) | set(local.days)),
        unconfirmed_years=local.unconfirmed_years,
    )
    version = f"ID-{first_year}-{last_year}/holidays-{holidays.__version__}/{draft.fingerprint}"
    return draft.model_copy(update={"version": version})
