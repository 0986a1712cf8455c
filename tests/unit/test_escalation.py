"""Who is warned, who receives an escalation, when an officer's notification may go out, what it says."""

from datetime import datetime, timedelta

import pytest

from referral import escalation, notices, presentation, recording
from referral.actions import Step
from referral.models import Status
from referral.records import NoticeContext, NoticeRequest
from referral.sla import Clock, ClockName, Milestone
from tests.unit.cases import WITA, case


def _clock(name: ClockName, state) -> Clock:
    return state.clocks.start(name, state.setup.policy.rule(name, state.opening.urgency), state.setup.calendar,
                              datetime(2026, 4, 15, 10, 0, tzinfo=WITA))


@pytest.mark.parametrize("clock, level, expected", [
    (ClockName.ACKNOWLEDGEMENT, 1, "head:perlindungan_jaminan_sosial"),  # with the pendamping: their own bidang
    (ClockName.VERIFICATION, 1, "head:perlindungan_jaminan_sosial"),
    (ClockName.FOLLOW_UP_PLAN, 1, "head:perlindungan_jaminan_sosial"),
    (ClockName.COMPLETION, 1, "head:rehabilitasi_sosial"),  # once referred: the responsible bidang
    (ClockName.ACKNOWLEDGEMENT, 2, "kepala_dinas"),
    (ClockName.COMPLETION, 2, "kepala_dinas"),
])
def test_escalation_target(clock, level, expected):
    state = case(clocks=())
    assert escalation.escalation_target(state, _clock(clock, state), level) == expected


@pytest.mark.parametrize("clock, expected", [(ClockName.ACKNOWLEDGEMENT, "PD-34"),
                                             (ClockName.COMPLETION, "head:rehabilitasi_sosial")])
def test_the_one_who_must_act_is_warned(clock, expected):
    state = case(clocks=())
    assert escalation.clock_owner(state, _clock(clock, state)) == expected


def test_a_breach_raises_the_level_counts_against_the_pendamping_and_is_keyed_once():
    state = case()
    clock = state.clocks.get(ClockName.ACKNOWLEDGEMENT)
    breach = Milestone(key="breach", kind="escalation", level=1, at=datetime(2026, 4, 16, 10, 0, tzinfo=WITA))
    step = escalation.fire(state, clock, breach, breach.at)
    assert (step.event, step.key, step.detail["escalated_to"]) == (
        "sla_escalated", "sla:acknowledgement:1:breach", "head:perlindungan_jaminan_sosial")
    assert (state.escalation_level, state.breaches, clock.fired) == (1, {"PD-34": 1}, ["breach"])


def test_auto_reassignment_follows_the_policy():
    state = case()
    state.breaches = {"PD-34": 2}
    assert not escalation.reassign_after_breaches(state)  # the shipped policy has no limit
    state.setup = state.setup.model_copy(update={"policy": state.setup.policy.model_copy(
        update={"auto_reassign_after_breaches": 2})})
    assert escalation.reassign_after_breaches(state)
    state.status = Status.REFERRED
    assert not escalation.reassign_after_breaches(state)  # the case has left the pendamping


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
    assert recording.deliver_at(case(urgency=urgency), now) == expected


def test_a_notification_names_the_village_the_category_the_action_expected_the_deadline_and_a_link():
    ctx = NoticeContext(complaint_id="ADU-000000000001", village="Desa Bengkala", kecamatan="Kubutambahan",
                        category="penyandang_disabilitas", category_name="Penyandang Disabilitas", urgency="normal",
                        status="assigned", deadline=datetime(2026, 4, 16, 16, 0, tzinfo=WITA))
    notice = NoticeRequest(recipient="PD-34", kind="assigned", not_before=ctx.deadline)
    subject, body = notices.render(notice, ctx, "http://localhost:8000/kasus/ADU-000000000001")
    assert subject == "[ADU-000000000001] Kasus baru di Desa Bengkala"
    assert body.splitlines() == [
        "Kasus baru di Desa Bengkala ditugaskan kepada Anda.",
        "",
        "Kasus ADU-000000000001: Penyandang Disabilitas, Desa Bengkala (Kec. Kubutambahan), urgensi biasa.",
        "Yang diharapkan dari Anda: konfirmasi penerimaan kasus dan rencanakan kunjungan lapangan.",
        "Paling lambat: Kam, 16 Apr 2026 16.00 WITA.",
        "Status: ditugaskan.",
        "",
        "Buka kasus: http://localhost:8000/kasus/ADU-000000000001",
    ]


def test_timeline_summaries_say_what_happened():
    assert presentation.record_summary(Step("sla_escalated", "sla", {
        "clock": "acknowledgement", "milestone": "breach", "escalated_to": "head:perlindungan_jaminan_sosial"})) == \
        "SLA terlewati: konfirmasi -> head:perlindungan_jaminan_sosial"
    assert presentation.record_summary(Step("sla_warning", "sla", {"clock": "verification", "milestone": "warning_80"})) == \
        "Peringatan SLA 80%: verifikasi (kunjungan lapangan)"
    assert presentation.record_summary(Step("acknowledged", "PD-34", {})) == "Catat kasus dikonfirmasi oleh PD-34"
    assert presentation.record_summary(Step("acknowledged", "PD-34", {}), "en") == "Record case acknowledged by PD-34"


def test_an_extension_after_a_breach_arms_the_new_deadline_once():
    state = case(at=datetime(2026, 3, 17, 10, 0, tzinfo=WITA), clocks=(ClockName.ACKNOWLEDGEMENT,))
    calendar, policy = state.setup.calendar, state.setup.policy
    clock = state.clocks.get(ClockName.ACKNOWLEDGEMENT)
    clock.fired = ["warning_50", "warning_80", "breach"]
    state.clocks.extend(ClockName.ACKNOWLEDGEMENT, policy.rule(ClockName.ACKNOWLEDGEMENT, "normal").due.model_copy(
        update={"amount": 2.0}), calendar, policy, datetime(2026, 3, 25, 11, 0, tzinfo=WITA))
    # Now 3 working days (24 office hours) from Tue 17 Mar 10:00: 6 h on the 17th, then 25, 26 and 27 Mar.
    assert [(m.key, m.at) for m in clock.milestones(calendar, policy)] == [
        ("warning_50", datetime(2026, 3, 25, 14, 0, tzinfo=WITA)),
        ("warning_80", datetime(2026, 3, 26, 13, 12, tzinfo=WITA)),
        ("breach", datetime(2026, 3, 27, 10, 0, tzinfo=WITA)),
        ("escalation_2", datetime(2026, 3, 30, 10, 0, tzinfo=WITA)),
    ]
    assert clock.event_key("breach") == "sla:acknowledgement:1:breach#1"  # a new audit row, not a duplicate key
    assert datetime(2026, 3, 27, 10, 0, tzinfo=WITA) - timedelta(0) == clock.deadline(calendar)
