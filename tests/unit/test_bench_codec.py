"""bench/codec.py (the codec's cost on a case's life), the round order of the two real variants, and the
run's keyring and converters (bench/project.py)."""

from __future__ import annotations

import pytest

from bench import project
from bench.codec import estimated_cpu_ms, lines, overhead, section
from bench.run import arguments, compares_codec
from bench.whole_life import real_order
from casework.keys import KEYS_ENV, KEYS_FILE_ENV, load_keyring
from referral.config import Settings


ENCRYPTED = "binary/encrypted"


def variant(per_second: float, p50: float, cpu: float | None, history: int, failed: int = 0,
            rounds: list[float] | None = None) -> dict:
    return {"cases_per_second": per_second, "cases_per_second_per_round": rounds or [per_second],
            "case_seconds": {"p50": p50}, "cpu_ms_per_case": {"bench_process": cpu, "temporal_server": 20.0},
            "history_bytes": history, "history_payloads": {ENCRYPTED: 40, "json/plain": 10}, "failed": failed}


def test_overhead_is_with_over_without():
    cost = overhead({"real": variant(9.0, 1.2, 130.0, 15_000, rounds=[8.0, 10.0]),
                     "real_without_codec": variant(10.0, 1.0, 120.0, 12_000, 1, rounds=[10.0, 10.0])})
    assert cost["throughput_ratio"] == 0.9 and cost["throughput_ratio_per_round"] == [0.8, 1.0]
    assert cost["latency_ratio_p50"] == 1.2
    assert cost["cpu_ms_per_case_bench_process"] == {"with_codec": 130.0, "without_codec": 120.0, "added": 10.0}
    assert cost["history_size_ratio"] == 1.25
    assert cost["failed"] == {"with_codec": 0, "without_codec": 1}


@pytest.mark.parametrize("whole_life", [
    None, {}, {"real": variant(9.0, 1.0, 1.0, 1)}, {"real_without_codec": variant(9.0, 1.0, 1.0, 1)},
    {"real": variant(9.0, 1.0, 1.0, 1), "real_without_codec": None},
])
def test_overhead_needs_both_real_variants(whole_life):
    assert overhead(whole_life) is None


def test_overhead_leaves_out_what_was_not_measured():
    cost = overhead({"real": variant(9.0, 1.0, None, 1), "real_without_codec": variant(0.0, 1.0, 2.0, 1)})
    assert cost["throughput_ratio"] is None  # nothing finished without the codec: no ratio
    assert cost["cpu_ms_per_case_bench_process"]["added"] is None


def test_section_per_store_and_lines():
    stores = {"file": {"whole_life": {"real": variant(9.0, 1.2, 130.0, 15_000),
                                      "real_without_codec": variant(10.0, 1.0, 120.0, 12_000)}},
              "memory": {"whole_life": {"real": variant(9.0, 1.2, 130.0, 15_000)}}, "other": {"intake": {}}}
    micro = {"payloads": 6, "encrypted": 6, "encode_us_per_payload": 9.5, "decode_us_per_payload": 8.0, "size_ratio": 1.1}
    report = section("casework.codec.KeyringCodec", stores, micro, ENCRYPTED)
    assert set(report["whole_life"]) == {"file", "memory"} and report["whole_life"]["memory"] is None
    assert report["whole_life"]["file"]["estimated_cpu_ms_per_case"] == 0.7  # 40 payloads x 17.5 µs
    printed = lines(report)
    assert printed[0].startswith("codec [file]: whole life with/without 0.9x (9.0/s vs 10.0/s; per round 0.9)")
    assert "(+10.0 ms), estimated 0.7 ms" in printed[0] and printed[1].startswith("codec [memory]: whole life not compared")
    assert printed[2] == "codec per payload: encode 9.5 µs, decode 8.0 µs, size x1.1 (6 payloads, 6 encrypted)"


@pytest.mark.parametrize("payloads, micro, expected", [
    ({ENCRYPTED: 100, "json/plain": 7}, {"encode_us_per_payload": 6.0, "decode_us_per_payload": 4.0}, 1.0),
    ({"json/plain": 7}, {"encode_us_per_payload": 6.0, "decode_us_per_payload": 4.0}, 0.0),  # without the codec
    (None, {"encode_us_per_payload": 6.0}, None), ({ENCRYPTED: 100}, None, None),
])
def test_estimated_cpu_counts_each_encrypted_payload_once_each_way(payloads, micro, expected):
    assert estimated_cpu_ms(payloads, ENCRYPTED, micro) == expected


@pytest.mark.parametrize("codec, expected", [
    (None, ["codec: not measured"]),
    ({"codec": None, "whole_life": {}, "per_payload": None}, ["codec: off for this run (--no-codec)"]),
    ({"codec": "x", "whole_life": {"file": None}, "whole_life_skipped": "--no-codec-comparison", "per_payload": None},
     ["codec: whole-life comparison skipped (--no-codec-comparison)"]),
])
def test_lines_say_why_a_number_is_missing(codec, expected):
    assert lines(codec) == expected


@pytest.mark.parametrize("round_number, variants, expected", [
    (0, ["real", "real_without_codec"], ["real", "real_without_codec"]),
    (1, ["real", "real_without_codec"], ["real_without_codec", "real"]),
    (2, ["real", "real_without_codec"], ["real", "real_without_codec"]),
    (1, ["real"], ["real"]),
    (1, ["real", "real_without_codec", "real_without_postgres"], ["real_without_codec", "real_without_postgres", "real"]),
    (2, ["real", "real_without_codec", "real_without_postgres"], ["real_without_postgres", "real", "real_without_codec"]),
])
def test_the_real_variants_take_turns_going_first(round_number, variants, expected):
    assert real_order(round_number, variants) == expected


@pytest.mark.parametrize("flags, expected", [([], True), (["--no-codec"], False), (["--no-codec-comparison"], False)])
def test_the_comparison_runs_unless_told_not_to(flags, expected):
    assert compares_codec(arguments(flags)) is expected


def test_the_run_keyring_reaches_the_data_layer_and_the_codec(monkeypatch):
    monkeypatch.setenv(KEYS_ENV, "stale")
    monkeypatch.setenv(KEYS_FILE_ENV, "/etc/referral/keys")  # a real key file is set aside, never read
    keyring = project.run_keyring()
    project.use_keyring(keyring)
    assert load_keyring(Settings(), dev=False).ids == keyring.ids == ("bench-old", "bench-new")
    converter = project.codec_converter(keyring)
    assert converter.payload_codec.keyring == keyring
    plain = project.without_codec(converter)
    assert plain.payload_codec is None and type(plain.failure_converter) is type(converter.failure_converter)
    assert project.codec_description(converter) == "casework.codec.KeyringCodec"
    assert project.codec_description(plain) is None


async def test_the_micro_benchmark_encrypts_every_sample_payload():
    converter = project.codec_converter(project.run_keyring())
    measured = await project.codec_per_payload(converter, rounds=2)
    assert measured["payloads"] == measured["encrypted"] == 6
    assert measured["size_ratio"] > 1
