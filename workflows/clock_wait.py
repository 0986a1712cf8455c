"""Wait for the next SLA milestone, or for anything that may move it.

Like samples-python's `updatable_timer`: the deadline is recomputed by the caller on every loop, so a
pause, an extension or a closure that arrives while we wait simply wakes us to look again.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Callable

from temporalio import workflow


async def until_due_or_changed(due: datetime | None, changed: Callable[[], bool], summary: str | None) -> bool:
    """Sleep until `due` (forever if None) unless `changed()` becomes true first. True if `due` came."""
    if due is not None and due <= workflow.now():
        return True
    timeout = None if due is None else due - workflow.now()
    try:
        await workflow.wait_condition(changed, timeout=timeout, timeout_summary=summary)
    except asyncio.TimeoutError:
        return True
    return False
