"""Wait for the next SLA milestone, or for anything that may move it.

Like samples-python's `updatable_timer`: the deadline is recomputed by the caller on every loop, so a
pause, an extension or a closure that arrives while we wait simply wakes us to look again.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Callable

from temporalio import workflow


# A timer never shorter than this, so a deadline a moment away still gets a task of its own.
SHORTEST_TIMER = timedelta(milliseconds=100)


async def until_due_or_changed(due: datetime | None, changed: Callable[[], bool], summary: str | None,
                               counting_from: datetime | None = None) -> bool:
    """Sleep until `due` (forever if None) unless `changed()` becomes true first. True if `due` came.

    `counting_from`: when the timer really starts, if this workflow task has run long past workflow.now()
    (its local activities took a while): a timer of `due - workflow.now()` would fire that much late."""
    now = workflow.now()
    if due is not None and due <= now:
        return True
    timeout = None if due is None else max(due - max(now, counting_from or now), SHORTEST_TIMER)
    try:
        await workflow.wait_condition(changed, timeout=timeout, timeout_summary=summary)
    except asyncio.TimeoutError:
        return True
    return False
