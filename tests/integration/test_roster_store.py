"""The roster's reads on a real Postgres: who takes a case (the one-query path and the full one agree with
routing), the coverage fingerprint Postgres computes, and who a role is today."""

from __future__ import annotations

from datetime import date

import pytest

from activities.store import open_store
from activities.store.roster import coverage_fingerprint, resolve_recipients
from referral import reference
from referral.records import Assignment
from tests.conftest import fresh_database

VILLAGE = "51.08.01.2001"  # Sumberklampok, covered by PD-01 (Gerokgak) in the sample roster
TODAY = date(2026, 3, 17)


@pytest.fixture
async def store(admin_url):
    """A database of its own: these tests put officers on leave and change the coverage."""
    async with fresh_database(admin_url, prefix="referral_roster") as url, open_store(url) as opened:
        yield opened


async def test_the_covering_pendamping_takes_the_case_in_one_query(store):
    queries = []
    async with store.pool.acquire() as conn:
        conn.add_query_logger(lambda record: queries.append(record.query))
        store.roster.pool = _OneConnection(conn)
        assert await store.roster.choose_pendamping(VILLAGE, TODAY, exclude=[]) == Assignment(
            pendamping_id="PD-01", bidang="perlindungan_jaminan_sosial", reason="covers_village")
    assert len(queries) == 1


async def test_on_leave_or_excluded_a_backup_in_the_same_kecamatan_takes_it(store):
    gerokgak = {o.officer_id for o in reference.load_roster(None).pendamping()
                if any(v.startswith("51.08.01.") for v in o.villages)} - {"PD-01"}
    excluded = await store.roster.choose_pendamping(VILLAGE, TODAY, exclude=["PD-01"])
    await store.roster.add_leave("PD-01", date(2026, 3, 16), date(2026, 3, 20))
    on_leave = await store.roster.choose_pendamping(VILLAGE, TODAY, exclude=[])
    after_leave = await store.roster.choose_pendamping(VILLAGE, date(2026, 3, 21), exclude=[])
    for choice in (excluded, on_leave):
        assert choice.reason == "backup_same_kecamatan" and choice.pendamping_id in gerokgak
    assert after_leave.pendamping_id == "PD-01"


async def test_a_village_nobody_covers_is_a_lookup_error(store):
    await store.pool.execute("DELETE FROM coverage WHERE village_code = $1", VILLAGE)
    with pytest.raises(LookupError, match="no pendamping covers"):
        await store.roster.choose_pendamping(VILLAGE, TODAY, exclude=[])


async def test_the_version_is_the_coverage_fingerprint_and_moves_with_the_coverage(store):
    async def by_hand() -> str:
        rows = await store.pool.fetch("SELECT c.village_code, c.pendamping_id, o.bidang FROM coverage c"
                                      " JOIN officers o ON o.officer_id = c.pendamping_id")
        return coverage_fingerprint([tuple(r) for r in rows])

    before = await store.roster.version()
    assert len(before) == 12 and before == await by_hand()
    await store.pool.execute("UPDATE coverage SET pendamping_id = 'PD-02' WHERE village_code = $1", VILLAGE)
    after = await store.roster.version()
    assert after != before and after == await by_hand()


async def test_roles_resolve_to_who_holds_them_and_ids_stay_ids(store):
    async with store.pool.acquire() as conn:
        assert await resolve_recipients(conn, ["PD-07"]) == {"PD-07": "PD-07"}
        assert await resolve_recipients(conn, ["head:rehabilitasi_sosial", "kepala_dinas", "PD-07"]) == {
            "head:rehabilitasi_sosial": "KABID-REHSOS", "kepala_dinas": "KADIS", "PD-07": "PD-07"}
        await conn.execute("UPDATE officers SET active = false WHERE officer_id = 'KABID-REHSOS'")
        assert await resolve_recipients(conn, ["head:rehabilitasi_sosial"]) == {"head:rehabilitasi_sosial": "KADIS"}
        assert await resolve_recipients(conn, ["piket"], on=date(2026, 1, 6)) == {"piket": "PD-01"}
        assert await resolve_recipients(conn, ["piket"], on=None) == {"piket": "KADIS"}


class _OneConnection:
    """A pool stand-in that hands out one connection, so its query logger sees every statement."""

    def __init__(self, conn) -> None:
        self.conn = conn

    def acquire(self):
        conn = self.conn

        class _Held:
            async def __aenter__(self):
                return conn

            async def __aexit__(self, *exc):
                return False

        return _Held()
