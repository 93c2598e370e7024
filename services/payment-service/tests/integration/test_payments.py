"""Payments over HTTP against the real stack: idempotency under concurrent retries, conflicts,
currency, unapplied payments applied when their case appears, reversal after a kept promise."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from dcp_events.catalogue import Channel, Money, PromiseMade

from .conftest import ADMIN, COLLECTOR, INTEGRATION, SUPERVISOR, Service, eventually, gbp

pytestmark = pytest.mark.integration

PROBLEM = "https://errors.dcp.example/"


def new_case() -> str:
    return f"case-{uuid.uuid4().hex[:10]}"


async def test_ten_concurrent_posts_of_one_reference_make_one_payment(service: Service) -> None:
    case_id = new_case()
    await service.open_case(case_id)
    await eventually(lambda: service.case_known(case_id))
    body = {"case_id": case_id, "amount": gbp(2500), "method": "card", "external_reference": f"psp-{case_id}"}

    responses = await asyncio.gather(
        *(service.client.post("/payments", json=body, headers=INTEGRATION) for _ in range(10))
    )

    assert sorted(r.status_code for r in responses) == [200] * 9 + [201], [r.text for r in responses]
    assert len({r.json()["payment_id"] for r in responses}) == 1
    listed = (await service.client.get(f"/cases/{case_id}/payments", headers=COLLECTOR)).json()["items"]
    assert [(p["status"], p["amount"]["amount_minor"]) for p in listed] == [("applied", 2500)]
    events = await service.read_payment_events(case_id, until=lambda evs: len(evs) >= 1)
    assert [e.type for e in events] == ["collections.payment.received.v1"]

    conflict = await service.client.post("/payments", json={**body, "amount": gbp(2600)}, headers=INTEGRATION)
    assert conflict.status_code == 409
    assert conflict.headers["content-type"].startswith("application/problem+json")
    assert conflict.json()["type"] == PROBLEM + "payment-reference-conflict"
    assert conflict.json()["existing_payment_id"] == responses[0].json()["payment_id"]
    other_case = await service.client.post(
        "/payments", json={**body, "case_id": new_case()}, headers=INTEGRATION
    )
    assert other_case.status_code == 409
    assert other_case.json()["type"] == PROBLEM + "payment-reference-conflict"


async def test_a_currency_other_than_the_cases_is_refused(service: Service) -> None:
    case_id = new_case()
    await service.open_case(case_id)
    await eventually(lambda: service.case_known(case_id))
    response = await service.client.post(
        "/payments",
        json={
            "case_id": case_id,
            "amount": {"amount_minor": 100, "currency": "EUR"},
            "method": "card",
            "external_reference": f"eur-{case_id}",
        },
        headers=COLLECTOR,
    )
    assert response.status_code == 422
    assert response.json()["type"] == PROBLEM + "currency-mismatch"
    assert (await service.client.get(f"/cases/{case_id}/payments", headers=COLLECTOR)).json()["items"] == []
    # The refused reference is free: it was never recorded.
    retry = await service.client.post(
        "/payments",
        json={
            "case_id": case_id,
            "amount": gbp(100),
            "method": "card",
            "external_reference": f"eur-{case_id}",
        },
        headers=COLLECTOR,
    )
    assert retry.status_code == 201


async def test_a_payment_for_an_unknown_case_is_held_then_applied_when_the_case_opens(
    service: Service,
) -> None:
    case_id = new_case()
    posted = await service.client.post(
        "/payments",
        json={
            "case_id": case_id,
            "amount": gbp(7000),
            "method": "bank_transfer",
            "external_reference": f"bt-{case_id}",
        },
        headers=INTEGRATION,
    )
    assert posted.status_code == 201, posted.text
    payment = posted.json()
    assert (payment["status"], payment["unapplied_reason"]) == ("unapplied", "unknown_case")
    unapplied = (await service.client.get("/payments?status=unapplied", headers=SUPERVISOR)).json()["items"]
    assert payment["payment_id"] in [p["payment_id"] for p in unapplied]

    await service.open_case(case_id)

    async def applied() -> bool:
        got = await service.client.get(f"/payments/{payment['payment_id']}", headers=COLLECTOR)
        return bool(got.json().get("status") == "applied")  # 403 until its CaseAssigned is in

    await eventually(applied)
    unapplied = (await service.client.get("/payments?status=unapplied", headers=SUPERVISOR)).json()["items"]
    assert payment["payment_id"] not in [p["payment_id"] for p in unapplied]
    events = await service.read_payment_events(case_id, until=lambda evs: len(evs) >= 2)
    assert [e.type for e in events] == ["collections.payment.held.v1", "collections.payment.received.v1"]
    assert events[1].data["received_at"] == events[0].data["received_at"]
    assert events[1].causationid is not None  # caused by the CaseOpened it reacted to


async def test_a_reversal_after_a_kept_promise_breaks_it(service: Service) -> None:
    case_id = new_case()
    await service.open_case(case_id)
    await eventually(lambda: service.case_known(case_id))
    now = await service.now()
    due_on = (now + timedelta(days=5)).date()
    await service.publish(
        PromiseMade(
            promise_id=f"prm-{case_id}",
            amount=Money(amount_minor=5000, currency="GBP"),
            due_on=due_on,
            channel=Channel.PHONE,
            collector_id="collector-1",
        ),
        subject=case_id,
        source="/contact-service",
    )

    async def tracked() -> bool:
        got = await service.client.get(f"/promises?case_id={case_id}", headers=COLLECTOR)
        return len(got.json()) == 1

    await eventually(tracked)
    await service.move_clock(now + timedelta(hours=1))
    paid = await service.client.post(
        "/payments",
        json={
            "case_id": case_id,
            "amount": gbp(5000),
            "method": "card",
            "external_reference": f"k-{case_id}",
        },
        headers=COLLECTOR,
    )
    assert paid.status_code == 201

    # Due date + 2 days of grace, end of day (UTC debtor): the durable timer fires.
    await service.move_clock(now + timedelta(days=8))
    promise = await _promise_status(service, case_id, "kept")
    assert promise["amount_paid"]["amount_minor"] == 5000

    forbidden = await service.client.post(
        f"/payments/{paid.json()['payment_id']}/reversal", json={"reason": "chargeback"}, headers=COLLECTOR
    )
    assert forbidden.status_code == 403
    reversed_ = await service.client.post(
        f"/payments/{paid.json()['payment_id']}/reversal",
        json={"reason": "chargeback", "reference": f"cb-{case_id}"},
        headers=INTEGRATION,
    )
    assert reversed_.status_code == 200, reversed_.text
    assert reversed_.json()["status"] == "reversed"
    promise = await _promise_status(service, case_id, "broken")
    assert promise["amount_paid"]["amount_minor"] == 0
    again = await service.client.post(
        f"/payments/{paid.json()['payment_id']}/reversal", json={"reason": "chargeback"}, headers=ADMIN
    )
    assert again.status_code == 409
    assert again.json()["type"] == PROBLEM + "payment-already-reversed"

    events = await service.read_payment_events(case_id, until=lambda evs: len(evs) >= 5)
    assert [e.type.removeprefix("collections.payment.") for e in events] == [
        "promise_tracked.v1",
        "received.v1",
        "promise_kept.v1",
        "reversed.v1",
        "promise_broken.v1",
    ]
    assert events[4].data["reversed_payment_id"] == paid.json()["payment_id"]
    assert [e.sequence for e in events] == [1, 2, 3, 4, 5]


async def test_reads_need_a_token_and_unknown_ids_are_404(service: Service) -> None:
    assert (await service.client.get("/payments")).status_code == 401
    missing = await service.client.get("/payments/nope", headers=COLLECTOR)
    assert missing.status_code == 404
    reversal = await service.client.post("/payments/nope/reversal", json={"reason": "error"}, headers=ADMIN)
    assert reversal.status_code == 404


async def _promise_status(service: Service, case_id: str, status: str) -> dict[str, object]:
    found: dict[str, object] = {}

    async def check() -> bool:
        got = (await service.client.get(f"/promises?case_id={case_id}", headers=COLLECTOR)).json()
        if got and got[0]["status"] == status:
            found.update(got[0])
            return True
        return False

    await eventually(check)
    return found


async def test_an_amount_beyond_what_events_hold_is_a_422_problem_everywhere(service: Service) -> None:
    """10^30 minor units passes JSON but no event holds it: refused at the edge, never a 500."""
    case_id = new_case()
    huge = {"amount_minor": 10**30, "currency": "GBP"}
    for path, body in (
        ("/payments", {"case_id": case_id, "amount": huge, "method": "card", "external_reference": "psp-x"}),
        (
            "/payment-plans",
            {"case_id": case_id, "total": huge, "installments": [{"due_on": "2027-01-01", "amount": huge}]},
        ),
        ("/settlements", {"case_id": case_id, "amount": huge, "due_on": "2027-01-01"}),
    ):
        response = await service.client.post(
            path, json=body, headers=SUPERVISOR if path != "/payments" else INTEGRATION
        )
        assert response.status_code == 422, (path, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"] == PROBLEM + "validation"
