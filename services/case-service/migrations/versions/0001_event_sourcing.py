"""Event store, outbox, consumer offsets, processed events and durable timers.

Revision ID: 0001
Revises:
"""

from alembic import op

from dcp_platform.migrations import create_event_sourcing_tables, drop_event_sourcing_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_event_sourcing_tables(op.get_bind())


def downgrade() -> None:
    drop_event_sourcing_tables(op.get_bind())
