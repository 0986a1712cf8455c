"""Temporary shim while the outbox's tests move to activities.store (removed before this lands)."""

from __future__ import annotations

from activities.store import Store
from activities.store.schema import connect

Database = Store

__all__ = ["Database", "connect"]
