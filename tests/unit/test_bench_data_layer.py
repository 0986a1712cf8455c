"""The in-memory data layer of the benchmark's third real variant, and the gap it splits (bench/data_layer.py)."""

from __future__ import annotations

from datetime import date

from bench.data_layer import MemoryRoster, gap


def _variant(per_second: float, worker_ms: float, server_ms: float) -> dict:
    return {"cases_per_second": per_second,
            "cpu_ms_per_case": {"bench_process": worker_ms, "temporal_server": server_ms}}


def test_the_gap_splits_into_the_data_layer_and_the_workflow_beyond_the_twin():
    reports = {"real": _variant(12.0, 66.0, 57.0), "real_without_postgres": _variant(15.0, 53.0, 52.0),
               "twin": _variant(20.0, 40.0, 48.0)}
    assert gap(reports) == {
        "real_to_without_postgres": 0.8, "without_postgres_to_twin": 0.75,
        "data_layer_cpu_ms_per_case": {"bench_process": 13.0, "temporal_server": 5.0},
        "workflow_beyond_twin_cpu_ms_per_case": {"bench_process": 13.0, "temporal_server": 4.0},
    }


def test_no_gap_without_the_in_memory_variant_or_a_missing_cpu_reading():
    assert gap({"real": _variant(12.0, 66.0, 57.0), "twin": _variant(20.0, 40.0, 48.0)}) is None
    reports = {"real": _variant(12.0, 66.0, 57.0), "real_without_postgres": {"cases_per_second": 15.0},
               "twin": _variant(20.0, 40.0, 48.0)}
    assert gap(reports)["data_layer_cpu_ms_per_case"] == {"bench_process": None, "temporal_server": None}


async def test_the_memory_roster_routes_as_the_sample_roster_covers():
    roster = MemoryRoster()
    chosen = await roster.choose_pendamping("51.08.01.2001", date(2026, 3, 17), exclude=[])
    assert (chosen.pendamping_id, chosen.reason) == ("PD-01", "covers_village")
    backup = await roster.choose_pendamping("51.08.01.2001", date(2026, 3, 17), exclude=["PD-01"])
    assert backup.reason == "backup_same_kecamatan"
