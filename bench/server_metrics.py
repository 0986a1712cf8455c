"""The dev server's own Prometheus metrics, read around a phase: how often the server was slow to record a
workflow task as started.

Why this one: Temporal's matching service gives History 1 s to record a sync-matched task as started. When
History commits the start but answers later, matching drops the hand-over and the task reaches no worker: the
history shows WORKFLOW_TASK_STARTED, then WORKFLOW_TASK_TIMED_OUT 10 s later (temporalio/temporal#11733). A
history's timeout is a rare outcome; these slow calls are its cause, counted on every task.
"""

from __future__ import annotations

import asyncio
import re
import urllib.request

RECORD_STARTED = "HistoryClientRecordWorkflowTaskStarted"
SYNC_MATCH_LIMIT_S = "1"  # the server's bucket bound equal to its sync-match limit
_LINE = re.compile(r'^(?P<name>client_(?:latency_bucket|latency_count|errors))\{(?P<labels>[^}]*)\} (?P<value>\S+)$')


def record_started_calls(text: str) -> dict[str, int]:
    """From a /metrics page: matching's calls to record a workflow task started, those over 1 s, and those
    that failed (a deadline, or "already started" for a start History had committed: the dropped hand-over)."""
    calls = within = errors = 0
    kinds: dict[str, int] = {}
    for line in text.splitlines():
        found = _LINE.match(line)
        if not found or f'operation="{RECORD_STARTED}"' not in found["labels"]:
            continue
        value = int(float(found["value"]))
        if found["name"] == "client_latency_count":
            calls += value
        elif found["name"] == "client_errors":
            errors += value
            kind = re.search(r'error_type="([^"]*)"', found["labels"])
            key = "failed:" + (kind.group(1).removeprefix("serviceerror_") if kind else "unknown")
            kinds[key] = kinds.get(key, 0) + value
        elif f'le="{SYNC_MATCH_LIMIT_S}"' in found["labels"]:
            within += value
    return {"calls": calls, "over_1s": calls - within, "failed": errors, **kinds}


def since(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Counts during a phase; a kind of failure seen only during it is counted from zero."""
    return {key: after.get(key, 0) - before.get(key, 0) for key in after}


async def read(url: str | None) -> dict[str, int] | None:
    """The counts now; None when the server's metrics cannot be read (the report says so, nothing fails)."""
    if not url:
        return None
    try:
        text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read().decode())
    except OSError:
        return None
    return record_started_calls(text)
