"""Contact permits (the gate's decision before the contact, reserving its place until used or
expired), the source of each contact, and the messages sent through the channels.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE contact_permits (
            permit_id text PRIMARY KEY,
            case_id text NOT NULL,
            debtor_id text NOT NULL,
            issued_at timestamptz NOT NULL,
            not_after timestamptz NOT NULL,
            expires_at timestamptz NOT NULL,
            status text NOT NULL DEFAULT 'issued' CHECK (status IN ('issued', 'used', 'expired')),
            channel text NOT NULL,
            party text NOT NULL,
            purpose text NOT NULL,
            collector_id text,
            agency_id text,
            contact_point text,
            contact_point_sha256 text,
            pack_id text NOT NULL,
            pack_version text NOT NULL,
            key_id text NOT NULL,
            signature text NOT NULL,
            attempt_id text,
            used_at timestamptz
        )
        """
    )
    # The gate counts the debtor's live permits as contacts (their reservations).
    op.execute(
        "CREATE INDEX contact_permits_live ON contact_permits (debtor_id, issued_at) WHERE status = 'issued'"
    )
    op.execute("CREATE INDEX contact_permits_case ON contact_permits (case_id, issued_at DESC)")
    # What messages and letters say about the case: the debtor's name, language and address, the
    # account, and the itemization (Regulation F 1006.34(c)(2)) since the case was placed.
    op.execute("ALTER TABLE case_facts ADD COLUMN profile jsonb NOT NULL DEFAULT '{}'::jsonb")
    op.execute("ALTER TABLE contacts ADD COLUMN permit_id text")
    op.execute("ALTER TABLE contacts ADD COLUMN source text")
    op.execute(
        """
        CREATE TABLE messages (
            attempt_id text PRIMARY KEY,
            permit_id text,
            case_id text NOT NULL,
            channel text NOT NULL,
            template text,
            provider_reference text,
            content_sha256 text,
            status text NOT NULL DEFAULT 'sent',
            detail text,
            sent_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX messages_case ON messages (case_id, sent_at DESC)")
    # Contacts reported on integration.contacts before their case reached this service: kept (they took
    # place) and recorded when the case's CaseOpened arrives.
    op.execute(
        """
        CREATE TABLE parked_reports (
            attempt_id text PRIMARY KEY,
            case_id text NOT NULL,
            report jsonb NOT NULL,
            received_at timestamptz NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX parked_reports_case ON parked_reports (case_id)")
    op.execute("CREATE UNIQUE INDEX messages_provider ON messages (channel, provider_reference)")


def downgrade() -> None:
    op.execute("DROP TABLE parked_reports")
    op.execute("DROP TABLE messages")
    op.execute("ALTER TABLE contacts DROP COLUMN source")
    op.execute("ALTER TABLE contacts DROP COLUMN permit_id")
    op.execute("ALTER TABLE case_facts DROP COLUMN profile")
    op.execute("DROP TABLE contact_permits")
