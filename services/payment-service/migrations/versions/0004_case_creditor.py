"""Creditor isolation: each known case keeps its creditor (from CaseOpened's account).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.add_column("case_facts", sa.Column("creditor_id", sa.String(128)))


def downgrade() -> None:
    op.drop_column("case_facts", "creditor_id")
