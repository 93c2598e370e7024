"""The legal stage as a workflow: referral (a collector above the threshold needs a supervisor), the
claim, a hearing, the judgment and enforcement, each in the case's history with its documents, the
costs booked to the costs part, what is recovered since referral counted in /kpis/legal; a
time-barred debt is never referred."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from dcp_events.catalogue import payments
from dcp_events.catalogue.base import Money
from dcp_events.catalogue.enums import PaymentMethod
from dcp_platform.auth import Role

from .conftest import SUPERVISOR, CaseHarness, bearer, eventually, placement_body

pytestmark = pytest.mark.integration

COLLECTOR = bearer(Role.COLLECTOR, "col-legal")
STATEMENT = {"document_id": "doc-agreement-1", "kind": "agreement", "description": "signed credit agreement"}


async def _open(harness: CaseHarness, reference: str, principal_minor: int, **overrides: Any) -> str:
    amounts = {
        "principal": {"amount_minor": principal_minor, "currency": "GBP"},
        "interest": {"amount_minor": 0, "currency": "GBP"},
        "fees": {"amount_minor": 0, "currency": "GBP"},
        "total_balance": {"amount_minor": principal_minor, "currency": "GBP"},
    }
    body = placement_body(reference, amounts=amounts, **overrides)
    r = await harness.client.post("/cases", json=body, headers=SUPERVISOR)
    assert r.status_code == 201, r.text
    case_id = str(r.json()["case_id"])
    staff = {
        "kind": "collector",
        "capacity": 50,
        "qualifications": [{"jurisdictions": ["GB"], "languages": ["en"], "channels": ["phone"]}],
    }
    assert (await harness.client.put("/staff/col-legal", json=staff, headers=SUPERVISOR)).status_code == 200
    assigned = await harness.client.post(
        f"/cases/{case_id}/assignment",
        json={"policy": "direct", "assignee_id": "col-legal"},
        headers=SUPERVISOR,
    )
    assert assigned.status_code == 200, assigned.text
    return case_id


def _referral(**extra: Any) -> dict[str, Any]:
    return {
        "handler": "solicitor",
        "handler_id": "firm-hart-lee",
        "reason": "no payment after the final demand",
        **extra,
    }


async def _step(harness: CaseHarness, case_id: str, body: dict[str, Any]) -> Any:
    return await harness.client.post(f"/cases/{case_id}/legal/steps", json=body, headers=SUPERVISOR)


async def test_a_referral_above_the_threshold_waits_for_a_supervisor_then_runs_to_enforcement(
    harness: CaseHarness,
) -> None:
    case_id = await _open(harness, "LGL-1", 650_000)  # above the GBP 4,000.00 a collector may refer alone
    asked = await harness.client.post(
        f"/cases/{case_id}/legal/referral", json=_referral(documents=[STATEMENT]), headers=COLLECTOR
    )
    assert asked.status_code == 201, asked.text
    assert asked.json()["status"] == "requested"
    referral_id = asked.json()["referral_id"]
    matter = (await harness.client.get(f"/cases/{case_id}/legal", headers=SUPERVISOR)).json()
    assert matter["legal"]["status"] == "requested" and matter["stage"] == "early"
    early_claim = await _step(
        harness, case_id, {"referral_id": referral_id, "step": "claim_filed", "on": "2026-12-01"}
    )
    assert early_claim.status_code == 409, early_claim.text
    collector_approves = await harness.client.post(
        f"/cases/{case_id}/legal/referral/{referral_id}/approval", headers=COLLECTOR
    )
    assert collector_approves.status_code == 403

    approved = await harness.client.post(
        f"/cases/{case_id}/legal/referral/{referral_id}/approval", headers=SUPERVISOR
    )
    assert approved.status_code == 200, approved.text
    legal = approved.json()["legal"]
    assert (legal["status"], legal["approved_by"], approved.json()["stage"]) == ("referred", "sup-1", "legal")

    today = harness.clock.now().date()
    judgment_before_claim = await _step(
        harness,
        case_id,
        {
            "referral_id": referral_id,
            "step": "judgment",
            "on": today.isoformat(),
            "judgment_amount": _gbp(650_000),
        },
    )
    assert judgment_before_claim.status_code == 409
    claim = await _step(
        harness,
        case_id,
        {
            "referral_id": referral_id,
            "step": "claim_filed",
            "on": today.isoformat(),
            "court": "County Court Business Centre",
            "reference": "K1QZ1234",
            "costs": _gbp(11_500),  # the court fee
            "documents": [{"document_id": "doc-n1", "kind": "claim_form"}],
        },
    )
    assert claim.status_code == 201, claim.text
    hearing = {"referral_id": referral_id, "step": "hearing", "on": (today + timedelta(days=40)).isoformat()}
    assert (await _step(harness, case_id, hearing)).status_code == 201
    judgment = await _step(
        harness,
        case_id,
        {
            "referral_id": referral_id,
            "step": "judgment",
            "on": (today + timedelta(days=40)).isoformat(),
            "judgment_amount": _gbp(661_500),
            "judgment_interest": _gbp(2_000),
            "costs": _gbp(8_000),
            "documents": [{"document_id": "doc-judgment", "kind": "judgment"}],
        },
    )
    assert judgment.status_code == 201, judgment.text
    enforcement = await _step(
        harness,
        case_id,
        {
            "referral_id": referral_id,
            "step": "enforcement",
            "on": (today + timedelta(days=70)).isoformat(),
            "enforcement": "attachment_of_earnings",
            "costs": _gbp(11_900),
        },
    )
    assert enforcement.status_code == 201, enforcement.text
    legal = enforcement.json()["legal"]
    assert (legal["status"], legal["claim_reference"], legal["enforcement"]) == (
        "enforcement",
        "K1QZ1234",
        ["attachment_of_earnings"],
    )
    assert legal["costs_minor"] == 11_500 + 8_000 + 11_900 and legal["judgment_minor"] == 661_500

    case = await harness.case(case_id)
    parts = case["detail"]["balance_parts"]
    assert parts["costs"] == 31_400 and parts["interest"] == 2_000
    assert case["balance"]["amount_minor"] == 650_000 + 31_400 + 2_000
    events = (await harness.client.get(f"/cases/{case_id}/events", headers=SUPERVISOR)).json()
    types = [e["type"] for e in events]
    assert types.count("collections.case.legal_step_recorded.v1") == 4
    assert (
        "collections.case.legal_referral_requested.v1" in types
        and "collections.case.legal_referred.v1" in types
    )
    [referred] = [e["data"] for e in events if e["type"] == "collections.case.legal_referred.v1"]
    assert referred["referred_by"] == "col-legal" and referred["approved_by"] == "sup-1"
    costs = [
        e["data"]
        for e in events
        if e["type"] == "collections.case.balance_changed.v1" and e["data"]["reason"] == "costs"
    ]
    assert [c["change"]["delta_minor"] for c in costs] == [11_500, 8_000, 11_900]

    await harness.publish(
        payments.PaymentReceived(
            payment_id="pay-lgl-1",
            amount=Money(amount_minor=25_000, currency="GBP"),
            method=PaymentMethod.BANK_TRANSFER,
            external_reference="aoe-1",
            received_at=harness.clock.now(),
        ),
        case_id,
    )

    async def recovered() -> Any:
        figures = (await harness.client.get("/kpis/legal", headers=SUPERVISOR)).json()["legal"]
        gbp = [f for f in figures if f["currency"] == "GBP"]
        return gbp[0] if gbp and gbp[0]["recovered_minor"] >= 25_000 else None

    kpi = await eventually(recovered)
    assert kpi["referred"] >= 1 and kpi["judgments"] >= 1 and kpi["in_enforcement"] >= 1
    assert kpi["costs_minor"] >= 31_400 and kpi["judgments_minor"] >= 661_500


async def test_a_collector_refers_below_the_threshold_and_a_time_barred_debt_is_never_referred(
    harness: CaseHarness,
) -> None:
    small = await _open(harness, "LGL-2", 150_000)
    r = await harness.client.post(f"/cases/{small}/legal/referral", json=_referral(), headers=COLLECTOR)
    assert r.status_code == 201 and r.json()["status"] == "referred", r.text
    again = await harness.client.post(
        f"/cases/{small}/legal/referral",
        json=_referral(referral_id=r.json()["referral_id"]),
        headers=COLLECTOR,
    )
    assert again.status_code == 201 and again.json()["status"] == "referred"  # the same referral: no-op
    other = await harness.client.post(f"/cases/{small}/legal/referral", json=_referral(), headers=COLLECTOR)
    assert other.status_code == 409 and other.json()["type"].endswith("/legal-conflict")

    england = {"lines": ["1 Mill Lane"], "city": "Leeds", "region": "ENG", "country": "GB"}
    debtor = {**placement_body("LGL-3")["debtor"], "address": england}
    barred = await _open(harness, "LGL-3", 150_000, days_past_due=7 * 366, debtor=debtor)
    assert (await harness.case(barred))["time_barred"] is True
    refused = await harness.client.post(
        f"/cases/{barred}/legal/referral", json=_referral(), headers=SUPERVISOR
    )
    assert refused.status_code == 409 and refused.json()["type"].endswith("/time-barred"), refused.text
    assert (await harness.client.get(f"/cases/{barred}/legal", headers=SUPERVISOR)).json()["legal"] is None


def _gbp(minor: int) -> dict[str, Any]:
    return {"amount_minor": minor, "currency": "GBP"}
