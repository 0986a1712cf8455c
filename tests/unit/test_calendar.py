"""Unit tests for referral.calendar on the real 2026 calendar (referral.holiday_source.build_calendar).

Every expected moment is written out by hand from the SKB 3 Menteri 2026 calendar plus the Buleleng
closures file, with office hours 08:00-16:00 WITA (1 working day = 8 office hours):

    1 Jan, 16 Jan, 16-17 Feb, 18-24 Mar (Nyepi 19 + cuti 18; Idul Fitri 21-22 + cuti 20, 23, 24),
    3 Apr, 5 Apr, 1 May, 14-15 May, 27-28 May, 31 May, 1 Jun, 16 Jun, 17 Aug, 25 Aug, 24-25 Dec;
    local closures: Galungan 16-18 Jun, Penampahan Kuningan 26 Jun.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from referral.calendar import WorkingCalendar
from referral.holiday_source import build_calendar, read_closures

WITA = timezone(timedelta(hours=8))
HOUR = 3600
DAY = 8 * HOUR  # one working day = eight office hours
CAL = build_calendar(2026)


def wita(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=WITA)


# ---- the calendar itself -------------------------------------------------------------------

EXPECTED_2026_CLOSED = {
    date(2026, 1, 1), date(2026, 1, 16), date(2026, 2, 16), date(2026, 2, 17),
    date(2026, 3, 18), date(2026, 3, 19), date(2026, 3, 20), date(2026, 3, 21), date(2026, 3, 22),
    date(2026, 3, 23), date(2026, 3, 24),
    date(2026, 4, 3), date(2026, 4, 5),
    date(2026, 5, 1), date(2026, 5, 14), date(2026, 5, 15), date(2026, 5, 27), date(2026, 5, 28),
    date(2026, 5, 31), date(2026, 6, 1),
    date(2026, 6, 16),  # Islamic New Year (national) and Penampahan Galungan (local)
    date(2026, 6, 17), date(2026, 6, 18),  # Galungan, Umanis Galungan (local closures)
    date(2026, 6, 26),  # Penampahan Kuningan (local closure)
    date(2026, 8, 17), date(2026, 8, 25),
    date(2026, 12, 24), date(2026, 12, 25),
}


def test_2026_non_working_days_match_skb_and_local_closures() -> None:
    closed_2026 = {d for d in CAL.non_working_days if d.year == 2026}
    assert closed_2026 == EXPECTED_2026_CLOSED


def test_calendar_defaults_and_version() -> None:
    assert CAL.first_year == 2026 and CAL.last_year == 2028
    assert CAL.utc_offset_minutes == 480
    assert CAL.office_seconds_per_day == 8 * HOUR
    assert CAL.version.startswith("ID-2026-2028/holidays-")
    assert list(CAL.non_working_days) == sorted(CAL.non_working_days)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 3, 17), True),   # Tuesday before Nyepi
        (date(2026, 3, 18), False),  # cuti bersama Nyepi
        (date(2026, 3, 19), False),  # Nyepi
        (date(2026, 3, 24), False),  # cuti bersama Idul Fitri
        (date(2026, 3, 25), True),
        (date(2026, 3, 7), False),   # Saturday
        (date(2026, 3, 8), False),   # Sunday
        (date(2026, 6, 17), False),  # Galungan (local)
        (date(2026, 6, 19), True),
        (date(2026, 6, 26), False),  # Penampahan Kuningan (local)
        (date(2026, 12, 24), False),
        (date(2026, 12, 28), True),
    ],
)
def test_is_working_day(day: date, working: bool) -> None:
    assert CAL.is_working_day(day) is working


def test_office_hours_must_make_sense() -> None:
    from datetime import time

    with pytest.raises(ValueError, match="office_close must be after office_open"):
        WorkingCalendar(version="x", first_year=2026, last_year=2026, office_open=time(16), office_close=time(8))


# ---- add_working_seconds -------------------------------------------------------------------

ADD_CASES = [
    # Nyepi + Idul Fitri block: 6 h on Tue 17 Mar, closed 18-24 Mar, 2 h on Wed 25 Mar.
    pytest.param(wita(3, 17, 10), 1 * DAY, wita(3, 25, 10), id="tue-17-mar+1wd-over-nyepi-idul-fitri"),
    pytest.param(wita(3, 17, 10), 3 * DAY, wita(3, 27, 10), id="tue-17-mar+3wd"),
    pytest.param(wita(3, 17, 10), 6 * HOUR, wita(3, 17, 16), id="tue-17-mar+6h-ends-at-close"),
    pytest.param(wita(3, 17, 10), 7 * HOUR, wita(3, 25, 9), id="tue-17-mar+7h"),
    # Plain weekend: 1 h on Friday, 7 h on Monday.
    pytest.param(wita(3, 13, 15), 1 * DAY, wita(3, 16, 15), id="fri-13-mar-15h+1wd"),
    # A Saturday report counts from Monday 08:00.
    pytest.param(wita(3, 7, 11), 1 * DAY, wita(3, 9, 16), id="sat-7-mar+1wd"),
    pytest.param(wita(3, 7, 11), 4 * HOUR, wita(3, 9, 12), id="sat-7-mar+4h"),
    pytest.param(wita(3, 14, 9), 2 * DAY, wita(3, 17, 16), id="sat-14-mar+2wd"),
    # Saturday before a Monday holiday (31 May Vesak on Sunday, 1 Jun Pancasila): counts from Tue 2 Jun.
    pytest.param(wita(5, 30, 10), 4 * HOUR, wita(6, 2, 12), id="sat-30-may+4h-from-tue-2-jun"),
    # Before opening / after closing.
    pytest.param(wita(3, 10, 6, 30), 2 * HOUR, wita(3, 10, 10), id="before-opening"),
    pytest.param(wita(3, 10, 18), 2 * HOUR, wita(3, 11, 10), id="after-closing"),
    # 14 working days from Mon 11 May 09:00: Ascension 14-15 May, Idul Adha 27-28 May, Vesak 31 May,
    # Pancasila 1 Jun. Working days after 11 May: 12, 13, 18, 19, 20, 21, 22, 25, 26, 29 May, 2, 3, 4, 5 Jun.
    pytest.param(wita(5, 11, 9), 14 * DAY, wita(6, 5, 9), id="mon-11-may+14wd"),
    pytest.param(wita(5, 11, 9), 3 * DAY, wita(5, 18, 9), id="mon-11-may+3wd-over-ascension"),
    pytest.param(wita(5, 26, 9), 1 * DAY, wita(5, 29, 9), id="tue-26-may+1wd-over-idul-adha"),
    # Galungan closure 16-18 Jun (local CSV).
    pytest.param(wita(6, 15, 10), 1 * DAY, wita(6, 19, 10), id="mon-15-jun+1wd-over-galungan"),
    pytest.param(wita(6, 15, 10), 2 * DAY, wita(6, 22, 10), id="mon-15-jun+2wd"),
    # Penampahan Kuningan Fri 26 Jun (local CSV).
    pytest.param(wita(6, 25, 10), 1 * DAY, wita(6, 29, 10), id="thu-25-jun+1wd-over-kuningan"),
    # Christmas 24-25 Dec, then the weekend.
    pytest.param(wita(12, 23, 10), 1 * DAY, wita(12, 28, 10), id="wed-23-dec+1wd-over-christmas"),
    pytest.param(wita(12, 23, 14), 4 * HOUR, wita(12, 28, 10), id="wed-23-dec-14h+4h"),
    # Independence Day Mon 17 Aug.
    pytest.param(wita(8, 14, 12), 1 * DAY, wita(8, 18, 12), id="fri-14-aug+1wd-over-17-aug"),
    # Zero seconds inside office hours is the start itself.
    pytest.param(wita(3, 11, 9, 30), 0, wita(3, 11, 9, 30), id="zero-inside-office-hours"),
]


@pytest.mark.parametrize(("start", "seconds", "expected"), ADD_CASES)
def test_add_working_seconds(start: datetime, seconds: float, expected: datetime) -> None:
    assert CAL.add_working_seconds(start, seconds) == expected


def test_add_working_seconds_accepts_utc_input_and_returns_aware() -> None:
    start = datetime(2026, 3, 17, 2, 0, tzinfo=timezone.utc)  # 10:00 WITA
    result = CAL.add_working_seconds(start, DAY)
    assert result == wita(3, 25, 10)
    assert result.utcoffset() is not None


# ---- working_seconds_between ---------------------------------------------------------------

BETWEEN_CASES = [
    pytest.param(wita(3, 6, 14), wita(3, 9, 10), 4 * HOUR, id="fri-14h-to-mon-10h-across-weekend"),
    pytest.param(wita(3, 13, 15), wita(3, 16, 15), 8 * HOUR, id="fri-15h-to-mon-15h"),
    pytest.param(wita(3, 17, 10), wita(3, 25, 10), 8 * HOUR, id="across-nyepi-idul-fitri"),
    pytest.param(wita(3, 7, 9), wita(3, 8, 15), 0, id="saturday-to-sunday"),
    pytest.param(wita(3, 10, 17), wita(3, 11, 7), 0, id="overnight-outside-office-hours"),
    pytest.param(wita(3, 10, 6), wita(3, 10, 20), 8 * HOUR, id="whole-office-day"),
    pytest.param(wita(3, 10, 12), wita(3, 10, 12), 0, id="same-moment"),
    pytest.param(wita(3, 10, 12), wita(3, 10, 11), 0, id="end-before-start"),
    pytest.param(wita(6, 15, 8), wita(6, 19, 16), 16 * HOUR, id="galungan-week"),
    pytest.param(wita(12, 23, 8), wita(12, 28, 16), 16 * HOUR, id="christmas"),
]


@pytest.mark.parametrize(("start", "end", "expected"), BETWEEN_CASES)
def test_working_seconds_between(start: datetime, end: datetime, expected: float) -> None:
    assert CAL.working_seconds_between(start, end) == expected


# ---- next_office_moment --------------------------------------------------------------------

NEXT_CASES = [
    pytest.param(wita(3, 6, 17), wita(3, 9, 8), id="fri-17h-to-mon-08h"),
    pytest.param(wita(3, 13, 17), wita(3, 16, 8), id="fri-13-mar-17h"),
    pytest.param(wita(5, 29, 17), wita(6, 2, 8), id="fri-29-may-to-tue-2-jun-over-pancasila"),
    pytest.param(wita(8, 14, 17), wita(8, 18, 8), id="fri-14-aug-to-tue-18-aug"),
    pytest.param(wita(6, 12, 17), wita(6, 15, 8), id="fri-12-jun-to-mon-15-jun"),
    pytest.param(wita(3, 17, 17), wita(3, 25, 8), id="tue-17-mar-evening-to-wed-25"),
    pytest.param(wita(5, 13, 16, 30), wita(5, 18, 8), id="wed-13-may-after-close-over-ascension"),
    pytest.param(wita(3, 11, 7), wita(3, 11, 8), id="before-opening-same-day"),
    pytest.param(wita(3, 11, 9, 30), wita(3, 11, 9, 30), id="inside-office-hours-unchanged"),
    pytest.param(wita(3, 7, 12), wita(3, 9, 8), id="saturday-noon"),
    pytest.param(datetime(2026, 3, 6, 9, 0, tzinfo=timezone.utc), wita(3, 9, 8), id="utc-input-fri-17h-wita"),
]


@pytest.mark.parametrize(("moment", "expected"), NEXT_CASES)
def test_next_office_moment(moment: datetime, expected: datetime) -> None:
    assert CAL.next_office_moment(moment) == expected


# ---- the elapsed/advance axes --------------------------------------------------------------

def test_calendar_axis_ignores_holidays_and_office_hours() -> None:
    assert CAL.advance("calendar", wita(3, 18, 14), 4 * HOUR) == wita(3, 18, 18)
    assert CAL.elapsed("calendar", wita(3, 18, 14), wita(3, 19, 14)) == 24 * HOUR
    assert CAL.elapsed("calendar", wita(3, 19, 14), wita(3, 18, 14)) == 0
    assert CAL.advance("working", wita(3, 17, 10), DAY) == wita(3, 25, 10)
    assert CAL.elapsed("working", wita(3, 17, 10), wita(3, 25, 10)) == DAY


# ---- closures files ------------------------------------------------------------------------

def _write(tmp_path: Path, text: str, name: str = "closures.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_default_closures_file() -> None:
    closures = read_closures(None)
    assert set(closures) == {date(2026, 6, 16), date(2026, 6, 17), date(2026, 6, 18), date(2026, 6, 26)}
    assert closures[date(2026, 6, 17)].startswith("Galungan")


def test_custom_closures_file_replaces_the_default(tmp_path: Path) -> None:
    path = _write(tmp_path, "date,reason\n2026-03-10,Rapat kerja\n 2026-03-12 , Piodalan pura kantor \n2030-01-02,outside years\n")
    cal = build_calendar(2026, closures_file=path)
    closed = set(cal.non_working_days)
    assert {date(2026, 3, 10), date(2026, 3, 12)} <= closed
    assert date(2030, 1, 2) not in closed  # outside 2026-2028
    # The default Galungan closures are gone; 16 Jun stays closed as the national Islamic New Year.
    assert date(2026, 6, 17) not in closed and date(2026, 6, 18) not in closed and date(2026, 6, 26) not in closed
    assert date(2026, 6, 16) in closed
    # Mon 9 Mar 10:00 + 1 working day skips Tue 10 Mar -> Wed 11 Mar 10:00.
    assert cal.add_working_seconds(wita(3, 9, 10), DAY) == wita(3, 11, 10)
    # Mon 15 Jun 10:00 + 1 working day: only 16 Jun is closed now -> Wed 17 Jun 10:00.
    assert cal.add_working_seconds(wita(6, 15, 10), DAY) == wita(6, 17, 10)
    assert cal.version != CAL.version  # the fingerprint follows the closed days


def test_custom_closures_reason_is_optional(tmp_path: Path) -> None:
    path = _write(tmp_path, "date\n2026-07-07\n")
    assert read_closures(path) == {date(2026, 7, 7): ""}


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param("date,reason\n2026-13-01,bad month\n", 2, id="month-13"),
        pytest.param("date,reason\n2026-06-16,ok\n2026-6-1,not padded\n", 3, id="not-iso"),
        pytest.param("date,reason\n2026-06-16,ok\n2026-06-17,ok\n17/06/2026,dd-mm-yyyy\n", 4, id="dd-mm-yyyy"),
        pytest.param("day,reason\n2026-06-16,ok\n", 2, id="no-date-column"),
    ],
)
def test_malformed_closure_date_names_the_line(tmp_path: Path, text: str, line: int) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match=rf"closures file line {line}: date must be YYYY-MM-DD"):
        build_calendar(2026, closures_file=path)


def test_malformed_closure_date_after_blank_line_names_the_real_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "date,reason\n2026-06-16,ok\n\n2026-13-01,bad\n")  # bad date on file line 4
    with pytest.raises(ValueError, match=r"closures file line 4:"):
        build_calendar(2026, closures_file=path)


def test_closures_file_with_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "closures.csv"
    path.write_bytes("\ufeffdate,reason\n2026-07-07,Rapat\n".encode("utf-8"))
    assert read_closures(str(path)) == {date(2026, 7, 7): "Rapat"}
