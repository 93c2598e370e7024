"""Personal data committed to: the openings (value and salt) of each entry's committed personal fields.

The chain hashes the entry with its personal fields replaced by salted commitments, so an export
without the openings (for a role that may not see personal data) still verifies completely.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.execute("ALTER TABLE audit_entries ADD COLUMN openings bytea")
    # An entry with its openings is a few KiB: kept inline and uncompressed up to a page (no TOAST
    # compression on the ingest path; the bytes are mostly hashes, which do not compress anyway).
    op.execute("ALTER TABLE audit_entries SET (toast_tuple_target = 8160)")


def downgrade() -> None:
    op.execute("ALTER TABLE audit_entries RESET (toast_tuple_target)")
    op.execute("ALTER TABLE audit_entries DROP COLUMN openings")
