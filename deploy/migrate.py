"""Prepare the referral database: apply pending migrations, load reference data and the roster.

    python deploy/migrate.py [--wait SECONDS] [--bootstrap]

The same preparation `worker.py` does at start (activities.store.open_store with prepare=True), as a step of
its own: a Kubernetes initContainer runs it before the API or a worker starts, so no pod ever serves on a
schema older than its code. Migrations hold a Postgres advisory lock, so pods starting together apply each
one exactly once.

Least privilege (activities/store/roles.py): with DATABASE_ADMIN_URL set, everything runs over it, the
migrations as the owner role (REFERRAL_DB_OWNER_ROLE, default referral_owner), and the runtime role
(REFERRAL_DB_RUNTIME_ROLE, default referral_app, DATABASE_URL's) is granted exactly what it needs. Without it,
DATABASE_URL's role does everything, as before, and a warning says so.

--bootstrap (once, by the DBA, with a superuser's DATABASE_ADMIN_URL): create both roles if missing, hand the
database, schema public and every object in it to the owner role, and close the database to PUBLIC. Set the
roles' passwords yourself (ALTER ROLE ... PASSWORD).

Reads DATABASE_ADMIN_URL, DATABASE_URL, REFERRAL_DB_OWNER_ROLE, REFERRAL_DB_RUNTIME_ROLE, REFERRAL_ROSTER_FILE
and REFERRAL_PIKET_FILE. Exit status: 0 done, 1 the database is unreachable or refused the preparation,
2 no database URL (or --bootstrap without DATABASE_ADMIN_URL), or a bad role name.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Sequence

# Run as `python deploy/migrate.py` from anywhere: the repository root (or /app in the image) holds the code.
_REPO_ROOT = Path(__file__).resolve().parent.parent
if str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

import asyncpg  # noqa: E402
import structlog  # noqa: E402

from activities.store import open_store  # noqa: E402
from activities.store.roles import DatabaseRoles, RoleSetupError, bootstrap_database  # noqa: E402
from activities.store.schema import MigrationError, migrate_database  # noqa: E402
from casework import logs  # noqa: E402

RETRY_PAUSE_S = 2.0
log = structlog.get_logger("migrate")


async def _bootstrap(url: str, roles: DatabaseRoles) -> None:
    conn = await asyncpg.connect(url)
    try:
        adopted = await bootstrap_database(conn, roles)
    finally:
        await conn.close()
    print(f"bootstrap: roles {roles.owner} (owner) and {roles.runtime} (runtime) ready;"
          f" {len(adopted)} object(s) handed to {roles.owner}")


async def _prepare(url: str, roster_file: str | None, piket_file: str | None, wait_s: float,
                   roles: DatabaseRoles | None = None, bootstrap: bool = False) -> int:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if bootstrap and roles is not None:
                await _bootstrap(url, roles)
            if roles is not None:  # as the owner, then the runtime role's grants
                await migrate_database(url, roles)
            # Migrations (logged as "migrations applied" when there were any; none left after the step above),
            # reference data, roster.
            async with open_store(url, prepare=True, roster_file=roster_file, piket_file=piket_file, max_size=2):
                pass
            break
        except (OSError, asyncpg.CannotConnectNowError, asyncio.TimeoutError) as exc:
            if time.monotonic() >= deadline:
                print(f"error: cannot reach the referral database: {type(exc).__name__}: {exc}\n"
                      "Check DATABASE_ADMIN_URL / DATABASE_URL (host, port, credentials) or pass --wait SECONDS.",
                      file=sys.stderr)
                return 1
            print("waiting for the referral database ...", file=sys.stderr)
            await asyncio.sleep(RETRY_PAUSE_S)
        except (RoleSetupError, MigrationError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except asyncpg.PostgresError as exc:
            print(f"error: the database refused the preparation ({exc.sqlstate}): {exc}", file=sys.stderr)
            return 1
    print("done: schema up to date, reference data and roster loaded"
          + (f"; runtime role {roles.runtime} granted" if roles else ""))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from referral.config import Settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                        help="keep retrying an unreachable database this long (default 0)")
    parser.add_argument("--bootstrap", action="store_true",
                        help="first create the roles and hand the database to the owner role (superuser URL)")
    args = parser.parse_args(argv)
    settings = Settings()
    logs.configure(settings.log_format, settings.log_level)
    if settings.database_admin_url:
        try:
            roles = DatabaseRoles.from_env()
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return asyncio.run(_prepare(settings.database_admin_url, settings.roster_file, settings.piket_file,
                                    args.wait, roles, args.bootstrap))
    if args.bootstrap:
        print("error: --bootstrap needs DATABASE_ADMIN_URL (a superuser's URL of the referral database)",
              file=sys.stderr)
        return 2
    if not settings.database_url:
        print("error: DATABASE_URL is not set (the referral database, e.g. postgresql://referral:…@db:5432/referral)",
              file=sys.stderr)
        return 2
    log.warning("DATABASE_ADMIN_URL is not set: one database role migrates and runs everything;"
                " a deployment sets DATABASE_ADMIN_URL (owner) and DATABASE_URL (runtime)")
    return asyncio.run(_prepare(settings.database_url, settings.roster_file, settings.piket_file, args.wait))


if __name__ == "__main__":
    sys.exit(main())
