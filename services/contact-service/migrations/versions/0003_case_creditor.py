"""Creditor isolation: each known case keeps its creditor (from CaseOpened's account).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.execute("ALTER TABLE case_facts ADD COLUMN creditor_id text")


def downgrade() -> None:
    op.execute("ALTER TABLE case_facts DROP COLUMN creditor_id")
