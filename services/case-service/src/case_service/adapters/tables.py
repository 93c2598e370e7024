"""The read-model tables of migrations 0002 to 0005, for queries and upserts (SQLAlchemy Core)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Integer, MetaData, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

cases = Table(
    "cases",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("version", Integer),
    Column("status", String(16)),
    Column("stage", String(16)),
    Column("bucket", String(32)),
    Column("due_since", Date),
    Column("next_ageing_on", Date),
    Column("balance_minor", BigInteger),
    Column("currency", String(3)),
    Column("placed_minor", BigInteger),
    Column("recovered_minor", BigInteger),
    Column("jurisdiction", String(8)),
    Column("product", String(128)),
    Column("creditor_id", String(128)),
    Column("account_reference", String(128)),
    Column("language", String(32)),
    Column("risk_score", Integer),
    Column("assignee_kind", String(16)),
    Column("assignee_id", String(128)),
    Column("segment", String(128)),
    Column("strategy_id", String(128)),
    Column("strategy_version", Integer),
    Column("experiment_id", String(128)),
    Column("experiment_arm", String(128)),
    Column("active_holds", Integer),
    Column("close_reason", String(32)),
    Column("opened_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),
    Column("detail", JSONB),
)

imports = Table(
    "imports",
    metadata,
    Column("import_id", String(64), primary_key=True),
    Column("status", String(16)),
    Column("format", String(8)),
    Column("filename", String(500)),
    Column("actor", String(200)),
    Column("rows_read", Integer),
    Column("accepted", Integer),
    Column("duplicates", Integer),
    Column("rejected", Integer),
    Column("bytes_total", BigInteger),
    Column("bytes_read", BigInteger),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
)

import_rejections = Table(
    "import_rejections",
    metadata,
    Column("import_id", String(64)),
    Column("row_number", Integer),
    Column("reason", Text),
)

staff = Table(
    "staff",
    metadata,
    Column("staff_id", String(128), primary_key=True),
    Column("kind", String(16)),
    Column("team", String(128)),
    Column("capacity", Integer),
    Column("active", Boolean),
    Column("qualifications", JSONB),
    Column("updated_at", DateTime(timezone=True)),
)

team_cursors = Table(
    "team_cursors",
    metadata,
    Column("team", String(128), primary_key=True),
    Column("last_assigned", String(128)),
)

kpi_bucket_transitions = Table(
    "kpi_bucket_transitions",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("case_id", String(64)),
    Column("from_bucket", String(32)),
    Column("to_bucket", String(32)),
    Column("at", DateTime(timezone=True)),
)

kpi_recoveries = Table(
    "kpi_recoveries",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("case_id", String(64)),
    Column("at", DateTime(timezone=True)),
    Column("amount_minor", BigInteger),
    Column("currency", String(3)),
    Column("assignee_kind", String(16)),
    Column("assignee_id", String(128)),
)

kpi_collector_activity = Table(
    "kpi_collector_activity",
    metadata,
    Column("event_id", String(128), primary_key=True),
    Column("collector_id", String(128)),
    Column("case_id", String(64)),
    Column("kind", String(32)),
    Column("at", DateTime(timezone=True)),
)

kpi_promises = Table(
    "kpi_promises",
    metadata,
    Column("promise_id", String(128), primary_key=True),
    Column("case_id", String(64)),
    Column("collector_id", String(128)),
    Column("made_at", DateTime(timezone=True)),
    Column("status", String(16)),
    Column("settled_at", DateTime(timezone=True)),  # migration 0005
)

# --- migration 0003: experiments ----------------------------------------------------------------------

experiment_enrolments = Table(
    "experiment_enrolments",
    metadata,
    Column("experiment_id", String(128), primary_key=True),
    Column("case_id", String(64), primary_key=True),
    Column("arm", String(128)),
    Column("strategy_id", String(128)),
    Column("creditor_id", String(128)),
    Column("currency", String(3)),
    Column("placed_minor", BigInteger),
    Column("enrolled_at", DateTime(timezone=True)),
)

kpi_case_signals = Table(
    "kpi_case_signals",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("case_id", String(64)),
    Column("kind", String(32)),
    Column("at", DateTime(timezone=True)),
)

experiment_arm_stops = Table(
    "experiment_arm_stops",
    metadata,
    Column("experiment_id", String(128), primary_key=True),
    Column("arm", String(128), primary_key=True),
    Column("stopped_at", DateTime(timezone=True)),
    Column("reason", Text),
    Column("detail", JSONB),
)

# --- migration 0004: policy versions ----------------------------------------------------------------

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("based_on", Integer),
    Column("document", JSONB),
    Column("sha256", String(64)),
    Column("decision_version", String(64)),
    Column("changes", JSONB),
    Column("author", String(128)),
    Column("reason", Text),
    Column("created_at", DateTime(timezone=True)),
    Column("approved_by", String(128)),
    Column("approved_at", DateTime(timezone=True)),
    Column("approval_note", Text),
    Column("activated_by", String(128)),
    Column("activated_at", DateTime(timezone=True)),
    Column("activation_reason", Text),
    Column("simulation_id", String(128)),
)

policy_simulations = Table(
    "policy_simulations",
    metadata,
    Column("simulation_id", String(128), primary_key=True),
    Column("name", String(64)),
    Column("version", Integer),
    Column("created_at", DateTime(timezone=True)),
    Column("report", JSONB),
)

# --- migration 0005: the outcome history -------------------------------------------------------------

kpi_contacts = Table(
    "kpi_contacts",
    metadata,
    Column("event_id", String(128), primary_key=True),
    Column("case_id", String(64)),
    Column("channel", String(16)),
    Column("right_party", Boolean),
    Column("at", DateTime(timezone=True)),
)

kpi_segments = Table(
    "kpi_segments",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("case_id", String(64)),
    Column("segment", String(128)),
    Column("at", DateTime(timezone=True)),
)
