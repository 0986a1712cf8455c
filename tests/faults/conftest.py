"""Fixtures of the fault tests: each test gets a database of its own (its triggers, outbox and
dispatchers touch no other test's rows) and a webhook receiver that counts deliveries."""

from __future__ import annotations

import os
from typing import AsyncIterator

import pytest

from activities.store import Store, open_store
from tests.conftest import fresh_database
from tests.faults.harness import TEST_PAYLOAD_KEYS
from tests.integration.test_outbox_support import WebhookReceiver, webhook_receiver


@pytest.fixture(autouse=True)
def payload_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """worker.py encrypts Temporal's payloads under a keyring: a test one, for this test only, unless the
    session configured one."""
    if not (os.environ.get("REFERRAL_KEYS") or os.environ.get("REFERRAL_KEYS_FILE")):
        monkeypatch.setenv("REFERRAL_KEYS", TEST_PAYLOAD_KEYS)


@pytest.fixture
async def fault_db_url(admin_url: str) -> AsyncIterator[str]:
    async with fresh_database(admin_url, prefix="referral_fault") as url:
        yield url


@pytest.fixture
async def fault_db(fault_db_url: str) -> AsyncIterator[Store]:
    async with open_store(fault_db_url) as store:
        yield store


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as receiver:
        yield receiver
