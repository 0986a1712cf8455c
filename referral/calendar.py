"""The working-time calendar a case is measured against.

A `WorkingCalendar` is a frozen, JSON-serialisable snapshot: the closed dates (national holidays,
cuti bersama, Bali's closures, office closures), the office hours per weekday with their breaks and
the office's UTC offset. The worker builds it once per case (`referral.holiday_source`), the
workflow keeps it in its state, and every deadline is computed from it with the pure methods below,
so replaying a case years later gives the same moments.

Office hours default to Perbup Buleleng 56/2025 (in force from 1 March 2026): Monday-Thursday
07:30-16:00 with a 12:00-12:45 break, Friday 07:00-14:00 with an 11:00-11:30 break, weekends
closed. One schedule holds for the whole snapshot; a new Perbup means a new calendar version.

Two ways to count working time:

* office time (`working_seconds_between`, `add_working_seconds`): seconds inside office hours on
  working days; "N working days" is N x `office_seconds_per_day`, the nominal length of one working
  day (default: the most common day length, 7 h 45 min under the Perbup; Friday is shorter).
* end of day (`close_of_nth_working_day`): N working days end when the office closes on the Nth
  working day after the day the clock started; the start day never counts, whatever the hour.

Every moment returned is timezone-aware UTC (compare or `local()` it); naive input is refused.
A snapshot written before office hours had breaks (`office_open`/`office_close`) still loads: it
becomes Monday-Friday with that one window and keeps its eight-hour day.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta, timezone
from functools import cached_property
from itertools import accumulate
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, field_validator, model_validator

Axis = Literal["working", "calendar"]
Interval = tuple[time, time]
DayHours = tuple[Interval, ...]
WeeklyHours = tuple[DayHours, DayHours, DayHours, DayHours, DayHours, DayHours, DayHours]
"""Open intervals for Monday (index 0) to Sunday (6); an empty tuple is a closed weekday."""

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_MON_THU: DayHours = ((time(7, 30), time(12, 0)), (time(12, 45), time(16, 0)))
_FRIDAY: DayHours = ((time(7, 0), time(11, 0)), (time(11, 30), time(14, 0)))
PERBUP_BULELENG_56_2025: WeeklyHours = (_MON_THU, _MON_THU, _MON_THU, _MON_THU, _FRIDAY, (), ())


def flat_hours(opens: time, closes: time) -> WeeklyHours:
    """Monday to Friday with one window and no break (the calendar before Perbup 56/2025)."""
    day: DayHours = ((opens, closes),)
    return (day, day, day, day, day, (), ())


FLAT_0800_1600 = flat_hours(time(8), time(16))

_US = 1_000_000  # all arithmetic is in whole microseconds, so results are exact
_WEEKLY = TypeAdapter(WeeklyHours)
_TIME = TypeAdapter(time)


# ---- office hours as text (REFERRAL_OFFICE_HOURS) ------------------------------------------

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_EXAMPLE = "'mon-thu 07:30-12:00,12:45-16:00; fri 07:00-11:00,11:30-14:00'"


def parse_office_hours(text: str) -> WeeklyHours:
    """Office hours from text like `mon-thu 07:30-12:00,12:45-16:00; fri 07:00-11:00,11:30-14:00`.

    Parts are separated by `;`; each part is days (`mon`, `mon-thu`, `mon,wed`) then open intervals
    separated by commas. Days not named are closed. Errors name the part at fault.
    """
    days: list[DayHours | None] = [None] * 7
    parts = [part.strip() for part in text.split(";")]
    if not any(parts):
        raise ValueError(f"office hours are empty: expected e.g. {_EXAMPLE}")
    for number, part in enumerate(parts, 1):
        if not part:
            continue
        where = f"office hours part {number} {part!r}"
        pieces = part.split(None, 1)
        if len(pieces) < 2:
            raise ValueError(f"{where}: expected days then intervals, e.g. 'fri 07:00-11:00,11:30-14:00'")
        weekdays = _parse_days(pieces[0], where)
        intervals = tuple(sorted(_parse_interval(piece.strip(), where) for piece in pieces[1].split(",")))
        problems = _day_problems(intervals)
        if problems:
            raise ValueError(f"{where}: {problems[0]}")
        for weekday in weekdays:
            if days[weekday] is not None:
                raise ValueError(f"{where}: {WEEKDAYS[weekday]} is already given in an earlier part")
            days[weekday] = intervals
    hours = tuple(day or () for day in days)
    return hours  # type: ignore[return-value]  # seven entries by construction


def format_office_hours(hours: WeeklyHours) -> str:
    """The canonical text of `hours`; `parse_office_hours` reads it back unchanged."""
    parts: list[str] = []
    weekday = 0
    while weekday < 7:
        last = weekday
        while last + 1 < 7 and hours[last + 1] == hours[weekday]:
            last += 1
        if hours[weekday]:
            days = WEEKDAYS[weekday] if last == weekday else f"{WEEKDAYS[weekday]}-{WEEKDAYS[last]}"
            parts.append(f"{days} " + ",".join(f"{_clock(a)}-{_clock(b)}" for a, b in hours[weekday]))
        weekday = last + 1
    return "; ".join(parts)


def _parse_days(spec: str, where: str) -> list[int]:
    chosen: list[int] = []
    for item in spec.lower().split(","):
        names = item.split("-")
        if len(names) > 2:
            raise ValueError(f"{where}: {item!r} is not a day or a range of days like mon-thu")
        for name in names:
            if name not in WEEKDAYS:
                raise ValueError(f"{where}: {name!r} is not a day (use {', '.join(WEEKDAYS)})")
        start, end = WEEKDAYS.index(names[0]), WEEKDAYS.index(names[-1])
        if end < start:
            raise ValueError(f"{where}: the day range {item!r} runs backwards (write it Monday to Sunday)")
        chosen.extend(range(start, end + 1))
    return chosen


def _parse_interval(spec: str, where: str) -> Interval:
    bounds = spec.split("-")
    times = [_parse_clock(b.strip()) for b in bounds] if len(bounds) == 2 else [None]
    if None in times:
        raise ValueError(f"{where}: {spec!r} is not an interval like 07:30-12:00")
    return times[0], times[1]  # type: ignore[return-value]


def _parse_clock(text: str) -> time | None:
    match = _CLOCK.match(text)
    if not match:
        return None
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    return time(hour, minute, second) if hour < 24 and minute < 60 and second < 60 else None


def _clock(t: time) -> str:
    return t.strftime("%H:%M:%S" if t.second else "%H:%M")


def _day_problems(intervals: DayHours) -> list[str]:
    problems = [f"{_clock(a)}-{_clock(b)} does not end after it starts" for a, b in intervals if b <= a]
    problems += [
        f"{_clock(a)}-{_clock(b)} overlaps {_clock(c)}-{_clock(d)}"
        for (a, b), (c, d) in zip(intervals, intervals[1:])
        if c < b
    ]
    return problems


def nominal_day_seconds(hours: WeeklyHours) -> float:
    """The most common length of an open weekday (the longest on a tie): 7 h 45 min under the Perbup."""
    lengths = Counter(sum(_us(b) - _us(a) for a, b in day) for day in hours if day)
    if not lengths:
        return 0.0
    return max(lengths, key=lambda length: (lengths[length], length)) / _US


def _us(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * _US + t.microsecond


# ---- the snapshot --------------------------------------------------------------------------


class WorkingCalendar(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: str
    utc_offset_minutes: int = 8 * 60  # Asia/Makassar (WITA) has no daylight saving time
    office_hours: WeeklyHours = PERBUP_BULELENG_56_2025
    office_seconds_per_day: float
    """Nominal length of one working day, turning "N working_days" into office seconds."""
    first_year: int
    last_year: int
    non_working_days: tuple[date, ...] = ()
    """Every date the office is closed besides its closed weekdays (holidays, cuti bersama, closures)."""
    unconfirmed_years: tuple[int, ...] = ()
    """Years whose Bali closures are computed from the pawukon cycle, not yet confirmed by an SE Gubernur Bali."""

    @model_validator(mode="before")
    @classmethod
    def _complete(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "office_open" in data or "office_close" in data:  # a snapshot from before Perbup 56/2025
            if "office_hours" in data:
                raise ValueError("give office_hours or the older office_open/office_close, not both")
            opens = _TIME.validate_python(data.pop("office_open", time(8)))
            closes = _TIME.validate_python(data.pop("office_close", time(16)))
            if closes <= opens:
                raise ValueError("office_close must be after office_open")
            data["office_hours"] = flat_hours(opens, closes)
        if data.get("office_seconds_per_day") is None:
            try:
                data["office_seconds_per_day"] = nominal_day_seconds(
                    _WEEKLY.validate_python(data.get("office_hours", PERBUP_BULELENG_56_2025)))
            except ValidationError:
                pass  # the office_hours field reports the problem itself, with its location
        return data

    @field_validator("non_working_days", "unconfirmed_years")
    @classmethod
    def _sorted_unique(cls, values: tuple) -> tuple:
        return tuple(sorted(set(values)))

    @model_validator(mode="after")
    def _coherent(self) -> "WorkingCalendar":
        problems = [
            f"office_hours: {WEEKDAYS[weekday]} {problem}"
            for weekday, day in enumerate(self.office_hours)
            for problem in _day_problems(tuple(sorted(day)))
        ]
        problems += [
            f"office_hours: {WEEKDAYS[weekday]} intervals must be in time order"
            for weekday, day in enumerate(self.office_hours)
            if list(day) != sorted(day)
        ]
        if not any(self.office_hours):
            problems.append("office_hours: the office must be open on at least one weekday")
        if self.office_seconds_per_day <= 0:
            problems.append("office_seconds_per_day must be positive")
        if self.last_year < self.first_year:
            problems.append("last_year must not be before first_year")
        if not -12 * 60 <= self.utc_offset_minutes <= 14 * 60:
            problems.append("utc_offset_minutes must be between -720 and 840")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> "WorkingCalendar":
        """A copy; with `update`, without the values cached from the original (its closures, its identity):
        they describe the original, and a copy with other closures must never answer with its deadlines."""
        copied = super().model_copy(update=update, deep=deep)
        if update:
            for name in _CACHED:
                copied.__dict__.pop(name, None)
        return copied

    # ---- identity --------------------------------------------------------------------------

    @property
    def fingerprint(self) -> str:
        """Changes whenever anything that moves a deadline or its wording changes (not `version`)."""
        return self._identity[:12]

    @property
    def identity(self) -> str:
        """The whole content hash (`fingerprint` is its start): the key of memos of this calendar's answers."""
        return self._identity

    @cached_property
    def _identity(self) -> str:
        canonical = "|".join((
            f"{self.first_year}-{self.last_year}",
            f"utc{self.utc_offset_minutes:+d}",
            format_office_hours(self.office_hours),
            f"day={self.office_seconds_per_day!r}",
            ",".join(d.isoformat() for d in self.non_working_days),
            "unconfirmed=" + ",".join(str(y) for y in self.unconfirmed_years),
        ))
        return hashlib.sha256(canonical.encode()).hexdigest()

    # ---- days ------------------------------------------------------------------------------

    @cached_property
    def tz(self) -> timezone:
        return timezone(timedelta(minutes=self.utc_offset_minutes))

    def local(self, moment: datetime) -> datetime:
        _require_aware(moment)
        return moment.astimezone(self.tz)

    def is_working_day(self, day: date) -> bool:
        return self._is_open(day.toordinal())

    def office_intervals(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The office's open intervals on `day` (UTC moments); empty on a closed day."""
        ordinal = day.toordinal()
        if not self._is_open(ordinal):
            return ()
        return tuple((self._moment(ordinal, a), self._moment(ordinal, b)) for a, b in self._spans[_weekday(ordinal)])

    def close_of_day(self, day: date) -> datetime:
        """When the office closes on `day` (16:00 Mon-Thu, 14:00 Friday under the Perbup)."""
        ordinal = day.toordinal()
        if not self._is_open(ordinal):
            raise ValueError(f"{day.isoformat()} is not a working day")
        return self._moment(ordinal, self._spans[_weekday(ordinal)][-1][1])

    def nth_working_day_after(self, day: date, n: int) -> date:
        """The Nth working day after `day` (`day` itself never counts)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a whole number of working days, at least 1 (got {n!r})")
        after = day.toordinal() + 1
        counted_before = self._working_days_before(after)
        found = _first_reached(after, lambda o: self._working_days_before(o + 1) - counted_before >= n)
        return date.fromordinal(found)

    def close_of_nth_working_day(self, start: datetime, n: int) -> datetime:
        """End-of-day deadline: the close of office on the Nth working day after the start's local day."""
        return self.close_of_day(self.nth_working_day_after(self.local(start).date(), n))

    # ---- office time -----------------------------------------------------------------------

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        """Office seconds on working days between two moments (0 if end is not after start)."""
        worked = self._worked(*self._split(end)) - self._worked(*self._split(start))
        return max(0, worked) / _US

    def add_working_seconds(self, start: datetime, seconds: float) -> datetime:
        """The first moment at which `seconds` of office time have passed since `start`.

        With `seconds == 0` this is `start` itself inside office hours, else the next opening.
        """
        # A case asks for the same deadlines several times per step (its summary, details, search attributes
        # and event); remembered process-wide by the calendar's content, so no case holds a memo of its own.
        key = (self._identity, start, seconds)
        moment = _ADVANCED.get(key)
        if moment is None:
            moment = self._add_working_seconds(start, seconds)
            if len(_ADVANCED) >= _ADVANCED_LIMIT:
                _ADVANCED.clear()
            _ADVANCED[key] = moment
        return moment

    def _add_working_seconds(self, start: datetime, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError(f"seconds must not be negative (got {seconds})")
        ordinal, offset = self._next_open(*self._split(start))
        amount = round(seconds * _US)
        if amount == 0:
            return self._moment(ordinal, offset)
        target = self._worked(ordinal, offset) + amount
        day = _first_reached(ordinal, lambda o: self._worked_before(o + 1) >= target)
        needed = target - self._worked_before(day)
        for opens, closes in self._spans[_weekday(day)]:
            if needed <= closes - opens:
                return self._moment(day, opens + needed)
            needed -= closes - opens
        raise AssertionError("unreachable: the day was chosen to hold the remaining time")

    def next_office_moment(self, moment: datetime) -> datetime:
        """`moment` if the office is open then, else the next opening (for notifications)."""
        return self.add_working_seconds(moment, 0)

    # The two axes a clock can run on: office time or plain elapsed time.
    def elapsed(self, axis: Axis, start: datetime, end: datetime) -> float:
        if axis == "working":
            return self.working_seconds_between(start, end)
        return max(0.0, (end - start).total_seconds())

    def advance(self, axis: Axis, start: datetime, seconds: float) -> datetime:
        if axis == "working":
            return self.add_working_seconds(start, seconds)
        return start + timedelta(seconds=seconds)

    # ---- internals: days as proleptic ordinals, times as microseconds into the local day ----
    # Office time before a day = whole weeks x the week's office time + the partial week, minus the
    # closed days before it (bisect over their running total): O(log n) for any date.

    @cached_property
    def _spans(self) -> tuple[tuple[tuple[int, int], ...], ...]:
        return tuple(tuple((_us(a), _us(b)) for a, b in day) for day in self.office_hours)

    @cached_property
    def _week(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Running office microseconds and open-day counts over Monday..Sunday (8 entries each)."""
        lengths = [sum(b - a for a, b in spans) for spans in self._spans]
        return tuple(accumulate(lengths, initial=0)), tuple(accumulate((int(n > 0) for n in lengths), initial=0))

    @cached_property
    def _closed(self) -> frozenset[int]:
        return frozenset(d.toordinal() for d in self.non_working_days)

    @cached_property
    def _closed_office_days(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Closed dates that fall on an open weekday, and the running total of their office time."""
        ordinals = tuple(o for o in sorted(self._closed) if self._spans[_weekday(o)])
        lengths = (sum(b - a for a, b in self._spans[_weekday(o)]) for o in ordinals)
        return ordinals, tuple(accumulate(lengths, initial=0))

    def _is_open(self, ordinal: int) -> bool:
        return bool(self._spans[_weekday(ordinal)]) and ordinal not in self._closed

    def _worked_before(self, ordinal: int) -> int:
        """Office microseconds from the proleptic epoch to the start of the day `ordinal`."""
        weeks, weekday = divmod(ordinal - 1, 7)
        office, _ = self._week
        closed, closed_total = self._closed_office_days
        return weeks * office[7] + office[weekday] - closed_total[bisect_left(closed, ordinal)]

    def _working_days_before(self, ordinal: int) -> int:
        weeks, weekday = divmod(ordinal - 1, 7)
        _, days = self._week
        return weeks * days[7] + days[weekday] - bisect_left(self._closed_office_days[0], ordinal)

    def _worked(self, ordinal: int, offset: int) -> int:
        within = 0
        if self._is_open(ordinal):
            within = sum(min(max(offset - a, 0), b - a) for a, b in self._spans[_weekday(ordinal)])
        return self._worked_before(ordinal) + within

    def _next_open(self, ordinal: int, offset: int) -> tuple[int, int]:
        """The first moment at or after (ordinal, offset) inside an open interval (its close included)."""
        while True:  # ends: the closed dates are finite and some weekday is open
            if self._is_open(ordinal):
                for opens, closes in self._spans[_weekday(ordinal)]:
                    if offset <= closes:
                        return ordinal, max(opens, offset)
            ordinal, offset = ordinal + 1, 0

    def _split(self, moment: datetime) -> tuple[int, int]:
        local = self.local(moment)
        return local.toordinal(), _us(local.time())

    def _moment(self, ordinal: int, offset: int) -> datetime:
        midnight = datetime.combine(date.fromordinal(ordinal), time(0), self.tz)
        return (midnight + timedelta(microseconds=offset)).astimezone(timezone.utc)


_CACHED = tuple(name for name, value in vars(WorkingCalendar).items() if isinstance(value, cached_property))
_ADVANCED: dict[tuple[str, datetime, float], datetime] = {}  # add_working_seconds, by calendar content
_ADVANCED_LIMIT = 4096  # forgotten all at once when full: a memo for the moment, not a store


def _weekday(ordinal: int) -> int:
    return (ordinal - 1) % 7  # ordinal 1 (1 January of year 1) was a Monday


def _first_reached(low: int, reached: Callable[[int], bool]) -> int:
    """The smallest ordinal >= low for which the monotone `reached` holds (gallop, then bisect)."""
    if reached(low):
        return low
    step = 1
    while not reached(low + step):
        step *= 2
    below, above = low + step // 2, low + step  # reached(above), not reached(below)
    while above - below > 1:
        middle = (below + above) // 2
        if reached(middle):
            above = middle
        else:
            below = middle
    return above


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"moment {moment.isoformat()} must be timezone-aware")
