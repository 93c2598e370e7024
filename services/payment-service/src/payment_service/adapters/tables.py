"""The read-model tables (created by migrations 0002 to 0005), as SQLAlchemy Core for the queries."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Integer, MetaData, String, Table
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

case_facts = Table(
    "case_facts",
    metadata,
    Column("case_id", String(128), primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("balance_minor", BigInteger, nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("jurisdiction", String(2)),
    Column("closed", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("assignee_kind", String(16)),  # migration 0003: from CaseAssigned
    Column("assignee_id", String(128)),
    Column("creditor_id", String(128)),  # migration 0004: from CaseOpened, for creditor isolation
)

payment_references = Table(
    "payment_references",
    metadata,
    Column("external_reference", String(128), primary_key=True),
    Column("payment_id", String(128), nullable=False),
    Column("case_id", String(128), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", DateTime(timezone=True)),
)

payments = Table(
    "payments",
    metadata,
    Column("seq", BigInteger),
    Column("payment_id", String(128), primary_key=True),
    Column("case_id", String(128), nullable=False),
    Column("external_reference", String(128), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("method", String(32), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("unapplied_reason", String(32)),
    Column("applied_at", DateTime(timezone=True)),
    Column("reversed_at", DateTime(timezone=True)),
    Column("reversal_reason", String(32)),
)

promises = Table(
    "promises",
    metadata,
    Column("promise_id", String(128), primary_key=True),
    Column("case_id", String(128), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("due_on", Date, nullable=False),
    Column("made_at", DateTime(timezone=True), nullable=False),
    Column("settles_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("amount_paid_minor", BigInteger, nullable=False),
    Column("settled_at", DateTime(timezone=True)),
)

payment_plans = Table(
    "payment_plans",
    metadata,
    Column("plan_id", String(128), primary_key=True),
    Column("case_id", String(128), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("paid_minor", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("missed_installments", Integer, nullable=False),
    Column("installments", JSONB, nullable=False),
    Column("channel", String(16)),
    Column("collector_id", String(128)),
    Column("agreed_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("affordability", JSONB),  # migration 0005: the statement behind it
)

settlements = Table(
    "settlements",
    metadata,
    Column("settlement_id", String(128), primary_key=True),
    Column("case_id", String(128), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("balance_at_agreement_minor", BigInteger, nullable=False),
    Column("amount_paid_minor", BigInteger, nullable=False),
    Column("due_on", Date, nullable=False),
    Column("settles_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("collector_id", String(128)),
    Column("agreed_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("affordability", JSONB),  # migration 0005: the statement behind it
)

financial_statements = Table(  # migration 0005
    "financial_statements",
    metadata,
    Column("statement_id", String(128), primary_key=True),
    Column("case_id", String(128), nullable=False),
    Column("statement_date", Date, nullable=False),
    Column("source", String(32), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("monthly_income_minor", BigInteger, nullable=False),
    Column("monthly_outgoings_minor", BigInteger, nullable=False),
    Column("monthly_non_priority_minor", BigInteger, nullable=False),
    Column("monthly_surplus_minor", BigInteger, nullable=False),
    Column("monthly_available_minor", BigInteger, nullable=False),
    Column("savings_minor", BigInteger, nullable=False),
    Column("household", JSONB, nullable=False),
    Column("entries", JSONB, nullable=False),
    Column("recorded_by", String(128), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
