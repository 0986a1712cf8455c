"""Unit tests for referral.reference (pure, no Temporal, no database)."""

from __future__ import annotations

from collections import Counter
from importlib import resources

import pytest

from referral import reference as ref

SAMPLE_TEXT = resources.files("referral.data").joinpath("roster_sample.csv").read_text(encoding="utf-8")


def test_villages() -> None:
    vs = ref.villages()
    assert len(vs) == 148
    assert Counter(v.kind for v in vs.values()) == {"desa": 129, "kelurahan": 19}
    bengkala = vs["51.08.08.2010"]
    assert (bengkala.name, bengkala.kecamatan) == ("Bengkala", "Kubutambahan")
    assert bengkala.label == "Desa Bengkala"
    assert vs["51.08.06.1006"].label == "Kelurahan Banyuasri"
    assert ref.kecamatan_of("51.08.08.2010") == "Kubutambahan"
    # Duplicate name across kecamatan: always resolve with the kecamatan.
    assert {v.kecamatan for v in vs.values() if v.name == "Kayuputih"} == {"Banjar", "Sukasada"}
    with pytest.raises(KeyError):
        ref.kecamatan_of("51.08.99.2001")


def test_categories() -> None:
    cats = ref.categories()
    assert len(cats) == 26
    assert cats["penyandang_disabilitas"].bidang == "rehabilitasi_sosial"
    assert cats["fakir_miskin"].bidang == "pemberdayaan_sosial"
    assert {c.bidang for c in cats.values()} == set(ref.BIDANG_CODES)


def test_sample_roster_shape() -> None:
    roster = ref.sample_roster()
    pend = roster.pendamping()
    assert len(pend) == 36
    assert [p.officer_id for p in pend] == [f"PD-{i:02d}" for i in range(1, 37)]
    assert Counter(p.bidang for p in pend) == {b: 12 for b in ref.BIDANG_CODES}
    assert set(roster.heads()) == set(ref.BIDANG_CODES)
    assert roster.kepala_dinas().officer_id == "KADIS"
    assert roster.kepala_dinas().bidang is None


def test_sample_roster_covers_every_village_once() -> None:
    roster = ref.sample_roster()
    listed = Counter(code for p in roster.pendamping() for code in p.villages)
    assert set(listed) == set(ref.villages())
    assert set(listed.values()) == {1}
    assert set(roster.coverage) == set(ref.villages())
    for p in roster.pendamping():
        assert 3 <= len(p.villages) <= 5, p
        assert len({ref.kecamatan_of(c) for c in p.villages}) == 1, p
        for code in p.villages:
            assert roster.pendamping_for(code) == p
    assert roster.pendamping_for("51.08.08.2010").bidang in ref.BIDANG_CODES


def _replace_villages(text: str, officer_id: str, fn) -> str:
    """Rewrite the `villages` field of one officer's row in roster CSV text."""
    out = []
    for line in text.splitlines():
        if line.startswith(officer_id + ","):
            head, _, villages = line.rpartition(",")
            line = f"{head},{fn(villages)}"
        out.append(line)
    return "\n".join(out) + "\n"


def _pd01_first() -> str:
    return ref.sample_roster().officers["PD-01"].villages[0]


@pytest.mark.parametrize(
    ("mutate", "code", "expected"),
    [
        pytest.param(
            lambda t: _replace_villages(t, "PD-01", lambda v: v.split(";", 1)[1]),
            "51.08.01.2001",
            ["not covered"],
            id="uncovered",
        ),
        pytest.param(
            lambda t: _replace_villages(t, "PD-02", lambda v: v + ";51.08.01.2001"),
            "51.08.01.2001",
            ["covered twice", "PD-01", "PD-02"],
            id="covered-twice",
        ),
        pytest.param(
            lambda t: _replace_villages(t, "PD-36", lambda v: v + ";51.08.09.2099"),
            "51.08.09.2099",
            ["unknown village code", "PD-36"],
            id="unknown-code",
        ),
    ],
)
def test_parse_roster_refuses(mutate, code: str, expected: list[str]) -> None:
    assert _pd01_first() == "51.08.01.2001"
    with pytest.raises(ref.RosterError) as exc:
        ref.parse_roster(mutate(SAMPLE_TEXT))
    hits = [p for p in exc.value.problems if code in p]
    assert len(hits) == 1, exc.value.problems
    for word in expected:
        assert word in hits[0]
    assert code in str(exc.value)


def test_parse_roster_lists_every_problem() -> None:
    text = SAMPLE_TEXT
    text = _replace_villages(text, "PD-01", lambda v: v.split(";", 1)[1])  # uncovered 51.08.01.2001
    text = text.replace("kadis@dinsos.example", "kadis-at-dinsos")  # bad email
    text = "\n".join(line for line in text.splitlines() if not line.startswith("KABID-PJS,")) + "\n"
    text += "PD-01,pendamping,rehabilitasi_sosial,Duplikat,dup@dinsos.example,51.08.01.2001\n"
    with pytest.raises(ref.RosterError) as exc:
        ref.parse_roster(text)
    problems = "\n".join(exc.value.problems)
    assert "duplicate officer_id PD-01" in problems
    assert "bad email 'kadis-at-dinsos'" in problems
    assert "missing head_of_bidang for bidang perlindungan_jaminan_sosial" in problems
    assert len(exc.value.problems) == 3, problems  # the duplicate row covers 51.08.01.2001 once


def test_load_roster_env(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REFERRAL_ROSTER_FILE", raising=False)
    assert ref.load_roster() is ref.sample_roster()
    path = tmp_path / "roster.csv"
    path.write_text("\ufeff" + SAMPLE_TEXT, encoding="utf-8")
    monkeypatch.setenv("REFERRAL_ROSTER_FILE", str(path))
    assert ref.load_roster().coverage == ref.sample_roster().coverage


def test_bidang_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REFERRAL_BIDANG_NAMES", raising=False)
    names = ref.bidang_names()
    assert tuple(names) == ref.BIDANG_CODES
    assert names["pemberdayaan_sosial"] == "Bidang Pemberdayaan Sosial dan Penanganan Fakir Miskin"

    override = '{"rehabilitasi_sosial": "Bidang Pelayanan dan Rehabilitasi Sosial"}'
    monkeypatch.setenv("REFERRAL_BIDANG_NAMES", override)
    names = ref.bidang_names()
    assert names["rehabilitasi_sosial"] == "Bidang Pelayanan dan Rehabilitasi Sosial"
    assert names["perlindungan_jaminan_sosial"] == "Bidang Perlindungan dan Jaminan Sosial"

    monkeypatch.setenv("REFERRAL_BIDANG_NAMES", '{"perlindungan_anak": "Bidang PPA", "rehsos": "x"}')
    with pytest.raises(ValueError, match="perlindungan_anak, rehsos"):
        ref.bidang_names()
