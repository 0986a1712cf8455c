"""Builds a case's `WorkingCalendar` from the `holidays` package and the office's closures file.

Runs in the worker (an activity), never in workflow code: the result is recorded in the case's
history, so a later change to the holidays package or to the closures file leaves running cases
on the calendar they started under.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date, time
from importlib import resources
from pathlib import Path

import holidays

from referral.calendar import WorkingCalendar


def read_closures(path: str | None) -> dict[date, str]:
    """Local closures (Galungan, Kuningan, office closures): CSV with columns date,reason."""
    text = (
        Path(path).read_text(encoding="utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
        if path
        else resources.files("referral.data").joinpath("local_closures.csv").read_text(encoding="utf-8")
    )
    closures: dict[date, str] = {}
    reader = csv.DictReader(io.StringIO(text))
    for row in reader:
        line_no = reader.line_num
        try:
            closures[date.fromisoformat(row["date"].strip())] = (row.get("reason") or "").strip()
        except (KeyError, ValueError) as exc:
            raise ValueError(f"closures file line {line_no}: date must be YYYY-MM-DD ({exc})") from exc
    return closures


def build_calendar(
    first_year: int,
    years: int = 3,
    closures_file: str | None = None,
    office_open: time = time(8, 0),
    office_close: time = time(16, 0),
    utc_offset_minutes: int = 480,
) -> WorkingCalendar:
    """National holidays and cuti bersama (country ID, public + government) plus local closures."""
    last_year = first_year + years - 1
    national = holidays.country_holidays(
        "ID", years=range(first_year, last_year + 1), categories=("public", "government")
    )
    closures = {d: r for d, r in read_closures(closures_file).items() if first_year <= d.year <= last_year}
    days = tuple(sorted(set(national) | set(closures)))
    fingerprint = hashlib.sha256(",".join(d.isoformat() for d in days).encode()).hexdigest()[:10]
    return WorkingCalendar(
        version=f"ID-{first_year}-{last_year}/holidays-{holidays.__version__}/{fingerprint}",
        utc_offset_minutes=utc_offset_minutes,
        office_open=office_open,
        office_close=office_close,
        first_year=first_year,
        last_year=last_year,
        non_working_days=days,
    )
