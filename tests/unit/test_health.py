"""casework/health.py: the replies (a table), the endpoint over real sockets, and the readiness checks
against a real Postgres and a real Worker."""

from __future__ import annotations

import asyncio
import socket
import uuid
from http import HTTPStatus

import asyncpg
import pytest
from temporalio import activity
from temporalio.worker import Worker

from casework import health
from casework.health import all_of, answer, postgres_answers, serve_health, worker_polling


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def yes() -> bool:
    return True


async def no() -> bool:
    return False


async def boom() -> bool:
    raise ConnectionRefusedError("postgres down")


async def slow() -> bool:
    await asyncio.sleep(10)
    return True


@pytest.mark.parametrize(("method", "path", "ready", "status"), [
    ("GET", "/healthz", no, HTTPStatus.OK),  # liveness never asks the outside world
    ("GET", "/healthz", boom, HTTPStatus.OK),
    ("HEAD", "/healthz", yes, HTTPStatus.OK),
    ("GET", "/readyz", yes, HTTPStatus.OK),
    ("GET", "/readyz?verbose=1", yes, HTTPStatus.OK),
    ("GET", "/readyz", no, HTTPStatus.SERVICE_UNAVAILABLE),
    ("GET", "/readyz", boom, HTTPStatus.SERVICE_UNAVAILABLE),
    ("GET", "/metrics", yes, HTTPStatus.NOT_FOUND),
    ("GET", "/", yes, HTTPStatus.NOT_FOUND),
    ("POST", "/readyz", yes, HTTPStatus.METHOD_NOT_ALLOWED),
])
async def test_answer(method, path, ready, status) -> None:
    assert (await answer(method, path, ready)).status == status


async def test_a_slow_check_is_not_ready_after_the_timeout() -> None:
    reply = await answer("GET", "/readyz", slow, timeout_s=0.05)
    assert reply.status == HTTPStatus.SERVICE_UNAVAILABLE and "timed out" in reply.body


async def test_a_failing_check_names_only_the_error_type() -> None:
    async def leaky() -> bool:
        raise RuntimeError("NIK 5108081507800001 not found")  # the message never reaches the reply

    reply = await answer("GET", "/readyz", leaky)
    assert reply.body == "not ready: RuntimeError\n"


async def request(port: int, raw: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_the_endpoint_over_a_socket() -> None:
    state = {"ready": False}

    async def ready() -> bool:
        return state["ready"]

    port = free_port()
    async with serve_health(port, ready, host="127.0.0.1") as server:
        assert server is not None and server.port == port
        assert await request(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") == (200, b"ok\n")
        assert await request(port, b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n") == (503, b"not ready\n")
        state["ready"] = True
        assert await request(port, b"GET /readyz HTTP/1.0\r\n\r\n") == (200, b"ready\n")
        assert await request(port, b"HEAD /readyz HTTP/1.1\r\n\r\n") == (200, b"")
        assert (await request(port, b"nonsense\r\n\r\n"))[0] == 400
        assert (await request(port, b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\n\r\n"))[0] == 400
        # Several probes at once are answered independently.
        replies = await asyncio.gather(*(request(port, b"GET /healthz HTTP/1.1\r\n\r\n") for _ in range(20)))
        assert {status for status, _ in replies} == {200}
    with socket.socket() as sock:  # stopped with the block
        assert sock.connect_ex(("127.0.0.1", port)) != 0


async def test_a_silent_client_does_not_block_others(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "REQUEST_TIMEOUT_S", 0.2)
    port = free_port()
    async with serve_health(port, yes, host="127.0.0.1"):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)  # sends nothing
        assert await request(port, b"GET /healthz HTTP/1.1\r\n\r\n") == (200, b"ok\n")
        assert (await asyncio.wait_for(reader.read(), 5)).startswith(b"HTTP/1.1 400")
        writer.close()


async def test_port_zero_is_off_and_a_bad_or_taken_port_is_named() -> None:
    async with serve_health(0, yes) as server:
        assert server is None
    with pytest.raises(ValueError, match="REFERRAL_HEALTH_PORT"):
        async with serve_health(70000, yes):
            pass
    port = free_port()
    async with serve_health(port, yes, host="127.0.0.1"):
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}.*REFERRAL_HEALTH_PORT"):
            async with serve_health(port, yes, host="127.0.0.1"):
                pass


# ---- the checks ----

async def test_all_of_stops_at_the_first_no() -> None:
    called = []

    def tracking(name: str, result: bool):
        async def check() -> bool:
            called.append(name)
            return result
        return check

    assert await all_of(tracking("a", True), tracking("b", True))() is True
    called.clear()
    assert await all_of(tracking("a", False), tracking("b", True))() is False
    assert called == ["a"]


async def test_postgres_answers(admin_url: str) -> None:
    pool = await asyncpg.create_pool(admin_url, min_size=0, max_size=1)
    try:
        assert await postgres_answers(pool)() is True
    finally:
        await pool.close()
    down = await asyncpg.create_pool("postgresql://postgres@127.0.0.1:1/x", min_size=0, max_size=1)
    try:
        # Raised, and the endpoint turns the error into 503.
        assert (await answer("GET", "/readyz", postgres_answers(down))).status == HTTPStatus.SERVICE_UNAVAILABLE
    finally:
        await down.close()


@activity.defn
async def noop() -> None:
    return None


async def test_worker_polling(time_env) -> None:
    worker = Worker(time_env.client, task_queue=f"health-{uuid.uuid4().hex[:8]}", activities=[noop])
    check = worker_polling(worker)
    assert await check() is False  # built, not started
    async with worker:
        # `async with` starts the run in a task: ready once the namespace is validated and polling begins.
        for _ in range(250):
            if await check():
                break
            await asyncio.sleep(0.02)
        assert await check() is True
    assert await check() is False  # shut down
