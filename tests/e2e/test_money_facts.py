"""Payments and reversals are facts: every one is booked by case-service, none is dead-lettered.

Through the public interfaces on the real stack: payment-service takes the payments and reversals;
case-service books each (the split over the balance's parts in its event), closes once at zero,
reopens when the closing payment is reversed, keeps an over-payment as a credit due back, and books a
payment after write-off as a recovery; the DLQs of the topics stay empty.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from dcp_events import encode_event, new_event
from dcp_events.catalogue.base import CaseAmounts, Money
from dcp_events.catalogue.debtor import Account
from dcp_events.catalogue.integration import PlacementUpdated

from .journeys import expect, only, open_case, placement, wait_case, wait_trail
from .platform_under_test import Platform

pytestmark = pytest.mark.integration

USD = "USD"


def usd(minor: int) -> dict[str, Any]:
    return {"amount_minor": minor, "currency": USD}


async def new_case(platform: Platform, principal: int, *, interest: int = 0, fees: int = 0) -> str:
    body = placement(
        "US",
        time_zone="America/New_York",
        language="en-US",
        currency=USD,
        principal_minor=principal,
        interest_minor=interest,
        fees_minor=fees,
        country_code="1",
    )
    return str((await open_case(platform, body, "sup-money"))["case_id"])


async def pay(platform: Platform, case_id: str, minor: int) -> str:
    async with platform.client("payment", "integration", "core-banking") as bank:
        payment = expect(
            await bank.post(
                "/payments",
                json={
                    "case_id": case_id,
                    "amount": usd(minor),
                    "method": "bank_transfer",
                    "external_reference": f"bank-{uuid.uuid4().hex[:12]}",
                },
            ),
            201,
        )
    return str(payment["payment_id"])


async def reverse(platform: Platform, payment_id: str) -> None:
    async with platform.client("payment", "integration", "core-banking") as bank:
        expect(await bank.post(f"/payments/{payment_id}/reversal", json={"reason": "chargeback"}), 200)


def parts(view: dict[str, Any]) -> dict[str, int]:
    found = view["detail"]["balance_parts"]
    return {k: found[k] for k in ("principal", "interest", "fees", "costs", "credit")}


async def dead_letters(platform: Platform, topic: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        platform.topic(topic) + ".dlq",
        bootstrap_servers=platform.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        letters: list[bytes] = []
        for _ in range(4):
            for records in (await consumer.getmany(timeout_ms=300)).values():
                letters += [r.value for r in records]
        return letters
    finally:
        await consumer.stop()


async def test_the_closing_payment_reversed_reopens_the_case_and_nothing_is_dead_lettered(
    platform: Platform,
) -> None:
    case_id = await new_case(platform, 9_000, interest=500, fees=500)  # 10,000 owed
    await pay(platform, case_id, 9_999)
    almost = await wait_case(platform, case_id, "9,999 booked", lambda c: c["balance"]["amount_minor"] == 1)
    # costs -> fees -> interest -> principal: the 1 left is principal
    assert parts(almost) == {"principal": 1, "interest": 0, "fees": 0, "costs": 0, "credit": 0}
    closing = await pay(platform, case_id, 1)
    closed = await wait_case(platform, case_id, "closed", lambda c: c["status"] == "closed")
    assert closed["close_reason"] == "paid_in_full"

    await reverse(platform, closing)
    reopened = await wait_case(platform, case_id, "reopened", lambda c: c["status"] == "open")
    assert reopened["balance"] == usd(1)
    assert parts(reopened)["principal"] == 1
    entries = await wait_trail(platform, case_id, "collections.case.reopened")
    assert len(only(entries, "collections.case.closed")) == 1
    [booked] = [
        e
        for e in only(entries, "collections.case.balance_changed")
        if e["event"]["data"]["reason"] == "reversal"
    ]
    assert booked["event"]["data"]["allocation"] == [{"part": "principal", "delta_minor": 1}]
    for topic in ("collections.payments", "collections.cases"):
        assert await dead_letters(platform, topic) == []


async def test_an_over_payment_closes_paid_in_full_with_a_credit_and_a_refund_due(platform: Platform) -> None:
    case_id = await new_case(platform, 5_000)
    await pay(platform, case_id, 7_000)
    closed = await wait_case(platform, case_id, "closed", lambda c: c["status"] == "closed")
    assert closed["close_reason"] == "paid_in_full"
    assert closed["balance"] == usd(0)
    assert parts(closed)["credit"] == 2_000
    entries = await wait_trail(platform, case_id, "collections.case.refund_due")
    [refund] = only(entries, "collections.case.refund_due")
    assert refund["event"]["data"]["amount"] == usd(2_000)
    assert await dead_letters(platform, "collections.payments") == []


async def test_a_payment_after_write_off_is_a_recovery_and_the_case_stays_written_off(
    platform: Platform,
) -> None:
    case_id = await new_case(platform, 8_000)
    async with platform.client("case", "supervisor", "sup-money") as case:
        expect(
            await case.post(
                f"/cases/{case_id}/close", json={"reason": "written_off", "note": "uncollectable"}
            ),
            200,
        )
    await wait_case(platform, case_id, "written off", lambda c: c["status"] == "closed")
    await pay(platform, case_id, 3_000)
    recovered = await wait_case(
        platform, case_id, "the recovery booked", lambda c: c["balance"]["amount_minor"] == 5_000
    )
    assert (recovered["status"], recovered["close_reason"]) == ("closed", "written_off")
    assert recovered["detail"]["recovered_after_write_off"] == usd(3_000)
    assert await dead_letters(platform, "collections.payments") == []


async def test_breathing_space_freezes_charges_at_the_api_and_records_an_integration_increase_as_a_finding(
    platform: Platform,
) -> None:
    body = placement(
        "GB",
        time_zone="Europe/London",
        language="en-GB",
        currency="GBP",
        principal_minor=10_000,
        country_code="44",
    )
    case_id = str((await open_case(platform, body, "sup-money"))["case_id"])
    async with platform.client("case", "supervisor", "sup-money") as case:
        expect(
            await case.post(
                f"/cases/{case_id}/holds",
                json={"hold_type": "breathing_space", "reason": "debt advice referral"},
            ),
            201,
        )
        refused = await case.post(
            f"/cases/{case_id}/charges",
            json={"reason": "interest", "amount": {"amount_minor": 250, "currency": "GBP"}},
        )
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["type"] == "https://errors.dcp.example/charges-frozen"
    assert problem["rule_id"] == "GB-BS-STANDARD" and "Debt Respite Scheme" in problem["citation"]

    # the creditor's system sends higher figures on the integration topic: recorded, not applied
    account = body["account"]
    update = PlacementUpdated(
        placement_id=body["placement_id"],
        account=Account(**account),
        amounts=CaseAmounts(
            principal=Money(amount_minor=10_000, currency="GBP"),
            interest=Money(amount_minor=300, currency="GBP"),
            fees=Money(amount_minor=0, currency="GBP"),
            total_balance=Money(amount_minor=10_300, currency="GBP"),
        ),
    )
    event = new_event(
        update,
        subject=case_id,
        source="/core-banking",
        actor="core-banking",
        actorrole="integration",
        correlationid=str(uuid.uuid4()),
        time=platform.now,
    )
    await platform.publish("integration.placements", case_id, encode_event(event))
    entries = await wait_trail(platform, case_id, "collections.case.charge_frozen")
    [frozen] = only(entries, "collections.case.charge_frozen")
    assert frozen["event"]["data"]["amount"] == {"amount_minor": 300, "currency": "GBP"}
    view = await wait_case(
        platform, case_id, "the balance unchanged", lambda c: c["balance"]["amount_minor"] == 10_000
    )
    assert view["detail"]["balance_parts"]["interest"] == 0
    async with platform.client("audit", "auditor", "aud-1") as audit:
        findings = expect(await audit.get("/audit/findings", params={"case_id": case_id}), 200)["findings"]
    assert [(f["rule_id"], f["rule_kind"]) for f in findings] == [("GB-BS-STANDARD", "charges_frozen")]
    assert frozen["id"] in findings[0]["evidence_entry_ids"]
