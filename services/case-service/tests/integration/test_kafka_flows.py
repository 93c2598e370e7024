"""Placements, payments and contact events from the real Kafka topics; the daily ageing timer; KPIs."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from dcp_events import decode_event
from dcp_events.catalogue import contacts, integration, payments
from dcp_events.catalogue.base import CaseAmounts, Money
from dcp_events.catalogue.debtor import Account, Debtor
from dcp_events.catalogue.enums import (
    Channel,
    ContactOutcome,
    ContactParty,
    HoldType,
    PaymentMethod,
    ReversalReason,
)

from .conftest import SUPERVISOR, CaseHarness, eventually

pytestmark = pytest.mark.integration


def gbp(minor: int) -> Money:
    return Money(amount_minor=minor, currency="GBP")


def account(reference: str) -> Account:
    return Account(creditor_id="kafka-bank", account_reference=reference, product="personal_loan")


async def place(harness: CaseHarness, reference: str, *, balance: int = 30000, dpd: int = 25) -> str:
    case_id = integration.case_id_for_account("kafka-bank", reference)
    today = harness.clock.now().date()
    await harness.publish(
        integration.AccountPlaced(
            placement_id=f"plc-{reference}",
            debtor=Debtor(
                debtor_id=f"d-{reference}",
                full_name="Grace Hopper",
                language="en-US",
                time_zone="America/New_York",
                time_zone_source="declared",
            ),
            account=account(reference),
            amounts=CaseAmounts(
                principal=gbp(balance), interest=gbp(0), fees=gbp(0), total_balance=gbp(balance)
            ),
            days_past_due=dpd,
            due_since=today - timedelta(days=dpd),
            jurisdiction="US",
        ),
        case_id,
    )
    await wait_for(harness, case_id, lambda c: c is not None)
    return case_id


async def wait_for(harness: CaseHarness, case_id: str, predicate: Any) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        response = await harness.client.get(f"/cases/{case_id}", headers=SUPERVISOR)
        case = response.json() if response.status_code == 200 else None
        return case if predicate(case) else None

    result: dict[str, Any] = await eventually(check)
    return result


def received(payment_id: str, minor: int, harness: CaseHarness) -> payments.PaymentReceived:
    return payments.PaymentReceived(
        payment_id=payment_id,
        amount=gbp(minor),
        method=PaymentMethod.CARD,
        external_reference=f"ext-{payment_id}",
        received_at=harness.clock.now(),
    )


async def test_a_placement_from_the_topic_opens_once_and_publishes_the_case_events(
    harness: CaseHarness,
) -> None:
    case_id = await place(harness, "K-PLACE-1")
    # the same placement again (another message) opens nothing twice
    await place(harness, "K-PLACE-1")
    events = (await harness.client.get(f"/cases/{case_id}/events", headers=SUPERVISOR)).json()
    assert [e["type"] for e in events].count("collections.case.opened.v1") == 1
    assert events[0]["actor"] == "core-banking"

    consumer = AIOKafkaConsumer(
        harness.prefix + "collections.cases",
        bootstrap_servers=harness.bootstrap,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:

        async def published() -> bool:
            batches = await consumer.getmany(timeout_ms=200)
            return any(
                r.key == case_id.encode() and decode_event(r.value).type == "collections.case.opened.v1"
                for records in batches.values()
                for r in records
                if r.value is not None
            )

        await eventually(published)
    finally:
        await consumer.stop()


async def test_payments_and_reversals_change_the_balance_and_a_zero_balance_closes_paid_in_full(
    harness: CaseHarness,
) -> None:
    case_id = await place(harness, "K-PAY-1", balance=30000)
    await harness.publish(received("p-1", 10000, harness), case_id)
    await wait_for(harness, case_id, lambda c: c["balance"]["amount_minor"] == 20000)
    await harness.publish(
        payments.PaymentReversed(
            payment_id="p-1",
            amount=gbp(10000),
            reason=ReversalReason.CHARGEBACK,
            reversed_at=harness.clock.now(),
        ),
        case_id,
    )
    await wait_for(harness, case_id, lambda c: c["balance"]["amount_minor"] == 30000)
    await harness.publish(received("p-2", 30000, harness), case_id)
    closed = await wait_for(harness, case_id, lambda c: c["status"] == "closed")
    assert closed["close_reason"] == "paid_in_full"
    assert closed["balance"]["amount_minor"] == 0


async def test_a_paid_settlement_closes_the_case_as_settled_with_the_rest_waived(
    harness: CaseHarness,
) -> None:
    case_id = await place(harness, "K-SETTLE-1", balance=50000)
    await harness.publish(
        payments.SettlementAgreed(
            settlement_id="s-1",
            settlement_amount=gbp(30000),
            balance_at_agreement=gbp(50000),
            due_on=harness.clock.now().date() + timedelta(days=14),
        ),
        case_id,
    )
    await wait_for(harness, case_id, lambda c: c["detail"]["settlement"] is not None)
    await harness.publish(received("sp-1", 30000, harness), case_id)
    await harness.publish(
        payments.SettlementPaid(
            settlement_id="s-1",
            settlement_amount=gbp(30000),
            amount_paid=gbp(30000),
            balance_at_agreement=gbp(50000),
            due_on=harness.clock.now().date() + timedelta(days=14),
            payment_ids=["sp-1"],
        ),
        case_id,
    )
    closed = await wait_for(harness, case_id, lambda c: c["status"] == "closed")
    assert closed["close_reason"] == "settled"
    events = (await harness.client.get(f"/cases/{case_id}/events", headers=SUPERVISOR)).json()
    waiver = [e["data"] for e in events if e["type"] == "collections.case.balance_changed.v1"][-1]
    assert waiver["reason"] == "waiver" and waiver["change"]["delta_minor"] == -20000


async def test_disputes_and_cease_requests_from_contacts_place_holds(harness: CaseHarness) -> None:
    case_id = await place(harness, "K-HOLD-1")
    await harness.publish(
        contacts.DisputeRaised(dispute_id="dsp-1", received_via=Channel.LETTER, reason="amount is wrong"),
        case_id,
    )
    await harness.publish(contacts.CeaseRequested(request_id="cease-1", received_via=Channel.EMAIL), case_id)
    case = await wait_for(harness, case_id, lambda c: c["active_holds"] == 2)
    kinds = sorted(h["hold_type"] for h in case["detail"]["holds"])
    assert kinds == ["cease_communication", "dispute"]


async def test_a_timely_written_dispute_holds_until_verification_is_sent_and_no_person_can_lift_it(
    harness: CaseHarness,
) -> None:
    """12 CFR 1006.38(d)(2)(i): after a dispute in writing within the validation period, no collection
    until verification is sent; the contact service classifies it, the case holds it."""
    case_id = await place(harness, "K-VERIFY-1")
    timely = contacts.DisputeRaised(
        dispute_id="dsp-v1",
        received_via=Channel.LETTER,
        reason="not my debt",
        hold_type=HoldType.VERIFICATION_PENDING,
        within_validation_period=True,
        validation_period_end=date(2027, 1, 8),
        rule_id="US-REGF-VALIDATION",
    )
    await harness.publish(timely, case_id)
    case = await wait_for(harness, case_id, lambda c: c["active_holds"] == 1)
    [hold] = case["detail"]["holds"]
    assert (hold["hold_id"], hold["hold_type"]) == ("dsp-v1", "verification_pending")
    lifted = await harness.client.delete(f"/cases/{case_id}/holds/dsp-v1", headers=SUPERVISOR)
    assert lifted.status_code == 409, lifted.text
    assert lifted.json()["type"].endswith("/verification-required")
    sent = contacts.VerificationSent(
        dispute_id="dsp-v1",
        attempt_id="att-v1",
        channel=Channel.LETTER,
        template="us/verification",
        current_amount=Money(amount_minor=50000, currency="USD"),
        content_sha256="a" * 64,
    )
    await harness.publish(sent, case_id)
    await wait_for(harness, case_id, lambda c: c["active_holds"] == 0)
    events = (await harness.client.get(f"/cases/{case_id}/events", headers=SUPERVISOR)).json()
    [released] = [e["data"] for e in events if e["type"] == "collections.case.hold_released.v1"]
    assert released["hold_type"] == "verification_pending" and "verification sent" in released["reason"]
    # a dispute the pack records without a hold places none
    await harness.publish(
        contacts.DisputeRaised(dispute_id="dsp-v2", received_via=Channel.PHONE, reason="x", hold_type=None),
        case_id,
    )
    await harness.publish(contacts.CeaseRequested(request_id="cease-v", received_via=Channel.EMAIL), case_id)
    held = await wait_for(harness, case_id, lambda c: c["active_holds"] == 1)
    assert [h["hold_type"] for h in held["detail"]["holds"]] == ["cease_communication"]


async def test_the_daily_ageing_timer_moves_buckets_across_month_end_and_escalates(
    harness: CaseHarness,
) -> None:
    # placed at 25 DPD on 30 Nov: bucket 1-30; on 6 Dec it is 31 DPD -> 31-60 and stage late.
    case_id = await place(harness, "K-AGE-1", dpd=25)
    assert (await harness.case(case_id))["bucket"] == "1-30"
    now = harness.clock.now()
    harness.move_clock(now.replace(year=2026, month=12, day=6, hour=0, minute=10))
    aged = await wait_for(harness, case_id, lambda c: c["bucket"] == "31-60")
    assert aged["stage"] == "late"
    assert aged["days_past_due"] == 31
    events = (await harness.client.get(f"/cases/{case_id}/events", headers=SUPERVISOR)).json()
    bucket_change = [e for e in events if e["type"] == "collections.case.bucket_changed.v1"][-1]
    assert bucket_change["data"]["reason"] == "daily ageing"
    assert bucket_change["data"]["due_since"] == (date(2026, 11, 30) - timedelta(days=25)).isoformat()


async def test_collector_kpis_combine_contact_quality_promises_and_recovery(harness: CaseHarness) -> None:
    case_id = await place(harness, "K-KPI-1", balance=40000)
    collector = {
        "kind": "collector",
        "capacity": 5,
        "qualifications": [{"jurisdictions": ["US"], "languages": ["en"]}],
    }
    assert (await harness.client.put("/staff/col-kpi", json=collector, headers=SUPERVISOR)).status_code == 200
    assigned = await harness.client.post(
        f"/cases/{case_id}/assignment",
        json={"policy": "direct", "assignee_id": "col-kpi"},
        headers=SUPERVISOR,
    )
    assert assigned.status_code == 200, assigned.text
    for n, outcome in enumerate([ContactOutcome.NO_ANSWER, ContactOutcome.RIGHT_PARTY_CONTACT]):
        await harness.publish(
            contacts.ContactAttempted(
                attempt_id=f"att-{n}",
                channel=Channel.PHONE,
                party=ContactParty.DEBTOR,
                collector_id="col-kpi",
                agency_id=None,
                outcome=outcome,
                duration_seconds=60,
                recording_ref=None,
            ),
            case_id,
        )
    await harness.publish(
        contacts.PromiseMade(
            promise_id="prm-kpi",
            amount=gbp(10000),
            due_on=harness.clock.now().date() + timedelta(days=3),
            channel=Channel.PHONE,
            collector_id="col-kpi",
        ),
        case_id,
    )
    await harness.publish(received("kpi-pay", 10000, harness), case_id)
    await harness.publish(
        payments.PromiseKept(
            promise_id="prm-kpi",
            amount_promised=gbp(10000),
            amount_paid=gbp(10000),
            due_on=harness.clock.now().date() + timedelta(days=3),
            payment_ids=["kpi-pay"],
        ),
        case_id,
    )

    async def kpis() -> dict[str, Any] | None:
        body = (await harness.client.get("/kpis/collectors", headers=SUPERVISOR)).json()
        mine = [c for c in body["collectors"] if c["collector_id"] == "col-kpi"]
        # Contacts and payments are two consumer groups: wait until both have applied their events.
        done = mine and mine[0]["promises_kept"] == 1 and mine[0]["recovered"] and mine[0]["attempts"] == 2
        return body if done and mine[0]["right_party_contacts"] == 1 else None

    body = await eventually(kpis)
    mine = next(c for c in body["collectors"] if c["collector_id"] == "col-kpi")
    assert (mine["attempts"], mine["right_party_contacts"], mine["promises_made"]) == (2, 1, 1)
    assert mine["right_party_contact_rate"] == 0.5
    assert mine["promise_rate"] == 1.0
    assert mine["promise_kept_rate"] == 1.0
    assert mine["recovered"] == [{"amount_minor": 10000, "currency": "GBP"}]
    assert "CN-CBRC-NO-PURE-RECOVERY-KPI" in body["note"]

    strategies = (await harness.client.get("/kpis/strategies", headers=SUPERVISOR)).json()["strategies"]
    assert sum(s["recovered_minor"] for s in strategies if s["currency"] == "GBP") >= 10000
    portfolio = (await harness.client.get("/kpis/portfolio", headers=SUPERVISOR)).json()
    assert any(d["bucket"] == "1-30" for d in portfolio["distribution"])
    assert all(isinstance(d["balance_minor"], int) for d in portfolio["distribution"])  # minor units
    gbp_recovery = next(r for r in portfolio["recovery"] if r["currency"] == "GBP")
    gbp_strategies = [s for s in strategies if s["currency"] == "GBP"]
    assert gbp_recovery["placed_minor"] == sum(s["placed_minor"] for s in gbp_strategies)
    assert gbp_recovery["recovered_minor"] == sum(s["recovered_minor"] for s in gbp_strategies)
    assert gbp_recovery["recovered_in_period_minor"] >= 10000
    assert gbp_recovery["recovery_rate"] == round(
        gbp_recovery["recovered_minor"] / gbp_recovery["placed_minor"], 4
    )
    assert (await harness.client.get("/kpis/portfolio", headers=harness_collector())).status_code == 403


def harness_collector() -> dict[str, str]:
    from dcp_platform.auth import Role

    from .conftest import bearer

    return bearer(Role.COLLECTOR, "col-kpi")
