"""Read models of the payment service: case facts, payment references (idempotency), payments,
promises, plans and settlements.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "case_facts",
        sa.Column("case_id", sa.String(128), primary_key=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("balance_minor", sa.BigInteger, nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("jurisdiction", sa.String(2)),
        sa.Column("closed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    # The idempotency key of payments: one row per external reference, whatever the path
    # (REST or integration topic). The primary key settles concurrent retries.
    op.create_table(
        "payment_references",
        sa.Column("external_reference", sa.String(128), primary_key=True),
        sa.Column("payment_id", sa.String(128), nullable=False, unique=True),
        sa.Column("case_id", sa.String(128), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "payments",
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), unique=True, nullable=False),
        sa.Column("payment_id", sa.String(128), primary_key=True),
        sa.Column("case_id", sa.String(128), nullable=False),
        sa.Column("external_reference", sa.String(128), nullable=False, unique=True),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("unapplied_reason", sa.String(32)),
        sa.Column("applied_at", sa.DateTime(timezone=True)),
        sa.Column("reversed_at", sa.DateTime(timezone=True)),
        sa.Column("reversal_reason", sa.String(32)),
    )
    op.create_index("payments_status_seq", "payments", ["status", "seq"])
    op.create_index("payments_case_seq", "payments", ["case_id", "seq"])
    op.create_table(
        "promises",
        sa.Column("promise_id", sa.String(128), primary_key=True),
        sa.Column("case_id", sa.String(128), nullable=False, index=True),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("due_on", sa.Date, nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settles_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("amount_paid_minor", sa.BigInteger, nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "payment_plans",
        sa.Column("plan_id", sa.String(128), primary_key=True),
        sa.Column("case_id", sa.String(128), nullable=False, index=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total_minor", sa.BigInteger, nullable=False),
        sa.Column("paid_minor", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("missed_installments", sa.Integer, nullable=False),
        sa.Column("installments", JSONB, nullable=False),
        sa.Column("channel", sa.String(16)),
        sa.Column("collector_id", sa.String(128)),
        sa.Column("agreed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
    )
    # One active plan per case, held by the database as well as by the case's ledger.
    op.create_index(
        "payment_plans_one_active_per_case",
        "payment_plans",
        ["case_id"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "settlements",
        sa.Column("settlement_id", sa.String(128), primary_key=True),
        sa.Column("case_id", sa.String(128), nullable=False, index=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("balance_at_agreement_minor", sa.BigInteger, nullable=False),
        sa.Column("amount_paid_minor", sa.BigInteger, nullable=False),
        sa.Column("due_on", sa.Date, nullable=False),
        sa.Column("settles_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("collector_id", sa.String(128)),
        sa.Column("agreed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
    )
    op.create_index(
        "settlements_one_active_per_case",
        "settlements",
        ["case_id"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
    )


def downgrade() -> None:
    for table in ("settlements", "payment_plans", "promises", "payments", "payment_references", "case_facts"):
        op.drop_table(table)
