"""Which action forms the case page offers: exactly what the case's own rules would accept now."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

import pytest

from referral.setup import load_policy
from api.offers import case_state, form_setup, offered_actions
from referral.case import CaseSetup
from referral.holiday_source import build_calendar
from referral.models import Actor, CaseView, TimelineEntry
from referral.sla import ClockView

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)  # Thursday 10:00 WITA
PD34 = Actor(id="PD-34", role="pendamping", bidang="perlindungan_jaminan_sosial")
PD01 = Actor(id="PD-01", role="pendamping", bidang="perlindungan_jaminan_sosial")
KABID_PJS = Actor(id="KABID-PJS", role="head_of_bidang", bidang="perlindungan_jaminan_sosial")
KABID_REHSOS = Actor(id="KABID-REHSOS", role="head_of_bidang", bidang="rehabilitasi_sosial")
KABID_DAYASOS = Actor(id="KABID-DAYASOS", role="head_of_bidang", bidang="pemberdayaan_sosial")
KADIS = Actor(id="KADIS", role="kepala_dinas")
SUPERVISING = ["reject", "reassign", "pause", "extend", "change_policy"]


def clock(name: str, state: str = "running") -> ClockView:
    return ClockView(name=name, state=state, deadline=NOW + timedelta(days=1), breached=False, escalation_level=0)


def view(status: str = "assigned", clocks: tuple[ClockView, ...] = (clock("acknowledgement"), clock("verification")),
         urgency: str = "normal", timeline: tuple[TimelineEntry, ...] = (), **extra: Any) -> CaseView:
    return CaseView(
        complaint_id="ADU-0123456789AB", status=status, pendamping_id="PD-34", escalation_level=0, sla_breached=False,
        next_deadline=None, village_code="51.08.08.2010", village="Desa Bengkala", kecamatan="Kubutambahan",
        category="penyandang_disabilitas", bidang="rehabilitasi_sosial", pendamping_bidang="perlindungan_jaminan_sosial",
        urgency=urgency, channel="puskesos", policy_version="2026.1", calendar_version="x", clocks=list(clocks),
        timeline=list(timeline), **extra)


@cache
def calendar():
    return build_calendar(2026)


def setup(case: CaseView) -> CaseSetup:
    return form_setup(load_policy(None), calendar(), case)


def offers(case: CaseView, actor: Actor, now: datetime = NOW) -> list[str]:
    return offered_actions(case, actor, setup(case), now)


def finished(status: str, days_ago: int) -> CaseView:
    at = NOW - timedelta(days=days_ago)
    return view(status, clocks=(clock("acknowledgement", "stopped"),),
                timeline=(TimelineEntry(at=at, event=status, actor="KADIS"),))


STOPPED_WORK = (clock("acknowledgement", "stopped"), clock("verification", "stopped"),
                clock("follow_up_plan", "stopped"), clock("completion", "stopped"))

CASES = [
    # (what, case, actor, offered)
    ("assigned: the pendamping acknowledges", view(), PD34, ["acknowledge", "pause"]),
    ("assigned: another pendamping nothing", view(), PD01, []),
    ("assigned: head of the pendamping's bidang supervises", view(), KABID_PJS, SUPERVISING),
    ("assigned: head of the case's bidang supervises", view(), KABID_REHSOS, SUPERVISING),
    ("assigned: an uninvolved head nothing", view(), KABID_DAYASOS, []),
    ("assigned: the kepala dinas supervises", view(), KADIS, SUPERVISING),
    ("paused: resume instead of pause", view(clocks=(clock("acknowledgement", "paused"),)), PD34,
     ["acknowledge", "resume"]),
    ("acknowledged: assess", view("acknowledged", clocks=(clock("verification"),)), PD34, ["assess", "pause"]),
    ("assessed: refer (to the bidang, and to partner offices)", view("assessed", clocks=(clock("follow_up_plan"),)),
     PD34, ["refer", "refer_partner", "pause"]),
    ("referred: the pendamping pauses or refers to a partner office", view("referred", clocks=(clock("completion"),)),
     PD34, ["refer_partner", "pause"]),
    ("referred: the responsible head resolves", view("referred", clocks=(clock("completion"),)), KABID_REHSOS,
     ["refer_partner", "resolve", *SUPERVISING]),
    ("referred: the pendamping's head may not resolve", view("referred", clocks=(clock("completion"),)), KABID_PJS,
     ["refer_partner", *SUPERVISING]),
    ("resolved: the pendamping closes", view("resolved", clocks=STOPPED_WORK), PD34, ["close"]),
    ("resolved: nothing runs, so no pause or extension", view("resolved", clocks=STOPPED_WORK), KADIS,
     ["close", "reassign", "change_policy"]),
    ("closed 3 days ago: reopen", finished("closed", 3), KADIS, ["reopen"]),
    ("closed 40 days ago: too late to reopen", finished("closed", 40), KADIS, []),
    ("rejected: the pendamping may not reopen", finished("rejected", 1), PD34, []),
    ("received: still being set up", view("received", clocks=()), KADIS, []),
    ("received with a failed intake: reject or retry", view("received", clocks=(), needs_attention="intake failed"),
     KADIS, ["reject", "retry"]),
    ("assigned with a failed step: retry too", view(needs_attention="notification failed"), KADIS,
     [*SUPERVISING, "retry"]),
    ("urgent: calendar-time clocks can be extended", view(urgency="urgent"), KADIS, SUPERVISING),
]


@pytest.mark.parametrize(("what", "case", "actor", "expected"), CASES, ids=[c[0] for c in CASES])
def test_offered_actions(what: str, case: CaseView, actor: Actor, expected: list[str]):
    assert offers(case, actor) == expected


def test_the_rebuilt_state_holds_what_refusal_reads():
    case = view(clocks=(clock("acknowledgement", "paused"), clock("verification", "stopped")), urgency="urgent")
    state = case_state(case, setup(case), NOW)
    assert (state.status.value, state.pendamping_id, state.bidang, state.pendamping_bidang, state.ready) == (
        "assigned", "PD-34", "rehabilitasi_sosial", "perlindungan_jaminan_sosial", True)
    assert state.clocks.any_paused and [c.name.value for c in state.clocks.running()] == ["acknowledgement"]
    assert state.clocks.items[0].axis == "calendar"  # urgent: calendar hours
    assert case_state(view(), setup(view()), NOW).clocks.items[0].axis == "working"
    assert state.finished_at is None
    assert case_state(finished("closed", 3), setup(view()), NOW).finished_at == NOW - timedelta(days=3)


def test_an_unknown_village_still_gives_a_setup():
    odd = view().model_copy(update={"village_code": "51.08.99.9999", "village": "Desa Entah", "kecamatan": "Entah"})
    assert setup(odd).village.kecamatan == "Entah"
