"""Vulnerability flags through the case-service's HTTP app on the real stack: details only with consent,
reviews in the case history, the pack's specialist referral and review interval, masking per role."""

from __future__ import annotations

import pytest

from dcp_platform.auth import Role

from .conftest import SUPERVISOR, CaseHarness, bearer, placement_body

pytestmark = pytest.mark.integration

AUDITOR = bearer(Role.AUDITOR, "aud-1")
DETAILS = "Lost her partner in October; finds phone calls distressing."


async def open_case(harness: CaseHarness, reference: str) -> str:
    response = await harness.client.post("/cases", json=placement_body(reference), headers=SUPERVISOR)
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"])


async def test_a_flag_needs_consent_for_its_details_and_its_reviews_are_in_the_history(
    harness: CaseHarness,
) -> None:
    case_id = await open_case(harness, "VULN-1")
    url = f"/cases/{case_id}/vulnerabilities"
    no_consent = {"type": "life_event", "description": DETAILS, "consent": {"given": False}, "source": "call"}
    refused = await harness.client.post(url, json=no_consent, headers=SUPERVISOR)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"].endswith("/vulnerability-details-need-consent")
    assert (await harness.client.get(url, headers=SUPERVISOR)).json()["flags"] == []

    consented = {
        **no_consent,
        "flag_id": "v-1",
        "consent": {"given": True, "method": "written", "at": "2026-11-30T09:00:00Z"},
    }
    flagged = await harness.client.post(url, json=consented, headers=SUPERVISOR)
    assert flagged.status_code == 201, flagged.text
    flag = flagged.json()
    assert (flag["type"], flag["description"], flag["recorded_by"]) == ("life_event", DETAILS, "sup-1")
    assert flag["referred_to"] is None  # the GB life-event rule names no team
    again = await harness.client.post(url, json=consented, headers=SUPERVISOR)
    assert again.status_code == 201 and again.json()["flag_id"] == "v-1"  # idempotent

    audited = (await harness.client.get(url, headers=AUDITOR)).json()["flags"]
    assert DETAILS not in audited[0]["description"] and audited[0]["type"] == "life_event"

    past = await harness.client.post(
        f"{url}/v-1/review", json={"outcome": "continue", "review_on": "2020-01-01"}, headers=SUPERVISOR
    )
    assert past.status_code == 409 and past.json()["type"].endswith("/vulnerability-conflict")
    changed = await harness.client.post(
        f"{url}/v-1/review",
        json={"outcome": "change", "type": "health", "consent": {"given": False}, "review_on": "2099-01-01"},
        headers=SUPERVISOR,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["type"], changed.json()["description"]) == ("health", None)  # consent withdrawn
    assert changed.json()["referred_to"] == "vulnerable-customers"  # the GB health rule's team
    case = (await harness.client.get(f"/cases/{case_id}", headers=SUPERVISOR)).json()
    assert case["assignee"]["id"] == "vulnerable-customers"
    removed = await harness.client.post(f"{url}/v-1/review", json={"outcome": "remove"}, headers=SUPERVISOR)
    assert removed.status_code == 200 and removed.json()["removed"] is True
    assert (await harness.client.get(url, headers=SUPERVISOR)).json()["flags"] == []
    unknown = await harness.client.post(f"{url}/v-9/review", json={"outcome": "remove"}, headers=SUPERVISOR)
    assert unknown.status_code == 404

    events = [
        e["type"] for e in (await harness.client.get(f"/cases/{case_id}/events", headers=SUPERVISOR)).json()
    ]
    for kind in (
        "vulnerability_flagged",
        "vulnerability_reviewed",
        "referred_to_specialist",
        "vulnerability_removed",
    ):
        assert f"collections.case.{kind}.v1" in events, kind
    integration = bearer(Role.INTEGRATION, "core-banking")
    assert (await harness.client.get(url, headers=integration)).status_code == 403
    stranger = bearer(Role.COLLECTOR, "col-nobody")
    assert (
        await harness.client.post(url, json={**consented, "flag_id": "v-2"}, headers=stranger)
    ).status_code == 403
