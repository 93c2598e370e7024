"""A stricter rule pack replayed over the trail before release counts exactly the past contacts it
would have refused (a fixture with known answers): US calls at 08:30, 09:30, 12:00, 20:30 and 22:00
in New York under the pack in force (08:00 to 21:00) and under a candidate of 09:00 to 20:00."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dcp_compliance import bundled_pack
from dcp_devstack.testing import token
from dcp_events.catalogue.policies import PolicyVersionProposed
from dcp_platform.auth import Role

from .conftest import AuditUnderTest
from .test_findings import attempt, opened

pytestmark = pytest.mark.integration

SUPERVISOR = token(Role.SUPERVISOR, "sup-1")
# Tuesday 2026-12-01 in New York (UTC-5): local hour h is UTC h + 5.
DAY = datetime(2026, 12, 1, tzinfo=UTC)


def _local(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour + 5, minutes=minute)


def _candidate() -> dict[str, Any]:
    document = bundled_pack("US").model_dump(mode="json")
    document["version"] = "2026.1.9"
    quiet = next(r for r in document["rules"] if r["id"] == "US-REGF-TIME")
    quiet["parameters"].update(start="09:00:00", end="20:00:00")
    return document


@pytest.fixture(scope="module")
async def report(audit: AuditUnderTest) -> dict[str, Any]:
    cases = {"s-0830": (8, 30), "s-0930": (9, 30), "s-1200": (12, 0), "s-2030": (20, 30), "s-2200": (22, 0)}
    for n, (case, (hour, minute)) in enumerate(cases.items()):
        await audit.publish(
            opened(case, "US", "America/New_York"), case, DAY - timedelta(days=3), jurisdiction="US"
        )
        await audit.publish(attempt(900 + n), case, _local(hour, minute), jurisdiction="US")
    # a GB call at 08:30 London: another jurisdiction's pack, not replayed
    await audit.publish(
        opened("s-gb", "GB", "Europe/London"), "s-gb", DAY - timedelta(days=3), jurisdiction="GB"
    )
    await audit.publish(attempt(999), "s-gb", DAY + timedelta(hours=8, minutes=30), jurisdiction="GB")
    document = json.dumps(_candidate(), sort_keys=True, separators=(",", ":"))
    await audit.publish(
        PolicyVersionProposed(
            name="rule-pack-US",
            policy_version=2,
            based_on=1,
            author="sup-2",
            reason="narrower calling hours",
            document=document,
            document_sha256=hashlib.sha256(document.encode()).hexdigest(),
        ),
        "rule-pack-US",
        DAY,
        actor="sup-2",
        role="supervisor",
    )
    await audit.wait_for_entries(2 * 6 + 1)
    response = await audit.client.post(
        "/audit/simulations",
        json={
            "policy": "rule-pack-US",
            "version": 2,
            "from": DAY.isoformat(),
            "to": (DAY + timedelta(days=2)).isoformat(),
        },
        headers=SUPERVISOR,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_the_replay_counts_exactly_the_contacts_the_candidate_would_refuse(
    report: dict[str, Any],
) -> None:
    assert report["contacts_rechecked"] == 5  # the five US calls; the GB one is another pack's
    assert report["decided_before_under"] == {"2026.1": 5}
    assert report["would_refuse"] == 2 and report["would_refuse_by_rule"] == {"US-REGF-TIME": 2}
    assert sorted(c["case_id"] for c in report["refused_contacts"]) == ["s-0830", "s-2030"]
    assert all(c["citation"].startswith("12 CFR 1006.6(b)(1)(i)") for c in report["refused_contacts"])
    assert report["would_allow"] == 0  # the 22:00 call is refused by both


async def test_the_report_is_stored_and_an_unknown_candidate_is_a_clear_404(
    audit: AuditUnderTest, report: dict[str, Any]
) -> None:
    stored = await audit.client.get(f"/audit/simulations/{report['simulation_id']}", headers=SUPERVISOR)
    assert stored.status_code == 200 and stored.json()["would_refuse"] == 2
    missing = await audit.client.post(
        "/audit/simulations",
        json={
            "policy": "rule-pack-US",
            "version": 3,
            "from": DAY.isoformat(),
            "to": (DAY + timedelta(days=2)).isoformat(),
        },
        headers=SUPERVISOR,
    )
    assert missing.status_code == 404 and missing.json()["type"].endswith("/unknown-policy-version")
    collector = await audit.client.post(
        "/audit/simulations",
        json={
            "policy": "rule-pack-US",
            "version": 2,
            "from": DAY.isoformat(),
            "to": (DAY + timedelta(days=2)).isoformat(),
        },
        headers=token(Role.COLLECTOR, "col-1"),
    )
    assert collector.status_code == 403
