"""Share equal, never-changed parts of cases' set-ups between the cases a worker holds in memory.

Each open case keeps the SLA policy, the working-day calendar and the catalogues it runs under. Thousands of
cases hold the same few versions of them: sharing one object per version keeps a cached case small. Pure and
deterministic (an equal object is returned, never a different value); the objects are never changed in place:
a policy or calendar change replaces the set-up's part.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, TypeVar

T = TypeVar("T")
_KEPT = 64
_shared: OrderedDict[tuple[str, str], Any] = OrderedDict()


def share(kind: str, key: str, value: T) -> T:
    """The object already held for (kind, key) if it equals `value`, else `value` (now held)."""
    found = _shared.get((kind, key))
    if found is not None and found == value:
        _shared.move_to_end((kind, key))
        return found
    _shared[(kind, key)] = value
    if len(_shared) > _KEPT:
        _shared.popitem(last=False)
    return value
