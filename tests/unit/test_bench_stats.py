"""bench/stats.py and the other pure helpers of the load benchmark."""

from __future__ import annotations

import pytest

from bench.memory import proc_status_rss, settled_rss, slope_kib
from bench.profile import component, parse_raw, summarise
from bench.stats import percentile, ratio, summary
from bench.storm import deadlines, lead_for, once_counts
from bench.whole_life import rounds_of


@pytest.mark.parametrize("values, q, expected", [
    ([], 50, None),
    ([7.0], 99, 7.0),
    ([1, 2, 3, 4, 5], 50, 3),
    ([1, 2], 50, 1.5),
    (list(range(1, 101)), 99, 99.01),
    ([5, 1, 3], 50, 3),  # unsorted input
])
def test_percentile(values, q, expected):
    assert percentile(values, q) == pytest.approx(expected) if expected is not None else percentile(values, q) is None


@pytest.mark.parametrize("q", [0, 100, -1])
def test_percentile_refuses_q_outside_1_to_99(q):
    with pytest.raises(ValueError, match="q must be between 1 and 99"):
        percentile([1, 2], q)


def test_summary_scales_and_rounds():
    assert summary([0.1, 0.2, 0.3], scale=1000) == {"count": 3, "p50": 200.0, "p99": 298.0, "max": 300.0}
    assert summary([]) == {"count": 0, "p50": None, "p99": None, "max": None}


@pytest.mark.parametrize("numerator, denominator, expected", [
    (6.0, 12.0, 0.5), (None, 3.0, None), (3.0, None, None), (3.0, 0.0, None), (1.0, 3.0, 0.333),
])
def test_ratio(numerator, denominator, expected):
    assert ratio(numerator, denominator) == expected


@pytest.mark.parametrize("cases, rounds, expected", [
    (300, 3, [100, 100, 100]), (10, 3, [4, 3, 3]), (2, 3, [1, 1]), (5, 0, [5]),
])
def test_rounds_of(cases, rounds, expected):
    assert rounds_of(cases, rounds) == expected


def test_deadlines_spread_evenly_inside_the_window():
    due = deadlines(1000.0, 60.0, 4)
    assert due == [1007.5, 1022.5, 1037.5, 1052.5]
    assert all(1000.0 <= d < 1060.0 for d in deadlines(1000.0, 60.0, 1000))


def test_lead_leaves_room_for_creation_at_the_measured_rate():
    assert lead_for(1000, 10.0) == pytest.approx(5 + 1000 / 7)
    assert lead_for(5000, 10.0) > lead_for(1000, 10.0) > lead_for(1000, 20.0)
    assert lead_for(100, 0.0) == pytest.approx(5 + 100 / 0.35)  # a stalled measurement still gives a lead


def test_once_counts():
    per_case = {"a": 1, "b": 2, "c": 3, "d": 1}
    assert once_counts(per_case, ["a", "b", "c", "d", "e"]) == {"exactly_once": 2, "never": 1, "more_than_once": 2}


def test_proc_status_rss_reads_vmrss_in_bytes():
    status = "Name:\tpython\nVmPeak:\t  900 kB\nVmRSS:\t  123456 kB\nThreads:\t4\n"
    assert proc_status_rss(status) == 123456 * 1024
    with pytest.raises(ValueError, match="no VmRSS"):
        proc_status_rss("Name:\tpython\n")


def test_slope_kib_fits_the_readings():
    assert slope_kib([(0, 100 * 1024), (10, 200 * 1024), (20, 300 * 1024)]) == pytest.approx(10.0)
    assert slope_kib([(0, 1)]) is None
    assert slope_kib([(5, 1), (5, 2)]) is None


def test_profile_summary_by_component_and_project_function():
    raw = [
        "run (temporalio/worker/_workflow_instance.py);_act (workflows/complaint.py);deadline (referral/sla.py) 3",
        "run (temporalio/worker/_workflow_instance.py);validate_json (pydantic/type_adapter.py) 1",
        "garbage without a count",
    ]
    samples = parse_raw(raw)
    assert len(samples) == 2
    summary_ = summarise(samples)
    assert summary_["samples"] == 4
    assert summary_["percent_by_component"] == {"project": 75.0, "pydantic": 25.0}
    assert ["_act (workflows/complaint.py)", 75.0] in summary_["top_project_inclusive_percent"]


@pytest.mark.parametrize("frame, expected", [
    ("main (worker.py)", "project"),
    ("poll (temporalio/bridge/worker.py)", "temporalio"),
    ("_run_code (temporalio/worker/workflow_sandbox/_runner.py)", "temporalio sandbox"),
    ("_call_with_frames_removed (<frozen importlib._bootstrap>)", "imports (the sandbox loads modules per case)"),
    ("fetch (asyncpg/connection.py)", "asyncpg"),
    ("encrypt (casework/codec.py)", "payload codec"),
    ("encrypt (cryptography/hazmat/primitives/ciphers/aead.py)", "payload codec"),
    ("mystery", "other"),
])
def test_component(frame, expected):
    assert component(frame) == expected


def test_a_settled_reading_records_how_long_its_full_collection_took():
    durations: list[float] = []
    assert settled_rss(durations) > 0 and settled_rss() > 0
    assert len(durations) == 1 and durations[0] >= 0
