"""Unit tests for referral.holiday_source: the closures file and how Bali's days enter the calendar.

The 2027 "SE" rows below are test fixtures, not a real Surat Edaran.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from referral.holiday_source import (
    DEFAULT_BALI_CLOSED,
    Closure,
    build_calendar,
    local_closures,
    parse_closures,
    read_closures,
)
from referral.pawukon import BaliHoliday as H

GALUNGAN_2026 = {date(2026, 6, 16), date(2026, 6, 17), date(2026, 6, 18), date(2026, 6, 26)}
GALUNGAN_2027 = {date(2027, 1, 12), date(2027, 1, 13), date(2027, 1, 14), date(2027, 1, 22),
                 date(2027, 8, 10), date(2027, 8, 11), date(2027, 8, 12), date(2027, 8, 20)}


def _write(tmp_path: Path, text: str, name: str = "closures.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# ---- the shipped file ------------------------------------------------------------------------

def test_shipped_file_keeps_2026_as_computed_not_confirmed() -> None:
    closures = read_closures(None)
    assert {c.day for c in closures} == GALUNGAN_2026
    assert {c.kind for c in closures} == {"bali_unconfirmed"}
    assert all("not found" in c.source for c in closures)  # no confirmation is claimed
    assert next(c for c in closures if c.day == date(2026, 6, 17)).reason == "Hari Raya Galungan"


# ---- parsing ---------------------------------------------------------------------------------

def test_parse_all_kinds() -> None:
    text = (
        "date,kind,reason,source\n"
        "2027-01-13,bali_confirmed,Hari Raya Galungan,SE Gubernur Bali No. 1/2026\n"
        "2026-06-17,bali_unconfirmed,Hari Raya Galungan,computed\n"
        " 2026-03-10 , office , Rapat kerja ,\n"
    )
    assert parse_closures(text) == (
        Closure(date(2027, 1, 13), "bali_confirmed", "Hari Raya Galungan", "SE Gubernur Bali No. 1/2026"),
        Closure(date(2026, 6, 17), "bali_unconfirmed", "Hari Raya Galungan", "computed"),
        Closure(date(2026, 3, 10), "office", "Rapat kerja", ""),
    )


def test_older_date_reason_files_are_office_closures(tmp_path: Path) -> None:
    path = _write(tmp_path, "date,reason\n2026-03-10,Rapat kerja\n")
    assert read_closures(path) == (Closure(date(2026, 3, 10), "office", "Rapat kerja"),)
    assert read_closures(_write(tmp_path, "date\n2026-07-07\n", "bare.csv")) == (Closure(date(2026, 7, 7), "office"),)


def test_closures_file_with_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "closures.csv"
    path.write_bytes("\ufeffdate,reason\n2026-07-07,Rapat\n".encode("utf-8"))
    assert read_closures(str(path)) == (Closure(date(2026, 7, 7), "office", "Rapat"),)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param("date,reason\n2026-13-01,bad month\n", 2, id="month-13"),
        pytest.param("date,reason\n2026-06-16,ok\n2026-6-1,not padded\n", 3, id="not-iso"),
        pytest.param("date,reason\n2026-06-16,ok\n2026-06-17,ok\n17/06/2026,dd-mm-yyyy\n", 4, id="dd-mm-yyyy"),
        pytest.param("day,reason\n2026-06-16,ok\n", 2, id="no-date-column"),
        pytest.param("date,reason\n2026-06-16,ok\n\n2026-13-01,bad\n", 4, id="after-a-blank-line"),
    ],
)
def test_malformed_closure_date_names_the_line(tmp_path: Path, text: str, line: int) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match=rf"closures file line {line}: date must be YYYY-MM-DD"):
        build_calendar(2026, closures_file=path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("date,kind\n2026-03-10,holiday\n",
                     r"line 2: kind must be one of bali_confirmed, bali_unconfirmed, office, not 'holiday'", id="kind"),
        pytest.param("date,kind,reason,source\n2027-01-13,bali_confirmed,Galungan,\n",
                     r"line 2: a bali_confirmed row must name its Surat Edaran Gubernur Bali in source", id="no-source"),
        pytest.param("date,kind,reason,source\n2026-06-19,bali_unconfirmed,Galungan?,computed\n",
                     r"line 2: 2026-06-19 is not a Galungan-cycle day", id="not-a-cycle-day"),
        pytest.param("date,kind,reason,source\n2026-06-17,bali_confirmed,Galungan,SE 1\n"
                     "2026-06-18,bali_unconfirmed,Umanis Galungan,computed\n",
                     r"2026 has bali_confirmed rows: remove its bali_unconfirmed rows", id="stale-unconfirmed"),
    ],
)
def test_closure_rows_are_checked(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_closures(text)


# ---- confirmed rows override the computation ------------------------------------------------

SE_2027 = (
    "date,kind,reason,source\n"
    "2027-01-13,bali_confirmed,Hari Raya Galungan,SE Gubernur Bali (test fixture)\n"
    "2027-06-02,bali_confirmed,Hari Raya Pagerwesi,SE Gubernur Bali (test fixture)\n"
    "2027-08-11,bali_confirmed,Hari Raya Galungan,SE Gubernur Bali (test fixture)\n"
    "2026-03-10,office,Rapat kerja,\n"
)


def test_a_confirmed_year_uses_exactly_its_rows(tmp_path: Path) -> None:
    cal = build_calendar(2026, closures_file=_write(tmp_path, SE_2027))
    closed = set(cal.non_working_days)
    assert {date(2027, 1, 13), date(2027, 6, 2), date(2027, 8, 11)} <= closed
    # The computed 2027 days the SE did not name are working days again.
    assert not (GALUNGAN_2027 - {date(2027, 1, 13), date(2027, 8, 11)}) & closed
    assert GALUNGAN_2026 <= closed  # 2026 has no confirmed rows: computed
    assert date(2026, 3, 10) in closed  # office closures always apply
    assert cal.unconfirmed_years == (2026, 2028)
    assert cal.version != build_calendar(2026).version


def test_local_closures_explains_each_day() -> None:
    rows = parse_closures(SE_2027)
    local = local_closures(2026, 2027, rows)
    assert local.days[date(2026, 6, 17)] == "Hari Raya Galungan (dihitung, belum dikonfirmasi)"
    assert local.days[date(2027, 6, 2)] == "Hari Raya Pagerwesi"
    assert local.days[date(2026, 3, 10)] == "Rapat kerja"
    assert set(local.computed) == GALUNGAN_2026 and local.computed[date(2026, 6, 26)] == H.PENAMPAHAN_KUNINGAN
    assert local.unconfirmed_years == (2026,)


def test_unconfirmed_rows_close_nothing_by_themselves() -> None:
    rows = parse_closures("date,kind,reason,source\n2026-06-27,bali_unconfirmed,Hari Raya Kuningan,computed\n")
    assert date(2026, 6, 27) not in local_closures(2026, 2026, rows).days  # Kuningan is not in the policy
    assert date(2026, 6, 27) in local_closures(2026, 2026, rows, DEFAULT_BALI_CLOSED | {H.KUNINGAN}).days


def test_the_closed_bali_days_are_a_policy(tmp_path: Path) -> None:
    with_pagerwesi = build_calendar(2026, bali_closed=[*DEFAULT_BALI_CLOSED, "pagerwesi"])
    assert {date(2026, 4, 8), date(2026, 11, 4)} <= set(with_pagerwesi.non_working_days)
    none = build_calendar(2026, bali_closed=())
    assert not (GALUNGAN_2026 - {date(2026, 6, 16)}) & set(none.non_working_days)
    assert date(2026, 6, 16) in none.non_working_days  # still the national Islamic New Year
    assert none.unconfirmed_years == ()  # nothing computed, nothing to confirm
    with pytest.raises(ValueError, match="unknown Bali holiday 'nyepi'"):
        build_calendar(2026, bali_closed=["nyepi"])


def test_custom_office_closures_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "date,reason\n2026-03-10,Rapat kerja\n 2026-03-12 , Piodalan pura kantor \n2030-01-02,outside\n")
    cal = build_calendar(2026, closures_file=path)
    closed = set(cal.non_working_days)
    assert {date(2026, 3, 10), date(2026, 3, 12)} <= closed
    assert date(2030, 1, 2) not in closed  # outside 2026-2028
    assert GALUNGAN_2026 <= closed  # the computed Bali days do not depend on the file
    assert cal.version != build_calendar(2026).version  # the fingerprint follows the closed days


def test_each_unconfirmed_year_is_logged_without_personal_data() -> None:
    with capture_logs() as logs:
        build_calendar(2026, years=2)
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert [w["year"] for w in warnings] == [2026, 2027]
    assert warnings[0]["days"] == sorted(d.isoformat() for d in GALUNGAN_2026)
    assert all(set(w) == {"event", "log_level", "year", "days"} for w in warnings)


def test_build_calendar_arguments() -> None:
    with pytest.raises(ValueError, match="years must be at least 1"):
        build_calendar(2026, years=0)
    one = build_calendar(2027, years=1)
    assert (one.first_year, one.last_year, one.unconfirmed_years) == (2027, 2027, (2027,))
    assert GALUNGAN_2027 <= set(one.non_working_days)
