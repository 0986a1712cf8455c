"""Who is warned, who receives an escalation, and when an officer's notification may go out."""

from datetime import datetime, timedelta, timezone

import pytest

from referral.holiday_source import build_calendar
from referral.lifecycle import CaseFacts, OfficerRef, clock_owner, escalation_target
from referral.models import CaseView, Status
from referral.presentation import notification, record_summary

WITA = timezone(timedelta(hours=8))
OFFICERS = {o.officer_id: o for o in [
    OfficerRef(officer_id="PD-34", role="pendamping", bidang="perlindungan_jaminan_sosial"),
    OfficerRef(officer_id="KABID-PJS", role="head_of_bidang", bidang="perlindungan_jaminan_sosial"),
    OfficerRef(officer_id="KABID-REHSOS", role="head_of_bidang", bidang="rehabilitasi_sosial"),
    OfficerRef(officer_id="KABID-DAYASOS", role="head_of_bidang", bidang="pemberdayaan_sosial"),
    OfficerRef(officer_id="KADIS", role="kepala_dinas"),
]}
CASE = CaseFacts(status=Status.ASSIGNED, pendamping_id="PD-34", pendamping_bidang="perlindungan_jaminan_sosial",
                 bidang="rehabilitasi_sosial", finished_at=None, any_clock_running=True, any_clock_paused=False,
                 reopen_window_days=30)


@pytest.mark.parametrize("clock, level, expected", [
    ("acknowledgement", 1, "KABID-PJS"),    # with the pendamping: the pendamping's own bidang
    ("verification", 1, "KABID-PJS"),
    ("follow_up_plan", 1, "KABID-PJS"),
    ("completion", 1, "KABID-REHSOS"),      # once referred: the responsible bidang
    ("acknowledgement", 2, "KADIS"),
    ("completion", 2, "KADIS"),
])
def test_escalation_target(clock, level, expected):
    assert escalation_target(clock, level, CASE, OFFICERS) == expected


@pytest.mark.parametrize("clock, expected", [("acknowledgement", "PD-34"), ("completion", "KABID-REHSOS")])
def test_the_one_who_must_act_is_warned(clock, expected):
    assert clock_owner(clock, CASE, OFFICERS) == expected


def _view(urgency: str) -> CaseView:
    return CaseView(
        complaint_id="ADU-000000000001", status=Status.ASSIGNED, village_code="51.08.08.2010", village="Desa Bengkala",
        kecamatan="Kubutambahan", category="penyandang_disabilitas", bidang="rehabilitasi_sosial",
        pendamping_id="PD-34", urgency=urgency, escalation_level=1, sla_breached=True, next_deadline=None,
        policy_version="2026.1", calendar_version="x", clocks=[], timeline=[],
    )


@pytest.mark.parametrize("now, urgency, expected", [
    # Saturday 21 March 2026 (Idul Fitri): a normal case waits for Wednesday 25 March 08:00.
    (datetime(2026, 3, 21, 9, 0, tzinfo=WITA), "normal", datetime(2026, 3, 25, 8, 0, tzinfo=WITA)),
    # Friday 10 April 2026 17:30, after office hours: Monday 13 April 08:00.
    (datetime(2026, 4, 10, 17, 30, tzinfo=WITA), "urgent", datetime(2026, 4, 13, 8, 0, tzinfo=WITA)),
    # Emergencies go out at once.
    (datetime(2026, 3, 21, 9, 0, tzinfo=WITA), "emergency", datetime(2026, 3, 21, 9, 0, tzinfo=WITA)),
    # In office hours: at once.
    (datetime(2026, 4, 14, 10, 0, tzinfo=WITA), "normal", datetime(2026, 4, 14, 10, 0, tzinfo=WITA)),
])
def test_officers_hear_of_non_emergencies_in_office_hours(now, urgency, expected):
    sent = notification("KABID-PJS", "deadline passed", _view(urgency), build_calendar(2026), now)
    assert sent.not_before == expected
    assert "Desa Bengkala" in sent.body and sent.subject.startswith("[ADU-000000000001]")


def test_timeline_summaries_say_what_happened():
    assert record_summary("sla_escalated", "sla", {"clock": "acknowledgement", "milestone": "breach",
                                                   "escalated_to": "KABID-PJS"}) == "SLA breach: acknowledgement -> KABID-PJS"
    assert record_summary("sla_warning", "sla", {"clock": "verification", "milestone": "warning_80"}) == \
        "SLA warning 80%: verification"
    assert record_summary("acknowledged", "PD-34", {}) == "Record acknowledged by PD-34"


def test_an_extension_after_a_breach_arms_the_new_deadline_once():
    from pathlib import Path

    from referral.sla import Clock, ClockName, SlaPolicy, Urgency

    policy = SlaPolicy.model_validate_json((Path(__file__).parents[2] / "referral/data/sla_policy.json").read_text())
    calendar = build_calendar(2026)
    clock = Clock.start(ClockName.ACKNOWLEDGEMENT, policy.rule(ClockName.ACKNOWLEDGEMENT, Urgency.NORMAL), calendar,
                        datetime(2026, 3, 17, 10, 0, tzinfo=WITA))
    now = datetime(2026, 3, 25, 11, 0, tzinfo=WITA)  # breached at 10:00, level 2 due tomorrow
    clock.fired = ["warning_50", "warning_80", "breach"]
    clock.extension_seconds += 2 * calendar.office_seconds_per_day  # the kabid grants 2 working days
    clock.rearm(calendar, policy, now)
    # Now 3 working days (24 office hours) from Tue 17 Mar 10:00: 6 h on the 17th, then 25, 26 and 27 Mar.
    # 50% = 12 h: Wed 25 Mar 14:00; 80% = 19.2 h: Thu 26 Mar 13:12; deadline Fri 27 Mar 10:00; level 2 a day later.
    assert [(m.key, m.at) for m in clock.milestones(calendar, policy)] == [
        ("warning_50", datetime(2026, 3, 25, 14, 0, tzinfo=WITA)),
        ("warning_80", datetime(2026, 3, 26, 13, 12, tzinfo=WITA)),
        ("breach", datetime(2026, 3, 27, 10, 0, tzinfo=WITA)),
        ("escalation_2", datetime(2026, 3, 30, 10, 0, tzinfo=WITA)),
    ]
    assert clock.event_key("breach") == "sla:acknowledgement:1:breach#1"  # a new audit row, not a duplicate key
