"""Read models: case list and detail, bulk imports, staff, and the KPI projections.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("bucket", sa.String(32), nullable=False),
        sa.Column("due_since", sa.Date),
        sa.Column("next_ageing_on", sa.Date),
        sa.Column("balance_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("placed_minor", sa.BigInteger, nullable=False),
        sa.Column("recovered_minor", sa.BigInteger, nullable=False),
        sa.Column("jurisdiction", sa.String(8), nullable=False),
        sa.Column("product", sa.String(128), nullable=False),
        sa.Column("creditor_id", sa.String(128), nullable=False),
        sa.Column("account_reference", sa.String(128), nullable=False),
        sa.Column("language", sa.String(32), nullable=False),
        sa.Column("risk_score", sa.Integer),
        sa.Column("assignee_kind", sa.String(16)),
        sa.Column("assignee_id", sa.String(128)),
        sa.Column("segment", sa.String(128)),
        sa.Column("strategy_id", sa.String(128)),
        sa.Column("strategy_version", sa.Integer),
        sa.Column("experiment_id", sa.String(128)),
        sa.Column("experiment_arm", sa.String(128)),
        sa.Column("active_holds", sa.Integer, nullable=False),
        sa.Column("close_reason", sa.String(32)),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("detail", JSONB, nullable=False),
    )
    op.create_index("cases_status_stage", "cases", ["status", "stage", "case_id"])
    op.create_index("cases_bucket", "cases", ["bucket", "case_id"])
    op.create_index("cases_assignee", "cases", ["assignee_kind", "assignee_id", "status"])
    op.create_index("cases_jurisdiction", "cases", ["jurisdiction", "case_id"])
    op.create_index(
        "cases_ageing_due", "cases", ["next_ageing_on"], postgresql_where=sa.text("status = 'open'")
    )

    op.create_table(
        "imports",
        sa.Column("import_id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("filename", sa.String(500)),
        sa.Column("actor", sa.String(200)),
        sa.Column("rows_read", sa.Integer, nullable=False, server_default="0"),
        sa.Column("accepted", sa.Integer, nullable=False, server_default="0"),
        sa.Column("duplicates", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),
        sa.Column("bytes_total", sa.BigInteger),
        sa.Column("bytes_read", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "import_rejections",
        sa.Column("import_id", sa.String(64), sa.ForeignKey("imports.import_id"), nullable=False),
        sa.Column("row_number", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("import_id", "row_number"),
    )

    op.create_table(
        "staff",
        sa.Column("staff_id", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("team", sa.String(128)),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("qualifications", JSONB, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "team_cursors",
        sa.Column("team", sa.String(128), primary_key=True),
        sa.Column("last_assigned", sa.String(128), nullable=False),
    )

    op.create_table(
        "kpi_bucket_transitions",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("from_bucket", sa.String(32)),
        sa.Column("to_bucket", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("kpi_bucket_transitions_case", "kpi_bucket_transitions", ["case_id", "at"])
    op.create_index("kpi_bucket_transitions_at", "kpi_bucket_transitions", ["at"])
    op.create_table(
        "kpi_recoveries",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("assignee_kind", sa.String(16)),
        sa.Column("assignee_id", sa.String(128)),
    )
    op.create_index("kpi_recoveries_at", "kpi_recoveries", ["at"])
    op.create_table(
        "kpi_collector_activity",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("collector_id", sa.String(128), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("kpi_collector_activity_at", "kpi_collector_activity", ["collector_id", "at"])
    op.create_table(
        "kpi_promises",
        sa.Column("promise_id", sa.String(128), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("collector_id", sa.String(128)),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "kpi_promises",
        "kpi_collector_activity",
        "kpi_recoveries",
        "kpi_bucket_transitions",
        "team_cursors",
        "staff",
        "import_rejections",
        "imports",
        "cases",
    ):
        op.drop_table(table)
