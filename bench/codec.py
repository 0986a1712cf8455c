"""The payload codec's cost on a case's life: the issue's "ratio with and without it in the same run". Pure.

In production every payload (workflow input, updates and their results, activity arguments and results,
queries, failures) goes through the project's payload codec. The whole-life phase runs the real case with
it and, in the same rounds, on a second worker whose client has the same converter minus the codec
(bench/whole_life.py). `overhead` turns the two variants into the codec's cost: throughput with / without
(1.0: free), the case's latency, the CPU a case adds in this process (the worker and the client both
encode and decode here) and what its history weighs. On 2 shared cores a small run's ratio is mostly
noise (see the per-round ratios); `estimated_cpu_ms` gives the floor the micro-benchmark implies: each
encrypted payload of the history encoded once and decoded once. `section` is the report's `codec` part,
`lines` its summary for a reader. The micro-benchmark comes from `bench.project.codec_per_payload`.
"""

from __future__ import annotations

from typing import Any

from bench.stats import ratio

WITH, WITHOUT = "real", "real_without_codec"


def _pair(with_codec: Any, without_codec: Any) -> dict[str, Any]:
    return {"with_codec": with_codec, "without_codec": without_codec}


def _get(data: dict[str, Any] | None, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def overhead(whole_life: dict[str, Any] | None) -> dict[str, Any] | None:
    """The codec's cost from one store's whole-life report; None when both real variants did not run."""
    with_codec, without_codec = _get(whole_life, WITH), _get(whole_life, WITHOUT)
    if not with_codec or not without_codec:
        return None
    per_second = [v.get("cases_per_second") for v in (with_codec, without_codec)]
    p50 = [_get(v, "case_seconds", "p50") for v in (with_codec, without_codec)]
    cpu = [_get(v, "cpu_ms_per_case", "bench_process") for v in (with_codec, without_codec)]
    server_cpu = [_get(v, "cpu_ms_per_case", "temporal_server") for v in (with_codec, without_codec)]
    size = [v.get("history_bytes") for v in (with_codec, without_codec)]
    rounds = zip(with_codec.get("cases_per_second_per_round") or [], without_codec.get("cases_per_second_per_round") or [])
    return {
        "cases_per_second": _pair(*per_second),
        "throughput_ratio": ratio(*per_second),  # with / without: below 1.0 is the codec's cost
        "throughput_ratio_per_round": [ratio(a, b) for a, b in rounds],
        "case_seconds_p50": _pair(*p50),
        "latency_ratio_p50": ratio(*p50),
        "cpu_ms_per_case_bench_process": {**_pair(*cpu), "added": (
            round(cpu[0] - cpu[1], 1) if None not in cpu else None)},
        "cpu_ms_per_case_temporal_server": _pair(*server_cpu),
        "history_bytes": _pair(*size),
        "history_size_ratio": ratio(*size),
        "history_payloads": _pair(with_codec.get("history_payloads"), without_codec.get("history_payloads")),
        "failed": _pair(with_codec.get("failed"), without_codec.get("failed")),
    }


def estimated_cpu_ms(payloads: dict[str, int] | None, encrypted_encoding: str,
                     per_payload: dict[str, Any] | None) -> float | None:
    """The codec's CPU per case the micro-benchmark implies: every encrypted payload of a case's history
    encoded once and decoded once (a floor: a cache miss decodes the history again)."""
    if not payloads or not per_payload:
        return None
    each_us = (per_payload.get("encode_us_per_payload") or 0) + (per_payload.get("decode_us_per_payload") or 0)
    return round(payloads.get(encrypted_encoding, 0) * each_us / 1000, 2)


def section(converter: str | None, stores: dict[str, Any], per_payload: dict[str, Any] | None,
            encrypted_encoding: str, skipped: str | None = None) -> dict[str, Any]:
    """report["codec"]: which codec ran, its cost per store's whole life, and per payload."""
    whole_life: dict[str, Any] = {}
    for store, phases in stores.items():
        if phases.get("whole_life"):
            cost = whole_life[store] = overhead(phases["whole_life"])
            if cost is not None:
                cost["estimated_cpu_ms_per_case"] = estimated_cpu_ms(
                    cost["history_payloads"]["with_codec"], encrypted_encoding, per_payload)
    return {"codec": converter, "whole_life": whole_life, "whole_life_skipped": skipped, "per_payload": per_payload}


def lines(codec: dict[str, Any] | None) -> list[str]:
    """The codec's numbers for the summary on stderr."""
    if not codec:
        return ["codec: not measured"]
    if not codec.get("codec"):
        return ["codec: off for this run (--no-codec)"]
    out = []
    for store, cost in (codec.get("whole_life") or {}).items():
        if cost is None:
            if not codec.get("whole_life_skipped"):
                out.append(f"codec [{store}]: whole life not compared (a variant did not run: see the store's report)")
            continue
        speed, cpu = cost["cases_per_second"], cost["cpu_ms_per_case_bench_process"]
        added = "" if cpu["added"] is None else f" ({cpu['added']:+} ms)"
        out.append(f"codec [{store}]: whole life with/without {cost['throughput_ratio']}x "
                   f"({speed['with_codec']}/s vs {speed['without_codec']}/s; per round "
                   f"{', '.join(str(r) for r in cost.get('throughput_ratio_per_round') or [])}), "
                   f"CPU per case {cpu['with_codec']} vs {cpu['without_codec']} ms{added}, estimated "
                   f"{cost.get('estimated_cpu_ms_per_case')} ms, history x{cost['history_size_ratio']}")
    if codec.get("whole_life_skipped"):
        out.append(f"codec: whole-life comparison skipped ({codec['whole_life_skipped']})")
    micro = codec.get("per_payload")
    if micro:
        out.append(f"codec per payload: encode {micro.get('encode_us_per_payload')} µs, decode "
                   f"{micro.get('decode_us_per_payload')} µs, size x{micro.get('size_ratio')} "
                   f"({micro.get('payloads')} payloads, {micro.get('encrypted')} encrypted)")
    return out
