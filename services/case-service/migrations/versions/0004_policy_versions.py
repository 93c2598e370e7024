"""Policies as versioned data: every version of the collection policy and of each rule pack, who wrote,
approved and activated it, and why; the simulation reports a version was released on.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("based_on", sa.Integer),
        sa.Column("document", JSONB, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("decision_version", sa.String(64), nullable=False),
        sa.Column("changes", JSONB, nullable=False),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(128)),
        sa.Column("approved_at", sa.DateTime(timezone=True)),
        sa.Column("approval_note", sa.Text),
        sa.Column("activated_by", sa.String(128)),
        sa.Column("activated_at", sa.DateTime(timezone=True)),
        sa.Column("activation_reason", sa.Text),
        sa.Column("simulation_id", sa.String(128)),
    )

    op.create_table(
        "policy_simulations",
        sa.Column("simulation_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("report", JSONB, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("policy_simulations")
    op.drop_table("policy_versions")
