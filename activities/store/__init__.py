"""The data layer: every SQL statement of the project lives in this package.

One repository per concern, each over the one asyncpg pool, each returning models: `cases` (case rows,
events, intake), `roster`, `reference`, `outbox`, `reports` and `access` (API credentials and the record
of personal-data reads). Only activities, the worker, the API and operator commands import it; the
workflow and the client side never do.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

import asyncpg
import structlog

from activities.store.access import AccessStore
from activities.store.cases import CaseStore, ReferralStore
from activities.store.outbox import OutboxStore
from activities.store.reference import ReferenceStore
from activities.store.reports import ReportStore
from activities.store.roles import DatabaseRoles
from activities.store.roster import RosterStore
from activities.store.schema import connect, migrate
from referral import reference

log = structlog.get_logger(__name__)


class Store:
    """The repositories over one pool."""

    def __init__(self, pool: asyncpg.Pool, roles: DatabaseRoles | None = None) -> None:
        self.pool = pool
        self.roles = roles  # set on the owner's store (DATABASE_ADMIN_URL): least privilege
        self.cases = CaseStore(pool)
        self.referrals = ReferralStore(pool)
        self.roster = RosterStore(pool)
        self.reference = ReferenceStore(pool)
        self.reports = ReportStore(pool)
        self.outbox = OutboxStore(pool)
        self.access = AccessStore(pool)

    async def migrate(self) -> list[str]:
        return await migrate(self.pool, self.roles)


@asynccontextmanager
async def open_store(url: str | None, prepare: bool = False, roster_file: str | None = None,
                     piket_file: str | None = None, min_size: int = 1, max_size: int = 10,
                     roles: DatabaseRoles | None = None) -> AsyncIterator[Store]:
    """A store over a new pool; with `prepare`, migrations applied, reference data and a roster loaded
    (the roster file if one is given, else the sample roster into an empty database). With `roles` the URL is
    DATABASE_ADMIN_URL's: migrations run as roles.owner and grant roles.runtime (activities/store/roles.py)."""
    if not url:
        raise RuntimeError("DATABASE_URL is not set (or run `python worker.py --dev` for an embedded Postgres)")
    pool = await connect(url, min_size=min_size, max_size=max_size)
    try:
        store = Store(pool, roles)
        if prepare:
            await store.migrate()
            await store.reference.load()
            if roster_file or not await store.roster.has_roster():
                roster = reference.load_roster(roster_file)
                await store.roster.replace_roster(roster)
                log.info("roster loaded", source=roster_file or "sample", pendamping=len(roster.pendamping()))
            if piket_file or not await store.roster.has_piket():
                shifts = await store.roster.replace_piket(reference.load_piket(piket_file))
                log.info("piket rota loaded", source=piket_file or "sample", shifts=shifts)
        yield store
    finally:
        await pool.close()


__all__ = ["DatabaseRoles", "Store", "connect", "migrate", "open_store"]
