"""A few hundred generated intakes through `starter.py submit` on the dev server (issue 8's "done when").

The documents come from the same hypothesis strategies as tests/unit/test_intake_fuzz.py (control
characters, huge and empty strings, odd Unicode, impossible NIK dates, far past and future dates, extra fields),
written to files and sent in ONE `starter.py submit f1 f2 …` run. Every one is either refused, its file and
field named on stderr (exit code 2), or answered `assigned`: none starts a case that then stalls.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings, strategies as st

from referral.intake import IntakeError, parse_intake
from tests.conftest import running_worker, task_queue
from tests.integration.test_starter_end_to_end import astarter
from tests.unit import test_intake_fuzz as fuzz

COUNT = 300


def generated(count: int) -> list[object]:
    """`count` documents drawn from the fuzz strategies (reproducible): half well-formed (odd characters
    inside good text), half corrupted (wrong values and types, extra fields, missing ones)."""
    drawn: list[object] = []

    @settings(max_examples=count, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.one_of(fuzz.documents(corrupt=False), fuzz.documents()))
    def draw(document: tuple[object, list[str]]) -> None:
        drawn.append(document[0])

    draw()
    return drawn[:count]


def moved_to_now(document: object, i: int, now: datetime) -> str:
    """The document as a file's text, its `reported_at` moved from the fuzz test's fixed NOW to today (the
    starter judges the window against the real clock), and its own sender reference."""
    raw = document.decode() if isinstance(document, bytes) else document
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return raw
    if not isinstance(parsed, dict):
        return raw if isinstance(raw, str) else json.dumps(parsed)
    parsed = dict(parsed)
    try:
        parsed["reported_at"] = (now + (datetime.fromisoformat(parsed["reported_at"]) - fuzz.NOW)).isoformat()
    except (KeyError, TypeError, ValueError, OverflowError):
        pass
    if isinstance(parsed.get("external_ref"), str):
        parsed["external_ref"] = f"gen-{i}-{parsed['external_ref'][:40]}"
    return json.dumps(parsed)


async def test_generated_intakes_are_refused_naming_the_field_or_reach_assigned(dev_env, db, db_url, tmp_path):
    documents = generated(COUNT)
    now = datetime.now(timezone.utc)
    paths, expected_ok = [], set()
    for i, document in enumerate(documents):
        path = tmp_path / f"intake-{i:03d}.json"
        text = moved_to_now(document, i, now)
        path.write_bytes(text.encode("utf-8", "surrogatepass"))  # a lone surrogate makes a non-UTF-8 file
        paths.append(str(path))
        try:
            parse_intake(text, now=now)
            expected_ok.add(str(path))
        except IntakeError:
            pass
    queue = task_queue()
    env = {**os.environ, "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
           "REFERRAL_TASK_QUEUE": queue, "DATABASE_URL": db_url}
    async with running_worker(dev_env.client, db, queue):
        began = time.monotonic()
        result = await astarter(env, "submit", *paths, timeout=600)  # a few hundred cases in one run
        print(f"{len(paths)} generated intakes through starter.py submit in {time.monotonic() - began:.1f} s")
    answered = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    refused_files = {line.split(": ", 1)[0] for line in result.stderr.splitlines() if line.startswith(str(tmp_path))}
    assert {a["file"] for a in answered} == expected_ok  # every valid intake answered ...
    assert {a["status"] for a in answered} <= {"assigned", "joined"}  # ... and assigned (or joined an open case)
    assert refused_files == set(paths) - expected_ok  # every other one refused, its file named
    for line in result.stderr.splitlines():  # each refusal: the file, then the field path, then the problem
        if line.startswith(str(tmp_path)):
            assert len(line.split(": ", 2)) == 3, line
    assert result.returncode == (2 if refused_files else 0)
    assert len(expected_ok) >= 20 and len(refused_files) >= 100, (len(expected_ok), len(refused_files))
