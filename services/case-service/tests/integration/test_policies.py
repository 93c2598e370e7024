"""Policies as versioned data: a version checked against its schema and rules, simulated on the
portfolio, approved by a second person (required for a rule pack) and activated without a restart;
decisions made after it name its version, and every step is an event on collections.policies."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

import dcp_compliance
from dcp_events.canonical import decode_event

from .conftest import SUPERVISOR, CaseHarness, bearer, eventually, placement_body

pytestmark = pytest.mark.integration

OTHER_SUPERVISOR = bearer("supervisor", "sup-2")


@pytest.fixture(scope="module", autouse=True)
def _bundled_packs_after() -> Iterator[None]:
    yield
    dcp_compliance.forget_activations()  # the packs activated here stay out of the other tests


async def _document(harness: CaseHarness, name: str, version: int = 1) -> dict[str, Any]:
    r = await harness.client.get(f"/policies/{name}/versions/{version}", headers=SUPERVISOR)
    assert r.status_code == 200, r.text
    return dict(r.json()["document"])


async def _published(harness: CaseHarness, types: set[str], count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        harness.prefix + "collections.policies",
        bootstrap_servers=harness.bootstrap,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: list[Any] = []
    try:
        deadline = time.monotonic() + 20
        while len(found) < count and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += [e for e in map(decode_event, (r.value for r in records)) if e.type in types]
    finally:
        await consumer.stop()
    return found


async def test_a_collection_policy_version_is_checked_simulated_and_activated_without_a_restart(
    harness: CaseHarness,
) -> None:
    listed = (await harness.client.get("/policies", headers=SUPERVISOR)).json()["policies"]
    assert {p["name"] for p in listed} >= {
        "collection-policy",
        "rule-pack-US",
        "rule-pack-GB",
        "rule-pack-CN",
    }
    assert all(p["active_version"] == 1 for p in listed)
    before = await _open(harness, "POL-BEFORE")
    assert before["segment"] == "default"

    document = await _document(harness, "collection-policy")
    broken = copy.deepcopy(document)
    broken["segmentation"]["strategies"]["standard"]["steps"][0]["channel"] = "pigeon"
    refused = await harness.client.put(
        "/policies/collection-policy", json={"document": broken, "reason": "typo"}, headers=SUPERVISOR
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"].endswith("/invalid-policy-document")
    assert "/segmentation/strategies/standard/steps/0/channel" in refused.json()["detail"]
    unknown = copy.deepcopy(document)
    unknown["segmentation"]["segments"][0]["strategy"] = "no-such-strategy"
    refused = await harness.client.put(
        "/policies/collection-policy", json={"document": unknown, "reason": "typo"}, headers=SUPERVISOR
    )
    assert refused.status_code == 422 and "unknown strategy" in refused.json()["detail"]

    # the candidate: credit cards of risk 250+ are worked intensively
    candidate = copy.deepcopy(document)
    candidate["segmentation"]["segments"].insert(
        0,
        {
            "id": "cards-risky",
            "when": {"products": ["credit_card"], "risk_score_min": 250},
            "strategy": "intensive",
        },
    )
    stored = await harness.client.put(
        "/policies/collection-policy",
        json={"document": candidate, "reason": "risky cards get calls first", "based_on": 1},
        headers=SUPERVISOR,
    )
    assert stored.status_code == 201, stored.text
    assert stored.json()["version"] == 2 and stored.json()["status"] == "proposed"
    assert [c["path"] for c in stored.json()["changes"]] == ["/segmentation/segments"]
    stale = await harness.client.put(
        "/policies/collection-policy",
        json={"document": candidate, "reason": "again", "based_on": 1},
        headers=SUPERVISOR,
    )
    assert stale.status_code == 409, stale.text

    simulated = await harness.client.post(
        "/policies/collection-policy/versions/2/simulation", headers=SUPERVISOR
    )
    assert simulated.status_code == 200, simulated.text
    report = simulated.json()
    assert report["against_version"] == 1 and report["open_cases"] >= 1
    assert report["cases_changing"]["segment"] >= 1
    assert any(m["to"].startswith("cards-risky -> intensive") for m in report["moves"])
    assert report["capacity"]["change"] > 0  # intensive calls on day 0 and day 5

    approved = await harness.client.post(
        "/policies/collection-policy/versions/2/approval",
        json={"note": "looked at the simulation"},
        headers=OTHER_SUPERVISOR,
    )
    assert approved.status_code == 200, approved.text
    activated = await harness.client.post(
        "/policies/collection-policy/versions/2/activation",
        json={"reason": "simulated: risky cards move to intensive", "simulation_id": report["simulation_id"]},
        headers=SUPERVISOR,
    )
    assert activated.status_code == 200, activated.text
    after = await _open(harness, "POL-AFTER")
    assert after["segment"] == "cards-risky" and after["strategy_id"] == "intensive"
    events = (await harness.client.get(f"/cases/{after['case_id']}/events", headers=SUPERVISOR)).json()
    [assigned] = [e["data"] for e in events if e["type"] == "collections.case.strategy_assigned.v1"]
    assert assigned["ruleset_version"] == 2  # the decisions name the version that made them
    [bucket] = [e["data"] for e in events if e["type"] == "collections.case.bucket_changed.v1"]
    assert bucket["policy_version"] == 2
    before_events = (
        await harness.client.get(f"/cases/{before['case_id']}/events", headers=SUPERVISOR)
    ).json()
    [earlier] = [e["data"] for e in before_events if e["type"] == "collections.case.bucket_changed.v1"]
    assert earlier["policy_version"] == 1

    published = await _published(
        harness,
        {
            "collections.policy.version_proposed.v1",
            "collections.policy.version_approved.v1",
            "collections.policy.activated.v1",
        },
        3,
    )
    assert [e.type.split(".")[2] for e in published] == ["version_proposed", "version_approved", "activated"]
    activation = published[-1].data
    assert activation["policy_version"] == 2 and activation["previous_version"] == 1
    assert activation["approved_by"] == "sup-2" and activation["activated_by"] == "sup-1"
    assert activation["simulation_id"] == report["simulation_id"]
    listed = (await harness.client.get("/policies/collection-policy", headers=SUPERVISOR)).json()
    assert listed["active_version"] == 2


async def test_a_rule_pack_needs_a_second_persons_approval_and_is_then_in_force(harness: CaseHarness) -> None:
    document = await _document(harness, "rule-pack-GB")
    stricter = copy.deepcopy(document)
    stricter["version"] = "2026.1.1"
    quiet = next(r for r in stricter["rules"] if r["parameters"]["kind"] == "quiet_hours")
    quiet["parameters"]["start"] = "09:00:00"
    stored = await harness.client.put(
        "/policies/rule-pack-GB",
        json={"document": stricter, "reason": "no calls before nine"},
        headers=SUPERVISOR,
    )
    assert stored.status_code == 201, stored.text
    version = stored.json()["version"]
    same_version = await harness.client.put(
        "/policies/rule-pack-GB",
        json={"document": {**stricter, "title": "again"}, "reason": "x"},
        headers=SUPERVISOR,
    )
    assert same_version.status_code == 422 and "already a version" in same_version.json()["detail"]

    unapproved = await harness.client.post(
        f"/policies/rule-pack-GB/versions/{version}/activation", json={"reason": "now"}, headers=SUPERVISOR
    )
    assert unapproved.status_code == 409 and unapproved.json()["type"].endswith("/four-eyes-required")
    own = await harness.client.post(
        f"/policies/rule-pack-GB/versions/{version}/approval", json={}, headers=SUPERVISOR
    )
    assert own.status_code == 409 and own.json()["type"].endswith("/four-eyes-required")
    approved = await harness.client.post(
        f"/policies/rule-pack-GB/versions/{version}/approval", json={}, headers=OTHER_SUPERVISOR
    )
    assert approved.status_code == 200, approved.text
    activated = await harness.client.post(
        f"/policies/rule-pack-GB/versions/{version}/activation",
        json={"reason": "approved"},
        headers=SUPERVISOR,
    )
    assert activated.status_code == 200, activated.text
    assert activated.json()["decision_version"] == "2026.1.1"
    assert any(c["path"].endswith("/parameters/start") for c in activated.json()["changes"])

    async def in_force() -> bool:
        return dcp_compliance.load_pack("GB").version == "2026.1.1"

    await eventually(in_force, "the service's follower to put the pack in force")


async def _open(harness: CaseHarness, reference: str) -> dict[str, Any]:
    r = await harness.client.post("/cases", json=placement_body(reference), headers=SUPERVISOR)
    assert r.status_code == 201, r.text
    return await harness.case(str(r.json()["case_id"]))
