"""Unit tests for referral.lifecycle.check: who may do what to a case, and when.

The case is assigned to PD-34 (a pendamping of perlindungan_jaminan_sosial) and its category belongs
to rehabilitasi_sosial, so the supervisors are KABID-REHSOS (the case's bidang), KABID-PJS (the
pendamping's bidang) and KADIS; KABID-DAYASOS is not involved.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from referral.lifecycle import (
    ActionRefused,
    CaseFacts,
    OfficerRef,
    check,
    check_reassign_target,
)
from referral.models import Status

WITA = timezone(timedelta(hours=8))
NOW = datetime(2026, 4, 15, 10, 0, tzinfo=WITA)

OFFICERS = {
    o.officer_id: o
    for o in (
        OfficerRef(officer_id="PD-34", role="pendamping", bidang="perlindungan_jaminan_sosial", kecamatan="Sawan"),
        OfficerRef(officer_id="PD-01", role="pendamping", bidang="perlindungan_jaminan_sosial", kecamatan="Gerokgak"),
        OfficerRef(officer_id="KABID-REHSOS", role="head_of_bidang", bidang="rehabilitasi_sosial"),
        OfficerRef(officer_id="KABID-PJS", role="head_of_bidang", bidang="perlindungan_jaminan_sosial"),
        OfficerRef(officer_id="KABID-DAYASOS", role="head_of_bidang", bidang="pemberdayaan_sosial"),
        OfficerRef(officer_id="KADIS", role="kepala_dinas"),
    )
}


def facts(status: Status, *, running: bool = True, paused: bool = False, finished_days_ago: float | None = None) -> CaseFacts:
    return CaseFacts(
        status=status,
        pendamping_id="PD-34",
        pendamping_bidang="perlindungan_jaminan_sosial",
        bidang="rehabilitasi_sosial",
        finished_at=None if finished_days_ago is None else NOW - timedelta(days=finished_days_ago),
        any_clock_running=running,
        any_clock_paused=paused,
        reopen_window_days=30,
    )


OK = None
S = Status

TABLE = [
    # forward steps by the pendamping
    ("acknowledge", "PD-34", S.ASSIGNED, OK),
    ("acknowledge", "PD-01", S.ASSIGNED, "only the assigned pendamping (PD-34) can acknowledge this case"),
    ("acknowledge", "KADIS", S.ASSIGNED, "only the assigned pendamping (PD-34) can acknowledge this case"),
    ("acknowledge", "KABID-REHSOS", S.ASSIGNED, "only the assigned pendamping (PD-34) can acknowledge this case"),
    ("acknowledge", "PD-34", S.RECEIVED, "cannot acknowledge: the case is received, it must be assigned"),
    ("acknowledge", "PD-34", S.ACKNOWLEDGED, "cannot acknowledge: the case is acknowledged, it must be assigned"),
    ("assess", "PD-34", S.ACKNOWLEDGED, OK),
    ("assess", "PD-01", S.ACKNOWLEDGED, "only the assigned pendamping (PD-34) can assess"),
    ("assess", "PD-34", S.ASSIGNED, "cannot assess: the case is assigned, it must be acknowledged"),
    ("refer", "PD-34", S.ASSESSED, OK),
    ("refer", "PD-01", S.ASSESSED, "only the assigned pendamping (PD-34) can refer"),
    ("refer", "KABID-PJS", S.ASSESSED, "only the assigned pendamping (PD-34) can refer"),
    ("refer", "PD-34", S.ACKNOWLEDGED, "cannot refer: the case is acknowledged, it must be assessed"),
    # resolve: the head of the case's bidang or the kepala dinas only
    ("resolve", "KABID-REHSOS", S.REFERRED, OK),
    ("resolve", "KADIS", S.REFERRED, OK),
    ("resolve", "KABID-PJS", S.REFERRED, "only the head of rehabilitasi_sosial or the kepala dinas can resolve"),
    ("resolve", "KABID-DAYASOS", S.REFERRED, "only the head of rehabilitasi_sosial or the kepala dinas can resolve"),
    ("resolve", "PD-34", S.REFERRED, "only the head of rehabilitasi_sosial or the kepala dinas can resolve"),
    ("resolve", "KABID-REHSOS", S.ASSESSED, "cannot resolve: the case is assessed, it must be referred"),
    # close: the pendamping or a supervisor
    ("close", "PD-34", S.RESOLVED, OK),
    ("close", "KABID-PJS", S.RESOLVED, OK),
    ("close", "KABID-REHSOS", S.RESOLVED, OK),
    ("close", "KADIS", S.RESOLVED, OK),
    ("close", "KABID-DAYASOS", S.RESOLVED, "only the assigned pendamping or a supervisor can close this case"),
    ("close", "PD-01", S.RESOLVED, "only the assigned pendamping or a supervisor can close this case"),
    ("close", "PD-34", S.REFERRED, "cannot close: the case is referred, it must be resolved"),
    ("close", "KADIS", S.CLOSED, "cannot close: the case is closed, it must be resolved"),
    # reject: supervisors, on an open case that is not yet resolved
    ("reject", "KABID-REHSOS", S.RECEIVED, OK),
    ("reject", "KABID-PJS", S.ASSIGNED, OK),
    ("reject", "KADIS", S.REFERRED, OK),
    ("reject", "PD-34", S.ASSIGNED, "only the head of the bidang or the kepala dinas can reject this case"),
    ("reject", "KABID-DAYASOS", S.ASSIGNED, "only the head of the bidang or the kepala dinas can reject this case"),
    ("reject", "KADIS", S.RESOLVED, "cannot reject: the case is already resolved; close it instead"),
    ("reject", "KADIS", S.CLOSED, "cannot reject: the case is already closed"),
    ("reject", "KADIS", S.REJECTED, "cannot reject: the case is already rejected"),
    # reassign / extend / change_policy: supervisors, open cases
    ("reassign", "KABID-PJS", S.ACKNOWLEDGED, OK),
    ("reassign", "KADIS", S.RESOLVED, OK),
    ("reassign", "PD-34", S.ACKNOWLEDGED, "only the head of the bidang or the kepala dinas can reassign this case"),
    ("reassign", "KABID-DAYASOS", S.ACKNOWLEDGED, "only the head of the bidang or the kepala dinas can reassign"),
    ("reassign", "KADIS", S.REJECTED, "cannot reassign: the case is already rejected"),
    ("extend", "KABID-REHSOS", S.ASSESSED, OK),
    ("extend", "PD-34", S.ASSESSED, "only the head of the bidang or the kepala dinas can extend this case"),
    ("extend", "KADIS", S.CLOSED, "cannot extend: the case is already closed"),
    ("change_policy", "KADIS", S.ASSIGNED, OK),
    ("change_policy", "PD-34", S.ASSIGNED, "only the head of the bidang or the kepala dinas can change policy this case"),
    ("change_policy", "KADIS", S.CLOSED, "cannot change policy: the case is already closed"),
    # pause: the pendamping or a supervisor, while a clock runs
    ("pause", "PD-34", S.ACKNOWLEDGED, OK),
    ("pause", "KABID-REHSOS", S.ACKNOWLEDGED, OK),
    ("pause", "KADIS", S.ASSESSED, OK),
    ("pause", "PD-01", S.ACKNOWLEDGED, "only the assigned pendamping or a supervisor can pause the clocks"),
    ("pause", "KABID-DAYASOS", S.ACKNOWLEDGED, "only the assigned pendamping or a supervisor can pause the clocks"),
    ("pause", "PD-34", S.CLOSED, "cannot pause: the case is already closed"),
    ("resume", "PD-01", S.ACKNOWLEDGED, "only the assigned pendamping or a supervisor can resume the clocks"),
    ("resume", "PD-34", S.ACKNOWLEDGED, "cannot resume: the clocks are not paused"),
    # reopen of an open case
    ("reopen", "KADIS", S.ACKNOWLEDGED, "cannot reopen: the case is acknowledged, not closed or rejected"),
    ("reopen", "PD-34", S.CLOSED, "only the head of the bidang or the kepala dinas can reopen this case"),
    # not on the roster
    ("acknowledge", "PD-99", S.ASSIGNED, "actor 'PD-99' is not an officer on the roster"),
    ("reopen", "", S.CLOSED, "actor '' is not an officer on the roster"),
]


def _id(row: tuple) -> str:
    action, actor, status, outcome = row
    return f"{action}-{actor or 'nobody'}-{status.value}-{'ok' if outcome is None else 'refused'}"


@pytest.mark.parametrize(("action", "actor", "status", "refusal"), TABLE, ids=[_id(r) for r in TABLE])
def test_check(action: str, actor: str, status: Status, refusal: str | None) -> None:
    case = facts(status, finished_days_ago=5 if status in (S.CLOSED, S.REJECTED) else None)
    if refusal is None:
        assert check(action, actor, case, OFFICERS, NOW) is OFFICERS[actor]
    else:
        with pytest.raises(ActionRefused) as info:
            check(action, actor, case, OFFICERS, NOW)
        assert refusal in str(info.value)


def test_action_refused_is_a_value_error() -> None:
    assert issubclass(ActionRefused, ValueError)


# ---- pause / resume and the clock state ----------------------------------------------------

@pytest.mark.parametrize(
    ("action", "running", "paused", "refusal"),
    [
        ("pause", True, False, OK),
        ("pause", True, True, "cannot pause: the clocks are already paused"),
        ("pause", False, True, "cannot pause: the clocks are already paused"),
        ("pause", False, False, "cannot pause: no SLA clock is running"),
        ("resume", True, True, OK),
        ("resume", True, False, "cannot resume: the clocks are not paused"),
    ],
)
def test_pause_and_resume_depend_on_the_clocks(action: str, running: bool, paused: bool, refusal: str | None) -> None:
    case = facts(S.ACKNOWLEDGED, running=running, paused=paused)
    if refusal is None:
        assert check(action, "PD-34", case, OFFICERS, NOW).officer_id == "PD-34"
    else:
        with pytest.raises(ActionRefused, match=refusal):
            check(action, "PD-34", case, OFFICERS, NOW)


# ---- reopen inside / outside the 30-day window ---------------------------------------------

@pytest.mark.parametrize(
    ("actor", "status", "days_ago", "refusal"),
    [
        ("KADIS", S.CLOSED, 1, OK),
        ("KADIS", S.CLOSED, 29, OK),
        ("KABID-REHSOS", S.CLOSED, 30, OK),  # exactly 30 days: still inside
        ("KABID-PJS", S.REJECTED, 10, OK),
        ("KADIS", S.CLOSED, 30.5, "cannot reopen: the case was closed more than 30 days ago"),
        ("KADIS", S.CLOSED, 31, "cannot reopen: the case was closed more than 30 days ago"),
        ("KABID-REHSOS", S.REJECTED, 45, "cannot reopen: the case was rejected more than 30 days ago"),
        ("KABID-DAYASOS", S.CLOSED, 1, "only the head of the bidang or the kepala dinas can reopen"),
        ("PD-34", S.CLOSED, 1, "only the head of the bidang or the kepala dinas can reopen"),
    ],
)
def test_reopen_window(actor: str, status: Status, days_ago: float, refusal: str | None) -> None:
    case = facts(status, running=False, finished_days_ago=days_ago)
    if refusal is None:
        assert check("reopen", actor, case, OFFICERS, NOW).officer_id == actor
    else:
        with pytest.raises(ActionRefused, match=refusal):
            check("reopen", actor, case, OFFICERS, NOW)


def test_reopen_window_follows_the_policy() -> None:
    case = replace(facts(S.CLOSED, running=False, finished_days_ago=10), reopen_window_days=7)
    with pytest.raises(ActionRefused, match="more than 7 days ago"):
        check("reopen", "KADIS", case, OFFICERS, NOW)


def test_reopen_without_finished_at_is_refused() -> None:
    case = facts(S.CLOSED, running=False, finished_days_ago=None)
    with pytest.raises(ActionRefused, match="cannot reopen"):
        check("reopen", "KADIS", case, OFFICERS, NOW)


# ---- supervisors when the pendamping shares the case's bidang ------------------------------

def test_head_of_pendamping_bidang_is_not_a_supervisor_without_a_pendamping() -> None:
    case = replace(facts(S.RECEIVED), pendamping_id=None, pendamping_bidang=None)
    with pytest.raises(ActionRefused, match="can reject"):
        check("reject", "KABID-PJS", case, OFFICERS, NOW)
    assert check("reject", "KABID-REHSOS", case, OFFICERS, NOW).officer_id == "KABID-REHSOS"


# ---- reassign target -----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("target", "refusal"),
    [
        ("PD-01", OK),
        ("PD-34", "the case is already assigned to PD-34"),
        ("KABID-PJS", "'KABID-PJS' is not a pendamping on the roster"),
        ("PD-99", "'PD-99' is not a pendamping on the roster"),
    ],
)
def test_check_reassign_target(target: str, refusal: str | None) -> None:
    case = facts(S.ACKNOWLEDGED)
    if refusal is None:
        check_reassign_target(target, case, OFFICERS)
    else:
        with pytest.raises(ActionRefused, match=refusal):
            check_reassign_target(target, case, OFFICERS)
