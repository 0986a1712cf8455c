"""The project's own Prometheus metrics: cases, escalations, breaches, attention and the outbox.

The Temporal SDK's metrics (`temporal_*`: task latencies, slots, sticky cache) come from the SDK's Rust
runtime on REFERRAL_METRICS_PORT (casework/runtime.py). These are served by prometheus_client on a second
port, REFERRAL_APP_METRICS_PORT (default 9465). Two ports on purpose: the SDK's exporter lives inside the
Core runtime and cannot take prometheus_client collectors, and bridging one into the other (the SDK's
MetricBuffer, or proxying one endpoint through the other) would add work on the worker's hot path or tie
one endpoint's failure to the other's. Prometheus scrapes both ports of the pod (deploy/README.md).

    observe_event(event, detail, kecamatan, category)   # from the activities, once per newly recorded event
    await refresh_gauges(pool)                          # or: refresh_gauges_periodically(pool, stop)
    with serve_app_metrics(port): ...

Labels carry reference codes only (kecamatan, PPKS category, clock, level, channel, status); a value that is
not one of the known codes becomes "unknown", so nothing a person typed can reach a label.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator, Mapping

import structlog
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, start_http_server

from referral import reference
from referral.models import FINISHED_STATUSES
from referral.sla import ClockName

log = structlog.get_logger(__name__)

DEFAULT_PORT = 9465
GAUGE_REFRESH_S = 30.0
UNKNOWN = "unknown"
ESCALATION_LEVELS = (1, 2)  # head of bidang, kepala dinas: pre-created so a first escalation is not lost
OUTBOX_CHANNELS = ("email", "webhook")  # notification_outbox.channel
OUTBOX_BACKLOG_STATUSES = ("pending", "sending", "failed")  # undelivered; sent and skipped are done

# SQL for the gauges; these move to the data layer (activities/store) later.
NEEDING_ATTENTION_SQL = """
SELECT count(*) FROM complaints
WHERE needs_attention IS NOT NULL AND status <> ALL($1::text[])
"""
OUTBOX_BACKLOG_SQL = """
SELECT channel, status, count(*) AS n FROM notification_outbox
WHERE status = ANY($1::text[])
GROUP BY channel, status
"""


# ---- pure: which counters an event moves ----

@dataclass(frozen=True)
class Increment:
    counter: str  # "cases_opened" | "escalations" | "breaches"
    labels: tuple[tuple[str, str], ...]


@lru_cache(maxsize=1)
def known_kecamatan() -> frozenset[str]:
    return frozenset(v.kecamatan for v in reference.villages().values())


CLOCKS = frozenset(c.value for c in ClockName)


def _known(value: object, allowed: frozenset[str] | Mapping[str, Any]) -> str:
    return value if isinstance(value, str) and value in allowed else UNKNOWN


def _clock(detail: Mapping[str, Any]) -> str:
    return _known(detail.get("clock"), CLOCKS)


def escalation_level(milestone: object) -> int | None:
    """'breach' -> 1, 'escalation_2' -> 2 (referral/sla.py milestone keys); None for warnings and the rest."""
    if milestone == "breach":
        return 1
    if isinstance(milestone, str) and milestone.startswith("escalation_"):
        number = milestone.removeprefix("escalation_")
        return int(number) if number.isdigit() and 1 < int(number) < 10 else None
    return None


def increments(event: str, detail: Mapping[str, Any], kecamatan: str, category: str) -> list[Increment]:
    """The counter increments one recorded case event makes (none for most events)."""
    if event == "received":
        labels = (("kecamatan", _known(kecamatan, known_kecamatan())),
                  ("category", _known(category, reference.categories())))
        return [Increment("cases_opened", labels)]
    if event == "sla_escalated":
        level = escalation_level(detail.get("milestone"))
        if level is None:
            return []
        clock = _clock(detail)
        out = [Increment("escalations", (("clock", clock), ("level", str(level))))]
        if level == 1:  # the deadline itself: the clock breached
            out.append(Increment("breaches", (("clock", clock),)))
        return out
    return []


def backlog_values(rows: list[Mapping[str, Any]], seen: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """(channel, status) -> count, zero for every known pair and every pair reported before, so a series
    that empties drops to 0 instead of freezing at its last value."""
    values = {(c, s): 0 for c in OUTBOX_CHANNELS for s in OUTBOX_BACKLOG_STATUSES}
    values.update({pair: 0 for pair in seen})
    for row in rows:
        channel = _known(row["channel"], frozenset(OUTBOX_CHANNELS))
        status = _known(row["status"], frozenset(OUTBOX_BACKLOG_STATUSES))
        values[(channel, status)] = values.get((channel, status), 0) + int(row["n"])
    return values


# ---- the metrics ----

class AppMetrics:
    """The metric objects, in one registry (prometheus_client's global one by default; tests pass their own)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self.counters = {
            "cases_opened": Counter(
                "referral_cases_opened", "Cases opened (intake recorded), by kecamatan and PPKS category.",
                ["kecamatan", "category"], registry=registry),
            "escalations": Counter(
                "referral_escalations",
                "SLA escalations by clock and level (1: head of bidang at the deadline, 2: kepala dinas).",
                ["clock", "level"], registry=registry),
            "breaches": Counter(
                "referral_breaches", "SLA clocks that passed their deadline, by clock.", ["clock"], registry=registry),
        }
        self.needing_attention = Gauge(
            "referral_cases_needing_attention",
            "Open cases whose data step failed for good and waits for a supervisor (retry or reject).",
            registry=registry)
        self.outbox_backlog = Gauge(
            "referral_outbox_backlog", "Undelivered notifications by channel and status (pending, sending, failed).",
            ["channel", "status"], registry=registry)
        self.gauges_refreshed = Gauge(
            "referral_gauges_refreshed_timestamp_seconds",
            "When the gauges were last read from Postgres (Unix time); stale means the refresher is stuck.",
            registry=registry)
        self._backlog_seen: set[tuple[str, str]] = set()
        self._precreate()

    def _precreate(self) -> None:
        # A series that appears with its first increment hides that increment from rate()/increase().
        clocks = sorted(CLOCKS)
        for kecamatan in sorted(known_kecamatan()):
            for category in reference.categories():
                self.counters["cases_opened"].labels(kecamatan=kecamatan, category=category)
        for clock in clocks:
            self.counters["breaches"].labels(clock=clock)
            for level in ESCALATION_LEVELS:
                self.counters["escalations"].labels(clock=clock, level=str(level))

    def observe_event(self, event: str, detail: Mapping[str, Any], kecamatan: str, category: str) -> None:
        for inc in increments(event, detail, kecamatan, category):
            self.counters[inc.counter].labels(**dict(inc.labels)).inc()

    async def refresh(self, pool) -> None:
        """Read the gauges' values from Postgres (two small queries)."""
        finished = [s.value for s in FINISHED_STATUSES]
        async with pool.acquire() as conn:
            attention = await conn.fetchval(NEEDING_ATTENTION_SQL, finished)
            rows = await conn.fetch(OUTBOX_BACKLOG_SQL, list(OUTBOX_BACKLOG_STATUSES))
        self.needing_attention.set(attention)
        values = backlog_values([dict(r) for r in rows], self._backlog_seen)
        for (channel, status), count in values.items():
            self.outbox_backlog.labels(channel=channel, status=status).set(count)
        self._backlog_seen = set(values)
        self.gauges_refreshed.set(time.time())


METRICS = AppMetrics()


def observe_event(event_name: str, detail: dict, kecamatan: str, category: str) -> None:
    """Count one newly recorded case event (call it once per event, not on a retried duplicate)."""
    METRICS.observe_event(event_name, detail, kecamatan, category)


async def refresh_gauges(pool) -> None:
    await METRICS.refresh(pool)


async def refresh_gauges_periodically(pool, stop: asyncio.Event, interval_s: float = GAUGE_REFRESH_S,
                                      metrics: AppMetrics | None = None) -> None:
    """Refresh the gauges every `interval_s` until `stop` is set; a failed refresh is logged and retried."""
    metrics = metrics or METRICS
    while not stop.is_set():
        try:
            await metrics.refresh(pool)
        except Exception as exc:  # noqa: BLE001 - a metrics read must never stop the worker
            log.warning("metrics gauges not refreshed", error=type(exc).__name__)
        try:
            await asyncio.wait_for(stop.wait(), interval_s)
        except asyncio.TimeoutError:
            pass


@contextmanager
def serve_app_metrics(port: int, registry: CollectorRegistry = REGISTRY, host: str = "0.0.0.0") -> Iterator[int | None]:
    """Serve `registry` at http://host:port/metrics until the block exits; port 0 serves nothing."""
    if port == 0:
        yield None
        return
    if not 0 < port < 65536:
        raise ValueError(f"REFERRAL_APP_METRICS_PORT must be 0 (off) or a TCP port, got {port}")
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise OSError(exc.errno, f"the app metrics endpoint cannot listen on {host}:{port}: {exc.strerror}"
                                 " (set REFERRAL_APP_METRICS_PORT, 0 turns it off)") from None
    log.info("app metrics listening", port=port)
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
