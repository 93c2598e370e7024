"""Repayment plans and settlements against the real stack, with time moved by the manual clock:
a plan from agreement to completion and to breach, supervisor approval, settlements paid and lapsed."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from .conftest import COLLECTOR, INTEGRATION, START, SUPERVISOR, Service, eventually, gbp

pytestmark = pytest.mark.integration

PROBLEM = "https://errors.dcp.example/"


async def open_case(service: Service, *, balance: int = 90_000, tz: str = "UTC") -> str:
    case_id = f"case-{uuid.uuid4().hex[:10]}"
    await service.open_case(case_id, balance=balance, tz=tz)

    async def known() -> bool:
        # A plan for an unknown case is refused: wait until the case's facts arrived.
        got = await service.client.post(
            "/payment-plans",
            json={
                "case_id": case_id,
                "total": gbp(1),
                "installments": [{"due_on": "2000-01-01", "amount": gbp(1)}],
            },
            headers=SUPERVISOR,
        )
        return bool(got.json()["type"] != PROBLEM + "case-unknown")

    await eventually(known)
    await eventually(lambda: service.case_known(case_id))
    return case_id


async def pay(service: Service, case_id: str, minor: int) -> None:
    response = await service.client.post(
        "/payments",
        json={
            "case_id": case_id,
            "amount": gbp(minor),
            "method": "direct_debit",
            "external_reference": str(uuid.uuid4()),
        },
        headers=INTEGRATION,
    )
    assert response.status_code == 201, response.text


async def plan_state(service: Service, plan_id: str, status: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def check() -> bool:
        got = (await service.client.get(f"/payment-plans/{plan_id}", headers=COLLECTOR)).json()
        found.update(got)
        return bool(got["status"] == status)

    await eventually(check)
    return found


async def test_a_monthly_plan_from_the_31st_runs_to_completion(service: Service) -> None:
    case_id = await open_case(service)
    now = await service.now()
    assert now == START  # the first test of the module: the plan starts on 31 January 2027
    first_due = date(2027, 1, 31)
    created = await service.client.post(
        "/payment-plans",
        json={
            "case_id": case_id,
            "total": gbp(90_000),
            "schedule": {"first_due_on": first_due.isoformat(), "count": 3, "frequency": "monthly"},
            "channel": "phone",
        },
        headers=COLLECTOR,
    )
    assert created.status_code == 201, created.text
    plan = created.json()
    assert plan["status"] == "active" and plan["collector_id"] == "collector-1"
    assert [i["amount"]["amount_minor"] for i in plan["installments"]] == [30_000, 30_000, 30_000]
    assert [i["due_on"] for i in plan["installments"]] == ["2027-01-31", "2027-02-28", "2027-03-31"]
    assert plan["installments"][0]["deadline"].startswith("2027-02-04T00:00")  # 3 days of grace

    second = await service.client.post(
        "/payment-plans",
        json={
            "case_id": case_id,
            "total": gbp(90_000),
            "installments": [{"due_on": first_due.isoformat(), "amount": gbp(90_000)}],
        },
        headers=SUPERVISOR,
    )
    assert second.status_code == 409 and second.json()["type"] == PROBLEM + "active-plan-exists"

    await pay(service, case_id, 45_000)
    plan = await plan_state(service, plan["plan_id"], "active")
    assert [(i["status"], i["paid"]["amount_minor"]) for i in plan["installments"]] == [
        ("paid", 30_000),
        ("open", 15_000),
        ("open", 0),
    ]
    # The first installment's deadline passes: it was paid, so nothing is missed.
    await service.move_clock(
        datetime.fromisoformat(plan["installments"][0]["deadline"]) + timedelta(minutes=1)
    )
    await pay(service, case_id, 45_000)
    plan = await plan_state(service, plan["plan_id"], "completed")
    assert plan["paid"]["amount_minor"] == 90_000 and plan["missed_installments"] == 0

    events = await service.read_payment_events(
        case_id, until=lambda evs: any(e.type.endswith("plan_completed.v1") for e in evs)
    )
    assert [e.type.removeprefix("collections.payment.") for e in events] == [
        "plan_agreed.v1",
        "received.v1",
        "received.v1",
        "plan_completed.v1",
    ]
    assert events[0].actor == "collector-1" and events[0].actorrole == "collector"


async def test_a_plan_with_two_missed_installments_breaks_when_time_passes(service: Service) -> None:
    case_id = await open_case(service, tz="America/New_York")
    now = await service.now()
    dues = [(now + timedelta(days=7 * k + 3)).date().isoformat() for k in range(3)]
    created = await service.client.post(
        "/payment-plans",
        json={
            "case_id": case_id,
            "total": gbp(90_000),
            "installments": [{"due_on": d, "amount": gbp(30_000)} for d in dues],
        },
        headers=COLLECTOR,
    )
    assert created.status_code == 201, created.text
    plan = created.json()
    first_deadline = datetime.fromisoformat(plan["installments"][0]["deadline"])
    assert first_deadline.utcoffset() == timedelta(0)
    assert first_deadline.hour in (4, 5)  # midnight in New York, in UTC

    await pay(service, case_id, 10_000)
    await service.move_clock(first_deadline - timedelta(seconds=1))
    plan = await plan_state(service, plan["plan_id"], "active")
    assert plan["missed_installments"] == 0
    await service.move_clock(first_deadline)

    async def one_missed() -> bool:
        got = (await service.client.get(f"/payment-plans/{plan['plan_id']}", headers=COLLECTOR)).json()
        return bool(got["missed_installments"] == 1)

    await eventually(one_missed)
    await service.move_clock(datetime.fromisoformat(plan["installments"][1]["deadline"]))
    plan = await plan_state(service, plan["plan_id"], "broken")
    assert [i["status"] for i in plan["installments"]] == ["missed", "missed", "open"]

    events = await service.read_payment_events(
        case_id, until=lambda evs: any(e.type.endswith("plan_broken.v1") for e in evs)
    )
    kinds = [e.type.removeprefix("collections.payment.") for e in events]
    assert kinds == [
        "plan_agreed.v1",
        "received.v1",
        "installment_missed.v1",
        "installment_missed.v1",
        "plan_broken.v1",
    ]
    assert events[2].data["amount_paid"] == gbp(10_000)
    assert events[4].data["missed_installments"] == 2
    assert events[4].actor == "payment-service" and events[4].jurisdiction == "GB"


async def test_plans_beyond_a_collectors_limits_need_a_supervisor_and_bad_ones_are_refused(
    service: Service,
) -> None:
    case_id = await open_case(service)
    now = await service.now()
    long_plan = {
        "case_id": case_id,
        "total": gbp(90_000),
        "schedule": {"first_due_on": (now + timedelta(days=1)).date().isoformat(), "count": 18},
    }
    refused = await service.client.post("/payment-plans", json=long_plan, headers=COLLECTOR)
    assert refused.status_code == 403
    assert refused.json()["type"] == PROBLEM + "supervisor-approval-required"
    past = await service.client.post(
        "/payment-plans",
        json={
            "case_id": case_id,
            "total": gbp(1000),
            "installments": [{"due_on": (now - timedelta(days=2)).date().isoformat(), "amount": gbp(1000)}],
        },
        headers=SUPERVISOR,
    )
    assert past.status_code == 422 and past.json()["type"] == PROBLEM + "invalid-payment-plan"
    wrong_sum = await service.client.post(
        "/payment-plans",
        json={
            "case_id": case_id,
            "total": gbp(90_000),
            "installments": [{"due_on": (now + timedelta(days=3)).date().isoformat(), "amount": gbp(80_000)}],
        },
        headers=SUPERVISOR,
    )
    assert wrong_sum.status_code == 422 and "add up" in wrong_sum.json()["detail"]
    approved = await service.client.post("/payment-plans", json=long_plan, headers=SUPERVISOR)
    assert approved.status_code == 201, approved.text
    assert len(approved.json()["installments"]) == 18


async def test_a_settlement_paid_in_time_is_paid_and_one_not_paid_lapses(service: Service) -> None:
    paid_case = await open_case(service, balance=100_000)
    lapsing_case = await open_case(service, balance=100_000)
    now = await service.now()
    due_on = (now + timedelta(days=10)).date().isoformat()

    deep = await service.client.post(
        "/settlements",
        json={"case_id": paid_case, "amount": gbp(60_000), "due_on": due_on},
        headers=COLLECTOR,
    )
    assert deep.status_code == 403 and deep.json()["type"] == PROBLEM + "supervisor-approval-required"
    agreed = await service.client.post(
        "/settlements",
        json={"case_id": paid_case, "amount": gbp(60_000), "due_on": due_on},
        headers=SUPERVISOR,
    )
    assert agreed.status_code == 201, agreed.text
    assert agreed.json()["balance_at_agreement"]["amount_minor"] == 100_000
    other = await service.client.post(
        "/settlements",
        json={"case_id": lapsing_case, "amount": gbp(85_000), "due_on": due_on},
        headers=COLLECTOR,
    )
    assert other.status_code == 201, other.text

    await pay(service, paid_case, 60_000)
    await pay(service, lapsing_case, 50_000)

    async def status_of(settlement_id: str, status: str) -> bool:
        got = (await service.client.get(f"/settlements/{settlement_id}", headers=COLLECTOR)).json()
        return bool(got["status"] == status)

    await eventually(lambda: status_of(agreed.json()["settlement_id"], "paid"))
    await service.move_clock(datetime.fromisoformat(other.json()["settles_at"]))
    await eventually(lambda: status_of(other.json()["settlement_id"], "lapsed"))
    assert (await status_of(agreed.json()["settlement_id"], "paid")) is True

    events = await service.read_payment_events(
        paid_case, until=lambda evs: any(e.type.endswith("settlement_paid.v1") for e in evs)
    )
    paid_event = next(e for e in events if e.type.endswith("settlement_paid.v1"))
    assert paid_event.data["amount_paid"] == gbp(60_000)
    lapsed = await service.read_payment_events(
        lapsing_case, until=lambda evs: any(e.type.endswith("settlement_lapsed.v1") for e in evs)
    )
    assert lapsed[-1].data["amount_paid"] == gbp(50_000)


async def test_dates_beyond_the_horizon_are_refused_by_name_never_a_500(service: Service) -> None:
    case_id = await open_case(service)
    at_the_calendar_end = await service.client.post(
        "/payment-plans",
        json={
            "case_id": case_id,
            "total": gbp(90_000),
            "schedule": {"first_due_on": "9999-12-01", "count": 3, "frequency": "monthly"},
        },
        headers=SUPERVISOR,
    )
    assert at_the_calendar_end.status_code == 422, at_the_calendar_end.text
    assert at_the_calendar_end.json()["errors"][0]["loc"] == ["body", "schedule", "first_due_on"]
    now = await service.now()
    far = (now + timedelta(days=366 * 11)).date().isoformat()
    listed = await service.client.post(
        "/payment-plans",
        json={
            "case_id": case_id,
            "total": gbp(90_000),
            "installments": [
                {"due_on": (now + timedelta(days=30)).date().isoformat(), "amount": gbp(45_000)},
                {"due_on": far, "amount": gbp(45_000)},
            ],
        },
        headers=SUPERVISOR,
    )
    assert listed.status_code == 422
    assert [e["loc"] for e in listed.json()["errors"]] == [["body", "installments", 1, "due_on"]]
    settlement = await service.client.post(
        "/settlements",
        json={"case_id": case_id, "amount": gbp(50_000), "due_on": far},
        headers=SUPERVISOR,
    )
    assert settlement.status_code == 422
    assert settlement.json()["errors"][0]["type"] == "date_too_far_ahead"
