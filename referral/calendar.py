"""The working-day calendar a case is measured against.

A `WorkingCalendar` is a frozen snapshot: the non-working dates (national holidays, cuti bersama,
local closures), the office hours and the office's UTC offset. The worker builds it once per case
(see `referral.holiday_source`), the workflow keeps it in its state, and every deadline is computed
from it with the pure functions below, so replaying a case years later gives the same dates.

Working time counts only office hours on working days: with 08:00-16:00, "1 working day" is eight
office hours, so a case reported on Tuesday at 10:00 is due at 10:00 on the next working day.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

Axis = Literal["working", "calendar"]


class WorkingCalendar(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: str
    utc_offset_minutes: int = 8 * 60  # Asia/Makassar (WITA) has no daylight saving time
    office_open: time = time(8, 0)
    office_close: time = time(16, 0)
    first_year: int
    last_year: int
    non_working_days: tuple[date, ...] = ()
    """Weekdays and weekend days alike that the office is closed (holidays, cuti bersama, closures)."""

    @model_validator(mode="after")
    def _office_hours_make_sense(self) -> "WorkingCalendar":
        if self.office_close <= self.office_open:
            raise ValueError("office_close must be after office_open")
        return self

    @cached_property
    def tz(self) -> timezone:
        return timezone(timedelta(minutes=self.utc_offset_minutes))

    @cached_property
    def _closed(self) -> frozenset[date]:
        return frozenset(self.non_working_days)

    @property
    def office_seconds_per_day(self) -> float:
        return _seconds(self.office_close) - _seconds(self.office_open)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._closed

    def _office_hours(self, day: date) -> tuple[datetime, datetime]:
        return (
            datetime.combine(day, self.office_open, self.tz),
            datetime.combine(day, self.office_close, self.tz),
        )

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        """Office seconds on working days between two moments (0 if end is not after start)."""
        if end <= start:
            return 0.0
        total = 0.0
        day = self.local(start).date()
        last = self.local(end).date()
        while day <= last:
            if self.is_working_day(day):
                opens, closes = self._office_hours(day)
                overlap = (min(end, closes) - max(start, opens)).total_seconds()
                total += max(0.0, overlap)
            day += timedelta(days=1)
        return total

    def add_working_seconds(self, start: datetime, seconds: float) -> datetime:
        """The moment at which `seconds` of office time have passed since `start`.

        With `seconds == 0` this is `start` itself inside office hours, else the next opening.
        """
        moment = self.local(start)
        remaining = seconds
        day = moment.date()
        for _ in range(366 * 5):  # bounded: a policy of more than five years of work is a typo
            if self.is_working_day(day):
                opens, closes = self._office_hours(day)
                begin = max(moment, opens)
                if begin <= closes:
                    available = (closes - begin).total_seconds()
                    if remaining <= available:
                        return (begin + timedelta(seconds=remaining)).astimezone(timezone.utc)
                    remaining -= available
            day += timedelta(days=1)
            moment = datetime.combine(day, time(0), self.tz)
        raise ValueError(f"no working time left within five years of {start.isoformat()}")

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


def _seconds(t: time) -> float:
    return t.hour * 3600 + t.minute * 60 + t.second
