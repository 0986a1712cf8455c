"""The pool and the migrations: applied in order at start-up, under an advisory lock."""

from __future__ import annotations

import json
from importlib import resources

import asyncpg
import structlog

log = structlog.get_logger(__name__)
_MIGRATION_LOCK = 0x42554C454C454E47  # "BULELENG": one migrator at a time across workers


async def connect(url: str, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    async def init(conn: asyncpg.Connection) -> None:
        await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")

    return await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, init=init)


async def migrate(pool: asyncpg.Pool) -> list[str]:
    """Apply pending migrations in order; safe when several workers start at once."""
    files = sorted(
        (f.name, f.read_text(encoding="utf-8"))
        for f in resources.files("activities.sql").iterdir()
        if f.name.endswith(".sql")
    )
    applied: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for name, sql in files:
                if name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", name)
                applied.append(name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    if applied:
        log.info("migrations applied", versions=applied)
    return applied
