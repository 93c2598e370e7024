"""Payments posted by core banking as CloudEvents on integration.payments: applied with the same
idempotency as REST, and what can never be applied goes to the dead-letter topic."""

from __future__ import annotations

import time
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from dcp_events.catalogue import Account, Money, PaymentMethod, PaymentPosted, case_id_for_account

from .conftest import COLLECTOR, Service, eventually

pytestmark = pytest.mark.integration


def posting(account: Account, reference: str, minor: int, at: Any, currency: str = "GBP") -> PaymentPosted:
    return PaymentPosted(
        posting_id=f"pst-{uuid.uuid4().hex[:8]}",
        account=account,
        amount=Money(amount_minor=minor, currency=currency),
        method=PaymentMethod.DIRECT_DEBIT,
        external_reference=reference,
        posted_at=at,
        value_date=date(2027, 1, 4),
    )


async def case_payments(service: Service, case_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (
        await service.client.get(f"/cases/{case_id}/payments", headers=COLLECTOR)
    ).json()["items"]
    return items


async def dead_letters(
    service: Service, expect: int, timeout: float = 20.0
) -> list[tuple[bytes, dict[str, bytes]]]:
    consumer = AIOKafkaConsumer(
        service.prefix + "integration.payments.dlq",
        bootstrap_servers=service.kafka,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[tuple[bytes, dict[str, bytes]]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < expect and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                found += [(r.value or b"", dict(r.headers or ())) for r in records]
    finally:
        await consumer.stop()
    assert len(found) >= expect, f"{len(found)} dead letters, expected {expect}"
    return found


async def test_a_posted_payment_is_applied_once_and_bad_messages_are_dead_lettered(service: Service) -> None:
    account = Account(creditor_id="acme", account_reference=f"acc-{uuid.uuid4().hex[:8]}", product="loan")
    case_id = case_id_for_account(account.creditor_id, account.account_reference)
    await service.open_case(case_id)
    await eventually(lambda: service.case_known(case_id))
    now = await service.now()
    reference = f"core-{uuid.uuid4().hex[:8]}"

    # The same posting twice (a producer retry with a new event id): one payment.
    first = await service.publish(
        posting(account, reference, 4200, now), subject=case_id, source="/core-banking"
    )
    await service.publish(posting(account, reference, 4200, now), subject=case_id, source="/core-banking")

    async def one_applied() -> bool:
        return [(p["status"], p["external_reference"]) for p in await case_payments(service, case_id)] == [
            ("applied", reference)
        ]

    await eventually(one_applied)
    events = await service.read_payment_events(case_id, until=lambda evs: len(evs) >= 1)
    assert [e.type for e in events] == ["collections.payment.received.v1"]
    assert events[0].causationid == str(first.id) and events[0].correlationid == first.correlationid
    # Who caused it is the posting's actor (bound once, by the consumer), not the payment service.
    assert (events[0].actor, events[0].actorrole) == (first.actor, first.actorrole)
    assert events[0].data["received_at"] == first.data["posted_at"]

    # Poison: not JSON at all; then the same reference with another amount. A payment in another
    # currency is a fact the bank reports: held unapplied (currency mismatch), not dead-lettered.
    await service.publish_raw("integration.payments", case_id, b"{not json")
    await service.publish(posting(account, reference, 9999, now), subject=case_id, source="/core-banking")
    await service.publish(
        posting(account, f"eur-{reference}", 100, now + timedelta(seconds=1), currency="EUR"),
        subject=case_id,
        source="/core-banking",
    )
    letters = await dead_letters(service, expect=2)
    reasons = [headers["dlq.error"].decode() for _, headers in letters]
    assert "cannot decode CloudEvent" in reasons[0]
    assert "PaymentReferenceConflict" in reasons[1]

    async def held_in_euros() -> bool:
        return any(
            p["external_reference"] == f"eur-{reference}" and p.get("unapplied_reason") == "currency_mismatch"
            for p in await case_payments(service, case_id)
        )

    await eventually(held_in_euros, "the euro payment held unapplied")
    # the consumer group, in the deployment's prefix (deployments on one broker never share a group)
    group = f"{service.prefix}payment-service.integration-payments".encode()
    assert {headers["dlq.consumer"] for _, headers in letters} == {group}
    assert letters[0][0] == b"{not json"

    # The consumer moved on: a good posting after the poison ones is still applied.
    await service.publish(
        posting(account, f"{reference}-2", 800, now), subject=case_id, source="/core-banking"
    )

    async def two_applied() -> bool:
        return [p["status"] for p in await case_payments(service, case_id)].count("applied") == 2

    await eventually(two_applied)
    applied = [p for p in await case_payments(service, case_id) if p["status"] == "applied"]
    assert [p["amount"]["amount_minor"] for p in applied] == [4200, 800]
