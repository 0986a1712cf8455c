"""The payload codec on the dev server: what Temporal stores is ciphertext, and keys rotate under live cases.

Cases here carry their personal data in clear in the workflow input (`ComplaintStart.personal`, as once
the old field sealing is retired): only the codec stands between it and Temporal's history. The raw
history is read with the real `temporal` CLI, which holds no keys.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from dataclasses import dataclass
from typing import Any, Iterator

import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from casework import binaries, cases
from casework.codec import KeylessError, KeyringCodec, MissingKeyError, is_encrypted, key_id_of, stays_clear
from casework.intake import WORKFLOW, complaint_id_for, start_attributes, start_input, workflow_id
from casework.keys import Keyring, new_key
from casework.runtime import temporal_client
from referral import presentation
from referral.config import Settings
from referral.intake import PersonalData
from referral.models import Action, Actor, Receipt
from tests.conftest import actor, make_intake, running_worker, task_queue
from workflows import search_attributes as sa

SUBJECT_NAME = "Zzyzx Codectest"
NIK_PREFIX = "5108081507800"  # each case its own NIK (the same person twice would join the first case)
REPORTER_NAME = "Qwvx Pelaporcodec"
REPORTER_PHONE = "081299887711"
DESCRIPTION = "Zzyzxdesc: warga tuna rungu belum menerima alat bantu dengar."
NOTE = "Kunjungan rumah Zzyzx Codectest, Banjar Kelod"
PERSONAL = (SUBJECT_NAME, NIK_PREFIX, REPORTER_NAME, REPORTER_PHONE, "Zzyzxdesc")


@dataclass(frozen=True)
class OpenedCase:
    complaint_id: str
    workflow_id: str
    receipt: Receipt


def personal_intake(**overrides: Any):
    values: dict[str, Any] = dict(
        reporter={"name": REPORTER_NAME, "phone": REPORTER_PHONE, "relation": "tetangga"},
        subject={"name": SUBJECT_NAME, "nik": f"{NIK_PREFIX}{uuid.uuid4().int % 999 + 1:03d}", "sex": "male",
                 "address": "Banjar Dinas Kelod"},
        description=DESCRIPTION, external_ref=f"codec-{uuid.uuid4().hex[:10]}",
    )
    values.update(overrides)
    return make_intake(**values)


async def open_case(client: Client, queue: str, **overrides: Any) -> OpenedCase:
    """Like `casework.intake.submit`, but with the personal data unsealed in the input: the codec alone
    protects it. Returns once the case is recorded and assigned."""
    intake = personal_intake(**overrides)
    complaint_id, submission_id = complaint_id_for(intake), uuid.uuid4().hex
    start = start_input(complaint_id, intake, Settings().pii_key, submission_id=submission_id).model_copy(
        update={"personal": PersonalData.of(intake), "sealed_personal": None})
    operation = WithStartWorkflowOperation(
        WORKFLOW, start, id=workflow_id(complaint_id), task_queue=queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=sa.typed(start_attributes(intake)),
        static_summary=presentation.static_summary(intake),
        static_details=presentation.static_details(complaint_id, intake))
    receipt = await client.execute_update_with_start_workflow(
        "opened", submission_id, start_workflow_operation=operation, result_type=Receipt)
    return OpenedCase(complaint_id, workflow_id(complaint_id), receipt)


def raw_history(address: str, wf_id: str) -> tuple[str, list[tuple[str, Payload]]]:
    """The history as the keyless `temporal` CLI prints it, and every payload in it with its path."""
    done = subprocess.run([binaries.find("temporal") or "temporal", "workflow", "show", "--workflow-id", wf_id,
                           "--address", address, "--namespace", "default", "-o", "json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout, list(_payloads(json.loads(done.stdout)))


def _payloads(node: Any, path: str = "") -> Iterator[tuple[str, Payload]]:
    if isinstance(node, dict):
        if isinstance(node.get("metadata"), dict) and "encoding" in node["metadata"]:
            yield path, json_format.ParseDict(node, Payload(), ignore_unknown_fields=True)
            return
        for key, value in node.items():
            yield from _payloads(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _payloads(value, f"{path}[{index}]")


def _sdk_marker_data(path: str, payload: Payload) -> bool:
    """The local-activity marker's own bookkeeping (seq, attempt, activity type), written by the SDK core."""
    if not path.endswith("/markerRecordedEventAttributes/details/data/payloads[0]"):
        return False
    return {"seq", "attempt", "activity_type"} <= set(json.loads(payload.data))


def personal_data_in(text: str | bytes) -> list[str]:
    raw = text.encode() if isinstance(text, str) else text
    return [item for item in PERSONAL if item.encode() in raw]


def check_history_is_ciphertext(address: str, wf_id: str) -> list[tuple[str, Payload]]:
    text, payloads = raw_history(address, wf_id)
    assert personal_data_in(text) == []
    for path, payload in payloads:
        assert personal_data_in(payload.SerializeToString()) == [], path
        if "/searchAttributes/" in path:
            continue  # never passed through a codec; typed, none personal (workflows/search_attributes.py)
        assert is_encrypted(payload) or stays_clear(payload) or _sdk_marker_data(path, payload), path
    return payloads


def address_of(client: Client) -> str:
    return client.service_client.config.target_host


async def codec_client(dev_env, keyring: Keyring) -> Client:
    return await temporal_client(Settings(), address_of(dev_env.client), keyring=keyring)


async def test_the_raw_history_holds_no_personal_data_yet_decodes_with_the_keyring(dev_env, db):
    ring = Keyring((new_key("k1"),), "test")
    client, queue = await codec_client(dev_env, ring), task_queue()
    async with running_worker(client, db, queue):
        case = await open_case(client, queue)
        pendamping = case.receipt.pendamping_id
        await cases.act(client, case.complaint_id, "acknowledge", Action(actor=Actor(**actor(pendamping)), note=NOTE))
        view = await cases.state(client, case.complaint_id)
    assert view.status.value == "acknowledged"
    payloads = check_history_is_ciphertext(address_of(client), case.workflow_id)

    start_input_payload = next(p for path, p in payloads if path.endswith("workflowExecutionStartedEventAttributes"
                                                                             "/input/payloads[0]"))
    assert key_id_of(start_input_payload) == "k1"
    summaries = [p for path, p in payloads if "/userMetadata/" in path]
    assert summaries and all(stays_clear(p) for p in summaries)  # readable in the UI without the codec
    assert any(b"Desa Bengkala" in p.data for p in summaries)

    decoded = await KeyringCodec(ring).decode([p for _, p in payloads])
    plaintext = b"\n".join(p.data for p in decoded)
    assert personal_data_in(plaintext) == list(PERSONAL)  # it is all there, under the key
    assert NOTE.encode() in plaintext


async def test_a_key_rotation_leaves_old_and_new_cases_readable_and_moving(dev_env, db):
    k1, k2 = new_key("k1"), new_key("k2")
    before, after = Keyring((k1,), "before"), Keyring((k1, k2), "after")
    queue = task_queue()
    old_client = await codec_client(dev_env, before)
    async with running_worker(old_client, db, queue):
        old = await open_case(old_client, queue)

    # The rotation: every process restarts with k2 added as the newest key.
    client = await codec_client(dev_env, after)
    async with running_worker(client, db, queue):  # replays the old case's k1 history in every task
        new = await open_case(client, queue)
        for case in (old, new):
            assert case.receipt.pendamping_id, case.receipt
            who = Actor(**actor(case.receipt.pendamping_id))
            await cases.act(client, case.complaint_id, "acknowledge", Action(actor=who, note=NOTE))
        views = [await cases.state(client, c.complaint_id) for c in (old, new)]
    assert [v.status.value for v in views] == ["acknowledged", "acknowledged"]

    address = address_of(client)
    old_keys = {key_id_of(p) for _, p in check_history_is_ciphertext(address, old.workflow_id)} - {None}
    new_keys = {key_id_of(p) for _, p in check_history_is_ciphertext(address, new.workflow_id)} - {None}
    assert old_keys == {"k1", "k2"} and new_keys == {"k2"}

    # Without k1 the old case's input cannot be read, and the error names the key.
    only_k2 = await codec_client(dev_env, Keyring((k2,), "k2 only"))
    history = await only_k2.get_workflow_handle(old.workflow_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    with pytest.raises(MissingKeyError, match="'k1'"):
        await only_k2.data_converter.decode(started.input.payloads)


async def test_a_tool_without_keys_lists_and_describes_cases_but_reads_no_payload(dev_env, db):
    ring = Keyring((new_key("k1"),), "test")
    client, queue = await codec_client(dev_env, ring), task_queue()
    async with running_worker(client, db, queue):
        case = await open_case(client, queue)
        keyless = await temporal_client(Settings(), address_of(client), codec=False)
        description = await keyless.get_workflow_handle(case.workflow_id).describe()
        assert (await description.static_summary() or "").startswith("Penyandang Disabilitas · Desa Bengkala")
        with pytest.raises(KeylessError, match="holds no payload keys"):
            await cases.state(keyless, case.complaint_id)
        with pytest.raises(KeylessError, match="through the API"):  # what the worker answers stays encrypted
            await keyless.get_workflow_handle(case.workflow_id).query("record")
        with pytest.raises(KeylessError, match="holds no payload keys"):
            await cases.act(keyless, case.complaint_id, "acknowledge",
                            Action(actor=Actor(**actor(case.receipt.pendamping_id))))
        assert (await cases.state(client, case.complaint_id)).status.value == "assigned"  # nothing was sent
