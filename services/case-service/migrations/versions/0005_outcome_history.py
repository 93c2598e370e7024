"""The outcome history a propensity model learns from: every contact attempt with its channel and
whether it reached the debtor, when each promise was kept or broken, and each segment a case was
given, when.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "kpi_contacts",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("right_party", sa.Boolean, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("kpi_contacts_case", "kpi_contacts", ["case_id", "at"])
    op.add_column("kpi_promises", sa.Column("settled_at", sa.DateTime(timezone=True)))
    op.create_table(
        "kpi_segments",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("segment", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("kpi_segments_case", "kpi_segments", ["case_id", "at"])


def downgrade() -> None:
    op.drop_table("kpi_segments")
    op.drop_column("kpi_promises", "settled_at")
    op.drop_table("kpi_contacts")
