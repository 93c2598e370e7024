"""Experiments judged by intention to treat: the arm each case was first given, the harm signals the
guards watch, and the arms stopped; indexes to read each enrolled case's outcomes.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "experiment_enrolments",
        sa.Column("experiment_id", sa.String(128), primary_key=True),
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("arm", sa.String(128), nullable=False),
        sa.Column("strategy_id", sa.String(128), nullable=False),
        sa.Column("creditor_id", sa.String(128), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("placed_minor", sa.BigInteger, nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("experiment_enrolments_at", "experiment_enrolments", ["experiment_id", "enrolled_at"])
    op.create_table(
        "kpi_case_signals",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("kpi_case_signals_case", "kpi_case_signals", ["case_id", "kind", "at"])
    op.create_table(
        "experiment_arm_stops",
        sa.Column("experiment_id", sa.String(128), primary_key=True),
        sa.Column("arm", sa.String(128), primary_key=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("detail", JSONB, nullable=False),
    )
    op.create_index("kpi_recoveries_case", "kpi_recoveries", ["case_id", "at"])
    op.create_index("kpi_collector_activity_case", "kpi_collector_activity", ["case_id", "kind", "at"])
    op.create_index("kpi_promises_case", "kpi_promises", ["case_id"])


def downgrade() -> None:
    for index, table in (
        ("kpi_promises_case", "kpi_promises"),
        ("kpi_collector_activity_case", "kpi_collector_activity"),
        ("kpi_recoveries_case", "kpi_recoveries"),
    ):
        op.drop_index(index, table_name=table)
    for table in ("experiment_arm_stops", "kpi_case_signals", "experiment_enrolments"):
        op.drop_table(table)
