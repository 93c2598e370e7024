"""Findings from the stream alone: attempts published straight to the topic, bypassing the contact gate,
are caught with the same rule packs (quiet hours, caps, holds, banned third parties, unrecorded visits),
and each of them, made without a contact permit, is a `contact-without-permit` finding besides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dcp_events.catalogue import CaseHoldPlaced, CaseOpened, ContactAttempted
from dcp_events.catalogue.enums import Channel, ContactOutcome, ContactParty, HoldType, TimeZoneSource
from dcp_events.catalogue.examples import EXAMPLES

from .conftest import AuditUnderTest

pytestmark = pytest.mark.integration

# Tuesday 2026-12-01, 15:00 UTC: 10:00 in New York, 15:00 in London, 23:00 in Shanghai.
NOON = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
_OPENED: CaseOpened = EXAMPLES["collections.case.opened.v1"]  # type: ignore[assignment]


def opened(case: str, jurisdiction: str, zone: str) -> CaseOpened:
    debtor = _OPENED.debtor.model_copy(
        update={"debtor_id": f"dbt-{case}", "time_zone": zone, "time_zone_source": TimeZoneSource.ADDRESS}
    )
    return _OPENED.model_copy(update={"debtor": debtor, "jurisdiction": jurisdiction})


def attempt(n: int, **changes: Any) -> ContactAttempted:
    fields: dict[str, Any] = {
        "attempt_id": f"att-{n}",
        "channel": Channel.PHONE,
        "party": ContactParty.DEBTOR,
        "collector_id": "usr-alice",
        "agency_id": None,
        "outcome": ContactOutcome.NO_ANSWER,
        "duration_seconds": 0,
        "recording_ref": None,
        "contact_point": "+447700900123",
    }
    return ContactAttempted(**{**fields, **changes})


@pytest.fixture(scope="module")
async def findings(audit: AuditUnderTest) -> dict[str, Any]:
    async def case(name: str, jurisdiction: str, zone: str) -> None:
        await audit.publish(
            opened(name, jurisdiction, zone), name, NOON - timedelta(days=10), jurisdiction=jurisdiction
        )

    await case("c-ok", "US", "America/New_York")
    await audit.publish(attempt(1), "c-ok", NOON, jurisdiction="US")

    await case("c-night", "US", "America/New_York")  # 03:00 in New York
    await audit.publish(attempt(2), "c-night", NOON - timedelta(hours=7), jurisdiction="US")

    await case("c-cap", "US", "America/New_York")
    # Eight calls in seven days, all in daytime (10:00 local on six days, then 10:00 and 14:00 today).
    times = [NOON - timedelta(days=6 - d) for d in range(7)] + [NOON + timedelta(hours=4)]
    for n, at in enumerate(times):
        await audit.publish(attempt(100 + n), "c-cap", at, jurisdiction="US")

    await case("c-hold", "US", "America/New_York")
    await audit.publish(
        CaseHoldPlaced(hold_id="h-1", hold_type=HoldType.BANKRUPTCY, reason="chapter 7"),
        "c-hold",
        NOON - timedelta(days=1),
    )
    await audit.publish(attempt(3), "c-hold", NOON, jurisdiction="US")

    await case("c-3p", "GB", "Europe/London")
    await audit.publish(
        attempt(4, party=ContactParty.THIRD_PARTY, contact_point="+447700900999"),
        "c-3p",
        NOON,
        jurisdiction="GB",
    )

    await case("c-visit", "CN", "Asia/Shanghai")  # 10:00 in Shanghai
    await audit.publish(
        attempt(5, channel=Channel.FIELD_VISIT, contact_point=None, recording_ref=None),
        "c-visit",
        NOON - timedelta(hours=13),
        jurisdiction="CN",
    )
    await case("c-closed", "US", "America/New_York")
    # The closure is recorded first, but a call at the very same instant was decided by a gate that
    # could not know it yet; a call an hour later is a finding.
    await audit.publish(EXAMPLES["collections.case.closed.v1"], "c-closed", NOON, jurisdiction="US")
    await audit.publish(attempt(6), "c-closed", NOON, jurisdiction="US")
    await audit.publish(attempt(7), "c-closed", NOON + timedelta(hours=1), jurisdiction="US")
    await audit.wait_for_entries(7 + 1 + 1 + 8 + 2 + 1 + 1 + 3)
    return (await audit.get("/audit/findings")).json()


WITHOUT_PERMIT = "contact-without-permit"


def by_case(findings: dict[str, Any], case: str) -> list[dict[str, Any]]:
    """The case's findings by the rules of its pack (not the permit findings every attempt here has)."""
    return [f for f in findings["findings"] if f["case_id"] == case and f["rule_kind"] != WITHOUT_PERMIT]


def without_permit(findings: dict[str, Any], case: str | None = None) -> list[dict[str, Any]]:
    return [
        f
        for f in findings["findings"]
        if f["rule_kind"] == WITHOUT_PERMIT and (case is None or f["case_id"] == case)
    ]


async def test_a_compliant_attempt_has_no_finding_but_its_missing_permit(findings: dict[str, Any]) -> None:
    assert by_case(findings, "c-ok") == []
    [found] = without_permit(findings, "c-ok")
    assert (found["rule_id"], found["pack_id"]) == ("GATE-NO-PERMIT", "gate-policy")
    assert "att-1" in found["reason"] and "without a permit" in found["reason"]
    assert findings["attempts_checked"] == 1 + 1 + 8 + 1 + 1 + 1 + 2


async def test_every_attempt_without_a_permit_is_a_finding(findings: dict[str, Any]) -> None:
    assert len(without_permit(findings)) == findings["attempts_checked"]
    assert all(f["attempt_entry_id"] in f["evidence_entry_ids"] for f in without_permit(findings))


async def test_contact_after_closure_but_not_at_the_same_instant(findings: dict[str, Any]) -> None:
    [found] = by_case(findings, "c-closed")
    assert found["rule_id"] == "US-GATE-CLOSED"
    assert found["local_time"].startswith("2026-12-01T11:00")


async def test_contact_in_quiet_hours(findings: dict[str, Any]) -> None:
    [found] = by_case(findings, "c-night")
    assert found["rule_id"] == "US-REGF-TIME" and found["pack_version"] == "2026.1"
    assert found["local_time"].startswith("2026-12-01T03:00")


async def test_contact_over_the_cap(findings: dict[str, Any]) -> None:
    [found] = by_case(findings, "c-cap")
    assert found["rule_id"] == "US-REGF-7IN7"
    assert len(found["evidence_entry_ids"]) >= 1 + 1 + 7  # the attempt, the case, the seven before it


async def test_contact_during_a_hold(audit: AuditUnderTest, findings: dict[str, Any]) -> None:
    [found] = by_case(findings, "c-hold")
    assert found["rule_id"] == "US-HOLD-BANKRUPTCY"
    hold = (await audit.get("/audit/entries", case_id="c-hold", type="collections.case.hold_placed")).json()[
        "items"
    ][0]
    assert (
        hold["id"] in found["evidence_entry_ids"] and found["attempt_entry_id"] in found["evidence_entry_ids"]
    )


async def test_contact_to_a_banned_third_party(findings: dict[str, Any]) -> None:
    [found] = by_case(findings, "c-3p")
    assert found["rule_id"] == "GB-CONC-3P" and found["pack_id"]


async def test_field_visit_without_recording(findings: dict[str, Any]) -> None:
    [found] = by_case(findings, "c-visit")
    assert found["rule_id"] == "CN-NIFA-RECORD"


async def test_findings_filter_by_case(audit: AuditUnderTest) -> None:
    only = (await audit.get("/audit/findings", case_id="c-night")).json()
    assert [(f["case_id"], f["rule_id"]) for f in only["findings"]] == [
        ("c-night", "US-REGF-TIME"),
        ("c-night", "GATE-NO-PERMIT"),  # the call was made without a permit
    ]
