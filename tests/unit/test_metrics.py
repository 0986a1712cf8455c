"""casework/metrics.py: which counters an event moves (a table), the gauges read from a real Postgres, the
endpoint, and that no label can carry anything but a reference code."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from datetime import datetime, timezone

import asyncpg
import pytest
from prometheus_client import REGISTRY, CollectorRegistry

from casework import metrics
from casework.metrics import UNKNOWN, AppMetrics, Increment, backlog_values, escalation_level, increments
from tests.conftest import fresh_database

T0 = datetime(2026, 3, 17, 2, 0, tzinfo=timezone.utc)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- pure ----

@pytest.mark.parametrize(("event", "detail", "kecamatan", "category", "expected"), [
    ("received", {}, "Kubutambahan", "penyandang_disabilitas",
     [Increment("cases_opened", (("kecamatan", "Kubutambahan"), ("category", "penyandang_disabilitas")))]),
    # Free text never reaches a label: an unknown kecamatan or category is "unknown".
    ("received", {}, "Ketut Warga, Banjar Dinas Kelodan", "5108081507800001",
     [Increment("cases_opened", (("kecamatan", UNKNOWN), ("category", UNKNOWN)))]),
    ("sla_escalated", {"clock": "acknowledgement", "milestone": "breach", "escalated_to": "head:perlindungan"},
     "Sawan", "anak_telantar",
     [Increment("escalations", (("clock", "acknowledgement"), ("level", "1"))),
      Increment("breaches", (("clock", "acknowledgement"),))]),
    ("sla_escalated", {"clock": "verification", "milestone": "escalation_2"}, "Sawan", "anak_telantar",
     [Increment("escalations", (("clock", "verification"), ("level", "2")))]),
    ("sla_escalated", {"clock": "PD-34 notes", "milestone": "breach"}, "Sawan", "anak_telantar",
     [Increment("escalations", (("clock", UNKNOWN), ("level", "1"))), Increment("breaches", (("clock", UNKNOWN),))]),
    ("sla_warning", {"clock": "acknowledgement", "milestone": "warning_50"}, "Sawan", "anak_telantar", []),
    ("sla_escalated", {"clock": "acknowledgement", "milestone": "warning_80"}, "Sawan", "anak_telantar", []),
    ("assigned", {"pendamping_id": "PD-34"}, "Sawan", "anak_telantar", []),
    ("reopened", {}, "Sawan", "anak_telantar", []),
])
def test_increments(event, detail, kecamatan, category, expected) -> None:
    assert increments(event, detail, kecamatan, category) == expected


@pytest.mark.parametrize(("milestone", "level"), [
    ("breach", 1), ("escalation_2", 2), ("escalation_3", 3), ("warning_50", None), ("escalation_x", None),
    ("escalation_1", None), ("escalation_99", None), (None, None), (2, None),
])
def test_escalation_level(milestone, level) -> None:
    assert escalation_level(milestone) == level


def test_backlog_values_fill_zeros_and_keep_seen_pairs() -> None:
    rows = [{"channel": "email", "status": "pending", "n": 3}, {"channel": "webhook", "status": "failed", "n": 1}]
    values = backlog_values(rows, seen=set())
    assert values[("email", "pending")] == 3 and values[("webhook", "failed")] == 1
    assert values[("email", "sending")] == 0 and len(values) == 6
    # A pair reported before (here an odd channel) drops to 0 instead of freezing.
    assert backlog_values([], seen={(UNKNOWN, "pending")})[(UNKNOWN, "pending")] == 0
    assert backlog_values([{"channel": "fax", "status": "pending", "n": 2}], set())[(UNKNOWN, "pending")] == 2


# ---- the registry ----

def test_metric_names_and_labels() -> None:
    registry = CollectorRegistry()
    AppMetrics(registry)
    labels = {f.name: sorted({k for s in f.samples for k in s.labels}) for f in registry.collect()}
    assert labels == {
        "referral_cases_opened": ["category", "kecamatan"],
        "referral_escalations": ["clock", "level"],
        "referral_breaches": ["clock"],
        "referral_cases_needing_attention": [],
        "referral_outbox_backlog": [],  # no sample before the first refresh
        "referral_gauges_refreshed_timestamp_seconds": [],
    }
    kinds = {f.name: f.type for f in registry.collect()}
    assert kinds["referral_cases_opened"] == kinds["referral_escalations"] == kinds["referral_breaches"] == "counter"
    assert kinds["referral_cases_needing_attention"] == kinds["referral_outbox_backlog"] == "gauge"


def test_observe_event_counts_in_the_registry() -> None:
    registry = CollectorRegistry()
    app = AppMetrics(registry)
    labels = {"kecamatan": "Sawan", "category": "anak_telantar"}
    # Pre-created at zero, so the first increment is visible to rate()/increase().
    assert registry.get_sample_value("referral_cases_opened_total", labels) == 0
    assert registry.get_sample_value("referral_escalations_total", {"clock": "completion", "level": "2"}) == 0
    app.observe_event("received", {}, "Sawan", "anak_telantar")
    app.observe_event("received", {}, "Sawan", "anak_telantar")
    app.observe_event("sla_escalated", {"clock": "acknowledgement", "milestone": "breach"}, "Sawan", "anak_telantar")
    assert registry.get_sample_value("referral_cases_opened_total", labels) == 2
    assert registry.get_sample_value("referral_escalations_total", {"clock": "acknowledgement", "level": "1"}) == 1
    assert registry.get_sample_value("referral_breaches_total", {"clock": "acknowledgement"}) == 1


def test_every_label_value_is_a_reference_code() -> None:
    registry = CollectorRegistry()
    app = AppMetrics(registry)
    app.observe_event("received", {}, "Nama Warga", "alamat rumah")
    allowed = (metrics.known_kecamatan() | set(metrics.reference.categories()) | {c.value for c in metrics.ClockName}
               | {"1", "2", UNKNOWN} | set(metrics.OUTBOX_CHANNELS) | set(metrics.OUTBOX_BACKLOG_STATUSES))
    for family in registry.collect():
        for sample in family.samples:
            assert set(sample.labels.values()) <= allowed, sample


def test_module_functions_use_the_global_registry() -> None:
    labels = {"kecamatan": "Tejakula", "category": "lanjut_usia_telantar"}
    before = REGISTRY.get_sample_value("referral_cases_opened_total", labels)
    metrics.observe_event("received", {}, "Tejakula", "lanjut_usia_telantar")
    assert REGISTRY.get_sample_value("referral_cases_opened_total", labels) == before + 1


# ---- the gauges, from a real Postgres ----

@pytest.fixture(scope="module")
async def pool(admin_url: str):
    async with fresh_database(admin_url, prefix="referral_metrics") as url:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            yield pool
        finally:
            await pool.close()


async def insert_case(conn, complaint_id: str, status: str, needs_attention: str | None) -> None:
    await conn.execute(
        "INSERT INTO complaints (complaint_id, workflow_id, channel, status, village_code, kecamatan, category,"
        " bidang, urgency, reported_at, received_at, needs_attention)"
        " VALUES ($1, $2, 'puskesos', $3, '51.08.08.2010', 'Kubutambahan', 'penyandang_disabilitas',"
        " 'rehabilitasi_sosial', 'normal', $4, $4, $5)",
        complaint_id, f"complaint-{complaint_id}", status, T0, needs_attention)


async def insert_notification(conn, complaint_id: str, key: str, channel: str, status: str) -> None:
    await conn.execute(
        "INSERT INTO notification_outbox (complaint_id, event_key, recipient_id, channel, subject, body,"
        " not_before, status) VALUES ($1, $2, 'PD-01', $3, 's', 'b', $4, $5)",
        complaint_id, key, channel, T0, status)


async def test_refresh_reads_attention_and_backlog(pool) -> None:
    async with pool.acquire() as conn:
        await insert_case(conn, "ADU-M1", "assigned", "open_case: database refused the row")
        await insert_case(conn, "ADU-M2", "rejected", "record_event: sealed note")  # finished: not counted
        await insert_case(conn, "ADU-M3", "assigned", None)
        for i, (channel, status) in enumerate([("email", "pending"), ("email", "pending"), ("webhook", "failed"),
                                                ("email", "sent"), ("webhook", "skipped")]):
            await insert_notification(conn, "ADU-M1", f"k{i}", channel, status)
    registry = CollectorRegistry()
    app = AppMetrics(registry)
    await app.refresh(pool)
    assert registry.get_sample_value("referral_cases_needing_attention") == 1
    backlog = {(s.labels["channel"], s.labels["status"]): s.value
               for f in registry.collect() if f.name == "referral_outbox_backlog" for s in f.samples}
    assert backlog[("email", "pending")] == 2 and backlog[("webhook", "failed")] == 1
    assert backlog[("email", "sending")] == 0 and ("email", "sent") not in backlog
    assert registry.get_sample_value("referral_gauges_refreshed_timestamp_seconds") > 0

    async with pool.acquire() as conn:  # delivered: the pending series drops to 0, it does not freeze
        await conn.execute("UPDATE notification_outbox SET status = 'sent' WHERE status = 'pending'")
    await app.refresh(pool)
    assert registry.get_sample_value("referral_outbox_backlog", {"channel": "email", "status": "pending"}) == 0


async def test_periodic_refresh_survives_a_failure_and_stops(pool) -> None:
    registry = CollectorRegistry()
    app = AppMetrics(registry)
    stop = asyncio.Event()
    # Postgres down (nothing listens on port 1): every refresh fails, is logged and retried, never raised.
    down = await asyncpg.create_pool("postgresql://postgres@127.0.0.1:1/referral", min_size=0, max_size=1)
    task = asyncio.create_task(metrics.refresh_gauges_periodically(down, stop, interval_s=0.05, metrics=app))
    await asyncio.sleep(0.2)
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, 2)
    await down.close()
    assert registry.get_sample_value("referral_gauges_refreshed_timestamp_seconds") == 0

    stop = asyncio.Event()
    task = asyncio.create_task(metrics.refresh_gauges_periodically(pool, stop, interval_s=0.05, metrics=app))
    for _ in range(100):
        if registry.get_sample_value("referral_gauges_refreshed_timestamp_seconds"):
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 2)
    assert registry.get_sample_value("referral_gauges_refreshed_timestamp_seconds") > 0


# ---- the endpoint ----

def test_serve_app_metrics_serves_the_registry_and_stops() -> None:
    registry = CollectorRegistry()
    AppMetrics(registry).observe_event("received", {}, "Banjar", "fakir_miskin")
    port = free_port()
    with metrics.serve_app_metrics(port, registry=registry, host="127.0.0.1") as bound:
        assert bound == port
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert 'referral_cases_opened_total{category="fakir_miskin",kecamatan="Banjar"} 1.0' in body
    assert "referral_outbox_backlog" in body and "temporal_" not in body
    with socket.socket() as sock:  # closed again
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_port_zero_serves_nothing_and_a_bad_or_taken_port_is_named() -> None:
    with metrics.serve_app_metrics(0) as bound:
        assert bound is None
    with pytest.raises(ValueError, match="REFERRAL_APP_METRICS_PORT"):
        with metrics.serve_app_metrics(70000):
            pass
    port = free_port()
    with metrics.serve_app_metrics(port, registry=CollectorRegistry(), host="127.0.0.1"):
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}.*REFERRAL_APP_METRICS_PORT"):
            with metrics.serve_app_metrics(port, registry=CollectorRegistry(), host="127.0.0.1"):
                pass
