"""A case's state for pure tests: set up as the intake would, without Temporal or Postgres."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from referral.setup import catalogues, load_policy, village_ref
from referral import reference
from referral.calendar import FLAT_0800_1600
from referral.case import CaseSetup, CaseState
from referral.holiday_source import build_calendar
from referral.intake import CaseOpening
from referral.models import Actor, Status
from referral.sla import ClockName

WITA = timezone(timedelta(hours=8))
OFFICERS = {o.officer_id: o for o in reference.sample_roster().officers.values()}


def officer(officer_id: str) -> Actor:
    o = OFFICERS[officer_id]
    return Actor(id=o.officer_id, role=o.role, bidang=o.bidang)


def setup(village_code: str = "51.08.08.2010") -> CaseSetup:
    return CaseSetup(policy=load_policy(None), calendar=build_calendar(2026, office_hours=FLAT_0800_1600),
                     village=village_ref(village_code), **catalogues(load_policy(None)))


def case(status: Status = Status.ASSIGNED, *, pendamping: str = "PD-34", pendamping_bidang: str = "perlindungan_jaminan_sosial",
         category: str = "penyandang_disabilitas", urgency: str = "normal", at: datetime | None = None,
         clocks: tuple[ClockName, ...] = (ClockName.ACKNOWLEDGEMENT, ClockName.VERIFICATION)) -> CaseState:
    """PD-34 (a pendamping of perlindungan_jaminan_sosial) holds a penyandang_disabilitas case (rehabilitasi_sosial)."""
    at = at or datetime(2026, 4, 15, 10, 0, tzinfo=WITA)
    opening = CaseOpening(channel="puskesos", village_code="51.08.08.2010", category=category, urgency=urgency,
                          reported_at=at)
    state = CaseState(complaint_id="ADU-000000000001", opening=opening, category=category, status=status,
                      pendamping_id=pendamping, pendamping_bidang=pendamping_bidang, setup=setup(), ready=True,
                      received_at=at)
    state.bidang = state.setup.categories[category].bidang
    for name in clocks:
        state.clocks.start(name, state.setup.policy.rule(name, state.opening.urgency), state.setup.calendar, at)
    return state
