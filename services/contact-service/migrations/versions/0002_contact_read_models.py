"""Read models: case facts from collections.cases, contact history with decisions, promises.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE case_facts (
            case_id text PRIMARY KEY,
            debtor_id text NOT NULL,
            jurisdiction text NOT NULL,
            status text NOT NULL DEFAULT 'open',
            assignee_kind text,
            assignee_id text,
            currency text NOT NULL,
            balance_minor bigint NOT NULL,
            risk_score integer,
            strategy_assigned_at timestamptz,
            treatment jsonb NOT NULL DEFAULT '[]'::jsonb,
            facts jsonb NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX case_facts_debtor ON case_facts (debtor_id)")
    op.execute(
        "CREATE INDEX case_facts_assignee ON case_facts (assignee_kind, assignee_id) WHERE status = 'open'"
    )
    op.execute(
        """
        CREATE TABLE contacts (
            attempt_id text PRIMARY KEY,
            case_id text NOT NULL,
            debtor_id text NOT NULL,
            at timestamptz NOT NULL,
            decision text NOT NULL CHECK (decision IN ('allow', 'deny')),
            channel text NOT NULL,
            party text NOT NULL,
            purpose text NOT NULL,
            outcome text,
            collector_id text,
            agency_id text,
            contact_point text,
            duration_seconds integer,
            recording_ref text,
            rule_id text,
            citation text,
            reason text,
            next_allowed_at timestamptz,
            pack_id text NOT NULL,
            pack_version text NOT NULL
        )
        """
    )
    # The counting windows read one debtor's allowed contacts of the last days.
    op.execute(
        "CREATE INDEX contacts_counting ON contacts (debtor_id, at DESC)"
        " INCLUDE (case_id, channel, party, outcome, contact_point) WHERE decision = 'allow'"
    )
    op.execute(
        "CREATE INDEX contacts_third_party ON contacts (debtor_id, contact_point)"
        " WHERE decision = 'allow' AND party = 'third_party'"
    )
    op.execute("CREATE INDEX contacts_case ON contacts (case_id, at DESC)")
    op.execute(
        """
        CREATE TABLE promises (
            promise_id text PRIMARY KEY,
            case_id text NOT NULL,
            amount_minor bigint NOT NULL CHECK (amount_minor > 0),
            currency text NOT NULL,
            due_on date NOT NULL,
            status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'kept', 'broken')),
            made_at timestamptz NOT NULL,
            collector_id text
        )
        """
    )
    op.execute("CREATE INDEX promises_case ON promises (case_id)")


def downgrade() -> None:
    op.execute("DROP TABLE promises")
    op.execute("DROP TABLE contacts")
    op.execute("DROP TABLE case_facts")
