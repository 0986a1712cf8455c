"""An unknown case id against the real Temporal dev server: one line, exit 3, the id named."""

from __future__ import annotations

import asyncio

from tests.unit.test_cli_errors import assert_one_line, assert_verbose, starter

UNKNOWN = "ADU-000000000000"


async def test_unknown_case_id_is_one_line_exit_3(dev_env, db_url: str) -> None:
    env = {"TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host, "DATABASE_URL": db_url}

    def run(*args: str):
        return starter(*args, **env)

    # In a thread: the child talks to the dev server this event loop's fixtures keep running.
    status = await asyncio.to_thread(run, "status", UNKNOWN)
    assert_one_line(status, 3, f"kasus {UNKNOWN} tidak ditemukan")
    acted = await asyncio.to_thread(run, "act", UNKNOWN, "acknowledge", "--actor", "PD-34")
    assert_one_line(acted, 3, f"kasus {UNKNOWN} tidak ditemukan")
    await asyncio.to_thread(assert_verbose, ["status", UNKNOWN], 3, **env)
