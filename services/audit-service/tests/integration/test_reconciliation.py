"""The reconciliation compares, payment by payment, what payment-service applied with what case-service
booked, from the topics alone: a payment published straight onto collections.payments that case-service
never booked is a divergence with its evidence, cleared once the booking arrives; an amount booked
differently and a reversal on one side only are divergences too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dcp_events.catalogue import CaseBalanceChanged, PaymentReceived, PaymentReversed
from dcp_events.catalogue.base import Money, MoneyDelta
from dcp_events.catalogue.cases import BalanceParts, PartChange
from dcp_events.catalogue.enums import BalanceChangeReason, BalancePart, PaymentMethod, ReversalReason

from .conftest import AuditUnderTest, eventually

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def usd(minor: int) -> Money:
    return Money(amount_minor=minor, currency="USD")


def received(payment_id: str, minor: int) -> PaymentReceived:
    return PaymentReceived(
        payment_id=payment_id,
        amount=usd(minor),
        method=PaymentMethod.BANK_TRANSFER,
        external_reference=f"ext-{payment_id}",
        received_at=T0,
    )


def booked(payment_id: str, minor: int, owed_after: int, reason: BalanceChangeReason) -> CaseBalanceChanged:
    sign = -1 if reason is BalanceChangeReason.PAYMENT else 1
    return CaseBalanceChanged(
        reason=reason,
        change=MoneyDelta(delta_minor=sign * minor, currency="USD"),
        balance_after=usd(owed_after),
        reference=payment_id,
        allocation=[PartChange(part=BalancePart.PRINCIPAL, delta_minor=sign * minor)],
        parts_after=BalanceParts(currency="USD", principal=owed_after, interest=0, fees=0, costs=0),
    )


async def divergences(audit: AuditUnderTest, case_id: str) -> list[dict[str, Any]]:
    body = (await audit.get("/audit/reconciliation", case_id=case_id, settle_seconds=0)).json()
    return list(body["divergences"])


async def test_a_payment_case_service_never_booked_is_reported_until_its_booking_arrives(
    audit: AuditUnderTest,
) -> None:
    case = "c-recon-1"
    await audit.publish(received("pay-r1", 2_500), case, T0)

    async def reported() -> list[dict[str, Any]]:
        return await divergences(audit, case)

    [found] = await eventually(reported, 30, "the divergence")
    assert found["kind"] == "not-booked"
    assert found["payment_id"] == "pay-r1"
    assert found["applied_by_payment_service"] == {"amount_minor": 2_500, "currency": "USD"}
    assert found["booked_by_case_service"] is None
    [evidence] = found["evidence_entry_ids"]
    entry = (await audit.get(f"/audit/entries/{evidence}")).json()
    assert entry["type"] == "collections.payment.received.v1"

    await audit.publish(
        booked("pay-r1", 2_500, 7_500, BalanceChangeReason.PAYMENT), case, T0 + timedelta(seconds=1)
    )

    async def cleared() -> bool:
        return await divergences(audit, case) == []

    await eventually(cleared, 30, "the divergence to clear")


async def test_an_amount_booked_differently_and_a_one_sided_reversal_are_divergences(
    audit: AuditUnderTest,
) -> None:
    case = "c-recon-2"
    await audit.publish(received("pay-r2", 1_000), case, T0)
    await audit.publish(
        booked("pay-r2", 900, 100, BalanceChangeReason.PAYMENT), case, T0 + timedelta(seconds=1)
    )
    await audit.publish(received("pay-r3", 400), case, T0 + timedelta(seconds=2))
    await audit.publish(
        booked("pay-r3", 400, 0, BalanceChangeReason.PAYMENT), case, T0 + timedelta(seconds=3)
    )
    reversal = PaymentReversed(
        payment_id="pay-r3", amount=usd(400), reason=ReversalReason.CHARGEBACK, reversed_at=T0, applied=True
    )
    await audit.publish(reversal, case, T0 + timedelta(seconds=4))

    async def both() -> list[dict[str, Any]] | None:
        # the two topics are consumed independently: wait for the state after every event arrived
        found = await divergences(audit, case)
        kinds = {d["payment_id"]: d["kind"] for d in found}
        return found if kinds == {"pay-r2": "amount-differs", "pay-r3": "reversal-not-booked"} else None

    found = {d["payment_id"]: d for d in await eventually(both, 30, "two divergences")}
    assert found["pay-r2"]["kind"] == "amount-differs"
    assert found["pay-r2"]["booked_by_case_service"] == {"amount_minor": 900, "currency": "USD"}
    assert found["pay-r3"]["kind"] == "reversal-not-booked"
    assert len(found["pay-r3"]["evidence_entry_ids"]) == 3
