"""Unit tests for referral.routing.choose_pendamping (pure: a hand-built roster)."""

from __future__ import annotations

import pytest

from referral.routing import OfficerRef
from referral.routing import Choice, choose_pendamping

PJS, REHSOS, DAYASOS = "perlindungan_jaminan_sosial", "rehabilitasi_sosial", "pemberdayaan_sosial"


def pd(officer_id: str, bidang: str, kecamatan: str) -> OfficerRef:
    return OfficerRef(officer_id=officer_id, role="pendamping", bidang=bidang, kecamatan=kecamatan)


ROSTER = [
    pd("PD-34", PJS, "Kubutambahan"),      # covers Bengkala (51.08.08.2010, Kubutambahan)
    pd("PD-35", PJS, "Kubutambahan"),
    pd("PD-36", REHSOS, "Kubutambahan"),
    pd("PD-01", PJS, "Gerokgak"),
    pd("PD-04", PJS, "Gerokgak"),
    pd("PD-02", REHSOS, "Gerokgak"),
    pd("PD-03", DAYASOS, "Seririt"),
]
VILLAGE = "51.08.08.2010"
COVERAGE = {VILLAGE: "PD-34", "51.08.01.2001": "PD-01"}
OPEN = {"PD-34": 3, "PD-35": 5, "PD-36": 2, "PD-01": 4, "PD-04": 1, "PD-02": 0, "PD-03": 7}


@pytest.mark.parametrize(
    ("on_leave", "exclude", "open_cases", "expected"),
    [
        pytest.param(set(), (), OPEN, Choice("PD-34", "covers_village"), id="covering-pendamping"),
        pytest.param({"PD-01"}, (), OPEN, Choice("PD-34", "covers_village"), id="someone-else-on-leave"),
        # Same kecamatan first, whatever the bidang: PD-36 (2 open) before PD-35 (5 open).
        pytest.param({"PD-34"}, (), OPEN, Choice("PD-36", "backup_same_kecamatan"), id="on-leave-same-kecamatan-fewest"),
        pytest.param({"PD-34", "PD-36"}, (), OPEN, Choice("PD-35", "backup_same_kecamatan"), id="on-leave-other-backup"),
        # Tie on open cases: the lower officer id.
        pytest.param({"PD-34"}, (), {"PD-35": 2, "PD-36": 2}, Choice("PD-35", "backup_same_kecamatan"), id="tie-lowest-id"),
        # Missing caseload counts as zero.
        pytest.param({"PD-34"}, (), {"PD-36": 1}, Choice("PD-35", "backup_same_kecamatan"), id="unknown-caseload-is-zero"),
        # Nobody left in Kubutambahan: same bidang (PJS) next, fewest open cases: PD-04 (1) before PD-01 (4);
        # PD-02 (0 open, rehabilitasi_sosial) is not considered at this tier.
        pytest.param({"PD-34", "PD-35"}, ("PD-36",), OPEN, Choice("PD-04", "backup_same_bidang"), id="same-bidang"),
        pytest.param({"PD-34", "PD-35", "PD-36", "PD-04"}, (), OPEN, Choice("PD-01", "backup_same_bidang"), id="same-bidang-next"),
        # Nobody in Kubutambahan nor in PJS: anyone, fewest open cases.
        pytest.param({"PD-34", "PD-35", "PD-36", "PD-01"}, ("PD-04",), OPEN, Choice("PD-02", "backup_any"), id="anyone"),
        # Excluded (as after repeated breaches) works like leave.
        pytest.param(set(), ("PD-34",), OPEN, Choice("PD-36", "backup_same_kecamatan"), id="covering-excluded"),
    ],
)
def test_choose_pendamping(on_leave: set[str], exclude: tuple[str, ...], open_cases: dict[str, int], expected: Choice) -> None:
    assert choose_pendamping(VILLAGE, COVERAGE, ROSTER, on_leave, open_cases, exclude) == expected


def test_choice_for_another_village() -> None:
    assert choose_pendamping("51.08.01.2001", COVERAGE, ROSTER, set(), OPEN) == Choice("PD-01", "covers_village")
    # PD-01 on leave: PD-02 in Gerokgak has 0 open cases, PD-04 has 1.
    assert choose_pendamping("51.08.01.2001", COVERAGE, ROSTER, {"PD-01"}, OPEN) == Choice("PD-02", "backup_same_kecamatan")


def test_inputs_may_be_iterators() -> None:
    choice = choose_pendamping(VILLAGE, COVERAGE, iter(ROSTER), {"PD-34"}, OPEN, exclude=iter(["PD-36"]))
    assert choice == Choice("PD-35", "backup_same_kecamatan")


@pytest.mark.parametrize(
    ("on_leave", "exclude"),
    [
        pytest.param({p.officer_id for p in ROSTER}, (), id="all-on-leave"),
        pytest.param(set(), tuple(p.officer_id for p in ROSTER), id="all-excluded"),
        pytest.param({"PD-34", "PD-35", "PD-36", "PD-01"}, ("PD-04", "PD-02", "PD-03"), id="mixed"),
    ],
)
def test_everyone_unavailable(on_leave: set[str], exclude: tuple[str, ...]) -> None:
    with pytest.raises(LookupError, match="every pendamping is on leave or excluded"):
        choose_pendamping(VILLAGE, COVERAGE, ROSTER, on_leave, OPEN, exclude)


@pytest.mark.parametrize(
    ("village", "coverage"),
    [
        pytest.param("51.08.09.9999", COVERAGE, id="village-not-covered"),
        pytest.param(VILLAGE, {VILLAGE: "PD-77"}, id="covering-officer-not-on-roster"),
    ],
)
def test_no_covering_pendamping(village: str, coverage: dict[str, str]) -> None:
    with pytest.raises(LookupError, match=f"no pendamping covers village {village}"):
        choose_pendamping(village, coverage, ROSTER, set(), OPEN)
