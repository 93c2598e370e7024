"""Income and expenditure against the real stack: a statement recorded and listed, the plan it supports
agreed with the statement's date and source on it, one above it refused to a collector and agreed by a
supervisor, the event on collections.payments; bad statements refused with their problem type."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from dcp_events.catalogue import ErasureCompleted

from .conftest import AUDITOR, COLLECTOR, OTHER_COLLECTOR, SUPERVISOR, Service, eventually, gbp
from .test_arrangements import PROBLEM, open_case

pytestmark = pytest.mark.integration


def statement(day: str, **overrides: Any) -> dict[str, Any]:
    return {
        "statement_date": day,
        "source": "debt_adviser",
        "household": {"adults": 2, "children": 1},
        "lines": [
            {"category": "income", "line_item": "salary", "amount": gbp(210_000)},
            {"category": "income", "line_item": "child_benefit", "amount": gbp(2_540), "frequency": "weekly"},
            {"category": "fixed_costs", "line_item": "mortgage", "amount": gbp(110_000)},
            {"category": "flexible_costs", "line_item": "food", "amount": gbp(12_000), "frequency": "weekly"},
            {"category": "priority_debts", "line_item": "energy_arrears", "amount": gbp(4_000)},
            {"category": "non_priority_debts", "line_item": "personal_loan", "amount": gbp(6_000)},
        ],
    } | overrides  # fmt: skip


async def test_a_plan_is_judged_by_the_current_statement_and_carries_it(service: Service) -> None:
    case_id = await open_case(service, balance=60_000)
    today = (await service.now()).date()
    recorded = await service.client.post(
        f"/cases/{case_id}/financial-statements", json=statement(today.isoformat()), headers=COLLECTOR
    )
    assert recorded.status_code == 201, recorded.text
    body = recorded.json()
    # 2 100.00 + 25.40 a week (110.07 a month) in; 1 100.00 + 120.00 a week (520.00) + 40.00 out;
    # 60.00 to the personal loan: 550.07 a month surplus, 490.07 available for this debt.
    assert body["monthly_income"] == gbp(221_007)
    assert body["monthly_outgoings"] == gbp(166_000)
    assert body["monthly_surplus"] == gbp(55_007) and body["monthly_available"] == gbp(49_007)
    assert body["current"] is True and body["recorded_by"] == "collector-1"
    assert recorded.headers["location"] == f"/cases/{case_id}/financial-statements/{body['statement_id']}"
    listed = await service.client.get(f"/cases/{case_id}/financial-statements", headers=AUDITOR)
    assert [s["statement_id"] for s in listed.json()] == [body["statement_id"]]

    first_due = (today + timedelta(days=7)).isoformat()
    too_much = {
        "case_id": case_id,
        "total": gbp(60_000),
        "schedule": {"first_due_on": first_due, "count": 1, "frequency": "monthly"},
    }
    refused = await service.client.post("/payment-plans", json=too_much, headers=COLLECTOR)
    assert refused.status_code == 403 and refused.json()["type"] == PROBLEM + "supervisor-approval-required"
    assert "supports 49007" in refused.json()["detail"]

    within = too_much | {"schedule": {"first_due_on": first_due, "count": 2, "frequency": "monthly"}}
    agreed = await service.client.post("/payment-plans", json=within, headers=COLLECTOR)
    assert agreed.status_code == 201, agreed.text
    judged = agreed.json()["affordability"]
    assert judged["statement_id"] == body["statement_id"]
    assert (judged["statement_date"], judged["statement_source"]) == (today.isoformat(), "debt_adviser")
    assert (judged["asked"], judged["supported"], judged["within"]) == (gbp(30_000), gbp(49_007), True)

    kind = "collections.payment.financial_statement_recorded.v1"
    events = await service.read_payment_events(case_id, lambda evs: any(e.type == kind for e in evs))
    [published] = [e for e in events if e.type == kind]
    assert published.data["monthly_available"] == {"delta_minor": 49_007, "currency": "GBP"}


async def test_a_supervisor_agrees_what_the_statement_does_not_support(service: Service) -> None:
    case_id = await open_case(service, balance=60_000)
    today = (await service.now()).date()
    deficit = statement(
        today.isoformat(),
        lines=[
            {"category": "income", "line_item": "universal_credit", "amount": gbp(80_000)},
            {"category": "fixed_costs", "line_item": "rent", "amount": gbp(85_000)},
        ],
    )
    recorded = await service.client.post(
        f"/cases/{case_id}/financial-statements", json=deficit, headers=COLLECTOR
    )
    assert recorded.status_code == 201 and recorded.json()["monthly_surplus"] == gbp(-5_000)
    offer = {"case_id": case_id, "amount": gbp(50_000), "due_on": (today + timedelta(days=20)).isoformat()}
    refused = await service.client.post("/settlements", json=offer, headers=COLLECTOR)
    assert refused.status_code == 403 and refused.json()["type"] == PROBLEM + "supervisor-approval-required"
    agreed = await service.client.post("/settlements", json=offer, headers=SUPERVISOR)
    assert agreed.status_code == 201, agreed.text
    judged = agreed.json()["affordability"]
    assert judged["within"] is False and judged["approved_by_supervisor"] is True


async def test_bad_statements_are_refused_with_their_problem_type(service: Service) -> None:
    case_id = await open_case(service)
    today = (await service.now()).date()
    url = f"/cases/{case_id}/financial-statements"
    ahead = await service.client.post(
        url, json=statement((today + timedelta(days=2)).isoformat()), headers=COLLECTOR
    )
    assert ahead.status_code == 422 and ahead.json()["type"] == PROBLEM + "invalid-financial-statement"
    dollars = statement(
        today.isoformat(),
        lines=[
            {"category": "income", "line_item": "salary", "amount": {"amount_minor": 1, "currency": "USD"}}
        ],
    )
    mismatch = await service.client.post(url, json=dollars, headers=COLLECTOR)
    assert mismatch.status_code == 422 and mismatch.json()["type"] == PROBLEM + "currency-mismatch"
    gambling = {"category": "gambling", "line_item": "x", "amount": gbp(1)}
    unknown = statement(today.isoformat(), lines=[gambling])
    invalid = await service.client.post(url, json=unknown, headers=COLLECTOR)
    assert invalid.status_code == 422 and invalid.json()["type"] == PROBLEM + "validation"
    not_theirs = await service.client.post(url, json=statement(today.isoformat()), headers=OTHER_COLLECTOR)
    assert not_theirs.status_code == 403
    nowhere = await service.client.get("/cases/no-such-case/financial-statements/fs-x", headers=SUPERVISOR)
    assert nowhere.status_code == 404


async def test_an_erasure_takes_the_lines_and_keeps_the_totals(service: Service) -> None:
    case_id = await open_case(service)
    today = (await service.now()).date()
    url = f"/cases/{case_id}/financial-statements"
    assert (
        await service.client.post(url, json=statement(today.isoformat()), headers=COLLECTOR)
    ).status_code == 201
    erasure = ErasureCompleted(
        debtor_id=f"dbt-{case_id}",
        trigger="request",
        reason="the debtor asked",
        legal_basis="UK GDPR Art. 17",
    )
    await service.publish(erasure, subject=case_id)

    async def lines_gone() -> dict[str, Any] | None:
        [shown] = (await service.client.get(url, headers=SUPERVISOR)).json()
        return shown if shown["entries"] == [] else None

    shown = await eventually(lines_gone)
    assert shown["monthly_available"] == gbp(49_007)  # the record of what arrangements were judged by
