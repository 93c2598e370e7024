"""Redeliveries: an entry whose event id an earlier entry of its chain already holds names that entry.

A relay that crashed after its send and before it stored its progress sends the same events again; the
trail keeps every record (the chain stays whole) and marks the copies, so counts and findings see each
event once. The column is derived from the chain itself: the verifier recomputes it.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.execute("ALTER TABLE audit_entries ADD COLUMN redelivery_of bigint")
    op.execute(
        "CREATE INDEX audit_entries_chain_event ON audit_entries (topic, partition, event_id) "
        "WHERE event_id IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX audit_entries_chain_event")
    op.execute("ALTER TABLE audit_entries DROP COLUMN redelivery_of")
