"""Least privilege (issue 11): the owner role owns the schema; the runtime role does what the worker, the
dispatcher and the API do, and every DELETE, TRUNCATE and DDL of it is refused; the audit trails refuse
change from every role.

Roles are cluster-wide, so this module makes its own pair (unique names, dropped at the end) and grants
them per database. Run: .venv/bin/python -m pytest -q tests/integration/test_privileges.py
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import AsyncIterator
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import pytest
from temporalio.service import RPCError

from activities.notify import Dispatcher
from activities.store import Store, open_store
from activities.store.codec_audit import CodecAuditStore
from activities.store.outbox import OutboxStore, Outcome
from activities.store.roles import (
    APPEND_ONLY_TABLES, RUNTIME_GRANTS, DatabaseRoles, OwnedObject, RoleFacts, RoleSetupError, bootstrap_database,
    ensure_roles, grant_statements, login_problems, owned_objects, ownership_error, runtime_problems,
)
from activities.store.schema import MigrationError, migrate, migrate_database, migration_files
from api.tokens import issue_token, revoke_token, verify_token
from casework.intake import complaint_id_for, start_input, workflow_id
from referral import reference
from referral.config import Settings
from referral.records import ReferralEvent
from tests.conftest import ROOT, _with_database, actor, fresh_database, make_intake, running_worker, task_queue
from workflows.complaint import ComplaintWorkflow

PASSWORD = "least-privilege-test"


# ---- databases and roles ----

def as_user(url: str, user: str, password: str = PASSWORD) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{quote(user)}:{quote(password)}@{host}"))


@pytest.fixture(scope="module")
async def roles(admin_url: str) -> AsyncIterator[DatabaseRoles]:
    suffix = uuid.uuid4().hex[:8]
    made = DatabaseRoles(owner=f"referral_owner_t{suffix}", runtime=f"referral_app_t{suffix}")
    yield made
    conn = await asyncpg.connect(admin_url)
    try:  # every database granting them is gone by now
        for role in (made.runtime, made.owner):
            await conn.execute(f'DROP ROLE IF EXISTS "{role}"')
    finally:
        await conn.close()


@asynccontextmanager
async def new_database(admin: str, roles: DatabaseRoles, bootstrapped: bool = True) -> AsyncIterator[str]:
    """An empty database (the superuser's URL), bootstrapped for `roles` with passwords; dropped afterwards."""
    name = f"referral_test_lp_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = _with_database(admin, name)
    try:
        if bootstrapped:
            await bootstrap(url, roles)
        yield url
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def bootstrap(url: str, roles: DatabaseRoles) -> list[OwnedObject]:
    conn = await asyncpg.connect(url)
    try:
        adopted = await bootstrap_database(conn, roles)
        for role in (roles.owner, roles.runtime):
            await conn.execute(f"ALTER ROLE \"{role}\" PASSWORD '{PASSWORD}'")
        return adopted
    finally:
        await conn.close()


@dataclass(frozen=True)
class Urls:
    superuser: str
    owner: str
    runtime: str
    applied: list[str]


@pytest.fixture(scope="module")
async def lp(admin_url: str, roles: DatabaseRoles) -> AsyncIterator[Urls]:
    """The deployment's way: DATABASE_ADMIN_URL logs in as the owner role and prepares the database."""
    async with new_database(admin_url, roles) as url:
        owner_url = as_user(url, roles.owner)
        applied = await migrate_database(owner_url, roles)
        async with open_store(owner_url, prepare=True):
            pass  # reference data and the sample roster, loaded by the owner
        yield Urls(superuser=url, owner=owner_url, runtime=as_user(url, roles.runtime), applied=applied)


@pytest.fixture(scope="module")
async def runtime(lp: Urls) -> AsyncIterator[Store]:
    async with open_store(lp.runtime) as store:
        yield store


@pytest.fixture(scope="module")
async def owner(lp: Urls) -> AsyncIterator[Store]:
    async with open_store(lp.owner) as store:
        yield store


@pytest.fixture(scope="module")
async def seeded_case(runtime: Store) -> str:
    """A case row, one event and one access record, written by the runtime role."""
    complaint_id = f"ADU-LP{uuid.uuid4().hex[:10].upper()}"
    now = datetime.now(timezone.utc)
    await runtime.pool.execute(
        "INSERT INTO complaints (complaint_id, workflow_id, channel, status, village_code, kecamatan, category,"
        " bidang, urgency, reported_at, received_at) VALUES ($1, $2, 'puskesos', 'received', '51.08.08.2010',"
        " 'Sawan', 'penyandang_disabilitas', 'rehabilitasi_sosial', 'normal', $3, $3)",
        complaint_id, f"complaint-{complaint_id}", now)
    await runtime.pool.execute(
        "INSERT INTO complaint_events (complaint_id, event_key, event, actor, occurred_at)"
        " VALUES ($1, '0001:received', 'received', 'system', $2)", complaint_id, now)
    await runtime.access.record_access(principal_kind="officer", principal_id="PD-34", complaint_id=complaint_id,
                                       fields=["subject.name"], purpose="kunjungan rumah")
    await CodecAuditStore(runtime.pool).record(principal_kind="officer", principal_id="PD-34", role="pendamping",
                                               allowed=True, namespace="default", payload_count=1, decrypted_count=1,
                                               complaint_ids=[complaint_id])
    return complaint_id


# ---- pure decisions ----

@pytest.mark.parametrize(("environ", "expected"), [
    ({}, DatabaseRoles("referral_owner", "referral_app")),
    ({"REFERRAL_DB_OWNER_ROLE": " dinsos_owner ", "REFERRAL_DB_RUNTIME_ROLE": ""}, DatabaseRoles("dinsos_owner", "referral_app")),
    ({"REFERRAL_DB_RUNTIME_ROLE": "referral"}, DatabaseRoles("referral_owner", "referral")),
])
def test_role_names_come_from_settings(environ: dict, expected: DatabaseRoles) -> None:
    assert DatabaseRoles.from_env(environ) == expected


@pytest.mark.parametrize(("environ", "message"), [
    ({"REFERRAL_DB_OWNER_ROLE": "Referral"}, "REFERRAL_DB_OWNER_ROLE: 'Referral' is not a role name"),
    ({"REFERRAL_DB_RUNTIME_ROLE": 'app"; DROP'}, "REFERRAL_DB_RUNTIME_ROLE: 'app\"; DROP' is not a role name"),
    ({"REFERRAL_DB_OWNER_ROLE": "x", "REFERRAL_DB_RUNTIME_ROLE": "x"}, "REFERRAL_DB_RUNTIME_ROLE: 'x' is also the owner"),
])
def test_a_bad_role_name_is_refused_naming_the_setting(environ: dict, message: str) -> None:
    with pytest.raises(ValueError) as error:
        DatabaseRoles.from_env(environ)
    assert str(error.value).startswith(message)


REVOKES = ['REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "app"', 'REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM "app"']


@pytest.mark.parametrize(("columns", "sequences", "grants"), [
    ({"bidang": ["code", "name"]}, {}, ['GRANT SELECT ON TABLE public."bidang" TO "app"']),
    ({"complaint_events": ["id"]}, {"complaint_events": ["complaint_events_id_seq"]},
     ['GRANT SELECT, INSERT ON TABLE public."complaint_events" TO "app"',
      'GRANT USAGE ON SEQUENCE public."complaint_events_id_seq" TO "app"']),
    ({"api_tokens": ["token_id", "secret_hash", "revoked_at"]}, {},
     ['GRANT SELECT, INSERT ON TABLE public."api_tokens" TO "app"',
      'GRANT UPDATE ("revoked_at", "last_used_at") ON TABLE public."api_tokens" TO "app"']),
    # A case row: every column but its identity, provenance and the reporter's words, later columns included.
    ({"complaints": ["complaint_id", "workflow_id", "status", "subject", "description", "added_later"]}, {},
     ['GRANT SELECT, INSERT ON TABLE public."complaints" TO "app"',
      'GRANT UPDATE ("status", "subject", "added_later") ON TABLE public."complaints" TO "app"']),
    # Read-only tables never get their sequences; a table nobody declared gets nothing at all.
    ({"schema_migrations": ["version"], "undeclared": ["id"]}, {"schema_migrations": ["s_seq"], "undeclared": ["u_seq"]},
     ['GRANT SELECT ON TABLE public."schema_migrations" TO "app"']),
    ({}, {}, []),
])
def test_grant_statements(columns: dict, sequences: dict, grants: list[str]) -> None:
    assert grant_statements("app", columns, sequences) == REVOKES + grants


RUNTIME_AS_IT_SHOULD_BE = RoleFacts(
    role="app", superuser=False, create_role=False, create_db=False, owner_member=False, runtime_member=True,
    db_connect=True, db_create=False, db_temp=False, schema_usage=True, schema_create=False)


@pytest.mark.parametrize(("changes", "problems"), [
    ({}, []),
    ({"superuser": True, "owner_member": True}, ["app is a superuser: no privilege is ever checked"]),
    ({"runtime_member": False, "owner_member": True},
     ["app is not the runtime role referral_app (REFERRAL_DB_RUNTIME_ROLE)",
      "app is or may act as the owner role referral_owner: it may change the schema"]),
    ({"db_temp": True, "schema_create": True},
     ["app may create temporary tables in database referral", "app may create objects in schema public"]),
    ({"db_connect": False, "schema_usage": False, "create_role": True},
     ["app may create roles", "app may not connect to database referral", "app may not use schema public"]),
])
def test_runtime_problems(changes: dict, problems: list[str]) -> None:
    facts = replace(RUNTIME_AS_IT_SHOULD_BE, **changes)
    assert runtime_problems(facts, DatabaseRoles(), "referral") == problems


def test_ownership_error_names_each_foreign_owner_and_its_objects() -> None:
    mine = [OwnedObject("TABLE", "complaints", "owner"), OwnedObject("FUNCTION", "f()", "owner")]
    assert ownership_error(mine, "owner") is None
    message = ownership_error(mine + [OwnedObject("TABLE", "villages", "postgres"),
                                      OwnedObject("TABLE", "bidang", "postgres"),
                                      OwnedObject("VIEW", "v", "referral")], "owner")
    assert message is not None
    assert "owned by postgres: bidang, villages; owned by referral: v." in message
    assert "REFERRAL_DB_OWNER_ROLE" in message and "--bootstrap" in message


# ---- the owner owns, the runtime role gets exactly the table ----

async def test_every_table_has_a_declared_runtime_grant(lp: Urls) -> None:
    conn = await asyncpg.connect(lp.superuser)
    try:
        tables = {r["relname"] for r in await conn.fetch(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p', 'v', 'm')")}
    finally:
        await conn.close()
    assert tables == set(RUNTIME_GRANTS), "declare every table in activities/store/roles.py RUNTIME_GRANTS"


async def test_the_owner_role_owns_every_object(lp: Urls, roles: DatabaseRoles) -> None:
    assert "005_least_privilege.sql" in lp.applied
    conn = await asyncpg.connect(lp.superuser)
    try:
        objects = await owned_objects(conn)
        schema_owner = await conn.fetchval("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'")
    finally:
        await conn.close()
    assert {o.owner for o in objects} == {roles.owner}
    assert {"complaints", "schema_migrations", "complaint_events_append_only()"} <= {o.name for o in objects}
    assert schema_owner == roles.owner


async def test_the_runtime_role_has_exactly_the_declared_privileges(lp: Urls, roles: DatabaseRoles) -> None:
    conn = await asyncpg.connect(lp.superuser)
    try:
        table_rows = await conn.fetch(
            "SELECT table_name, privilege_type FROM information_schema.table_privileges WHERE grantee = $1",
            roles.runtime)
        update_rows = await conn.fetch(
            "SELECT table_name, column_name FROM information_schema.column_privileges"
            " WHERE grantee = $1 AND privilege_type = 'UPDATE'", roles.runtime)
        columns = {r["table_name"]: r["columns"] for r in await conn.fetch(
            "SELECT table_name, array_agg(column_name::text) AS columns FROM information_schema.columns"
            " WHERE table_schema = 'public' GROUP BY table_name")}
        sequences = {r["relname"]: r["usage"] for r in await conn.fetch(
            "SELECT relname, has_sequence_privilege($1, oid, 'USAGE') AS usage,"
            " has_sequence_privilege($1, oid, 'UPDATE') AS change FROM pg_class"
            " WHERE relkind = 'S' AND relnamespace = 'public'::regnamespace", roles.runtime)}
    finally:
        await conn.close()
    granted: dict[str, set[str]] = {}
    for r in table_rows:
        granted.setdefault(r["table_name"], set()).add(r["privilege_type"])
    assert granted == {t: set(g.privileges) for t, g in RUNTIME_GRANTS.items()}
    updatable: dict[str, set[str]] = {}
    for r in update_rows:
        updatable.setdefault(r["table_name"], set()).add(r["column_name"])
    expected = {t: set(g.update_columns) | {c for c in columns[t] if c not in (g.update_except or columns[t])}
                for t, g in RUNTIME_GRANTS.items()}
    assert updatable == {t: c for t, c in expected.items() if c}
    assert not {"complaint_id", "workflow_id", "reporter", "description", "received_at"} & updatable["complaints"]
    assert updatable["notification_outbox"] == {"status", "claim_token", "claimed_until", "attempts", "last_error",
                                                "not_before", "sent_at"}
    assert sequences == {"complaint_events_id_seq": True, "notification_outbox_id_seq": True,
                         "personal_data_access_id_seq": True, "codec_access_id_seq": True}


async def test_the_runtime_login_is_exactly_the_runtime_role(lp: Urls, roles: DatabaseRoles, runtime: Store) -> None:
    assert await login_problems(runtime.pool, roles) == []
    for url, expected in ((lp.owner, "may act as the owner role"), (lp.superuser, "is a superuser")):
        pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
        try:
            assert any(expected in p for p in await login_problems(pool, roles))
        finally:
            await pool.close()


# ---- every refusal ----

REFUSED_DDL = {
    "create table": "CREATE TABLE intruder (id int)",
    "create temporary table": "CREATE TEMP TABLE intruder (id int)",
    "create schema": "CREATE SCHEMA intruder",
    "create function": "CREATE FUNCTION intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "create index": "CREATE INDEX intruder ON complaints (description)",
    "create trigger": "CREATE TRIGGER intruder BEFORE INSERT ON complaints"
                      " FOR EACH ROW EXECUTE FUNCTION complaint_events_append_only()",
    "alter table add column": "ALTER TABLE complaints ADD COLUMN intruder text",
    "alter table owner": "ALTER TABLE complaints OWNER TO CURRENT_USER",
    "alter table disable trigger": "ALTER TABLE complaint_events DISABLE TRIGGER complaint_events_no_change",
    "alter table disable trigger all": "ALTER TABLE personal_data_access DISABLE TRIGGER ALL",
    "drop trigger": "DROP TRIGGER complaint_events_no_truncate ON complaint_events",
    "drop table": "DROP TABLE complaint_events",
    "drop function": "DROP FUNCTION complaint_events_append_only() CASCADE",
    "comment on table": "COMMENT ON TABLE complaint_events IS 'mutable'",
    "alter sequence": "ALTER SEQUENCE complaint_events_id_seq RESTART",
    "setval": "SELECT setval('complaint_events_id_seq', 1)",
    "silence triggers": "SET session_replication_role = replica",
}
REFUSED_WRITES = {
    "update an event": "UPDATE complaint_events SET actor = 'x'",
    "update an access record": "UPDATE personal_data_access SET purpose = 'x'",
    "update a codec record": "UPDATE codec_access SET allowed = true",
    "rewrite a joined report": "UPDATE complaint_reports SET description = 'x'",
    "rewrite a referral's partner": "UPDATE case_referrals SET partner_code = 'x'",
    "rewrite personal data": "UPDATE complaints SET description = 'x', subject = NULL",
    "rewrite a case's identity": "UPDATE complaints SET workflow_id = 'x'",
    "rewrite a notification": "UPDATE notification_outbox SET body = 'x', recipient_id = 'KADIS'",
    "change a token's secret": "UPDATE api_tokens SET secret_hash = '\\x00'::bytea, expires_at = now()",
    "deactivate an officer": "UPDATE officers SET active = false",
    "add an officer": "INSERT INTO officers (officer_id, role, name, email) VALUES ('X', 'kepala_dinas', 'x', 'x')",
    "change coverage": "INSERT INTO coverage (village_code, pendamping_id) VALUES ('x', 'x')",
    "record leave": "INSERT INTO officer_leave (officer_id, starts_on, ends_on) VALUES ('PD-34', now(), now())",
    "rename a village": "UPDATE villages SET name = 'x'",
    "add a bidang": "INSERT INTO bidang (code, name) VALUES ('x', 'x')",
    "add a category": "INSERT INTO ppks_categories (code, name, english, bidang) VALUES ('x', 'x', 'x', 'x')",
    "forge a migration": "INSERT INTO schema_migrations (version) VALUES ('999_x.sql')",
}


@pytest.mark.parametrize("table", sorted(RUNTIME_GRANTS))
async def test_the_runtime_role_may_not_delete_or_truncate(runtime: Store, seeded_case: str, table: str) -> None:
    for statement in (f"DELETE FROM {table}", f"TRUNCATE {table}", f"TRUNCATE {table} CASCADE"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await runtime.pool.execute(statement)


@pytest.mark.parametrize("statement", list(REFUSED_DDL.values()), ids=list(REFUSED_DDL))
async def test_the_runtime_role_may_not_change_the_schema(runtime: Store, statement: str) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await runtime.pool.execute(statement)


@pytest.mark.parametrize("statement", list(REFUSED_WRITES.values()), ids=list(REFUSED_WRITES))
async def test_the_runtime_role_may_not_write_beyond_its_grants(runtime: Store, seeded_case: str,
                                                               statement: str) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await runtime.pool.execute(statement)


async def test_the_runtime_role_may_not_act_as_the_owner(runtime: Store, roles: DatabaseRoles) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await runtime.pool.execute(f'SET ROLE "{roles.owner}"')


async def test_roster_changes_need_the_owner_role(runtime: Store, owner: Store) -> None:
    roster = reference.sample_roster()
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await runtime.roster.replace_roster(roster)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await runtime.roster.add_leave("PD-35", datetime(2026, 12, 1).date(), datetime(2026, 12, 12).date(), "cuti")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await runtime.reference.load()
    assert await owner.roster.replace_roster(roster) == []
    await owner.roster.add_leave("PD-35", datetime(2026, 12, 1).date(), datetime(2026, 12, 12).date(), "cuti")


# ---- the audit trails refuse change from every role ----

async def audit_triggers(url: str) -> dict[str, dict[str, set[str]]]:
    """table -> trigger state ('O' enabled, 'A' always) -> the operations its BEFORE triggers refuse."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT c.relname, t.tgtype, t.tgenabled::text AS tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE NOT t.tgisinternal AND c.relnamespace = 'public'::regnamespace AND t.tgtype & 2 = 2")
    finally:
        await conn.close()
    found: dict[str, dict[str, set[str]]] = {}
    for r in rows:
        ops = {op for op, bit in (("UPDATE", 16), ("DELETE", 8), ("TRUNCATE", 32)) if r["tgtype"] & bit}
        found.setdefault(r["relname"], {}).setdefault(r["tgenabled"], set()).update(ops)
    return found


async def test_every_append_only_table_has_refusing_triggers(lp: Urls) -> None:
    found = await audit_triggers(lp.superuser)
    refusing = {table for table, states in found.items()
                if set().union(*(ops for state, ops in states.items() if state in "OA")) == {"UPDATE", "DELETE", "TRUNCATE"}}
    assert refusing == set(APPEND_ONLY_TABLES)
    # 005: not even session_replication_role = replica silences these two.
    for table in ("complaint_events", "personal_data_access"):
        assert found[table] == {"A": {"UPDATE", "DELETE", "TRUNCATE"}}, table


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
async def test_the_audit_trail_refuses_change_even_from_the_owner_and_a_superuser(
        lp: Urls, seeded_case: str, table: str) -> None:
    always = (await audit_triggers(lp.superuser))[table].keys() == {"A"}
    for url, replica in ((lp.owner, False), (lp.superuser, False), (lp.superuser, True)):
        if replica and not always:
            continue
        conn = await asyncpg.connect(url)
        try:
            if replica:  # the switch that silences ordinary triggers
                await conn.execute("SET session_replication_role = replica")
            for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}", f"TRUNCATE {table}",
                              "TRUNCATE complaints CASCADE"):
                with pytest.raises(asyncpg.RaiseError, match="append-only"):
                    await conn.execute(statement)
        finally:
            await conn.close()


# ---- the runtime role can do everything the worker, the dispatcher and the API do ----

async def test_a_whole_case_and_its_notifications_as_the_runtime_role(time_env, runtime: Store) -> None:
    client, queue = time_env.client, task_queue()
    intake = make_intake(reported_at=(await time_env.get_current_time()).isoformat())
    complaint_id = complaint_id_for(intake)
    async with running_worker(client, runtime, queue):
        handle = await client.start_workflow(ComplaintWorkflow.run, start_input(complaint_id, intake, Settings().pii_key),
                                             id=workflow_id(complaint_id), task_queue=queue)
        try:
            for _ in range(200):
                view = await handle.query(ComplaintWorkflow.state, None)
                if view.status == "assigned":
                    break
                await time_env.sleep(timedelta(minutes=1))
            pendamping = view.pendamping_id
            await handle.execute_update(ComplaintWorkflow.acknowledge, {"actor": actor(pendamping)})
            await handle.execute_update(ComplaintWorkflow.assess, {"actor": actor(pendamping), "note": "kunjungan"})
            await handle.execute_update(ComplaintWorkflow.refer, {"actor": actor(pendamping), "plan": "alat bantu"})
            await handle.execute_update(ComplaintWorkflow.resolve,
                                        {"actor": actor("KABID-REHSOS"), "outcome": "assistance_given",
                                         "programme": "ATENSI"})
            view = await handle.execute_update(ComplaintWorkflow.close, {"actor": actor(pendamping)})
        finally:
            with suppress(RPCError):  # a closed case has completed already
                await handle.terminate(reason="test finished")
    assert view.status == "closed"
    row = await runtime.cases.complaint(complaint_id)
    assert row.status == "closed" and row.outcome == "assistance_given"
    events = [e.event for e in await runtime.cases.events(complaint_id)]
    assert {"received", "assigned", "acknowledged", "assessed", "referred", "resolved", "closed"} <= set(events)

    # The dispatcher: claims and finishes every row (no channel configured here, so each is skipped).
    queued = await runtime.pool.fetchval("SELECT count(*) FROM notification_outbox WHERE complaint_id = $1",
                                         complaint_id)
    assert queued > 0
    quiet = replace(Settings(), smtp_host=None, webhook_url=None)
    await Dispatcher(runtime, quiet).deliver_due(now=datetime.now(timezone.utc) + timedelta(days=60), limit=1000)
    left = await runtime.pool.fetch(
        "SELECT status, claim_token FROM notification_outbox WHERE complaint_id = $1", complaint_id)
    assert {(r["status"], r["claim_token"]) for r in left} == {("skipped", None)}


async def test_the_dispatchers_claim_renew_release_and_finish_as_the_runtime_role(
        runtime: Store, seeded_case: str) -> None:
    now = datetime.now(timezone.utc)
    ids = [await runtime.pool.fetchval(
        "INSERT INTO notification_outbox (complaint_id, event_key, recipient_id, channel, subject, body, not_before)"
        " VALUES ($1, $2, 'PD-34', $3, 's', 'b', $4) RETURNING id", seeded_case, f"claims:{channel}", channel, now)
        for channel in ("email", "webhook")]
    outbox = OutboxStore(runtime.pool)
    lease = timedelta(seconds=30)
    claimed = {c.outbox_id: c.claim for c in await outbox.claim(now, 1000, lease)}
    assert set(ids) <= set(claimed)
    mine = [claimed[i] for i in ids]
    assert await outbox.renew(mine, now + 2 * lease) == set(ids)
    assert await outbox.release(mine) == 2
    claimed = {c.outbox_id: c.claim for c in await outbox.claim(now, 1000, lease)}
    assert await outbox.finish(claimed[ids[0]], Outcome(status="sent", attempts=1, sent_at=now))
    assert await outbox.finish(claimed[ids[1]], Outcome(status="pending", attempts=1, last_error="503",
                                                        not_before=now + timedelta(minutes=1)))
    rows = {r["id"]: r["status"] for r in await runtime.pool.fetch(
        "SELECT id, status FROM notification_outbox WHERE id = ANY($1::bigint[])", ids)}
    assert rows == {ids[0]: "sent", ids[1]: "pending"}


async def test_the_apis_token_and_access_writes_as_the_runtime_role(runtime: Store, seeded_case: str) -> None:
    issued = await issue_token(runtime.access, kind="officer", subject="PD-34", expires_in=timedelta(days=1))
    principal = await verify_token(runtime.access, issued.token)  # reads the roster, records last use
    assert principal.officer_id == "PD-34"
    assert (await runtime.access.token(issued.info.token_id)).info.last_used_at is not None
    assert (await revoke_token(runtime.access, issued.info.token_id)).revoked_at is not None
    await runtime.access.record_access(principal_kind="officer", principal_id="PD-34", complaint_id=seeded_case,
                                       fields=["subject.nik"], purpose="verifikasi")
    assert [a.purpose for a in await runtime.access.accesses_for(seeded_case)][-1] == "verifikasi"


async def test_the_workers_later_case_writes_as_the_runtime_role(runtime: Store, seeded_case: str) -> None:
    # A sub-case at a partner office, sent then accepted (its row is upserted), and the NIK it brings.
    now = datetime.now(timezone.utc)
    for status in ("sent", "accepted"):
        event = ReferralEvent(complaint_id=seeded_case, n=1, partner="DISDUKCAPIL", workflow_id=f"ref-{seeded_case}-1",
                              key=f"referral:1:{status}", event=f"referral_{status}", actor="system", occurred_at=now,
                              status=status, required=True, detail={"need": "penerbitan NIK"})
        assert (await runtime.referrals.record(event, []))[0]
    assert [r["status"] for r in await runtime.referrals.referrals(seeded_case)] == ["accepted"]
    assert await runtime.referrals.record_nik(seeded_case, "5108081507800001", "key-" + seeded_case,
                                              "penyandang_disabilitas") is None
    # A further report joining the case counts it on the case row.
    await runtime.pool.execute("UPDATE complaints SET reports = reports + 1, updated_at = now() WHERE complaint_id = $1",
                               seeded_case)
    row = await runtime.pool.fetchrow("SELECT subject_key, has_nik, reports FROM complaints WHERE complaint_id = $1",
                                      seeded_case)
    assert (row["subject_key"], row["has_nik"], row["reports"]) == ("key-" + seeded_case, True, 2)


async def test_the_runtime_role_migrates_nothing_and_reads_reports(runtime: Store) -> None:
    assert await migrate(runtime.pool) == []  # what the API does at start: a read of schema_migrations
    today = datetime.now(timezone.utc).date()
    await runtime.reports.rows(today - timedelta(days=1), today + timedelta(days=1))


# ---- migrating: as a superuser acting as the owner, an existing database, the script ----

async def test_a_superuser_migrates_as_the_owner_and_a_pending_migration_is_refused_to_the_runtime(
        admin_url: str, roles: DatabaseRoles) -> None:
    async with new_database(admin_url, roles) as url:
        first, second = await asyncio.gather(migrate_database(url, roles), migrate_database(url, roles))
        assert sorted(first + second) == [name for name, _ in migration_files()]  # each applied once
        assert await migrate_database(url, roles) == []
        conn = await asyncpg.connect(url)
        try:
            assert {o.owner for o in await owned_objects(conn)} == {roles.owner}
            await conn.execute("DELETE FROM schema_migrations WHERE version = '005_least_privilege.sql'")
        finally:
            await conn.close()
        pool = await asyncpg.create_pool(as_user(url, roles.runtime), min_size=1, max_size=1)
        try:
            with pytest.raises(MigrationError, match="005_least_privilege.sql: the database role .* may not migrate"):
                await migrate(pool)
        finally:
            await pool.close()


async def test_the_migrating_connection_goes_back_to_its_own_role(admin_url: str, roles: DatabaseRoles) -> None:
    async with new_database(admin_url, roles) as url:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
        try:
            await migrate(pool, roles)
            assert await pool.fetchval("SELECT current_user") == await pool.fetchval("SELECT session_user")
        finally:
            await pool.close()


async def test_a_single_role_database_moves_to_least_privilege(admin_url: str, roles: DatabaseRoles) -> None:
    async with fresh_database(admin_url, prefix="referral_test_lp_single") as url:  # migrated as today, by postgres
        with pytest.raises(RoleSetupError, match=r"owned by postgres: .*complaints"):
            await migrate_database(url, roles)
        adopted = await bootstrap(url, roles)
        assert "complaints" in {o.name for o in adopted}
        assert await migrate_database(url, roles) == []
        async with open_store(as_user(url, roles.runtime)) as store:
            assert await login_problems(store.pool, roles) == []
            assert await store.roster.officer("PD-34") is not None


async def test_creating_the_roles_is_idempotent_even_when_sessions_race(admin_url: str) -> None:
    suffix = uuid.uuid4().hex[:8]
    made = DatabaseRoles(owner=f"referral_owner_r{suffix}", runtime=f"referral_app_r{suffix}")
    conns = [await asyncpg.connect(admin_url) for _ in range(3)]
    try:
        await asyncio.gather(*(ensure_roles(c, made) for c in conns))
        await ensure_roles(conns[0], made)
        names = {r["rolname"] for r in await conns[0].fetch(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[]) AND rolcanlogin", [made.owner, made.runtime])}
        assert names == {made.owner, made.runtime}
    finally:
        for role in (made.owner, made.runtime):
            await conns[0].execute(f'DROP ROLE IF EXISTS "{role}"')
        for c in conns:
            await c.close()


def run_migrate_script(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REFERRAL_DB_"))}
    return subprocess.run([sys.executable, str(ROOT / "deploy" / "migrate.py"), *args], capture_output=True,
                          text=True, timeout=120, env={**clean, "REFERRAL_LOG_FORMAT": "json", **env})


async def test_the_migrate_script_bootstraps_and_grants(admin_url: str, roles: DatabaseRoles) -> None:
    async with new_database(admin_url, roles, bootstrapped=False) as url:
        env = {"DATABASE_ADMIN_URL": url, "REFERRAL_DB_OWNER_ROLE": roles.owner,
               "REFERRAL_DB_RUNTIME_ROLE": roles.runtime}
        done = await asyncio.to_thread(run_migrate_script, env, "--bootstrap")
        assert done.returncode == 0, done.stderr
        assert f"runtime role {roles.runtime} granted" in done.stdout
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f"ALTER ROLE \"{roles.runtime}\" PASSWORD '{PASSWORD}'")
            assert {o.owner for o in await owned_objects(conn)} == {roles.owner}
        finally:
            await conn.close()
        async with open_store(as_user(url, roles.runtime)) as store:
            assert await store.roster.officer("PD-34") is not None  # reference data and roster were loaded
        as_runtime = {**env, "DATABASE_ADMIN_URL": as_user(url, roles.runtime)}
        refused = await asyncio.to_thread(run_migrate_script, as_runtime)
        assert refused.returncode == 1 and f"cannot act as the owner role {roles.owner}" in refused.stderr
        unnamed = await asyncio.to_thread(run_migrate_script, {"DATABASE_URL": url}, "--bootstrap")
        assert unnamed.returncode == 2 and "--bootstrap needs DATABASE_ADMIN_URL" in unnamed.stderr
        assert "Traceback" not in done.stderr + refused.stderr + unnamed.stderr
