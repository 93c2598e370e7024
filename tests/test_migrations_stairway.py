"""The migration stairway of every service: each revision upgrades, downgrades and upgrades again, and
the whole chain downgrades to an empty database and back to head.

A downgrade is only run when something has gone wrong; this is where it is run first.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from pprint import pformat

import asyncpg
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import make_url

from dcp_platform import migrations

# Every service with a migrations folder walks the stairway: a fifth is covered once it has one.
SERVICE_MIGRATIONS = {
    path.parent.name: path
    for path in sorted((Path(__file__).resolve().parents[1] / "services").glob("*/migrations"))
}

# What a migration can leave behind in its database, each as a set of comparable lines. Grants are
# read through aclexplode over the effective ACL, so "never granted" and "granted, then revoked" match.
_SCHEMA_QUERIES = {
    "schemas": """
        SELECT nspname FROM pg_namespace
        WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'
    """,
    "extensions": "SELECT extname FROM pg_extension",
    "relations": """
        SELECT c.relkind::text || ' ' || c.oid::regclass::text FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relname NOT LIKE 'alembic\\_version%'
    """,
    "columns": """
        SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
               || coalesce(' default ' || column_default, '') || ' ' || is_identity
        FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name <> 'alembic_version'
    """,
    "constraints": """
        SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
        FROM pg_constraint
        WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> 'alembic_version'
    """,
    "indexes": """
        SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> 'alembic_version'
    """,
    "functions": "SELECT oid::regprocedure::text FROM pg_proc WHERE pronamespace = 'public'::regnamespace",
    "triggers": "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal",
    "types": """
        SELECT typname || ' ' || typtype::text FROM pg_type
        WHERE typnamespace = 'public'::regnamespace AND typtype IN ('e', 'd', 'r', 'm')
    """,
    "grants": """
        SELECT 'database ' || a.grantee::regrole::text || ' ' || a.privilege_type
        FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
        WHERE d.datname = current_database()
        UNION ALL
        SELECT 'schema ' || n.nspname || ' ' || a.grantee::regrole::text || ' ' || a.privilege_type
        FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
        WHERE n.nspname = 'public'
        UNION ALL
        SELECT c.oid::regclass::text || ' ' || a.grantee::regrole::text || ' ' || a.privilege_type
        FROM pg_class c,
             aclexplode(coalesce(c.relacl, acldefault(
                 CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) a
        WHERE c.relnamespace = 'public'::regnamespace AND c.relname NOT LIKE 'alembic\\_version%'
        UNION ALL
        SELECT p.oid::regprocedure::text || ' ' || a.grantee::regrole::text || ' ' || a.privilege_type
        FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
        WHERE p.pronamespace = 'public'::regnamespace
    """,
    # Roles belong to the server; one no database refers to any more is one a downgrade forgot.
    "unused roles": """
        SELECT rolname FROM pg_roles r
        WHERE r.oid >= 16384 AND NOT r.rolsuper AND NOT EXISTS (
            SELECT 1 FROM pg_shdepend d WHERE d.refclassid = 'pg_authid'::regclass AND d.refobjid = r.oid
        )
    """,
}
_SERVER_WIDE = {"unused roles"}

# Roles a service's migrations create, by the variable naming them: unique per test, so that a role an
# earlier run left on the server cannot hide one this run leaves behind.
_ROLE_VARIABLES = {"audit-service": "AUDIT_DB_ROLE"}


def revisions(script_location: Path) -> list[str]:
    """The service's revisions from the first to head (a single line of history)."""
    script = ScriptDirectory(str(script_location))
    assert len(script.get_heads()) == 1, f"{script_location} has several heads"
    return [r.revision for r in reversed(list(script.walk_revisions("base", "heads")))]


async def schema_of(database_url: str) -> dict[str, set[str]]:
    connection = await asyncpg.connect(database_url)
    try:
        return {
            what: {row[0] for row in await connection.fetch(query)} for what, query in _SCHEMA_QUERIES.items()
        }
    finally:
        await connection.close()


def assert_same(expected: dict[str, set[str]], actual: dict[str, set[str]], what: str) -> None:
    """Fail with what `actual` has that `expected` has not ("left behind") and the reverse ("lost")."""
    differences = {}
    for kind in _SCHEMA_QUERIES:
        left_behind, lost = actual[kind] - expected[kind], expected[kind] - actual[kind]
        if kind in _SERVER_WIDE:  # another database's (or an earlier run's) role may come and go
            lost = set()
        if left_behind or lost:
            differences[kind] = {"left behind": sorted(left_behind), "lost": sorted(lost)}
    assert not differences, f"{what}:\n{pformat(differences, width=100)}"


async def tables_of(database_url: str) -> set[str]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row[0] for row in rows}
    finally:
        await connection.close()


async def drop_role(database_url: str, role: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        if await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
            await connection.execute(f'DROP OWNED BY "{role}"')
            await connection.execute(f'DROP ROLE "{role}"')
    finally:
        await connection.close()


@pytest.mark.integration
@pytest.mark.parametrize("service", sorted(SERVICE_MIGRATIONS))
async def test_every_migration_upgrades_downgrades_and_upgrades_again(
    service: str, fresh_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    script_location = SERVICE_MIGRATIONS[service]
    config = migrations.alembic_config(
        script_location,
        make_url(fresh_database).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False),
    )
    role = f"t_stairway_{uuid.uuid4().hex[:10]}"
    if service in _ROLE_VARIABLES:
        monkeypatch.setenv(_ROLE_VARIABLES[service], role)

    async def run(step: str, revision: str) -> None:
        # env.py drives its own event loop, so Alembic runs outside this one.
        await asyncio.to_thread(getattr(command, step), config, revision)

    try:
        empty = before = await schema_of(fresh_database)
        previous = "base"
        for revision in revisions(script_location):
            await run("upgrade", revision)
            upgraded = await schema_of(fresh_database)
            await run("downgrade", previous)
            assert_same(
                before, await schema_of(fresh_database), f"{service}: {revision} downgraded to {previous}"
            )
            await run("upgrade", revision)
            assert_same(upgraded, await schema_of(fresh_database), f"{service}: {revision} upgraded again")
            before, previous = upgraded, revision

        await run("downgrade", "base")
        assert await tables_of(fresh_database) == {"alembic_version"}, f"{service}: tables left at base"
        assert_same(empty, await schema_of(fresh_database), f"{service}: downgraded to base")
        await run("upgrade", "head")
        assert_same(before, await schema_of(fresh_database), f"{service}: upgraded from base to head")
    finally:
        await drop_role(fresh_database, role)
