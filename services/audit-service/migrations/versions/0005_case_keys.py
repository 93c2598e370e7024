"""Erasure that keeps the trail verifiable: the openings of each case's committed personal fields are
encrypted under a data key of that case, kept here wrapped by the master key; erasing destroys it.

The entries stay as they are (append-only): they hold only commitments, so every chain still verifies
once the openings cannot be read any more.

Revision ID: 0005
Revises: 0004
"""

import os

from alembic import op

from audit_service.settings import DEFAULT_DB_ROLE

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE audit_case_keys (
            case_id text PRIMARY KEY,
            master_key_id text,
            wrapped_key bytea,            -- NULL once erased
            created_at timestamptz NOT NULL DEFAULT now(),
            erased_at timestamptz,
            erasure_event_id text,
            CHECK ((wrapped_key IS NULL) = (erased_at IS NOT NULL))
        )
        """
    )
    role = os.environ.get("AUDIT_DB_ROLE", DEFAULT_DB_ROLE)
    if role:
        # The trail role creates keys and destroys them (an erasure); it never gets them back.
        op.execute(f'GRANT SELECT, INSERT, UPDATE ON audit_case_keys TO "{role}"')


def downgrade() -> None:
    op.execute("DROP TABLE audit_case_keys")
