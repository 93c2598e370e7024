"""Replay reports of candidate rule packs: what each would have refused, kept for the activation that
names it.

Revision ID: 0007
Revises: 0006
"""

import os

from alembic import op

from audit_service.settings import DEFAULT_DB_ROLE

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE audit_simulations (
            simulation_id text PRIMARY KEY,
            policy text NOT NULL,
            version integer NOT NULL,
            created_at timestamptz NOT NULL,
            created_by text NOT NULL,
            report jsonb NOT NULL
        )
        """
    )
    role = os.environ.get("AUDIT_DB_ROLE", DEFAULT_DB_ROLE)
    if role:
        op.execute(f'GRANT SELECT, INSERT ON audit_simulations TO "{role}"')


def downgrade() -> None:
    op.execute("DROP TABLE audit_simulations")
