"""DDL of the trail (used by the Alembic revisions): append-only tables, the trigger, the trail role."""

from __future__ import annotations

import re

from sqlalchemy import Connection

ENTRIES_TABLE = "audit_entries"
CHECKPOINTS_TABLE = "audit_checkpoints"

_TABLES = [
    s.strip()
    for s in f"""
CREATE TABLE {ENTRIES_TABLE} (
    id bigserial PRIMARY KEY,
    topic text NOT NULL,
    partition integer NOT NULL,
    "offset" bigint NOT NULL,
    seq bigint NOT NULL,
    entry bytea NOT NULL,
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL,
    kind text NOT NULL,
    event_id text,
    event_type text,
    case_id text,
    actor text,
    actor_role text,
    event_time timestamptz,
    kafka_time timestamptz NOT NULL,
    ingested_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT audit_entries_chain_seq UNIQUE (topic, partition, seq),
    CONSTRAINT audit_entries_chain_offset UNIQUE (topic, partition, "offset"),
    CONSTRAINT audit_entries_hash_sizes CHECK (octet_length(hash) = 32 AND octet_length(prev_hash) = 32)
)
--
CREATE INDEX audit_entries_case ON {ENTRIES_TABLE} (case_id, event_time, id)
--
CREATE INDEX audit_entries_type ON {ENTRIES_TABLE} (event_type, id)
--
CREATE INDEX audit_entries_actor ON {ENTRIES_TABLE} (actor, id)
--
CREATE INDEX audit_entries_time ON {ENTRIES_TABLE} (event_time, id)
--

CREATE TABLE {CHECKPOINTS_TABLE} (
    seq bigint PRIMARY KEY,
    body bytea NOT NULL,
    signature bytea NOT NULL,
    key_id text NOT NULL,
    root bytea NOT NULL,
    tree_size bigint NOT NULL,
    created_at timestamptz NOT NULL,
    frontiers jsonb NOT NULL
)
--

CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END
$$
--
CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {ENTRIES_TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()
--
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {CHECKPOINTS_TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()
--
REVOKE ALL ON {ENTRIES_TABLE}, {CHECKPOINTS_TABLE} FROM PUBLIC
""".split("\n--\n")
    if s.strip()
]

_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def create_trail(connection: Connection, role: str, password: str | None) -> None:
    """Tables, trigger, and the role that may only INSERT and SELECT them (created once per server)."""
    if not _ROLE_NAME.match(role):
        raise ValueError(f"invalid role name {role!r}")
    for statement in _TABLES:
        connection.exec_driver_sql(statement)
    # Roles are per server; concurrent migrations of two databases may race to create it.
    connection.exec_driver_sql(
        f"""
        DO $$ BEGIN
            CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOBYPASSRLS;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$
        """
    )
    if password:
        connection.exec_driver_sql(f"ALTER ROLE {role} PASSWORD {_literal(password)}")
    database = connection.exec_driver_sql("SELECT current_database()").scalar_one()
    connection.exec_driver_sql(f'GRANT CONNECT ON DATABASE "{database}" TO {role}')
    connection.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {role}")
    connection.exec_driver_sql(f"GRANT SELECT, INSERT ON {ENTRIES_TABLE}, {CHECKPOINTS_TABLE} TO {role}")
    connection.exec_driver_sql(f"GRANT USAGE ON SEQUENCE {ENTRIES_TABLE}_id_seq TO {role}")
    connection.exec_driver_sql(f"GRANT SELECT, INSERT, UPDATE ON consumer_offsets TO {role}")


def drop_trail(connection: Connection, role: str) -> None:
    database = connection.exec_driver_sql("SELECT current_database()").scalar_one()
    connection.exec_driver_sql(f"REVOKE ALL ON consumer_offsets FROM {role}")
    connection.exec_driver_sql(f'REVOKE ALL ON DATABASE "{database}" FROM {role}')
    connection.exec_driver_sql(f"REVOKE USAGE ON SCHEMA public FROM {role}")
    connection.exec_driver_sql(f"DROP TABLE {ENTRIES_TABLE}, {CHECKPOINTS_TABLE}")
    connection.exec_driver_sql("DROP FUNCTION audit_refuse_change()")
