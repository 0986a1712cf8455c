"""Prepare the referral database: apply pending migrations, load reference data and the roster.

    python deploy/migrate.py [--wait SECONDS]

The same preparation `worker.py` does at start (activities.store.open_store with prepare=True), as a step of
its own: a Kubernetes initContainer runs it before the API or a worker starts, so no pod ever serves on a
schema older than its code. Migrations hold a Postgres advisory lock, so pods starting together apply each
one exactly once. Reads DATABASE_URL and REFERRAL_ROSTER_FILE (referral.config.Settings).
Exit status: 0 done, 1 the database is unreachable or refused a migration, 2 no DATABASE_URL.
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

from activities.store import open_store  # noqa: E402
from casework import logs  # noqa: E402

RETRY_PAUSE_S = 2.0


async def _prepare(url: str, roster_file: str | None, wait_s: float) -> int:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            # Migrations (logged as "migrations applied" when there were any), reference data, roster.
            async with open_store(url, prepare=True, roster_file=roster_file, max_size=2):
                pass
            break
        except (OSError, asyncpg.CannotConnectNowError, asyncio.TimeoutError) as exc:
            if time.monotonic() >= deadline:
                print(f"error: cannot reach the referral database: {type(exc).__name__}: {exc}\n"
                      "Check DATABASE_URL (host, port, credentials) or pass --wait SECONDS.", file=sys.stderr)
                return 1
            print("waiting for the referral database ...", file=sys.stderr)
            await asyncio.sleep(RETRY_PAUSE_S)
        except asyncpg.PostgresError as exc:
            print(f"error: the database refused the preparation ({exc.sqlstate}): {exc}", file=sys.stderr)
            return 1
    print("done: schema up to date, reference data and roster loaded")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from referral.config import Settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                        help="keep retrying an unreachable database this long (default 0)")
    args = parser.parse_args(argv)
    settings = Settings()
    logs.configure(settings.log_format, settings.log_level)
    if not settings.database_url:
        print("error: DATABASE_URL is not set (the referral database, e.g. postgresql://referral:…@db:5432/referral)",
              file=sys.stderr)
        return 2
    return asyncio.run(_prepare(settings.database_url, settings.roster_file, args.wait))


if __name__ == "__main__":
    sys.exit(main())
