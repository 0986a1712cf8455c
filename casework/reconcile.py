"""Reconcile: does Postgres hold what each case's workflow believes it recorded?

Each open case (Temporal visibility: `ExecutionStatus = 'Running' AND WorkflowType = 'ComplaintWorkflow'`),
or one case, answers the `record` query: its `CaseRow` and the keys of the events it recorded. Postgres is
read for the same case and the two are compared (`compare`, pure):

  column         a column of the case row differs from the workflow's state
  event_missing  an event the workflow recorded is not in `complaint_events`
  row_missing    no case row in Postgres although the workflow has recorded steps
  event_unknown  an event in Postgres the workflow does not know (checked only while the workflow still
                 holds its whole timeline; it forgets the oldest entries past 500)

A case in the middle of a step differs for a moment (the workflow has moved, its write is in flight), so
a case that differs is checked again after `settle` seconds and only what still differs is reported.

`repair` rewrites the case row from the workflow's state through the data layer, guarded like the normal
write (never to an earlier step) and only if the row is still the one that was compared. Missing events
and missing rows are reported, never invented: their content (and a row's personal data) is not in
the workflow's answer.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum
from typing import Any, Callable, Iterable, Sequence

from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from activities.store.reconcile import ReconcileStore, StoredCase
from casework.intake import WORKFLOW, workflow_id
from referral.case import CaseRecord, CaseRow

OPEN_CASES = f"ExecutionStatus = 'Running' AND WorkflowType = '{WORKFLOW}'"
QUERY_TIMEOUT = timedelta(seconds=10)
CHUNK = 50  # workflows read from Postgres together
QUERIES_AT_ONCE = 8


class Kind(str, Enum):
    COLUMN = "column"
    EVENT_MISSING = "event_missing"
    ROW_MISSING = "row_missing"
    EVENT_UNKNOWN = "event_unknown"


@dataclass(frozen=True)
class Difference:
    complaint_id: str
    kind: Kind
    subject: str = ""  # the column name or the event key
    workflow: Any = None  # the workflow's value (column), or the number of steps it recorded (row_missing)
    postgres: Any = None


class CaseNotFound(LookupError):
    """No workflow for this complaint id."""


# ---- the comparison (pure) ----

def compare(record: CaseRecord, stored: StoredCase | None) -> list[Difference]:
    """Every difference between what the workflow believes Postgres holds and what Postgres holds."""
    case = record.complaint_id
    if stored is None:
        if record.row is not None or record.event_keys:
            return [Difference(case, Kind.ROW_MISSING, workflow=len(record.event_keys))]
        return []  # not set up yet: the workflow has recorded nothing
    differences = []
    if record.row is not None:
        differences += [Difference(case, Kind.COLUMN, name, mine, theirs)
                        for name, mine, theirs in column_differences(record.row, stored.row)]
    in_postgres = set(stored.event_keys)
    differences += [Difference(case, Kind.EVENT_MISSING, key) for key in _unique(record.event_keys)
                    if key not in in_postgres]
    if record.timeline_complete:
        known = set(record.event_keys)
        differences += [Difference(case, Kind.EVENT_UNKNOWN, key) for key in stored.event_keys if key not in known]
    return differences


def column_differences(workflow: CaseRow, postgres: CaseRow) -> list[tuple[str, Any, Any]]:
    """(column, workflow's value, Postgres's value) for each column that differs, in the row's order."""
    mine, theirs = workflow.model_dump(), postgres.model_dump()
    return [(name, mine[name], theirs[name]) for name in CaseRow.model_fields if mine[name] != theirs[name]]


def repairable(differences: Iterable[Difference]) -> bool:
    """A rewrite of the row can fix only column differences."""
    return any(d.kind == Kind.COLUMN for d in differences)


def _unique(keys: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(keys))


# ---- the I/O around it ----

@dataclass
class Checked:
    """What one pass found: the workflow's record and the stored case of each case it could compare."""

    differences: dict[str, list[Difference]] = field(default_factory=dict)  # by workflow id, only differing
    pairs: dict[str, tuple[CaseRecord, StoredCase | None]] = field(default_factory=dict)
    unreachable: dict[str, str] = field(default_factory=dict)  # workflow id -> why it could not be asked
    checked: int = 0


@dataclass
class Outcome:
    """What `reconcile` reports: the differences found, the rows repaired, what remains."""

    found: list[Difference] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)  # complaint ids whose row was rewritten
    refused: list[str] = field(default_factory=list)  # complaint ids whose row had moved on: not rewritten
    remaining: list[Difference] = field(default_factory=list)
    unreachable: dict[str, str] = field(default_factory=dict)
    checked: int = 0


async def open_cases(client: Client) -> list[str]:
    """The workflow ids of every running case."""
    return [execution.id async for execution in client.list_workflows(OPEN_CASES)]


async def case_workflow(client: Client, complaint_id: str) -> str:
    """The workflow id of one case (any state); CaseNotFound if there is none."""
    wf_id = workflow_id(complaint_id)
    try:
        await client.get_workflow_handle(wf_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise CaseNotFound(complaint_id) from None
        raise
    return wf_id


async def record_of(client: Client, wf_id: str) -> CaseRecord:
    return await client.get_workflow_handle(wf_id).query("record", result_type=CaseRecord, rpc_timeout=QUERY_TIMEOUT)


async def check(client: Client, store: ReconcileStore, workflow_ids: Sequence[str],
                progress: Callable[[int, int], None] | None = None) -> Checked:
    """One pass: for each chunk, Postgres first, then the workflows (so a step recorded in between makes the
    workflow look ahead, which the second pass clears)."""
    result, gate = Checked(), asyncio.Semaphore(QUERIES_AT_ONCE)

    async def ask(wf_id: str) -> CaseRecord | None:
        async with gate:
            try:
                return await record_of(client, wf_id)
            except (RPCError, WorkflowQueryFailedError) as err:
                result.unreachable[wf_id] = getattr(err, "message", "") or type(err).__name__
                return None

    for start in range(0, len(workflow_ids), CHUNK):
        chunk = list(workflow_ids[start:start + CHUNK])
        stored = await store.cases_of_workflows(chunk)
        records = await asyncio.gather(*(ask(wf_id) for wf_id in chunk))
        for wf_id, record in zip(chunk, records):
            if record is None:
                continue
            mine = stored.get(record.complaint_id)
            result.pairs[wf_id] = (record, mine)
            result.checked += 1
            found = compare(record, mine)
            if found:
                result.differences[wf_id] = found
        if progress:
            progress(min(start + CHUNK, len(workflow_ids)), len(workflow_ids))
    return result


async def confirmed(client: Client, store: ReconcileStore, workflow_ids: Sequence[str], settle: float,
                    progress: Callable[[int, int], None] | None = None) -> Checked:
    """A pass over every case, then a second one, `settle` seconds later, over those that differed: what
    it still finds is no step in flight but a real difference."""
    first = await check(client, store, workflow_ids, progress)
    if not first.differences:
        return first
    await asyncio.sleep(settle)
    second = await check(client, store, list(first.differences))
    second.checked, second.unreachable = first.checked, {**first.unreachable, **second.unreachable}
    return second


async def reconcile(client: Client, store: ReconcileStore, workflow_ids: Sequence[str], repair: bool = False,
                    settle: float = 2.0, progress: Callable[[int, int], None] | None = None) -> Outcome:
    """Compare every case and (with `repair`) rewrite the rows that differ; `remaining` is what still
    differs at the end (after a repair, checked again)."""
    found = await confirmed(client, store, workflow_ids, settle, progress)
    outcome = Outcome(found=_all(found), unreachable=dict(found.unreachable), checked=found.checked)
    if not repair or not found.differences:
        outcome.remaining = outcome.found
        return outcome
    for wf_id, differences in found.differences.items():
        record, stored = found.pairs[wf_id]
        if not repairable(differences) or stored is None or record.row is None:
            continue
        if await store.rewrite_row(record.complaint_id, record.row, stored.updated_at):
            outcome.repaired.append(record.complaint_id)
        else:
            outcome.refused.append(record.complaint_id)
    after = await confirmed(client, store, list(found.differences), settle)
    outcome.remaining = _all(after)
    outcome.unreachable.update(after.unreachable)
    return outcome


def _all(checked: Checked) -> list[Difference]:
    return [d for found in checked.differences.values() for d in found]
