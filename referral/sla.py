"""SLA policy and clocks: when each waiting step is due, warned about and escalated.

A case runs several separate clocks (acknowledgement, verification, follow-up plan, completion).
Each clock counts on one axis: office time on working days, or plain calendar time for urgent and
emergency cases. Its milestones are points along that count: warnings at fractions of the budget,
the breach at the budget (escalation level 1, the head of the bidang), and one more escalation
interval later, level 2 (the kepala dinas). Paused time does not count; an extension adds budget.

Everything here is pure: the workflow passes `now` and the case's `WorkingCalendar`.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from referral.calendar import Axis, WorkingCalendar


class Urgency(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"
    EMERGENCY = "emergency"


class ClockName(StrEnum):
    ACKNOWLEDGEMENT = "acknowledgement"
    VERIFICATION = "verification"
    FOLLOW_UP_PLAN = "follow_up_plan"
    COMPLETION = "completion"


CLOCK_LABELS = {
    ClockName.ACKNOWLEDGEMENT: "acknowledgement",
    ClockName.VERIFICATION: "verification",
    ClockName.FOLLOW_UP_PLAN: "follow-up plan",
    ClockName.COMPLETION: "completion",
}

Unit = Literal["working_days", "working_hours", "calendar_days", "calendar_hours"]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s+(working|calendar)[_ ](day|hour)s?\s*$")


class Duration(BaseModel):
    """An amount of time on one axis, written in the policy file as "3 working_days"."""

    model_config = ConfigDict(frozen=True)
    amount: float = Field(gt=0)
    unit: Unit

    @model_validator(mode="before")
    @classmethod
    def _parse_text(cls, value: object) -> object:
        if isinstance(value, str):
            match = _DURATION.match(value)
            if not match:
                raise ValueError(f"{value!r} is not a duration like '3 working_days' or '4 calendar_hours'")
            amount, axis, size = match.groups()
            return {"amount": float(amount), "unit": f"{axis}_{size}s"}
        return value

    @property
    def axis(self) -> Axis:
        return "working" if self.unit.startswith("working") else "calendar"

    def seconds(self, calendar: WorkingCalendar) -> float:
        if self.unit == "working_days":
            return self.amount * calendar.office_seconds_per_day
        if self.unit == "calendar_days":
            return self.amount * 86400
        return self.amount * 3600

    def __str__(self) -> str:
        amount = f"{self.amount:g}"
        return f"{amount} {self.unit.replace('_', ' ')}"


class ClockRule(BaseModel):
    model_config = ConfigDict(frozen=True)
    due: Duration
    escalate_every: Duration

    @model_validator(mode="after")
    def _same_axis(self) -> "ClockRule":
        if self.due.axis != self.escalate_every.axis:
            raise ValueError("due and escalate_every must both be working time or both calendar time")
        return self


class SlaPolicy(BaseModel):
    """The policy file (REFERRAL_SLA_POLICY); a case keeps the version it started under."""

    model_config = ConfigDict(frozen=True)
    version: str
    warn_at: tuple[float, ...] = (0.5, 0.8)
    escalation_chain: tuple[str, ...] = ("head_of_bidang", "kepala_dinas")
    clocks: dict[str, dict[Urgency, ClockRule]]
    auto_reassign_after_breaches: int | None = None
    reopen_window_days: int = 30

    @model_validator(mode="after")
    def _complete(self) -> "SlaPolicy":
        needed = [c.value for c in ClockName] + ["completion_investigation"]
        problems = [
            f"clocks.{name}.{urgency.value} is missing"
            for name in needed
            for urgency in Urgency
            if urgency not in self.clocks.get(name, {})
        ]
        problems += [f"warn_at {f} must be between 0 and 1" for f in self.warn_at if not 0 < f < 1]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def rule(self, clock: ClockName, urgency: Urgency, needs_investigation: bool = False) -> ClockRule:
        key = clock.value
        if clock == ClockName.COMPLETION and needs_investigation:
            key = "completion_investigation"
        return self.clocks[key][urgency]


class Pause(BaseModel):
    started_at: datetime
    ended_at: datetime | None = None
    reason: str
    actor: str


class Milestone(BaseModel):
    key: str  # e.g. "warning_50", "breach", "escalation_2": fired at most once per clock run
    kind: Literal["warning", "escalation"]
    level: int = 0  # escalation level reached (1 = head of bidang, 2 = kepala dinas)
    fraction: float = 0.0
    at: datetime


class Clock(BaseModel):
    """One run of one SLA clock. A reopened case starts a new run (`run` goes up)."""

    name: ClockName
    run: int = 1
    axis: Axis
    started_at: datetime
    budget_seconds: float
    escalate_every_seconds: float
    extension_seconds: float = 0.0
    pauses: list[Pause] = []
    stopped_at: datetime | None = None
    fired: list[str] = []
    rearmed: int = 0  # how often an extension or policy change gave milestones back; part of event keys

    @classmethod
    def start(cls, name: ClockName, rule: ClockRule, calendar: WorkingCalendar, at: datetime, run: int = 1) -> "Clock":
        return cls(
            name=name,
            run=run,
            axis=rule.due.axis,
            started_at=at,
            budget_seconds=rule.due.seconds(calendar),
            escalate_every_seconds=rule.escalate_every.seconds(calendar),
        )

    @property
    def running(self) -> bool:
        return self.stopped_at is None

    @property
    def paused(self) -> bool:
        return bool(self.pauses) and self.pauses[-1].ended_at is None

    @property
    def total_seconds(self) -> float:
        return self.budget_seconds + self.extension_seconds

    def moment_at(self, calendar: WorkingCalendar, counted: float) -> datetime | None:
        """When this clock will have counted `counted` seconds, skipping pauses; None while paused first."""
        cursor, remaining = self.started_at, counted
        for pause in self.pauses:
            if pause.started_at > cursor:
                span = calendar.elapsed(self.axis, cursor, pause.started_at)
                if span >= remaining:
                    return calendar.advance(self.axis, cursor, remaining)
                remaining -= span
            if pause.ended_at is None:
                return None
            cursor = max(cursor, pause.ended_at)
        return calendar.advance(self.axis, cursor, remaining)

    def deadline(self, calendar: WorkingCalendar) -> datetime | None:
        return self.moment_at(calendar, self.total_seconds)

    def milestones(self, calendar: WorkingCalendar, policy: SlaPolicy) -> list[Milestone]:
        """Every milestone still to come on this clock, in order, with its moment (paused: none)."""
        if not self.running:
            return []
        planned: list[tuple[str, str, int, float]] = [
            (f"warning_{round(f * 100)}", "warning", 0, f) for f in sorted(policy.warn_at)
        ]
        planned.append(("breach", "escalation", 1, 1.0))
        for level in range(2, len(policy.escalation_chain) + 1):
            planned.append((f"escalation_{level}", "escalation", level, 1.0))
        result = []
        for key, kind, level, fraction in planned:
            if key in self.fired:
                continue
            counted = fraction * self.total_seconds
            if level >= 2:
                counted = self.total_seconds + (level - 1) * self.escalate_every_seconds
            at = self.moment_at(calendar, counted)
            if at is None:
                return []
            result.append(Milestone(key=key, kind=kind, level=level, fraction=fraction, at=at))
        return result

    def rearm(self, calendar: WorkingCalendar, policy: SlaPolicy, now: datetime) -> None:
        """After an extension or a policy change, milestones that now lie ahead may fire again."""
        fired, self.fired = self.fired, []
        ahead = {m.key for m in self.milestones(calendar, policy) if m.at > now}
        self.fired = [key for key in fired if key not in ahead]
        if len(self.fired) < len(fired):
            self.rearmed += 1

    def event_key(self, milestone: str) -> str:
        """Unique per clock run, milestone and re-arming, so each one is recorded once."""
        suffix = f"#{self.rearmed}" if self.rearmed else ""
        return f"sla:{self.name.value}:{self.run}:{milestone}{suffix}"

    def due(self, calendar: WorkingCalendar, policy: SlaPolicy, now: datetime) -> list[Milestone]:
        return [m for m in self.milestones(calendar, policy) if m.at <= now]

    def breached(self, calendar: WorkingCalendar, now: datetime) -> bool:
        deadline = self.deadline(calendar)
        return self.running and deadline is not None and deadline <= now
