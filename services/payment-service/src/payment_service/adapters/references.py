"""The idempotency key of payments: the payer's external reference, claimed under a primary key.

Concurrent retries of one reference race on the key: one insert wins, the others wait for it to
commit and then find its row (never a check-then-insert).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from dcp_platform.values import from_fields
from payment_service.adapters.tables import payment_references
from payment_service.application.ports import PaymentReference

__all__ = ["PaymentReference", "claim", "find_by_payment"]


async def claim(conn: AsyncConnection, reference: PaymentReference) -> PaymentReference | None:
    """Claim the reference for a new payment; returns None when claimed, else the earlier claim."""
    inserted = (
        await conn.execute(
            insert(payment_references)
            .values(
                external_reference=reference.external_reference,
                payment_id=reference.payment_id,
                case_id=reference.case_id,
                amount_minor=reference.amount_minor,
                currency=reference.currency,
            )
            .on_conflict_do_nothing(index_elements=[payment_references.c.external_reference])
            .returning(payment_references.c.payment_id)
        )
    ).first()
    if inserted is not None:
        return None
    row = (
        await conn.execute(
            select(payment_references).where(
                payment_references.c.external_reference == reference.external_reference
            )
        )
    ).one()
    return from_fields(PaymentReference, row)


async def find_by_payment(conn: AsyncConnection, payment_id: str) -> PaymentReference | None:
    row = (
        await conn.execute(select(payment_references).where(payment_references.c.payment_id == payment_id))
    ).first()
    if row is None:
        return None
    return from_fields(PaymentReference, row)
