"""Unit tests for referral.pawukon against Galungan-cycle dates published in Bali.

Sources of the literal dates (public reports; the SE Gubernur Bali as quoted by the press):
  2007  antaranews.com/berita/67747: Penampahan 26 Jun, Galungan 27 Jun, Umanis 28 Jun, Kuningan 6-7 Jul
  2010  antaranews.com/berita/238271: Penampahan Kuningan Fri 17 Dec, Kuningan Sat 18 Dec
  2012  bali.antaranews.com/berita/17616: Galungan 31 Jan-2 Feb, Kuningan 10-11 Feb, Pagerwesi 20 Jun,
        Galungan 29 Aug; bali.antaranews.com/berita/27348: Penampahan Kuningan 7 Sep, Kuningan 8 Sep
  2013  bali.antaranews.com/berita/32723: Pagerwesi 16 Jan and 14 Aug, Galungan 27 Mar, Kuningan 6 Apr
  2017  bali.antaranews.com/berita/101662: Pagerwesi Wed 25 Jan
  2023  labviral.com (Kalender Bali 2023): Penampahan 3 Jan, Galungan 4 Jan, Umanis 5 Jan, 13-14 Jan Kuningan
  2024  ngopibareng.id (SE Gubernur Bali 7/2023): Galungan 28 Feb and 25 Sep, Penampahan Kuningan 4 Oct
  2025  badung.inews.id/amp/585134: 22-24 Apr, 2-3 May, 18-20 Nov, 28-29 Nov (SE 16/2024 per cheklani.com)
  2026-2027: the dates given in the brief (Galungan 17 Jun 2026, 13 Jan and 11 Aug 2027).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from referral import pawukon
from referral.pawukon import BaliHoliday as H

PUBLISHED = [
    (date(2007, 6, 26), H.PENAMPAHAN_GALUNGAN), (date(2007, 6, 27), H.GALUNGAN),
    (date(2007, 6, 28), H.UMANIS_GALUNGAN), (date(2007, 7, 6), H.PENAMPAHAN_KUNINGAN), (date(2007, 7, 7), H.KUNINGAN),
    (date(2010, 12, 17), H.PENAMPAHAN_KUNINGAN), (date(2010, 12, 18), H.KUNINGAN),
    (date(2012, 1, 31), H.PENAMPAHAN_GALUNGAN), (date(2012, 2, 1), H.GALUNGAN), (date(2012, 2, 2), H.UMANIS_GALUNGAN),
    (date(2012, 2, 10), H.PENAMPAHAN_KUNINGAN), (date(2012, 2, 11), H.KUNINGAN), (date(2012, 6, 20), H.PAGERWESI),
    (date(2012, 8, 29), H.GALUNGAN), (date(2012, 9, 7), H.PENAMPAHAN_KUNINGAN), (date(2012, 9, 8), H.KUNINGAN),
    (date(2013, 1, 16), H.PAGERWESI), (date(2013, 3, 27), H.GALUNGAN), (date(2013, 4, 6), H.KUNINGAN),
    (date(2013, 8, 14), H.PAGERWESI), (date(2017, 1, 25), H.PAGERWESI),
    (date(2023, 1, 3), H.PENAMPAHAN_GALUNGAN), (date(2023, 1, 4), H.GALUNGAN), (date(2023, 1, 5), H.UMANIS_GALUNGAN),
    (date(2023, 1, 13), H.PENAMPAHAN_KUNINGAN), (date(2023, 1, 14), H.KUNINGAN),
    (date(2024, 2, 28), H.GALUNGAN), (date(2024, 9, 25), H.GALUNGAN), (date(2024, 10, 4), H.PENAMPAHAN_KUNINGAN),
    (date(2025, 4, 22), H.PENAMPAHAN_GALUNGAN), (date(2025, 4, 23), H.GALUNGAN), (date(2025, 4, 24), H.UMANIS_GALUNGAN),
    (date(2025, 5, 2), H.PENAMPAHAN_KUNINGAN), (date(2025, 5, 3), H.KUNINGAN),
    (date(2025, 11, 18), H.PENAMPAHAN_GALUNGAN), (date(2025, 11, 19), H.GALUNGAN),
    (date(2025, 11, 20), H.UMANIS_GALUNGAN), (date(2025, 11, 28), H.PENAMPAHAN_KUNINGAN), (date(2025, 11, 29), H.KUNINGAN),
    (date(2026, 6, 17), H.GALUNGAN), (date(2027, 1, 13), H.GALUNGAN), (date(2027, 8, 11), H.GALUNGAN),
    (date(2027, 1, 22), H.PENAMPAHAN_KUNINGAN), (date(2027, 8, 20), H.PENAMPAHAN_KUNINGAN),
]


@pytest.mark.parametrize(("day", "holiday"), PUBLISHED, ids=lambda v: str(v))
def test_published_dates(day: date, holiday: H) -> None:
    assert pawukon.holidays_in_years(day.year, day.year).get(day) == holiday


def test_the_whole_2026_and_2027_cycle() -> None:
    assert pawukon.holidays_in_years(2026, 2027) == {
        date(2026, 4, 8): H.PAGERWESI,
        date(2026, 6, 16): H.PENAMPAHAN_GALUNGAN, date(2026, 6, 17): H.GALUNGAN, date(2026, 6, 18): H.UMANIS_GALUNGAN,
        date(2026, 6, 26): H.PENAMPAHAN_KUNINGAN, date(2026, 6, 27): H.KUNINGAN,
        date(2026, 11, 4): H.PAGERWESI,
        date(2027, 1, 12): H.PENAMPAHAN_GALUNGAN, date(2027, 1, 13): H.GALUNGAN, date(2027, 1, 14): H.UMANIS_GALUNGAN,
        date(2027, 1, 22): H.PENAMPAHAN_KUNINGAN, date(2027, 1, 23): H.KUNINGAN,
        date(2027, 6, 2): H.PAGERWESI,
        date(2027, 8, 10): H.PENAMPAHAN_GALUNGAN, date(2027, 8, 11): H.GALUNGAN, date(2027, 8, 12): H.UMANIS_GALUNGAN,
        date(2027, 8, 20): H.PENAMPAHAN_KUNINGAN, date(2027, 8, 21): H.KUNINGAN,
        date(2027, 12, 29): H.PAGERWESI,
    }


# Each holiday is defined by its saptawara, pancawara and wuku; the cycle must reproduce them.
DEFINITIONS = {
    H.PAGERWESI: ("Buda", "Kliwon", "Sinta"),
    H.PENAMPAHAN_GALUNGAN: ("Anggara", "Wage", "Dungulan"),
    H.GALUNGAN: ("Buda", "Kliwon", "Dungulan"),
    H.UMANIS_GALUNGAN: ("Wraspati", "Umanis", "Dungulan"),
    H.PENAMPAHAN_KUNINGAN: ("Sukra", "Wage", "Kuningan"),
    H.KUNINGAN: ("Saniscara", "Kliwon", "Kuningan"),
}


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)))
def test_every_holiday_is_its_wewaran_and_wuku(day: date) -> None:
    found = dict(pawukon.holidays_between(day, day))
    names = (pawukon.saptawara(day), pawukon.pancawara(day), pawukon.wuku(day))
    expected = {h for h, definition in DEFINITIONS.items() if definition == names}
    assert set(found.values()) == expected


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)))
def test_saptawara_is_the_gregorian_weekday(day: date) -> None:
    assert pawukon.saptawara(day) == pawukon.SAPTAWARA[(day.weekday() + 1) % 7]


def test_the_anchor_is_redite_paing_sinta_and_the_cycle_repeats() -> None:
    anchor = pawukon.CYCLE_ANCHOR
    assert (pawukon.saptawara(anchor), pawukon.pancawara(anchor), pawukon.wuku(anchor)) == ("Redite", "Paing", "Sinta")
    assert pawukon.cycle_day(anchor - timedelta(days=1)) == 209  # Saniscara Umanis Watugunung (Saraswati)
    assert pawukon.wuku(anchor - timedelta(days=1)) == "Watugunung"
    assert pawukon.pancawara(anchor - timedelta(days=1)) == "Umanis"


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)), st.integers(0, 800))
def test_range_lists_each_holiday_once_in_order(first: date, length: int) -> None:
    last = first + timedelta(days=length)
    found = list(pawukon.holidays_between(first, last))
    assert [d for d, _ in found] == sorted({d for d, _ in found})
    assert all(first <= d <= last and pawukon.cycle_day(d) == pawukon.CYCLE_DAY[h] for d, h in found)
    expected = sum(1 for i in range(length + 1) if pawukon.cycle_day(first + timedelta(days=i)) in pawukon.CYCLE_DAY.values())
    assert len(found) == expected


def test_selection_and_edges() -> None:
    only = list(pawukon.holidays_between(date(2026, 1, 1), date(2026, 12, 31), [H.GALUNGAN]))
    assert only == [(date(2026, 6, 17), H.GALUNGAN)]
    assert list(pawukon.holidays_between(date(2026, 6, 17), date(2026, 6, 17))) == [(date(2026, 6, 17), H.GALUNGAN)]
    assert list(pawukon.holidays_between(date(2026, 6, 18), date(2026, 6, 17))) == []
    assert list(pawukon.holidays_between(date(2026, 1, 1), date(2026, 12, 31), [])) == []


def test_parse_holidays() -> None:
    assert pawukon.parse_holidays(["Galungan", " pagerwesi "]) == {H.GALUNGAN, H.PAGERWESI}
    assert pawukon.parse_holidays([H.KUNINGAN]) == {H.KUNINGAN}
    with pytest.raises(ValueError, match=r"unknown Bali holiday 'saraswati': expected one of pagerwesi, "):
        pawukon.parse_holidays(["galungan", "saraswati"])
