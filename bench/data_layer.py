"""The real case without Postgres: a yardstick that splits the whole-life gap, never the product.

The whole-life phase can run the real ComplaintWorkflow and its real activities (personal data opened,
notices rendered, metrics, logs) on a second worker whose data layer keeps the intake, the assignment and
each step in memory instead of Postgres. The real case against it is what the data layer costs (asyncpg,
Postgres, the outbox the dispatcher then sends); it against the no-op twin is what the workflow itself
costs beyond the SDK's (its domain logic, its payloads). Only the calls a whole life makes exist here:
anything else is an AttributeError, so a variant that wandered off the measured path would fail loudly.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Sequence

from activities.store.cases import IntakeWritten, Message, _received_entry
from activities.store.erasure import CaseKeys
from referral import reference
from referral.records import Assignment, CaseEvent, OpenCaseRequest, Recorded
from referral.routing import OfficerRef, choose_pendamping


class MemoryCases:
    """Case rows and events as dicts: each intake once per workflow run, each event once per key."""

    def __init__(self, keys: CaseKeys) -> None:
        self.keys = keys  # the real keyring: the duplicate-detection hash is still computed
        self.rows: dict[tuple[str, str], IntakeWritten] = {}
        self.events: set[tuple[str, str]] = set()

    async def record_intake(self, request: OpenCaseRequest, personal: Any, subject_key: str, kecamatan: str,
                            bidang: str, warnings: list[str], also_match: Sequence[str] = ()) -> IntakeWritten:
        known = self.rows.get((request.workflow_id, request.run_id))
        if known is not None:
            return known.model_copy(update={"new": False})
        written = IntakeWritten(complaint_id=request.complaint_id, duplicate_of=None,
                                received=_received_entry(request.opening, None, request.received_at))
        self.rows[(request.workflow_id, request.run_id)] = written
        return written

    async def record(self, event: CaseEvent, messages: list[Message]) -> Recorded:
        key = (event.complaint_id, event.key)
        new = key not in self.events
        self.events.add(key)
        return Recorded(new=new, recipients={m.recipient: m.recipient for m in messages})


class MemoryRoster:
    """The sample roster's coverage, read once; routing (the project's own, pure) chooses as it does on Postgres."""

    def __init__(self) -> None:
        roster = reference.load_roster(None)
        villages = reference.villages()
        self.coverage = dict(roster.coverage)
        self.pendamping = [
            OfficerRef(officer_id=o.officer_id, role=o.role, bidang=o.bidang,
                       kecamatan=min((villages[v].kecamatan for v, who in roster.coverage.items() if who == o.officer_id),
                                     default=None))
            for o in roster.pendamping()]

    async def version(self) -> str:
        return "in-memory"

    async def choose_pendamping(self, village_code: str, on: date, exclude: list[str]) -> Assignment:
        choice = choose_pendamping(village_code, self.coverage, self.pendamping, on_leave=set(), open_cases={},
                                   exclude=exclude)
        bidang = next(p.bidang for p in self.pendamping if p.officer_id == choice.pendamping_id)
        return Assignment(pendamping_id=choice.pendamping_id, bidang=bidang, reason=choice.reason)


class MemoryStore:
    """What `worker.build_worker` needs of a Store: the pool (erasure activities hold it, never use it here)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.cases = MemoryCases(CaseKeys())
        self.roster = MemoryRoster()


def gap(reports: dict[str, Any]) -> dict[str, Any] | None:
    """Where the real case's whole-life gap to the twin goes, from the variants' reports (None without the
    in-memory variant): throughput ratios and CPU per case (this process; the Temporal server; Postgres is
    in neither, it shows only in throughput) of the data layer and of the workflow beyond the twin."""
    real, memory, twin = (reports.get(name) or {} for name in ("real", "real_without_postgres", "twin"))
    if not memory.get("cases_per_second") or not real.get("cases_per_second") or not twin.get("cases_per_second"):
        return None

    def cpu_minus(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float | None]:
        ca, cb = a.get("cpu_ms_per_case") or {}, b.get("cpu_ms_per_case") or {}
        return {k: round(ca[k] - cb[k], 1) if ca.get(k) is not None and cb.get(k) is not None else None
                for k in ("bench_process", "temporal_server")}

    return {
        "real_to_without_postgres": round(real["cases_per_second"] / memory["cases_per_second"], 3),
        "without_postgres_to_twin": round(memory["cases_per_second"] / twin["cases_per_second"], 3),
        "data_layer_cpu_ms_per_case": cpu_minus(real, memory),
        "workflow_beyond_twin_cpu_ms_per_case": cpu_minus(memory, twin),
    }
