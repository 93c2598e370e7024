"""The propensity model trained from the outcome history the case service keeps, through its real
projections: contacts and payments arrive on their topics, the training learns that reaching the
debtor comes before a payment, and the model is stored and activated as a policy version."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from dcp_events.catalogue import contacts, payments
from dcp_events.catalogue.base import Money
from dcp_events.catalogue.enums import Channel, ContactOutcome, ContactParty, PaymentMethod

from .conftest import SUPERVISOR, CaseHarness, bearer, eventually, placement_body

pytestmark = pytest.mark.integration

CASES = 90


async def _collector_attempts(harness: CaseHarness) -> int:
    start = (harness.clock.now() - timedelta(days=30)).isoformat()
    end = (harness.clock.now() + timedelta(days=1)).isoformat()
    r = await harness.client.get("/kpis/collectors", params={"from": start, "to": end}, headers=SUPERVISOR)
    return sum(int(c["attempts"]) for c in r.json()["collectors"] if c["collector_id"] == "col-prop")


async def test_a_model_learns_from_the_history_and_becomes_a_policy_version(harness: CaseHarness) -> None:
    rng = random.Random(5)
    opened: list[tuple[str, bool]] = []
    for n in range(CASES):
        body = placement_body(f"PROP-{n}", risk_score=rng.randint(100, 900))
        r = await harness.client.post("/cases", json=body, headers=SUPERVISOR)
        assert r.status_code == 201, r.text
        opened.append((str(r.json()["case_id"]), rng.random() < 0.5))
    harness.move_clock(harness.clock.now() + timedelta(hours=2))
    for n, (case_id, reached) in enumerate(opened):
        outcome = ContactOutcome.RIGHT_PARTY_CONTACT if reached else ContactOutcome.NO_ANSWER
        await harness.publish(
            contacts.ContactAttempted(
                attempt_id=f"att-prop-{n}",
                channel=Channel.PHONE,
                party=ContactParty.DEBTOR,
                collector_id="col-prop",
                agency_id=None,
                outcome=outcome,
                duration_seconds=60,
                recording_ref=None,
                contacted_at=harness.clock.now(),
            ),
            case_id,
        )

    async def all_contacts() -> bool:
        return await _collector_attempts(harness) == CASES

    await eventually(all_contacts, "the contacts in the outcome history")
    # a day on, most of those reached pay something, few of the others
    harness.move_clock(harness.clock.now() + timedelta(days=1, hours=2))
    paying = [case_id for case_id, reached in opened if rng.random() < (0.7 if reached else 0.08)]
    for n, case_id in enumerate(paying):
        await harness.publish(
            payments.PaymentReceived(
                payment_id=f"pay-prop-{n}",
                amount=Money(amount_minor=5_000, currency="GBP"),
                method=PaymentMethod.CARD,
                external_reference=f"ext-prop-{n}",
                received_at=harness.clock.now(),
            ),
            case_id,
        )

    async def booked() -> bool:
        # every payment, not just the last: the training reads the history as it stands
        balances = [(await harness.case(case_id))["balance"]["amount_minor"] for case_id in paying]
        return balances == [105_000 - 5_000] * len(paying)

    await eventually(booked, "every payment in the outcome history")
    harness.move_clock(harness.clock.now() + timedelta(days=4))

    trained = await harness.client.post(
        "/policies/propensity-model/training",
        json={"reason": "first model", "horizon_days": 3, "seed": 3},
        headers=SUPERVISOR,
    )
    assert trained.status_code == 201, trained.text
    body = trained.json()
    document, metrics = body["document"], body["document"]["metrics"]["pay"]
    assert body["name"] == "propensity-model" and body["status"] == "proposed"
    assert metrics["held_out"] > 0 and metrics["auc"] > 0.7, metrics
    weights = dict(zip(document["pay"]["features"], document["pay"]["weights"], strict=True))
    assert weights["right_party_contacts_30d"] > 0  # reaching the debtor comes before a payment
    assert "segment_default" in document["pay"]["features"]  # the segment it was in, from kpi_segments
    again = await harness.client.post(
        "/policies/propensity-model/training",
        json={"reason": "same data, same seed", "horizon_days": 3, "seed": 3},
        headers=SUPERVISOR,
    )
    # reproducible: the same data and seed give the very same model, which is no new version
    assert again.status_code == 409 and "the same as version" in again.json()["detail"], again.text

    version = body["version"]
    approver = bearer("supervisor", "sup-2")
    r = await harness.client.post(
        f"/policies/propensity-model/versions/{version}/approval", json={}, headers=approver
    )
    assert r.status_code == 200, r.text
    r = await harness.client.post(
        f"/policies/propensity-model/versions/{version}/activation",
        json={"reason": "lift"},
        headers=SUPERVISOR,
    )
    assert r.status_code == 200, r.text
    listed = (await harness.client.get("/policies/propensity-model", headers=SUPERVISOR)).json()
    assert listed["active_version"] == version
