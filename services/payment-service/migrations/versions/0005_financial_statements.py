"""Income and expenditure: the statements recorded on each case, and the statement behind each plan
and settlement (`affordability`).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "financial_statements",
        sa.Column("statement_id", sa.String(128), primary_key=True),
        sa.Column("case_id", sa.String(128), nullable=False),
        sa.Column("statement_date", sa.Date, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("monthly_income_minor", sa.BigInteger, nullable=False),
        sa.Column("monthly_outgoings_minor", sa.BigInteger, nullable=False),
        sa.Column("monthly_non_priority_minor", sa.BigInteger, nullable=False),
        sa.Column("monthly_surplus_minor", sa.BigInteger, nullable=False),
        sa.Column("monthly_available_minor", sa.BigInteger, nullable=False),
        sa.Column("savings_minor", sa.BigInteger, nullable=False),
        sa.Column("household", JSONB, nullable=False),
        sa.Column("entries", JSONB, nullable=False),
        sa.Column("recorded_by", sa.String(128), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("financial_statements_case", "financial_statements", ["case_id", "statement_date"])
    op.add_column("payment_plans", sa.Column("affordability", JSONB))
    op.add_column("settlements", sa.Column("affordability", JSONB))


def downgrade() -> None:
    op.drop_column("settlements", "affordability")
    op.drop_column("payment_plans", "affordability")
    op.drop_table("financial_statements")
