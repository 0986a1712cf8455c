"""Bali's Galungan-cycle holidays from the 210-day pawukon calendar. Pure, standard library only.

The pawukon is 30 wuku (weeks) of 7 days, 210 days in all, running without a break alongside the
Gregorian calendar. Its first day is Redite Paing Sinta (Sunday, pancawara Paing, wuku Sinta); the
holy days of the Galungan cycle sit at fixed days of it:

    Pagerwesi            Buda Kliwon Sinta        (Wednesday of wuku 1,  cycle day 3)
    Penampahan Galungan  Anggara Wage Dungulan    (the eve of Galungan,  cycle day 72)
    Galungan             Buda Kliwon Dungulan     (Wednesday of wuku 11, cycle day 73)
    Umanis Galungan      Wraspati Umanis Dungulan (the day after,        cycle day 74)
    Penampahan Kuningan  Sukra Wage Kuningan      (the eve of Kuningan,  cycle day 82)
    Kuningan             Saniscara Kliwon Kuningan (10 days after Galungan, cycle day 83)

The anchor is Sunday 5 April 2026 = Redite Paing Sinta, 73 days before Galungan on 17 June 2026.
Dates checked in tests/unit/test_pawukon.py against public reports back to 2007 (Antara, the SE
Gubernur Bali for 2024 and 2025 as quoted by the press).

Which of these days the office closes is policy, decided in `referral.holiday_source`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from enum import StrEnum

CYCLE_DAYS = 210
# Redite Paing Sinta: the first day of a pawukon cycle (Galungan 2026-06-17 is 73 days later).
CYCLE_ANCHOR = date(2026, 4, 5)

WUKU = (
    "Sinta", "Landep", "Ukir", "Kulantir", "Tolu", "Gumbreg", "Wariga", "Warigadean", "Julungwangi",
    "Sungsang", "Dungulan", "Kuningan", "Langkir", "Medangsia", "Pujut", "Pahang", "Krulut", "Merakih",
    "Tambir", "Medangkungan", "Matal", "Uye", "Menail", "Prangbakat", "Bala", "Ugu", "Wayang", "Klawu",
    "Dukut", "Watugunung",
)
SAPTAWARA = ("Redite", "Soma", "Anggara", "Buda", "Wraspati", "Sukra", "Saniscara")  # Sunday first
PANCAWARA = ("Umanis", "Paing", "Pon", "Wage", "Kliwon")


class BaliHoliday(StrEnum):
    PAGERWESI = "pagerwesi"
    PENAMPAHAN_GALUNGAN = "penampahan_galungan"
    GALUNGAN = "galungan"
    UMANIS_GALUNGAN = "umanis_galungan"
    PENAMPAHAN_KUNINGAN = "penampahan_kuningan"
    KUNINGAN = "kuningan"


CYCLE_DAY = {
    BaliHoliday.PAGERWESI: 3,
    BaliHoliday.PENAMPAHAN_GALUNGAN: 72,
    BaliHoliday.GALUNGAN: 73,
    BaliHoliday.UMANIS_GALUNGAN: 74,
    BaliHoliday.PENAMPAHAN_KUNINGAN: 82,
    BaliHoliday.KUNINGAN: 83,
}

LABELS = {  # as officers and the SE Gubernur Bali write them
    BaliHoliday.PAGERWESI: "Hari Raya Pagerwesi",
    BaliHoliday.PENAMPAHAN_GALUNGAN: "Penampahan Galungan",
    BaliHoliday.GALUNGAN: "Hari Raya Galungan",
    BaliHoliday.UMANIS_GALUNGAN: "Umanis Galungan",
    BaliHoliday.PENAMPAHAN_KUNINGAN: "Penampahan Kuningan",
    BaliHoliday.KUNINGAN: "Hari Raya Kuningan",
}


def cycle_day(day: date) -> int:
    """0..209: the day's place in its pawukon cycle (0 = Redite Paing Sinta)."""
    return (day - CYCLE_ANCHOR).days % CYCLE_DAYS


def wuku(day: date) -> str:
    return WUKU[cycle_day(day) // 7]


def saptawara(day: date) -> str:
    return SAPTAWARA[cycle_day(day) % 7]


def pancawara(day: date) -> str:
    return PANCAWARA[(cycle_day(day) + 1) % 5]  # the cycle opens on Paing


def parse_holidays(names: Iterable[str]) -> frozenset[BaliHoliday]:
    """Holiday names ("galungan", ...) as a set; an unknown name is an error that lists the known ones."""
    chosen = set()
    for name in names:
        try:
            chosen.add(BaliHoliday(name.strip().lower()))
        except ValueError:
            known = ", ".join(h.value for h in BaliHoliday)
            raise ValueError(f"unknown Bali holiday {name!r}: expected one of {known}") from None
    return frozenset(chosen)


def holidays_between(
    first: date, last: date, which: Iterable[BaliHoliday] = tuple(BaliHoliday)
) -> Iterator[tuple[date, BaliHoliday]]:
    """Every (date, holiday) from `which` between `first` and `last` inclusive, in date order."""
    wanted = sorted((CYCLE_DAY[h], h) for h in set(which))
    if not wanted or last < first:
        return
    cycle_start = first - timedelta(days=cycle_day(first))
    while cycle_start <= last:
        for offset, holiday in wanted:
            day = cycle_start + timedelta(days=offset)
            if first <= day <= last:
                yield day, holiday
        cycle_start += timedelta(days=CYCLE_DAYS)


def holidays_in_years(
    first_year: int, last_year: int, which: Iterable[BaliHoliday] = tuple(BaliHoliday)
) -> dict[date, BaliHoliday]:
    return dict(holidays_between(date(first_year, 1, 1), date(last_year, 12, 31), which))
