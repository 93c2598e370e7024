"""The audit trail: append-only entries and checkpoints, the refusing trigger, the trail role.

Revision ID: 0002
Revises: 0001
"""

import os

from alembic import op

from audit_service.adapters.schema import create_trail, drop_trail
from audit_service.settings import DEFAULT_DB_ROLE

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    role = os.environ.get("AUDIT_DB_ROLE", DEFAULT_DB_ROLE)
    create_trail(op.get_bind(), role, os.environ.get("AUDIT_DB_ROLE_PASSWORD"))


def downgrade() -> None:
    role = os.environ.get("AUDIT_DB_ROLE", DEFAULT_DB_ROLE)
    connection = op.get_bind()
    drop_trail(connection, role)
    # The role belongs to the server: it goes with the last database that grants it anything
    # (DROP ROLE refuses while another database's trail still does).
    connection.exec_driver_sql(
        f"""
        DO $$ BEGIN
            DROP ROLE IF EXISTS {connection.dialect.identifier_preparer.quote(role)};
        EXCEPTION WHEN dependent_objects_still_exist THEN NULL;
        END $$
        """
    )
