"""The benchmark's ONE coupling to the project: every import of its internals is in this module.

The rest of `bench/` speaks Temporal, Postgres and plain data. When the workflow, the worker or the
data layer changes, this is the file to fix: the names of the receipt update and the whole-life actions,
how a case is submitted and acted on, which SQL reads escalations, how the worker and the dispatcher are
built, and the payload codec's converter and keyring. No personal data is logged or reported: the
generated intakes hold fictitious names only.
"""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, AsyncIterator

import asyncpg
from temporalio import workflow as temporal_workflow
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, TypedSearchAttributes
from temporalio.converter import DataConverter
from temporalio.worker import Replayer, Worker

from activities.notify import Dispatcher
from activities.store import Store, open_store
from casework import binaries, logs
from casework.cases import act as case_act, state as case_state
from casework.codec import ENCRYPTED, measure as codec_measure
from casework.intake import ComplaintIntake, parse_intake, start_attributes, start_input, submit as case_submit
from casework.intake import complaint_id_for, workflow_id as case_workflow_id
from casework.keys import KEYS_ENV, KEYS_FILE_ENV, Keyring, key_line, new_key
from casework.runtime import converter_for
from referral import presentation, reference
from referral.config import Settings
from referral.models import Action, Actor, Assessment, Referral, Resolution
from worker import build_worker, worker_options
from workflows import search_attributes as sa
from workflows.complaint import ComplaintWorkflow

WORKFLOW_TYPE = "ComplaintWorkflow"
RECEIPT_UPDATE = "opened"  # the update-with-start that returns once the case is assigned
WHOLE_LIFE = ("acknowledge", "assess", "refer", "resolve", "close")
ESCALATED_EVENT = "sla_escalated"
ACK_CLOCK = "acknowledgement"
EMERGENCY_ACK_SECONDS = 3600  # the policy's emergency acknowledgement: 1 calendar hour
TWIN_ATTRIBUTE: SearchAttributeKey = sa.COMPLAINT_STATUS  # a keyword the twin upserts
ENCRYPTED_ENCODING = ENCRYPTED.decode()  # the `encoding` metadata of a payload the codec encrypted
CATEGORIES = sorted(reference.categories())
VILLAGES = sorted(reference.villages())


# ---- servers, settings, logs ----

def temporal_binary() -> str | None:
    return binaries.find("temporal")


def dev_server_args() -> list[str]:
    """The case's search attributes, registered when the dev server starts."""
    return sa.cli_flags()


def quiet_logs() -> None:
    """Only errors from the project's loggers: progress goes to stderr from the benchmark itself."""
    logs.configure("json", "error")


def settings(task_queue: str, webhook_url: str | None) -> Settings:
    return replace(Settings(), task_queue=task_queue, webhook_url=webhook_url, smtp_host=None)


async def prepare_database(url: str) -> None:
    """Migrations, reference data and the sample roster."""
    async with open_store(url, prepare=True):
        pass


@asynccontextmanager
async def store(url: str) -> AsyncIterator[Store]:
    async with open_store(url) as opened:
        yield opened


def pool_of(opened: Store) -> asyncpg.Pool:
    return opened.pool


# ---- the worker ----

def worker(client: Client, opened: Store, config: Settings, **options: Any) -> Worker:
    """The production worker: `worker_options` of the settings (cache size, task slots), `options` on top.
    Its payloads go through the client's data converter (with or without the codec)."""
    return build_worker(client, opened, config, **{**worker_options(config), **options})


def dispatcher(opened: Store, config: Settings) -> Dispatcher:
    return Dispatcher(opened, config)


def replayer(running: Worker) -> Replayer:
    """A Replayer with a worker's own workflows and sandbox (read from the Worker `build_worker` made)."""
    built = running.config()
    return Replayer(workflows=list(built["workflows"]), workflow_runner=built["workflow_runner"],
                    data_converter=built["client"].data_converter)


def updates_with_validators() -> set[str]:
    """Names of the workflow's updates that have a validator (not visible in a history)."""
    definition = temporal_workflow._Definition.from_class(ComplaintWorkflow)
    assert definition is not None
    return {name for name, update in definition.updates.items() if name and update.validator is not None}


# ---- cases ----

def fictitious_nik(rng: random.Random) -> str:
    """A well-formed NIK of a woman registered in Buleleng (51.08), random birth date and serial.
    A subject without one opens a Disdukcapil referral that holds the case before resolution."""
    return (f"5108{rng.randint(1, 9):02d}{rng.randint(1, 28) + 40:02d}{rng.randint(1, 12):02d}"
            f"{rng.randint(50, 99):02d}{rng.randint(1, 9999):04d}")


def random_intake(rng: random.Random, urgency: str = "normal", reported_at: datetime | None = None) -> ComplaintIntake:
    """A valid, fictitious complaint (a random NIK: duplicate detection finds no earlier case)."""
    reported = reported_at or datetime.now(timezone.utc)
    payload = {
        "channel": "puskesos",
        "reporter": {"name": "Petugas Puskesos", "phone": "081234567890", "relation": "puskesos"},
        "subject": {"name": f"Warga Uji {uuid.UUID(int=rng.getrandbits(128)).hex[:10]}", "sex": "female",
                    "nik": fictitious_nik(rng), "address": "Banjar Dinas Kaja"},
        "village_code": rng.choice(VILLAGES),
        "category": rng.choice(CATEGORIES),
        "description": "Warga membutuhkan layanan kesejahteraan sosial (data uji beban).",
        "urgency": urgency,
        "reported_at": reported.isoformat(),
    }
    return parse_intake(payload, now=max(reported, datetime.now(timezone.utc)))


async def submit(client: Client, intake: ComplaintIntake, config: Settings) -> tuple[str, str | None]:
    """Start a case and wait until it is assigned: (complaint_id, pendamping_id). A case the worker could not
    open (it needs attention) is a RuntimeError that says why, so a broken setup is named, not timed."""
    receipt = await case_submit(client, intake, task_queue=config.task_queue)
    if receipt.needs_attention:
        raise RuntimeError(f"case {receipt.complaint_id} needs attention at intake ({receipt.status}): "
                           f"{receipt.needs_attention[:300]}")
    return receipt.complaint_id, receipt.pendamping_id


def workflow_id(complaint_id: str) -> str:
    return case_workflow_id(complaint_id)


def complaint_id_of(workflow_id: str) -> str:
    return workflow_id.removeprefix("complaint-")


async def start_case(client: Client, intake: ComplaintIntake, config: Settings) -> str:
    """Start a case as `submit` does (same input, attributes, summary and details), without waiting for its
    receipt (to fill a worker's cache quickly); returns the complaint id."""
    complaint_id = complaint_id_for(intake)
    await client.start_workflow(
        WORKFLOW_TYPE, start_input(complaint_id, intake, submission_id=uuid.uuid4().hex),
        id=case_workflow_id(complaint_id), task_queue=config.task_queue,
        search_attributes=sa.typed(start_attributes(intake)),
        static_summary=presentation.static_summary(intake),
        static_details=presentation.static_details(complaint_id, intake))
    return complaint_id


def twin_start_attributes(intake: ComplaintIntake) -> TypedSearchAttributes:
    """The same attributes a real case starts with, for the no-op twin."""
    return sa.typed(start_attributes(intake))


def _officer(officer_id: str) -> Actor:
    officer = reference.sample_roster().officers[officer_id]
    return Actor(id=officer.officer_id, role=officer.role, bidang=officer.bidang)


def _head_of(bidang: str) -> Actor:
    for officer in reference.sample_roster().officers.values():
        if officer.role == "head_of_bidang" and officer.bidang == bidang:
            return Actor(id=officer.officer_id, role=officer.role, bidang=officer.bidang)
    raise LookupError(f"no head of bidang {bidang!r} in the sample roster")


def _plain_outcome() -> str:
    """An outcome that needs nothing more (no programme, date, partner or NIK)."""
    catalogue = getattr(reference, "outcomes", None)
    if catalogue is None:  # before the outcome catalogue: a fixed enum
        return "service_provided"
    return next(code for code, kind in catalogue().items() if not kind.detail and not kind.needs_nik)


def whole_life_requests(pendamping_id: str, category: str) -> list[tuple[str, Action]]:
    """acknowledge -> assess -> refer -> resolve -> close, each by the officer allowed to take it."""
    pendamping = _officer(pendamping_id)
    head = _head_of(reference.categories()[category].bidang)
    return [
        ("acknowledge", Action(actor=pendamping)),
        ("assess", Assessment(actor=pendamping, note="kunjungan rumah")),
        ("refer", Referral(actor=pendamping, plan="rujuk ke layanan rehabilitasi")),
        ("resolve", Resolution(actor=head, outcome=_plain_outcome())),
        ("close", Action(actor=pendamping)),
    ]


async def act(client: Client, complaint_id: str, name: str, request: Action, config: Settings) -> None:
    await case_act(client, complaint_id, name, request)


QUERY_TIMEOUT = 30.0  # a query waits for the case's worker; a stalled worker must not stall the benchmark


async def timeline(client: Client, complaint_id: str) -> list[tuple[str, datetime, dict[str, Any]]]:
    """(event, at, detail) of the case's timeline, through the state query."""
    view = await asyncio.wait_for(case_state(client, complaint_id), QUERY_TIMEOUT)
    return [(entry.event, entry.at, entry.detail) for entry in view.timeline]


def is_ack_escalation(event: str, detail: dict[str, Any]) -> bool:
    return event == ESCALATED_EVENT and detail.get("clock") == ACK_CLOCK and "due_at" in detail


# ---- Postgres reads ----

async def escalations(pool: asyncpg.Pool, complaint_ids: list[str]) -> list[dict[str, Any]]:
    """Every acknowledgement escalation recorded for these cases: when due, when recorded, its key."""
    rows = await pool.fetch(
        "SELECT complaint_id, event_key, recorded_at, (detail->>'due_at')::timestamptz AS due_at"
        " FROM complaint_events WHERE event = $1 AND detail->>'clock' = $2 AND complaint_id = ANY($3::text[])",
        ESCALATED_EVENT, ACK_CLOCK, complaint_ids)
    return [dict(r) for r in rows]


async def assigned_recorded(pool: asyncpg.Pool, complaint_ids: list[str]) -> dict[str, datetime]:
    """When Postgres committed each case's 'assigned' event (its transaction time)."""
    rows = await pool.fetch(
        "SELECT complaint_id, min(recorded_at) AS at FROM complaint_events"
        " WHERE event = 'assigned' AND complaint_id = ANY($1::text[]) GROUP BY complaint_id", complaint_ids)
    return {r["complaint_id"]: r["at"] for r in rows}


async def outbox_waiting(pool: asyncpg.Pool) -> int:
    """Notifications due now and not yet finished (the dispatcher's backlog)."""
    return await pool.fetchval(
        "SELECT count(*) FROM notification_outbox WHERE status IN ('pending', 'sending') AND not_before <= now()")


async def create_database(admin_url: str, name: str) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, sep, query = admin_url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}{sep}{query}"


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


# ---- the payload codec ----

def run_keyring() -> Keyring:
    """A keyring made for this run, in memory: an old key and the newest (the one that encrypts), as after a
    rotation. No key file is read or written."""
    return Keyring((new_key("bench-old"), new_key("bench-new")), "benchmark run")


def use_keyring(keyring: Keyring) -> None:
    """Give this process's data layer the run's keyring. The data layer (personal data encrypted in Postgres,
    the duplicate-detection hash) loads its keyring from the environment on first use, as the worker's does in
    production; the payload codec gets the same keyring through `codec_converter`. A configured
    REFERRAL_KEYS_FILE is set aside for this process: a benchmark never touches real keys."""
    os.environ.pop(KEYS_FILE_ENV, None)
    os.environ[KEYS_ENV] = ";".join(key_line(key) for key in keyring.keys)


def codec_converter(keyring: Keyring) -> DataConverter:
    """The production converter (`casework.runtime.converter_for`): pydantic payloads, the AES-256-GCM payload
    codec under `keyring`, failures with encoded attributes."""
    return converter_for(Settings(), keyring=keyring)


async def helper_client(address: str) -> Client:
    """A client for a helper worker process: the run's keyring from the environment `use_keyring` set
    (inherited from the benchmark), the same converter as the benchmark's own."""
    return await Client.connect(address, data_converter=converter_for(Settings(), dev=False))


def without_codec(converter: DataConverter) -> DataConverter:
    """The same converter minus its payload codec: what the codec costs is the difference between the two."""
    return replace(converter, payload_codec=None)


def codec_description(converter: DataConverter) -> str | None:
    codec = converter.payload_codec
    return None if codec is None else f"{type(codec).__module__}.{type(codec).__name__}"


def sample_payloads() -> list[Any]:
    """A case's payloads from the client's side: its start input (personal data inside) and its five actions."""
    intake = random_intake(random.Random(7))
    start = start_input(complaint_id_for(intake), intake, submission_id=uuid.UUID(int=7).hex)
    return [start, *(request for _, request in whole_life_requests("PD-34", "penyandang_disabilitas"))]


async def codec_per_payload(converter: DataConverter, rounds: int = 200) -> dict[str, Any]:
    """Encode/decode cost and size growth of the sample payloads (`casework.codec.measure`)."""
    return await codec_measure(sample_payloads(), rounds=rounds, converter=converter)
