"""The staff directory as case-service publishes it on collections.staff: who may contact debtors, in
which jurisdictions, languages and channels (checked before a permit or an attempt).

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE staff_directory (
            staff_id text PRIMARY KEY,
            kind text NOT NULL,
            active boolean NOT NULL,
            qualifications jsonb NOT NULL,
            updated_at timestamptz NOT NULL
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE staff_directory")
