"""`starter.py report`: fetch a period's rows, compute the report, render it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from activities.store import open_store
from referral import i18n, reports
from referral.config import Settings
from referral.holiday_source import build_calendar
from referral.setup import load_policy  # the policy in force gives the resolution targets


def default_png_path(date_from: date, date_to: date) -> str:
    return f"report-{date_from.isoformat()}-{date_to.isoformat()}.png"


async def run_report(
    db_url: str, date_from: date, date_to: date, by: str, fmt: str, output: str | None,
    settings: Settings | None = None, language: str | None = None,
) -> str:
    """Build the report; return the rendered text, or the path written when `output` is given (png: always).

    Headings, labels and the chart are in `language` (default: REFERRAL_LANGUAGE, else Bahasa Indonesia).

    The calendar starts at ``date_from.year`` (three years, as `build_calendar` does by default) and
    reaches back to the year of the oldest report in the rows, so a case received in December and
    resolved in January is measured against the right holidays.
    """
    if by not in reports.GROUPINGS:
        raise ValueError(f"--by must be one of {', '.join(reports.GROUPINGS)}, not {by!r}")
    if fmt not in reports.FORMATS:
        raise ValueError(f"--format must be one of {', '.join(reports.FORMATS)}, not {fmt!r}")
    if date_to < date_from:
        raise ValueError(f"--to {date_to} is before --from {date_from}")
    settings = settings or Settings()
    language = i18n.normalize(language or settings.language)
    policy = load_policy(settings.sla_policy_file)

    def calendar_for(first_year: int, years: int = 3):  # the same working time the cases count
        return build_calendar(first_year, years=years, closures_file=settings.closures_file,
                              office_hours=settings.office_hours, utc_offset_minutes=settings.utc_offset_minutes)

    calendar = calendar_for(date_from.year)
    async with open_store(db_url, max_size=2) as store:
        cases, breaches = await store.reports.rows(date_from, date_to, tz=calendar.tz)
    first_year = min([date_from.year, *(calendar.local(c.get("reported_at") or c["received_at"]).year for c in cases)])
    last_year = max(date_to.year, date_from.year + 2)
    if first_year != date_from.year or last_year != calendar.last_year:
        calendar = calendar_for(first_year, years=last_year - first_year + 1)
    report = reports.build_report(cases, breaches, calendar, date_from, date_to, by, policy=policy)
    if fmt == "png":
        path = output or default_png_path(date_from, date_to)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return reports.render_png(report, path, language)
    text = reports.render(report, fmt, language=language)
    if not output:
        return text.rstrip("\n")  # the caller prints it
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(text, encoding="utf-8")
    return output
