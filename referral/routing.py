"""Which pendamping takes a case. Pure: the activity gathers the roster, leave and caseloads.

The pendamping who covers the village takes the case. If they are on leave (or excluded, as after
repeated breaches), a backup takes it: someone in the same kecamatan first, then someone from the
same bidang, then anyone; among equals, the one with the fewest open cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from pydantic import BaseModel


class OfficerRef(BaseModel):
    """An officer as routing sees them: no names, only the id, role, bidang and where they work."""

    officer_id: str
    role: str  # pendamping, head_of_bidang, kepala_dinas
    bidang: str | None = None
    kecamatan: str | None = None


COVERS_VILLAGE = "covers_village"


@dataclass(frozen=True)
class Choice:
    pendamping_id: str
    reason: str  # covers_village, backup_same_kecamatan, backup_same_bidang, backup_any


def choose_pendamping(
    village_code: str,
    coverage: Mapping[str, str],
    pendamping: Iterable[OfficerRef],
    on_leave: set[str],
    open_cases: Mapping[str, int],
    exclude: Iterable[str] = (),
) -> Choice:
    unavailable = set(on_leave) | set(exclude)
    by_id = {p.officer_id: p for p in pendamping}
    covering = by_id.get(coverage.get(village_code, ""))
    if covering is None:
        raise LookupError(f"no pendamping covers village {village_code}")
    if covering.officer_id not in unavailable:
        return Choice(covering.officer_id, COVERS_VILLAGE)

    available = [p for p in by_id.values() if p.officer_id not in unavailable]
    tiers = (
        ("backup_same_kecamatan", lambda p: p.kecamatan == covering.kecamatan),
        ("backup_same_bidang", lambda p: p.bidang == covering.bidang),
        ("backup_any", lambda p: True),
    )
    for reason, fits in tiers:
        candidates = [p for p in available if fits(p)]
        if candidates:
            best = min(candidates, key=lambda p: (open_cases.get(p.officer_id, 0), p.officer_id))
            return Choice(best.officer_id, reason)
    raise LookupError("every pendamping is on leave or excluded")
