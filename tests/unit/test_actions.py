"""The table of actions (referral.actions): who may do what to a case, and when; what each action changes.

The case is assigned to PD-34 (a pendamping of perlindungan_jaminan_sosial) and its category belongs to
rehabilitasi_sosial, so the supervisors are KABID-REHSOS (the case's bidang), KABID-PJS (the pendamping's
bidang) and KADIS; KABID-DAYASOS is not involved.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from referral import actions
from referral.models import Action, Actor, Assessment, Closing, Extension, PauseRequest, Reassignment, Referral, Rejection, Resolution, Status
from referral.sla import ClockName
from tests.unit.cases import WITA, case, officer

NOW = datetime(2026, 4, 15, 10, 0, tzinfo=WITA)
OK = None
S = Status


def request(action: str, actor: str, **fields) -> Action:
    model = actions.RULES[action].request
    defaults = {"refer": {"plan": "alat bantu"}, "resolve": {"outcome": "assistance_given", "programme": "ATENSI"},
                "reject": {"reason": "not_ppks"}, "reassign": {"to": officer("PD-01")},
                "pause": {"reason": "menunggu warga"},
                "extend": {"clock": "verification", "by": "1 working_day", "reason": "banjir"}}.get(action, {})
    return model.model_validate({"actor": officer(actor) if actor in _KNOWN else Actor(id=actor, role="service"),
                                 **defaults, **fields})


_KNOWN = {"PD-34", "PD-01", "KABID-REHSOS", "KABID-PJS", "KABID-DAYASOS", "KADIS"}

TABLE = [
    ("acknowledge", "PD-34", S.ASSIGNED, OK),
    ("acknowledge", "PD-01", S.ASSIGNED, "only the assigned pendamping (PD-34) can acknowledge this case"),
    ("acknowledge", "KADIS", S.ASSIGNED, "only the assigned pendamping (PD-34) can acknowledge this case"),
    ("acknowledge", "KABID-REHSOS", S.ASSIGNED, "only the assigned pendamping (PD-34) can acknowledge"),
    ("acknowledge", "PD-34", S.RECEIVED, "cannot acknowledge: the case is received, it must be assigned"),
    ("acknowledge", "PD-34", S.ACKNOWLEDGED, "cannot acknowledge: the case is acknowledged, it must be assigned"),
    ("assess", "PD-34", S.ACKNOWLEDGED, OK),
    ("assess", "PD-01", S.ACKNOWLEDGED, "only the assigned pendamping (PD-34) can assess"),
    ("assess", "PD-34", S.ASSIGNED, "cannot assess: the case is assigned, it must be acknowledged"),
    ("refer", "PD-34", S.ASSESSED, OK),
    ("refer", "KABID-PJS", S.ASSESSED, "only the assigned pendamping (PD-34) can refer"),
    ("refer", "PD-34", S.ACKNOWLEDGED, "cannot refer: the case is acknowledged, it must be assessed"),
    ("resolve", "KABID-REHSOS", S.REFERRED, OK),
    ("resolve", "KADIS", S.REFERRED, OK),
    ("resolve", "KABID-PJS", S.REFERRED, "only the head of rehabilitasi_sosial or the kepala dinas can resolve"),
    ("resolve", "PD-34", S.REFERRED, "only the head of rehabilitasi_sosial or the kepala dinas can resolve"),
    ("resolve", "KABID-REHSOS", S.ASSESSED, "cannot resolve: the case is assessed, it must be referred"),
    ("close", "PD-34", S.RESOLVED, OK),
    ("close", "KABID-PJS", S.RESOLVED, OK),
    ("close", "KADIS", S.RESOLVED, OK),
    ("close", "KABID-DAYASOS", S.RESOLVED, "only the assigned pendamping or a supervisor can close this case"),
    ("close", "PD-01", S.RESOLVED, "only the assigned pendamping or a supervisor can close this case"),
    ("close", "PD-34", S.REFERRED, "cannot close: the case is referred, it must be resolved"),
    ("reject", "KABID-REHSOS", S.ASSIGNED, OK),
    ("reject", "KADIS", S.REFERRED, OK),
    ("reject", "PD-34", S.ASSIGNED, "only the head of the bidang or the kepala dinas can reject this case"),
    ("reject", "KABID-DAYASOS", S.ASSIGNED, "only the head of the bidang or the kepala dinas can reject"),
    ("reject", "KADIS", S.RESOLVED, "cannot reject: the case is resolved"),
    ("reject", "KADIS", S.CLOSED, "cannot reject: the case is closed"),
    ("reassign", "KABID-PJS", S.ACKNOWLEDGED, OK),
    ("reassign", "PD-34", S.ACKNOWLEDGED, "only the head of the bidang or the kepala dinas can reassign"),
    ("reassign", "KADIS", S.REJECTED, "cannot reassign: the case is rejected"),
    ("extend", "KABID-REHSOS", S.ASSIGNED, OK),
    ("extend", "PD-34", S.ASSIGNED, "only the head of the bidang or the kepala dinas can extend"),
    ("change_policy", "KADIS", S.ASSIGNED, OK),
    ("change_policy", "PD-34", S.ASSIGNED, "only the head of the bidang or the kepala dinas can change policy"),
    ("pause", "PD-34", S.ACKNOWLEDGED, OK),
    ("pause", "KABID-REHSOS", S.ACKNOWLEDGED, OK),
    ("pause", "PD-01", S.ACKNOWLEDGED, "only the assigned pendamping or a supervisor can pause this case"),
    ("pause", "PD-34", S.CLOSED, "cannot pause: the case is closed"),
    ("resume", "PD-34", S.ACKNOWLEDGED, "cannot resume: the clocks are not paused"),
    ("reopen", "KADIS", S.ACKNOWLEDGED, "cannot reopen: the case is acknowledged, it must be closed or rejected"),
    ("reopen", "PD-34", S.CLOSED, "only the head of the bidang or the kepala dinas can reopen"),
    ("retry", "KADIS", S.ASSIGNED, "cannot retry: nothing on this case needs attention"),
    ("acknowledge", "svc-hotline", S.ASSIGNED, "only the assigned pendamping (PD-34) can acknowledge"),
]


@pytest.mark.parametrize(("action", "actor", "status", "refusal"), TABLE,
                         ids=[f"{a}-{who}-{s.value}" for a, who, s, _ in TABLE])
def test_refusal(action: str, actor: str, status: Status, refusal: str | None) -> None:
    state = case(status)
    if status in (S.CLOSED, S.REJECTED):
        state.finished_at = NOW - timedelta(days=5)
    found = actions.refusal(action, state, request(action, actor), NOW)
    if refusal is None:
        assert found is None
    else:
        assert found is not None and refusal in found


def test_nothing_before_the_case_is_set_up_but_a_supervisor_may_retry_or_reject_a_stuck_one():
    state = case(S.RECEIVED)
    state.ready = False
    assert "still being set up" in actions.refusal("reject", state, request("reject", "KADIS"), NOW)
    from referral.case import Attention
    state.attention = Attention(step="intake", problem="x", since=NOW)
    assert actions.refusal("reject", state, request("reject", "KADIS"), NOW) is None
    assert actions.refusal("retry", state, request("retry", "KADIS"), NOW) is None
    assert "still being set up" in actions.refusal("acknowledge", state, request("acknowledge", "PD-34"), NOW)


@pytest.mark.parametrize(("days_ago", "refusal"), [
    (1, OK), (30, OK), (30.5, "more than 30 days ago"), (45, "more than 30 days ago"),
])
def test_reopen_window(days_ago: float, refusal: str | None) -> None:
    state = case(S.CLOSED)
    state.finished_at = NOW - timedelta(days=days_ago)
    found = actions.refusal("reopen", state, request("reopen", "KABID-REHSOS"), NOW)
    assert found == refusal if refusal is None else refusal in found


def test_the_head_of_the_pendamping_bidang_is_no_supervisor_without_a_pendamping():
    state = case(S.RECEIVED, pendamping=None, pendamping_bidang=None)
    state.ready = True
    assert "can reject" in actions.refusal("reject", state, request("reject", "KABID-PJS"), NOW)
    assert actions.refusal("reject", state, request("reject", "KABID-REHSOS"), NOW) is None


@pytest.mark.parametrize(("target", "refusal"), [
    ("PD-01", OK), ("PD-34", "already assigned to PD-34"), ("KABID-PJS", "'KABID-PJS' is not a pendamping"),
])
def test_reassign_target(target: str, refusal: str | None) -> None:
    found = actions.refusal("reassign", case(S.ACKNOWLEDGED), request("reassign", "KADIS", to=officer(target)), NOW)
    assert found == refusal if refusal is None else refusal in found


# ---- what an action changes ----

def test_assess_corrects_the_category_and_moves_the_clocks():
    state = case(S.ACKNOWLEDGED)
    step = actions.apply("assess", state, Assessment(actor=officer("PD-34"), category="fakir_miskin",
                                                     needs_investigation=True), NOW)
    assert (state.status, state.category, state.bidang, state.needs_investigation) == (
        S.ASSESSED, "fakir_miskin", "pemberdayaan_sosial", True)
    assert [c.name for c in state.clocks.running()] == [ClockName.FOLLOW_UP_PLAN]
    assert step.event == "assessed" and step.detail["category"] == "fakir_miskin" and step.notices == []


def test_refer_tells_the_head_of_the_responsible_bidang_and_starts_completion():
    state = case(S.ASSESSED, clocks=(ClockName.FOLLOW_UP_PLAN,))
    step = actions.apply("refer", state, Referral(actor=officer("PD-34"), plan="alat bantu dengar"), NOW)
    assert [n.recipient for n in step.notices] == ["head:rehabilitasi_sosial"]
    assert [c.name for c in state.clocks.running()] == [ClockName.COMPLETION]
    assert state.step_times["referred"] == NOW


def test_resolve_records_the_outcome_and_reject_stops_every_clock():
    state = case(S.REFERRED, clocks=(ClockName.COMPLETION,))
    actions.apply("resolve", state, Resolution(actor=officer("KADIS"), outcome="not_eligible"), NOW)
    assert (state.status, state.outcome, state.clocks.running()) == (S.RESOLVED, "not_eligible", [])
    other = case(S.ASSIGNED)
    actions.apply("reject", other, Rejection(actor=officer("KADIS"), reason="duplicate", duplicate_of="ADU-X"), NOW)
    assert (other.status, other.duplicate_of, other.finished_at, other.clocks.running()) == (S.REJECTED, "ADU-X", NOW, [])


def test_reopen_goes_back_to_the_step_it_left_and_resets_the_escalation_level():
    state = case(S.ASSIGNED)
    state.escalation_level = 2
    actions.apply("close", state, Closing(actor=officer("KADIS")), NOW)  # (as if resolved first)
    later = NOW + timedelta(days=3)
    step = actions.apply("reopen", state, Action(actor=officer("KADIS"), note="belum selesai"), later)
    assert (state.status, state.escalation_level, state.finished_at) == (S.REFERRED, 0, None)
    assert [c.name for c in state.clocks.running()] == [ClockName.COMPLETION]
    assert step.notices[0].recipient == "head:rehabilitasi_sosial"


def test_pause_resume_and_extend_go_through_the_clocks():
    state = case(S.ACKNOWLEDGED)
    before = state.clocks.get(ClockName.VERIFICATION).deadline(state.setup.calendar)
    actions.apply("pause", state, PauseRequest(actor=officer("PD-34"), reason="menunggu warga"), NOW)
    assert state.clocks.any_paused
    actions.apply("resume", state, Action(actor=officer("PD-34")), NOW + timedelta(hours=2))
    after = state.clocks.get(ClockName.VERIFICATION).deadline(state.setup.calendar)
    assert after == before + timedelta(hours=2)
    step = actions.apply("extend", state, Extension(actor=officer("KADIS"), clock="verification",
                                                    by="1 working_day", reason="banjir"), NOW)
    assert datetime.fromisoformat(step.detail["deadline"]) > after


def test_reassign_hands_the_case_over_and_tells_the_new_pendamping():
    state = case(S.ACKNOWLEDGED)
    step = actions.apply("reassign", state, Reassignment(actor=officer("KADIS"), to=officer("PD-01")), NOW)
    assert (state.pendamping_id, step.detail["previous"], [n.recipient for n in step.notices]) == (
        "PD-01", "PD-34", ["PD-01"])
