"""Who each case is assigned to (from CaseAssigned), for the per-case access check of collectors.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.add_column("case_facts", sa.Column("assignee_kind", sa.String(16)))
    op.add_column("case_facts", sa.Column("assignee_id", sa.String(128)))


def downgrade() -> None:
    op.drop_column("case_facts", "assignee_id")
    op.drop_column("case_facts", "assignee_kind")
