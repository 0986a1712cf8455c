"""SLA policy and clocks: when each waiting step is due, warned about and escalated.

A case runs several separate clocks (acknowledgement, verification, follow-up plan, completion, and the
overall clock from report to resolution). Each clock counts on one axis: office time on working days, or
plain calendar time for urgent and emergency cases. Its milestones are points along that count: warnings
at fractions of the time allowed, the breach at the deadline (escalation level 1, the head of the bidang),
and one `escalate_every` later, level 2 (the kepala dinas). Paused time does not count; an extension adds
time. `CaseClocks` owns every operation on a case's clocks; the workflow only asks it questions.

Working-day deadlines have two readings (`SlaPolicy.deadline_semantics`):
  - `end_of_day` (default): "paling lambat N hari kerja" ends at the close of office on the Nth working
    day after the day the clock starts; a pause moves the deadline to the close of the day it lands on.
  - `office_hours`: N working days are N nominal office days counted hour by hour from the start.

Everything here is pure: the workflow passes `now` and the case's `WorkingCalendar`.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Callable, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from referral.calendar import Axis, WorkingCalendar

T = TypeVar("T")


class Urgency(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"
    EMERGENCY = "emergency"


class ClockName(StrEnum):
    ACKNOWLEDGEMENT = "acknowledgement"
    VERIFICATION = "verification"
    FOLLOW_UP_PLAN = "follow_up_plan"
    COMPLETION = "completion"
    OVERALL = "overall"
    REFERRAL = "referral"  # a sub-case's clock at a partner office (its rule comes from the partner catalogue)


# The clocks a pendamping must stop (a breach counts against them); the rest belong to the bidang.
PENDAMPING_CLOCKS = (ClockName.ACKNOWLEDGEMENT, ClockName.VERIFICATION, ClockName.FOLLOW_UP_PLAN)

Unit = Literal["working_days", "working_hours", "calendar_days", "calendar_hours"]
Semantics = Literal["end_of_day", "office_hours"]
_DURATION = re.compile(r"^\s*([0-9]{1,4}(?:\.[0-9]{1,3})?)\s+(working|calendar)[_ ](day|hour)s?\s*$")
MAX_DAYS = 400  # no clock or extension is longer than this: a longer one is a typo, refused early


class ClockError(ValueError):
    """An operation the clocks cannot take (not running, wrong axis, beyond the calendar): said plainly."""


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
                raise ValueError(f"{value[:40]!r} is not a duration like '3 working_days' or '4 calendar_hours'")
            amount, axis, size = match.groups()
            return {"amount": float(amount), "unit": f"{axis}_{size}s"}
        return value

    @model_validator(mode="after")
    def _bounded(self) -> "Duration":
        days = self.amount if self.unit.endswith("days") else self.amount / 24
        if days > MAX_DAYS:
            raise ValueError(f"{self} is longer than {MAX_DAYS} days")
        return self

    @property
    def axis(self) -> Axis:
        return "working" if self.unit.startswith("working") else "calendar"

    @property
    def whole_working_days(self) -> int | None:
        """N for "N working_days" when N is whole: the unit `end_of_day` counts in."""
        if self.unit == "working_days" and float(self.amount).is_integer():
            return int(self.amount)
        return None

    def seconds(self, calendar: WorkingCalendar) -> float:
        if self.unit == "working_days":
            return self.amount * calendar.office_seconds_per_day
        if self.unit == "calendar_days":
            return self.amount * 86400
        return self.amount * 3600

    def __str__(self) -> str:
        return f"{self.amount:g} {self.unit.replace('_', ' ')}"


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
    deadline_semantics: Semantics = "office_hours"
    clocks: dict[str, dict[Urgency, ClockRule]]
    auto_reassign_after_breaches: int | None = None
    reopen_window_days: int = 30
    max_backdate_days: int = Field(default=30, ge=0, le=366)
    """How far back `reported_at` may lie; an older paper report is entered as received now."""
    referral_clocks: dict[str, ClockRule] = {}
    """A partner office's time to answer a referral, by partner code ("default" for the others)."""

    @model_validator(mode="after")
    def _complete(self) -> "SlaPolicy":
        needed = [c.value for c in ClockName if c not in (ClockName.OVERALL, ClockName.REFERRAL)]
        needed += ["completion_investigation"]
        if "overall" in self.clocks:
            needed += ["overall", "overall_investigation"]
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

    def has(self, clock: ClockName) -> bool:
        return clock.value in self.clocks

    def referral_rule(self, partner: str) -> ClockRule:
        found = self.referral_clocks.get(partner) or self.referral_clocks.get("default")
        if found is None:
            raise ValueError(f"the policy has no referral clock for {partner} and no default")
        return found

    def rule(self, clock: ClockName, urgency: Urgency, needs_investigation: bool = False) -> ClockRule:
        key = clock.value
        if clock in (ClockName.COMPLETION, ClockName.OVERALL) and needs_investigation:
            key = f"{clock.value}_investigation"
        return self.clocks[key][urgency]


class Pause(BaseModel):
    started_at: datetime
    ended_at: datetime | None = None
    reason: str
    actor: str


class Milestone(BaseModel):
    """A point on a clock: a warning at `percent` of its time, the breach (level 1) or a later escalation.
    Frozen: clocks with the same content share them (`_remembered`)."""

    model_config = ConfigDict(frozen=True)

    key: str  # "warning_50", "breach", "escalation_2": fired at most once per clock run and re-arming
    kind: Literal["warning", "escalation"]
    level: int = 0  # escalation level reached (1 = head of bidang, 2 = kepala dinas)
    percent: int = 100
    at: datetime

    @property
    def label(self) -> str:
        if self.kind == "warning":
            return f"warning {self.percent}%"
        return "breach" if self.level == 1 else f"escalation level {self.level}"


class Clock(BaseModel):
    """One run of one SLA clock. A reopened case starts a new run (`run` goes up)."""

    name: ClockName
    run: int = 1
    axis: Axis
    started_at: datetime
    budget_seconds: float
    escalate_every_seconds: float
    end_of_day: bool = False  # deadline at the close of office (see the module docstring)
    escalate_every_days: int | None = None
    extension_seconds: float = 0.0
    extension_days: int = 0
    pauses: list[Pause] = []
    stopped_at: datetime | None = None
    fired: list[str] = []
    rearmed: int = 0  # how often an extension or a policy/calendar change gave milestones back

    @classmethod
    def start(cls, name: ClockName, rule: ClockRule, calendar: WorkingCalendar, at: datetime, run: int = 1,
              semantics: Semantics = "office_hours") -> "Clock":
        days = rule.due.whole_working_days if semantics == "end_of_day" else None
        if days is not None:
            deadline = calendar.close_of_nth_working_day(at, days)
            budget = calendar.working_seconds_between(at, deadline)
        else:
            budget = rule.due.seconds(calendar)
        return cls(
            name=name, run=run, axis=rule.due.axis, started_at=at, budget_seconds=budget,
            escalate_every_seconds=rule.escalate_every.seconds(calendar), end_of_day=days is not None,
            escalate_every_days=rule.escalate_every.whole_working_days if days is not None else None,
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

    def counted_until(self, calendar: WorkingCalendar, end: datetime) -> float:
        """Seconds this clock counts from its start to `end`, paused time left out."""
        total, cursor = 0.0, self.started_at
        for pause in self.pauses:
            total += calendar.elapsed(self.axis, cursor, min(pause.started_at, end))
            if pause.ended_at is None or pause.ended_at >= end:
                return total
            cursor = max(cursor, pause.ended_at)
        return total + calendar.elapsed(self.axis, cursor, end)

    def _content(self, calendar: WorkingCalendar) -> tuple[Any, ...]:
        """All a deadline depends on, the calendar's content included: the key of `_remembered` answers."""
        return (calendar.identity, self.axis, self.started_at, self.budget_seconds, self.extension_seconds,
                self.extension_days, self.end_of_day, tuple((p.started_at, p.ended_at) for p in self.pauses))

    def deadline(self, calendar: WorkingCalendar) -> datetime | None:
        return _remembered(("deadline", self._content(calendar)), lambda: self._deadline(calendar))

    def _deadline(self, calendar: WorkingCalendar) -> datetime | None:
        moment = self.moment_at(calendar, self.total_seconds)
        if moment is None or not self.end_of_day:
            return moment
        moment = calendar.close_of_day(calendar.local(moment).date())
        if self.extension_days:
            moment = calendar.close_of_nth_working_day(moment, self.extension_days)
        return moment

    def _escalation_moment(self, calendar: WorkingCalendar, deadline: datetime, level: int) -> datetime | None:
        steps = level - 1
        if self.end_of_day and self.escalate_every_days:
            return calendar.close_of_nth_working_day(deadline, self.escalate_every_days * steps)
        counted = self.counted_until(calendar, deadline) + steps * self.escalate_every_seconds
        return self.moment_at(calendar, counted)

    def milestones(self, calendar: WorkingCalendar, policy: SlaPolicy) -> list[Milestone]:
        """Every milestone still to come on this clock, in order, with its moment (paused: none)."""
        if not self.running or self.paused:
            return []
        key = ("milestones", self._content(calendar), self.escalate_every_seconds, self.escalate_every_days,
               policy.warn_at, len(policy.escalation_chain))
        every = _remembered(key, lambda: self._milestones(calendar, policy))
        return [m for m in every if m.key not in self.fired]

    def _milestones(self, calendar: WorkingCalendar, policy: SlaPolicy) -> list[Milestone]:
        deadline = self.deadline(calendar)
        if deadline is None:
            return []
        span = self.counted_until(calendar, deadline)
        result = []
        for fraction in sorted(policy.warn_at):
            percent = round(fraction * 100)
            at = self.moment_at(calendar, fraction * span)
            if at is not None:
                result.append(Milestone(key=f"warning_{percent}", kind="warning", percent=percent, at=at))
        result.append(Milestone(key="breach", kind="escalation", level=1, at=deadline))
        for level in range(2, len(policy.escalation_chain) + 1):
            at = self._escalation_moment(calendar, deadline, level)
            if at is not None:
                result.append(Milestone(key=f"escalation_{level}", kind="escalation", level=level, at=at))
        return result

    def rearm(self, calendar: WorkingCalendar, policy: SlaPolicy, now: datetime) -> None:
        """After an extension or a policy/calendar change, milestones that now lie ahead may fire again."""
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

    def escalation_level(self) -> int:
        levels = [1 if k.split("#")[0] == "breach" else int(k.split("#")[0].split("_")[1])
                  for k in self.fired if k.startswith(("breach", "escalation_"))]
        return max(levels, default=0)


class ClockView(BaseModel):
    name: ClockName
    state: str  # running, paused, stopped
    deadline: datetime | None
    breached: bool
    escalation_level: int


class CaseClocks(BaseModel):
    """All clock runs of one case. Every clock change of a case goes through here."""

    items: list[Clock] = []
    semantics: Semantics = "office_hours"

    def running(self) -> list[Clock]:
        return [c for c in self.items if c.running]

    def get(self, name: ClockName) -> Clock | None:
        return next((c for c in self.running() if c.name == name), None)

    @property
    def any_paused(self) -> bool:
        return any(c.paused for c in self.running())

    # ---- changes ----

    def start(self, name: ClockName, rule: ClockRule, calendar: WorkingCalendar, at: datetime) -> Clock:
        runs = [c.run for c in self.items if c.name == name]
        clock = Clock.start(name, rule, calendar, at, run=max(runs, default=0) + 1, semantics=self.semantics)
        self.items.append(clock)
        return clock

    def stop(self, names: tuple[ClockName, ...] | list[ClockName], at: datetime) -> None:
        for clock in self.running():
            if clock.name in names:
                if clock.paused:
                    clock.pauses[-1].ended_at = at
                clock.stopped_at = at

    def pause(self, at: datetime, reason: str, actor: str) -> None:
        if self.any_paused:
            raise ClockError("the clocks are already paused")
        if not self.running():
            raise ClockError("no SLA clock is running")
        for clock in self.running():
            clock.pauses.append(Pause(started_at=at, reason=reason, actor=actor))

    def resume(self, at: datetime) -> None:
        if not self.any_paused:
            raise ClockError("the clocks are not paused")
        for clock in self.running():
            if clock.paused:
                clock.pauses[-1].ended_at = at

    def check_extension(self, name: ClockName, by: Duration, calendar: WorkingCalendar) -> Clock:
        """The clock an extension would change, or ClockError saying why it cannot."""
        clock = self.get(name)
        if clock is None:
            raise ClockError(f"the {name.value} clock is not running")
        if by.axis != clock.axis:
            raise ClockError(f"the {name.value} clock counts {clock.axis} time; extend it by {clock.axis} days or hours")
        trial = clock.model_copy(deep=True)
        _add_extension(trial, by, calendar)
        deadline = trial.deadline(calendar) if not trial.paused else None
        if deadline is not None and calendar.local(deadline).year > calendar.last_year:
            raise ClockError(f"the new deadline would lie beyond this case's calendar (to {calendar.last_year})")
        return clock

    def extend(self, name: ClockName, by: Duration, calendar: WorkingCalendar, policy: SlaPolicy,
               now: datetime) -> None:
        clock = self.check_extension(name, by, calendar)
        _add_extension(clock, by, calendar)
        clock.rearm(calendar, policy, now)

    def apply_rules(self, policy: SlaPolicy, calendar: WorkingCalendar, urgency: Urgency,
                    needs_investigation: bool, now: datetime, rearm: bool = True,
                    only: tuple[ClockName, ...] | None = None) -> None:
        """Re-measure running clocks under a new policy or calendar. With `rearm`, milestones that now lie ahead
        may fire again (a policy change); without, a fired milestone stays fired (a corrected calendar)."""
        self.semantics = policy.deadline_semantics
        for clock in self.running():
            if only is not None and clock.name not in only:
                continue
            fresh = Clock.start(clock.name, policy.rule(clock.name, urgency, needs_investigation), calendar,
                                clock.started_at, clock.run, self.semantics)
            if fresh.axis != clock.axis:  # counted on the other axis: the extension cannot carry over
                clock.extension_seconds, clock.extension_days = 0.0, 0
            clock.axis, clock.budget_seconds = fresh.axis, fresh.budget_seconds
            clock.escalate_every_seconds, clock.escalate_every_days = fresh.escalate_every_seconds, fresh.escalate_every_days
            clock.end_of_day = fresh.end_of_day
            if rearm:
                clock.rearm(calendar, policy, now)

    # ---- questions ----

    def next_milestone(self, calendar: WorkingCalendar, policy: SlaPolicy) -> tuple[Clock, Milestone] | None:
        pending = [(m.at, i, clock, m) for i, clock in enumerate(self.running())
                   for m in clock.milestones(calendar, policy)]
        if not pending:
            return None
        _, _, clock, milestone = min(pending, key=lambda item: (item[0], item[1]))
        return clock, milestone

    def due(self, calendar: WorkingCalendar, policy: SlaPolicy, now: datetime) -> list[tuple[Clock, Milestone]]:
        due = [(m.at, i, clock, m) for i, clock in enumerate(self.running())
               for m in clock.due(calendar, policy, now)]
        return [(clock, m) for _, _, clock, m in sorted(due, key=lambda item: (item[0], item[1]))]

    def deadlines(self, calendar: WorkingCalendar) -> dict[str, str | None]:
        return {c.name.value: _iso(c.deadline(calendar)) for c in self.running()}

    def views(self, calendar: WorkingCalendar | None, now: datetime) -> list[ClockView]:
        return [
            ClockView(
                name=c.name,
                state="stopped" if not c.running else "paused" if c.paused else "running",
                deadline=c.deadline(calendar) if calendar else None,
                breached=bool(calendar) and c.breached(calendar, now),
                escalation_level=c.escalation_level(),
            )
            for c in self.items
        ]


def _add_extension(clock: Clock, by: Duration, calendar: WorkingCalendar) -> None:
    days = by.whole_working_days if clock.end_of_day else None
    if days is not None:
        clock.extension_days += days
    else:
        clock.extension_seconds += by.seconds(calendar)


# A clock's deadline and milestones are asked for several times per step (the summary, the details, the
# search attributes, the due check, the next timer); remembered process-wide by the clock's content and the
# calendar's, like the calendar's own memo, so no case holds one. Answers shared between cases never change.
_REMEMBERED: dict[tuple[Any, ...], Any] = {}
_REMEMBERED_LIMIT = 4096  # forgotten all at once when full: a memo for the moment, not a store
_UNKNOWN = object()


def _remembered(key: tuple[Any, ...], compute: Callable[[], T]) -> T:
    value = _REMEMBERED.get(key, _UNKNOWN)  # one lookup: another workflow thread may clear it meanwhile
    if value is not _UNKNOWN:
        return value
    value = compute()
    if len(_REMEMBERED) >= _REMEMBERED_LIMIT:
        _REMEMBERED.clear()
    _REMEMBERED[key] = value
    return value


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def working_days_between(calendar: WorkingCalendar, start: datetime, end: datetime) -> float:
    """A duration in (nominal) working days, for reports."""
    return calendar.working_seconds_between(start, end) / calendar.office_seconds_per_day


__all__ = [
    "CaseClocks", "Clock", "ClockError", "ClockName", "ClockRule", "ClockView", "Duration", "Milestone",
    "PENDAMPING_CLOCKS", "Pause", "SlaPolicy", "Urgency", "working_days_between",
]
