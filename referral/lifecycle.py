"""Who may do what to a case, and when. Pure: the workflow's update validators call `check`.

    received -> assigned -> acknowledged -> assessed -> referred -> resolved -> closed
                 (pendamping)  (pendamping)  (pendamping)  (head of bidang)  (pendamping or supervisor)

A supervisor (a head of bidang involved in the case, or the kepala dinas) may reject or reassign an
open case and reopen a closed or rejected one within the policy's window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel

from referral.models import FINISHED_STATUSES, Status


class OfficerRef(BaseModel):
    """An officer as a case sees them: no names, only the id, role and bidang."""

    officer_id: str
    role: str  # pendamping, head_of_bidang, kepala_dinas
    bidang: str | None = None
    kecamatan: str | None = None


class ActionRefused(ValueError):
    """A wrong state or a wrong actor: raised by a validator, so nothing reaches history."""


@dataclass(frozen=True)
class CaseFacts:
    status: Status
    pendamping_id: str | None
    pendamping_bidang: str | None
    bidang: str  # responsible bidang, from the category
    finished_at: datetime | None
    any_clock_running: bool
    any_clock_paused: bool
    reopen_window_days: int


# The status each forward step requires.
STEP_FROM = {
    "acknowledge": Status.ASSIGNED,
    "assess": Status.ACKNOWLEDGED,
    "refer": Status.ASSESSED,
    "resolve": Status.REFERRED,
    "close": Status.RESOLVED,
}


def is_supervisor(officer: OfficerRef, case: CaseFacts) -> bool:
    if officer.role == "kepala_dinas":
        return True
    return officer.role == "head_of_bidang" and officer.bidang in (case.bidang, case.pendamping_bidang)


def check(action: str, actor_id: str, case: CaseFacts, officers: dict[str, OfficerRef], now: datetime) -> OfficerRef:
    """Return the acting officer, or raise ActionRefused saying why the action is not allowed."""
    officer = officers.get(actor_id)
    if officer is None:
        raise ActionRefused(f"actor {actor_id!r} is not an officer on the roster")
    is_pendamping = actor_id == case.pendamping_id
    supervisor = is_supervisor(officer, case)

    if action in STEP_FROM:
        required = STEP_FROM[action]
        if case.status != required:
            raise ActionRefused(f"cannot {action}: the case is {case.status.value}, it must be {required.value}")
        if action in ("acknowledge", "assess", "refer") and not is_pendamping:
            raise ActionRefused(f"only the assigned pendamping ({case.pendamping_id}) can {action} this case")
        if action == "resolve" and not (
            officer.role == "kepala_dinas" or (officer.role == "head_of_bidang" and officer.bidang == case.bidang)
        ):
            raise ActionRefused(f"only the head of {case.bidang} or the kepala dinas can resolve this case")
        if action == "close" and not (is_pendamping or supervisor):
            raise ActionRefused("only the assigned pendamping or a supervisor can close this case")
        return officer

    if action in ("reject", "reassign", "reopen", "extend", "change_policy") and not supervisor:
        raise ActionRefused(f"only the head of the bidang or the kepala dinas can {action.replace('_', ' ')} this case")
    if action in ("pause", "resume") and not (is_pendamping or supervisor):
        raise ActionRefused(f"only the assigned pendamping or a supervisor can {action} the clocks")

    finished = case.status in FINISHED_STATUSES
    if action in ("reject", "reassign", "pause", "resume", "extend", "change_policy") and finished:
        raise ActionRefused(f"cannot {action.replace('_', ' ')}: the case is already {case.status.value}")
    if action == "reject" and case.status == Status.RESOLVED:
        raise ActionRefused("cannot reject: the case is already resolved; close it instead")
    if action == "pause":
        if case.any_clock_paused:
            raise ActionRefused("cannot pause: the clocks are already paused")
        if not case.any_clock_running:
            raise ActionRefused("cannot pause: no SLA clock is running")
    if action == "resume" and not case.any_clock_paused:
        raise ActionRefused("cannot resume: the clocks are not paused")
    if action == "reopen":
        if not finished or case.finished_at is None:
            raise ActionRefused(f"cannot reopen: the case is {case.status.value}, not closed or rejected")
        if now - case.finished_at > timedelta(days=case.reopen_window_days):
            raise ActionRefused(f"cannot reopen: the case was {case.status.value} more than {case.reopen_window_days} days ago")
    return officer


def check_reassign_target(pendamping_id: str, case: CaseFacts, officers: dict[str, OfficerRef]) -> None:
    target = officers.get(pendamping_id)
    if target is None or target.role != "pendamping":
        raise ActionRefused(f"{pendamping_id!r} is not a pendamping on the roster")
    if pendamping_id == case.pendamping_id:
        raise ActionRefused(f"the case is already assigned to {pendamping_id}")


# ---- who hears of what ----

PENDAMPING_CLOCK_NAMES = ("acknowledgement", "verification", "follow_up_plan")


def kepala_dinas(officers: dict[str, OfficerRef]) -> str:
    return next(o.officer_id for o in officers.values() if o.role == "kepala_dinas")


def head_of(officers: dict[str, OfficerRef], bidang: str | None) -> str:
    """The head of a bidang; the kepala dinas if the roster has none."""
    return next(
        (o.officer_id for o in officers.values() if o.role == "head_of_bidang" and o.bidang == bidang),
        kepala_dinas(officers),
    )


def clock_owner(clock: str, case: CaseFacts, officers: dict[str, OfficerRef]) -> str:
    """Who must act to stop a clock (and is warned): the pendamping, or once referred the head of the bidang."""
    if clock in PENDAMPING_CLOCK_NAMES and case.pendamping_id:
        return case.pendamping_id
    return head_of(officers, case.bidang)


def escalation_target(clock: str, level: int, case: CaseFacts, officers: dict[str, OfficerRef]) -> str:
    """Level 1: the head of the pendamping's bidang while the case is with the pendamping, the head of
    the responsible bidang once referred; level 2 and above: the kepala dinas."""
    if level >= 2:
        return kepala_dinas(officers)
    if clock in PENDAMPING_CLOCK_NAMES:
        return head_of(officers, case.pendamping_bidang or case.bidang)
    return head_of(officers, case.bidang)
