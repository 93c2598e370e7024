"""Creditor isolation: a user acting for creditor A (the token's `creditors` claim) cannot read, list,
count or change anything of creditor B's; a platform-wide user still sees both."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from dcp_platform.auth import Role

from .conftest import SUPERVISOR, CaseHarness, bearer, placement_body

pytestmark = pytest.mark.integration


async def placed(harness: CaseHarness, creditor: str, reference: str) -> str:
    body = placement_body(reference)
    body["account"] = {**body["account"], "creditor_id": creditor}
    response = await harness.client.post("/cases", json=body, headers=SUPERVISOR)
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"])


async def test_a_user_of_one_creditor_sees_and_changes_nothing_of_another(harness: CaseHarness) -> None:
    run = uuid.uuid4().hex[:6]
    bank_a, bank_b = f"bank-a-{run}", f"bank-b-{run}"
    ours = await placed(harness, bank_a, f"ISO-A-{run}")
    theirs = await placed(harness, bank_b, f"ISO-B-{run}")
    for_a = bearer(Role.SUPERVISOR, "sup-a", creditors=[bank_a])
    auditor_a = bearer(Role.AUDITOR, "aud-a", creditors=[bank_a])

    listed = (await harness.client.get("/cases", params={"limit": 500}, headers=for_a)).json()["items"]
    assert {c["case_id"] for c in listed} == {ours}
    everyone = (await harness.client.get("/cases", params={"limit": 500}, headers=SUPERVISOR)).json()
    assert {ours, theirs} <= {c["case_id"] for c in everyone["items"]}

    for path in (f"/cases/{theirs}", f"/cases/{theirs}/events"):
        assert (await harness.client.get(path, headers=for_a)).status_code == 404, path
        assert (await harness.client.get(path, headers=auditor_a)).status_code == 404, path
    assert (await harness.client.get(f"/cases/{ours}", headers=for_a)).status_code == 200
    changes: list[tuple[str, dict[str, Any]]] = [
        (f"/cases/{theirs}/holds", {"hold_type": "dispute", "reason": "not mine"}),
        (f"/cases/{theirs}/stage", {"to_stage": "late", "reason": "review"}),
        (f"/cases/{theirs}/close", {"reason": "recalled"}),
        (f"/cases/{theirs}/charges", {"reason": "fee", "amount": {"amount_minor": 100, "currency": "GBP"}}),
        (f"/cases/{theirs}/assignment", {"policy": "direct", "assignee_id": "col-x"}),
    ]
    for path, body in changes:
        assert (await harness.client.post(path, json=body, headers=for_a)).status_code == 404, path
    assert (await harness.client.delete(f"/cases/{theirs}/holds/h-1", headers=for_a)).status_code == 404
    body = placement_body(f"ISO-B2-{run}")
    body["account"] = {**body["account"], "creditor_id": bank_b}
    assert (await harness.client.post("/cases", json=body, headers=for_a)).status_code == 403

    # counts: the portfolio and strategy figures of A's user hold A's case only
    portfolio = (await harness.client.get("/kpis/portfolio", headers=for_a)).json()
    assert sum(d["cases"] for d in portfolio["distribution"]) == 1
    assert sum(r["cases"] for r in portfolio["recovery"]) == 1
    strategies = (await harness.client.get("/kpis/strategies", headers=for_a)).json()["strategies"]
    assert sum(s["cases"] for s in strategies) == 1
    assert (await harness.client.get("/kpis/collectors", headers=for_a)).status_code == 200

    erasure = {"reason": "asked on 2026-12-02", "legal_basis": "UK GDPR Art. 17(1)(a)"}
    admin_a = bearer(Role.ADMIN, "adm-a", creditors=[bank_a])
    assert (
        await harness.client.post(f"/debtors/dbt-ISO-B-{run}/erasure", json=erasure, headers=admin_a)
    ).status_code == 403
