"""What a case runs under, built from the files in force: the SLA policy, the working-day calendar, the village
and the catalogues (categories, partner offices, outcomes, programmes). Read by the intake activity (and
recorded in the case's history) and by the officers' page to know which forms a case would accept."""

from __future__ import annotations

import os
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from referral import reference
from referral.calendar import WorkingCalendar
from referral.case import CaseSetup, CategoryRef, OutcomeInfo, PartnerInfo, VillageRef
from referral.config import Settings
from referral.holiday_source import build_calendar
from referral.sla import SlaPolicy


def file_stamp(path: str | None) -> tuple[str | None, int, int]:
    """A file's identity for the caches below: an edited file (new mtime or size) is read again."""
    if not path:
        return (None, 0, 0)
    try:
        stat = os.stat(path)
    except OSError:
        return (path, -1, -1)  # missing: read (and fail) as before, never cached as found
    return (path, stat.st_mtime_ns, stat.st_size)


def load_policy(path: str | None) -> SlaPolicy:
    """The SLA policy in force (the shipped one unless a file is named); read again when the file changes."""
    return _policy(file_stamp(path))


@lru_cache(maxsize=8)
def _policy(stamp: tuple[str | None, int, int]) -> SlaPolicy:
    path = stamp[0]
    text = (Path(path).read_text(encoding="utf-8") if path
            else resources.files("referral.data").joinpath("sla_policy.json").read_text(encoding="utf-8"))
    return SlaPolicy.model_validate_json(text)


def calendar_for(settings: Settings, first_year: int) -> WorkingCalendar:
    """The working-day calendar from `first_year`, built once per closures file version (every case's set-up
    asks for it; building one takes about 13 ms)."""
    return _calendar(first_year, file_stamp(settings.closures_file), settings.office_hours,
                     settings.utc_offset_minutes)


@lru_cache(maxsize=8)
def _calendar(first_year: int, closures: tuple[str | None, int, int], office_hours: Any,
              utc_offset_minutes: int) -> WorkingCalendar:
    return build_calendar(first_year, closures_file=closures[0], office_hours=office_hours,
                          utc_offset_minutes=utc_offset_minutes)


def catalogues(policy: SlaPolicy | None = None) -> dict[str, Any]:
    """The reference tables a case needs at hand (small: no roster, no personal data); each partner office's
    referral clock comes from the policy."""
    policy = policy or load_policy(None)
    return {
        "categories": {c.code: CategoryRef(code=c.code, name=c.name, bidang=c.bidang)
                       for c in reference.categories().values()},
        "partners": {p.code: PartnerInfo(code=p.code, name=p.name, bidang=p.bidang, recipient_id=p.recipient_id,
                                         rule=policy.referral_rule(p.code),
                                         required=p.required, needs_nik_first=p.needs_nik_first)
                     for p in reference.partners().values()},
        "outcomes": {o.code: OutcomeInfo(code=o.code, detail=o.detail, needs_nik=o.needs_nik)
                     for o in reference.outcomes().values()},
        "programmes": list(reference.programmes()),
        "bidang_names": reference.bidang_names(),
    }


def village_ref(village_code: str) -> VillageRef:
    v = reference.villages()[village_code]
    return VillageRef(code=v.code, name=v.name, kind=v.kind, kecamatan=v.kecamatan)


def case_setup(settings: Settings, village_code: str, reported_on: date, policy: SlaPolicy | None = None,
               calendar: WorkingCalendar | None = None) -> CaseSetup:
    policy = policy or load_policy(settings.sla_policy_file)
    return CaseSetup(policy=policy, calendar=calendar or calendar_for(settings, reported_on.year),
                     village=village_ref(village_code), language=settings.language, **catalogues(policy))
