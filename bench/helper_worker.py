"""A second (third, ...) worker process on the benchmark's task queue, as a replica in production would be.

`bench/run.py --storm-worker-processes N` starts N-1 of these for the storm phases: one Python worker
process runs on one core (the GIL), and the storm overlapping intake needs more than one. Each polls the same
task queue as the benchmark's own worker, with the production worker options, the run's keyring (from the
environment the benchmark set) and its own Postgres pool. It prints "ready" once polling and stops on
SIGTERM or SIGINT.

    python -m bench.helper_worker ADDRESS DATABASE_URL TASK_QUEUE WEBHOOK_URL
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project root, as bench/run.py does

from bench import project  # noqa: E402


async def main(address: str, database_url: str, task_queue: str, webhook_url: str) -> None:
    project.quiet_logs()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    client = await project.helper_client(address)
    async with project.store(database_url) as opened:
        async with project.worker(client, opened, project.settings(task_queue, webhook_url)):
            print("ready", flush=True)
            await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
