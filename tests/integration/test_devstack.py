"""casework/devstack.py: `worker.py --dev`'s Temporal server is handed over only once it serves.

Its port opens before its frontend is healthy; a client connecting in between was told "Frontend is not
healthy yet" (seen once as the first test of a fresh run)."""

from __future__ import annotations

import asyncio
import time

import pytest

from casework import devstack
from casework.runtime import temporal_client
from referral.config import Settings
from tests.faults.harness import free_port


async def test_a_client_connects_as_soon_as_the_dev_server_is_handed_over(tmp_path):
    port, ui_port = free_port(), free_port()
    async with devstack.temporal_dev_server(tmp_path / "temporal", port=port, ui_port=ui_port) as address:
        client = await temporal_client(Settings(), address)  # no retry: it must serve now
        assert await client.service_client.check_health()


async def test_a_port_that_never_serves_temporal_fails_with_the_address_by_the_deadline():
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    began = time.monotonic()
    try:
        with pytest.raises(RuntimeError, match=f"127.0.0.1:{port} is not serving"):
            await devstack.until_serving(f"127.0.0.1:{port}", deadline=time.monotonic() + 1)
    finally:
        server.close()
        await server.wait_closed()
    assert time.monotonic() - began < 15
