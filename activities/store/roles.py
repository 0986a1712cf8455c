"""Least privilege in PostgreSQL (issue 11): an owner role owns the schema, a runtime role gets RUNTIME_GRANTS.

Two roles, named by settings because roles are cluster-wide while grants are per database:

- the **owner** (`REFERRAL_DB_OWNER_ROLE`, default `referral_owner`) owns every object of schema public.
  Migrations run as it (DATABASE_ADMIN_URL logs in as it, or as a superuser that `SET ROLE`s to it), and so
  do the operator commands that change the roster, and erasure.
- the **runtime** role (`REFERRAL_DB_RUNTIME_ROLE`, default `referral_app`) is DATABASE_URL's, for the worker
  and the API: it reads reference data and the roster, inserts events, inserts and updates case and outbox
  rows, and nothing else (no DELETE, TRUNCATE or DDL).

The grants are declared once, in RUNTIME_GRANTS, and `schema.migrate` re-applies them after every run under
its advisory lock: the runtime role's table and sequence privileges are revoked and granted again in one
transaction. Not ALTER DEFAULT PRIVILEGES: default privileges cannot differ per table, and a new table must
get a decision, not a default. A table missing from RUNTIME_GRANTS gets nothing (a warning is logged) and
tests/integration/test_privileges.py fails until it is declared.
"""

from __future__ import annotations

import os
import re
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator, Iterable, Mapping, Sequence

import asyncpg
import structlog

log = structlog.get_logger(__name__)

DEFAULT_OWNER_ROLE = "referral_owner"
DEFAULT_RUNTIME_ROLE = "referral_app"
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class RoleSetupError(RuntimeError):
    """The database's roles or ownership do not allow least privilege as configured."""


@dataclass(frozen=True)
class DatabaseRoles:
    owner: str = DEFAULT_OWNER_ROLE
    runtime: str = DEFAULT_RUNTIME_ROLE

    def __post_init__(self) -> None:
        for variable, name in (("REFERRAL_DB_OWNER_ROLE", self.owner), ("REFERRAL_DB_RUNTIME_ROLE", self.runtime)):
            if not _ROLE_NAME.match(name):
                raise ValueError(f"{variable}: {name!r} is not a role name (lower-case letters, digits and _,"
                                 " at most 63, not starting with a digit)")
        if self.owner == self.runtime:
            raise ValueError(f"REFERRAL_DB_RUNTIME_ROLE: {self.runtime!r} is also the owner role;"
                             " least privilege needs two roles")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> DatabaseRoles:
        return cls(owner=environ.get("REFERRAL_DB_OWNER_ROLE", "").strip() or DEFAULT_OWNER_ROLE,
                   runtime=environ.get("REFERRAL_DB_RUNTIME_ROLE", "").strip() or DEFAULT_RUNTIME_ROLE)


@dataclass(frozen=True)
class TableGrant:
    privileges: tuple[str, ...]               # table-wide; INSERT also brings USAGE of the table's own sequences
    update_columns: tuple[str, ...] = ()      # UPDATE of these columns only
    update_except: tuple[str, ...] | None = None  # UPDATE of every column but these (later columns included)


READ = TableGrant(("SELECT",))
APPEND = TableGrant(("SELECT", "INSERT"))

RUNTIME_GRANTS: Mapping[str, TableGrant] = {
    # Reference data and the roster: loaded by the owner (migrate.py, `roster import`, `leave`).
    "bidang": READ, "villages": READ, "ppks_categories": READ,
    "officers": READ, "coverage": READ, "officer_leave": READ, "piket_roster": READ,
    # The case row follows the workflow (and takes an NIK issued later), but its identity, where it came
    # from and what the reporter said are written at intake only.
    "complaints": TableGrant(("SELECT", "INSERT"), update_except=(
        "complaint_id", "workflow_id", "run_id", "channel", "sender_id", "external_ref", "reported_at",
        "received_at", "reporter", "description")),
    "case_referrals": TableGrant(("SELECT", "INSERT"), update_except=(
        "complaint_id", "n", "partner_code", "workflow_id", "sent_at")),
    "complaint_reports": APPEND,
    # Per-case data keys: made at intake (INSERT), erased after retention by setting the key to NULL (UPDATE of
    # the key columns; a trigger keeps an erased key erased). Never deleted.
    "case_keys": TableGrant(("SELECT", "INSERT"), ("wrapping_key_id", "wrapped_key", "erased_at")),
    "complaint_events": APPEND,
    # What the dispatcher's claim, renewal, finish and release write.
    "notification_outbox": TableGrant(("SELECT", "INSERT"), (
        "status", "claim_token", "claimed_until", "attempts", "last_error", "not_before", "sent_at")),
    "api_tokens": TableGrant(("SELECT", "INSERT"), ("revoked_at", "last_used_at")),
    "personal_data_access": APPEND,
    "codec_access": APPEND,
    "schema_migrations": READ,  # the runtime's `migrate` checks that nothing is pending
}
# Audit trails: triggers refuse UPDATE, DELETE and TRUNCATE for every role, the owner included (005 makes the
# first two fire under session_replication_role = replica too).
APPEND_ONLY_TABLES = ("complaint_events", "personal_data_access", "codec_access")


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# ---- pure decisions ----

def grant_statements(runtime: str, columns: Mapping[str, Sequence[str]],
                     sequences: Mapping[str, Iterable[str]]) -> list[str]:
    """The runtime role's privileges from scratch: revoke everything, grant RUNTIME_GRANTS for the tables that
    exist. `columns` maps each table of schema public to its columns; `sequences` a table to the sequences its
    columns own (bigserial, identity)."""
    who = quote_ident(runtime)
    statements = [f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {who}",
                  f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {who}"]
    for table in sorted(columns.keys() & RUNTIME_GRANTS.keys()):
        grant, target = RUNTIME_GRANTS[table], f"public.{quote_ident(table)}"
        statements.append(f"GRANT {', '.join(grant.privileges)} ON TABLE {target} TO {who}")
        updatable = list(grant.update_columns)
        if grant.update_except is not None:
            updatable += [c for c in columns[table] if c not in grant.update_except]
        if updatable:
            statements.append(f"GRANT UPDATE ({', '.join(quote_ident(c) for c in updatable)}) ON TABLE {target} TO {who}")
        if "INSERT" in grant.privileges:
            statements += [f"GRANT USAGE ON SEQUENCE public.{quote_ident(s)} TO {who}"
                           for s in sorted(sequences.get(table, ()))]
    return statements


def undeclared_tables(tables: Iterable[str]) -> list[str]:
    return sorted(set(tables) - RUNTIME_GRANTS.keys())


@dataclass(frozen=True)
class OwnedObject:
    kind: str   # the ALTER keyword: TABLE, VIEW, MATERIALIZED VIEW, SEQUENCE, FUNCTION
    name: str   # as SQL names it (regclass / regprocedure text)
    owner: str


def ownership_error(objects: Iterable[OwnedObject], owner: str) -> str | None:
    """Why migrations cannot run as `owner` here (objects of schema public owned by someone else), or None."""
    others: dict[str, list[str]] = {}
    for obj in objects:
        if obj.owner != owner:
            others.setdefault(obj.owner, []).append(obj.name)
    if not others:
        return None
    listed = "; ".join(f"owned by {who}: {', '.join(sorted(names))}" for who, names in sorted(others.items()))
    return (f"objects of schema public are not owned by the owner role {owner} (REFERRAL_DB_OWNER_ROLE): {listed}."
            " Hand them over once with `python deploy/migrate.py --bootstrap` and a superuser's"
            " DATABASE_ADMIN_URL, or set REFERRAL_DB_OWNER_ROLE to the role that owns them")


@dataclass(frozen=True)
class RoleFacts:
    """What one role may do in this database (from `role_facts`)."""

    role: str
    superuser: bool
    create_role: bool
    create_db: bool
    owner_member: bool    # is, or may SET ROLE to, the owner role
    runtime_member: bool  # is, or inherits, the runtime role
    db_connect: bool
    db_create: bool
    db_temp: bool
    schema_usage: bool
    schema_create: bool


def runtime_problems(facts: RoleFacts, roles: DatabaseRoles, database: str) -> list[str]:
    """How a role meant to be the runtime role differs from it: empty when it has exactly the runtime's reach."""
    role = facts.role
    if facts.superuser:
        return [f"{role} is a superuser: no privilege is ever checked"]
    checks = [
        (not facts.runtime_member, f"{role} is not the runtime role {roles.runtime} (REFERRAL_DB_RUNTIME_ROLE)"),
        (facts.owner_member, f"{role} is or may act as the owner role {roles.owner}: it may change the schema"),
        (facts.create_role, f"{role} may create roles"),
        (facts.create_db, f"{role} may create databases"),
        (not facts.db_connect, f"{role} may not connect to database {database}"),
        (facts.db_create, f"{role} may create schemas in database {database}"),
        (facts.db_temp, f"{role} may create temporary tables in database {database}"),
        (not facts.schema_usage, f"{role} may not use schema public"),
        (facts.schema_create, f"{role} may create objects in schema public"),
    ]
    return [problem for failed, problem in checks if failed]


# ---- SQL ----

_OBJECTS_SQL = """
SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
       ELSE 'TABLE' END AS kind, c.oid::regclass::text AS name, pg_get_userbyid(c.relowner) AS owner
FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                  AND (d.deptype = 'e' OR (c.relkind = 'S' AND d.deptype IN ('a', 'i'))))
UNION ALL
SELECT 'FUNCTION', p.oid::regprocedure::text, pg_get_userbyid(p.proowner)
FROM pg_proc p
WHERE p.pronamespace = 'public'::regnamespace
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                  AND d.deptype = 'e')
"""
# Extension members belong to their extension; a column's sequence follows its table's owner.

_COLUMNS_SQL = """
SELECT c.relname AS table_name, array_agg(a.attname::text ORDER BY a.attnum) AS columns
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
GROUP BY c.relname
"""

_SEQUENCES_SQL = """
SELECT t.relname AS table_name, s.relname AS sequence_name
FROM pg_class s
JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
 AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
JOIN pg_class t ON t.oid = d.refobjid
WHERE s.relkind = 'S' AND s.relnamespace = 'public'::regnamespace
"""

_FACTS_SQL = """
SELECT r.rolname AS role, r.rolsuper AS superuser, r.rolcreaterole AS create_role, r.rolcreatedb AS create_db,
       coalesce(pg_has_role(r.oid, o.oid, 'MEMBER'), false) AS owner_member,
       coalesce(pg_has_role(r.oid, a.oid, 'USAGE'), false) AS runtime_member,
       has_database_privilege(r.oid, current_database(), 'CONNECT') AS db_connect,
       has_database_privilege(r.oid, current_database(), 'CREATE') AS db_create,
       has_database_privilege(r.oid, current_database(), 'TEMPORARY') AS db_temp,
       has_schema_privilege(r.oid, 'public', 'USAGE') AS schema_usage,
       has_schema_privilege(r.oid, 'public', 'CREATE') AS schema_create
FROM pg_roles r LEFT JOIN pg_roles o ON o.rolname = $2 LEFT JOIN pg_roles a ON a.rolname = $3
WHERE r.rolname = $1
"""


async def role_facts(conn: asyncpg.Connection, role: str, roles: DatabaseRoles) -> RoleFacts | None:
    row = await conn.fetchrow(_FACTS_SQL, role, roles.owner, roles.runtime)
    return RoleFacts(**dict(row)) if row else None


async def login_problems(pool: asyncpg.Pool, roles: DatabaseRoles) -> list[str]:
    """How the role this pool logs in as (DATABASE_URL's) differs from the runtime role."""
    async with pool.acquire() as conn:
        user = await conn.fetchval("SELECT current_user")
        facts = await role_facts(conn, user, roles)
        database = await conn.fetchval("SELECT current_database()")
    assert facts is not None  # the role we are logged in as exists
    return runtime_problems(facts, roles, database)


async def owned_objects(conn: asyncpg.Connection) -> list[OwnedObject]:
    return [OwnedObject(**dict(r)) for r in await conn.fetch(_OBJECTS_SQL)]


@asynccontextmanager
async def acting_as_owner(conn: asyncpg.Connection, roles: DatabaseRoles | None) -> AsyncIterator[None]:
    """Run the block as the owner role (SET ROLE unless already logged in as it); nothing when roles is None.
    Refuses when objects of schema public belong to another role: the owner could not alter or grant them."""
    if roles is None:
        yield
        return
    switched = await conn.fetchval("SELECT current_user") != roles.owner
    if switched:
        try:
            await conn.execute(f"SET ROLE {quote_ident(roles.owner)}")
        except (asyncpg.InsufficientPrivilegeError, asyncpg.InvalidParameterValueError) as exc:
            user = await conn.fetchval("SELECT session_user")
            raise RoleSetupError(f"DATABASE_ADMIN_URL logs in as {user}, which cannot act as the owner role"
                                 f" {roles.owner} (REFERRAL_DB_OWNER_ROLE): {exc}") from None
    try:
        problem = ownership_error(await owned_objects(conn), roles.owner)
        if problem:
            raise RoleSetupError(problem)
        yield
    finally:
        if switched and not conn.is_closed():
            await conn.execute("RESET ROLE")  # RESET ALL (the pool's reset) leaves the role alone


async def grant_runtime(conn: asyncpg.Connection, roles: DatabaseRoles) -> None:
    """Give the runtime role exactly RUNTIME_GRANTS (run as the owner, after the migrations)."""
    columns = {r["table_name"]: r["columns"] for r in await conn.fetch(_COLUMNS_SQL)}
    sequences: dict[str, list[str]] = {}
    for r in await conn.fetch(_SEQUENCES_SQL):
        sequences.setdefault(r["table_name"], []).append(r["sequence_name"])
    for table in undeclared_tables(columns):
        log.warning("table without a runtime grant: the runtime role cannot use it", table=table,
                    fix="declare it in activities/store/roles.py RUNTIME_GRANTS")
    facts = await role_facts(conn, roles.runtime, roles)
    if facts is None:
        raise RoleSetupError(f"the runtime role {roles.runtime} (REFERRAL_DB_RUNTIME_ROLE) does not exist:"
                             " create it (`python deploy/migrate.py --bootstrap` does) or fix the setting")
    async with conn.transaction():
        for statement in grant_statements(roles.runtime, columns, sequences):
            await conn.execute(statement)
        await _grant_if_missing(conn, roles, facts)
    database = await conn.fetchval("SELECT current_database()")
    problems = runtime_problems(await role_facts(conn, roles.runtime, roles), roles, database)
    if problems:
        log.warning("the runtime role is not least-privileged", role=roles.runtime, problems=problems)


async def _grant_if_missing(conn: asyncpg.Connection, roles: DatabaseRoles, facts: RoleFacts) -> None:
    """CONNECT and schema USAGE, when the runtime role lacks them and the owner may give them."""
    database = quote_ident(await conn.fetchval("SELECT current_database()"))
    wanted = [(facts.db_connect, f"GRANT CONNECT ON DATABASE {database} TO {quote_ident(roles.runtime)}"),
              (facts.schema_usage, f"GRANT USAGE ON SCHEMA public TO {quote_ident(roles.runtime)}")]
    for present, statement in wanted:
        if not present:
            async with conn.transaction():  # a savepoint: a refusal here is reported, not fatal
                try:
                    await conn.execute(statement)
                except asyncpg.InsufficientPrivilegeError:
                    pass  # runtime_problems names what is still missing


async def ensure_roles(conn: asyncpg.Connection, roles: DatabaseRoles) -> None:
    """Create both roles (LOGIN, no password) unless they exist; safe when sessions race to create them."""
    for role in (roles.owner, roles.runtime):
        await conn.execute(f"""
            DO $$
            BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {quote_literal(role)}) THEN
                    CREATE ROLE {quote_ident(role)} LOGIN;
                END IF;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- another session created it just now
            END $$""")


async def bootstrap_database(conn: asyncpg.Connection, roles: DatabaseRoles) -> list[OwnedObject]:
    """The DBA's one-off, as a superuser connected to the referral database: both roles exist, the owner role
    owns the database, schema public and every object in it, PUBLIC may neither connect nor create, the
    runtime role may connect and use the schema. Idempotent. Returns the objects it handed over."""
    await ensure_roles(conn, roles)
    owner, runtime = quote_ident(roles.owner), quote_ident(roles.runtime)
    database = quote_ident(await conn.fetchval("SELECT current_database()"))
    async with conn.transaction():
        adopted = [o for o in await owned_objects(conn) if o.owner != roles.owner]
        for obj in adopted:
            await conn.execute(f"ALTER {obj.kind} {obj.name} OWNER TO {owner}")
        for statement in (
            f"ALTER DATABASE {database} OWNER TO {owner}",
            f"ALTER SCHEMA public OWNER TO {owner}",
            f"REVOKE ALL ON DATABASE {database} FROM PUBLIC",
            f"GRANT CONNECT ON DATABASE {database} TO {runtime}",
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
            f"GRANT USAGE ON SCHEMA public TO {runtime}",
        ):
            await conn.execute(statement)
    if adopted:
        log.info("objects handed to the owner role", owner=roles.owner, count=len(adopted))
    return adopted
