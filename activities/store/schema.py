"""The pool and the migrations: applied in order at start-up, under an advisory lock.

With `roles` (least privilege, activities/store/roles.py: the pool is DATABASE_ADMIN_URL's) the migrations
run as the owner role, so it owns every object, and the runtime role's grants are applied afterwards. Without
them, as whoever the pool logs in as (one role does everything). The runtime role may call `migrate` too: with
nothing pending it only reads schema_migrations; with something pending it gets a MigrationError that says to
migrate with the owner role.
"""

from __future__ import annotations

import json
from importlib import resources

import asyncpg
import structlog

from activities.store.roles import DatabaseRoles, acting_as_owner, grant_runtime

log = structlog.get_logger(__name__)
_MIGRATION_LOCK = 0x42554C454C454E47  # "BULELENG": one migrator at a time across workers


class MigrationError(RuntimeError):
    """A pending migration the connected role may not apply."""


async def connect(url: str, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    async def init(conn: asyncpg.Connection) -> None:
        await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")

    return await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, init=init, reset=_keep_session)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset of a released connection: nothing beyond what asyncpg always does (roll back an open
    transaction). Its default also runs `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`,
    one more round trip for every use, to undo session state this project never leaves behind: its locks are
    transaction-scoped except the migration lock, released in a `finally` like the owner role's `RESET ROLE`,
    it holds no cursor past a transaction, listens to nothing and sets no session variable."""


def migration_files() -> list[tuple[str, str]]:
    """(file name, SQL) of every migration, in the order they apply."""
    return sorted(
        (f.name, f.read_text(encoding="utf-8"))
        for f in resources.files("activities.sql").iterdir()
        if f.name.endswith(".sql")
    )


async def migrate(pool: asyncpg.Pool, roles: DatabaseRoles | None = None) -> list[str]:
    """Apply pending migrations in order; safe when several workers start at once."""
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            async with acting_as_owner(conn, roles):
                applied = await _apply_pending(conn)
                if roles is not None:
                    await grant_runtime(conn, roles)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    if applied:
        log.info("migrations applied", versions=applied)
    return applied


async def migrate_database(url: str, roles: DatabaseRoles | None = None) -> list[str]:
    """`migrate` over a connection of its own (deploy/migrate.py, the worker's start with DATABASE_ADMIN_URL)."""
    pool = await connect(url, min_size=1, max_size=1)
    try:
        return await migrate(pool, roles)
    finally:
        await pool.close()


async def _apply_pending(conn: asyncpg.Connection) -> list[str]:
    applied: list[str] = []
    step = "schema_migrations"
    try:
        # Checked before creating: CREATE ... IF NOT EXISTS needs CREATE on the schema even when the table is there.
        if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
            await conn.execute(
                "CREATE TABLE schema_migrations"
                " (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for name, sql in migration_files():
            if name in done:
                continue
            step = name
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", name)
            applied.append(name)
    except asyncpg.InsufficientPrivilegeError as exc:
        user = await conn.fetchval("SELECT current_user")
        raise MigrationError(f"{step}: the database role {user} may not migrate ({exc}); run"
                             " `python deploy/migrate.py` with DATABASE_ADMIN_URL, the owner role's URL") from exc
    return applied
