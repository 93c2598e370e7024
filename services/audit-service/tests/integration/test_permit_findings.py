"""Findings with contact permits: the trail counts what the gate counted (live permits reserve their
place), re-decides each permit at its issue and each contact another system reported, and matches every
attempt to its permit (unknown, used before, expired: `permit` findings naming the permit's entries)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dcp_events.catalogue import ContactAttempted
from dcp_events.catalogue.contacts import ContactPermitExpired, ContactPermitIssued
from dcp_events.catalogue.enums import Channel, ContactOutcome, ContactParty

from .conftest import AuditUnderTest
from .test_findings import opened

pytestmark = pytest.mark.integration

# Tuesday 2026-12-01, 15:00 UTC: 10:00 in New York.
NOON = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
POINT = "+447700900123"  # the example debtor's number, consented to calls
SOURCE = "agency-dialer-acme"
TTL = timedelta(minutes=15)


def permit(case: str, name: str, at: datetime) -> ContactPermitIssued:
    return ContactPermitIssued(
        permit_id=name,
        channel=Channel.PHONE,
        party=ContactParty.DEBTOR,
        collector_id="usr-alice",
        contact_point=POINT,
        debtor_id=f"dbt-{case}",
        not_after=at + TTL,
        expires_at=at + 2 * TTL,
        rule_pack_id="us-regf",
        rule_pack_version="2026.1",
        key_id="pk-test",
        signature="A" * 86,
    )


def attempt(case: str, name: str, **changes: Any) -> ContactAttempted:
    fields: dict[str, Any] = {
        "attempt_id": name,
        "channel": Channel.PHONE,
        "party": ContactParty.DEBTOR,
        "collector_id": "usr-alice",
        "agency_id": None,
        "outcome": ContactOutcome.NO_ANSWER,
        "duration_seconds": 0,
        "recording_ref": None,
        "contact_point": POINT,
        "debtor_id": f"dbt-{case}",
        "rule_pack_id": "us-regf",
        "rule_pack_version": "2026.1",
    }
    return ContactAttempted(**{**fields, **changes})


@pytest.fixture(scope="module")
async def findings(audit: AuditUnderTest) -> dict[str, Any]:
    published = 0

    async def publish(payload: Any, case: str, at: datetime) -> None:
        nonlocal published
        await audit.publish(payload, case, at, jurisdiction="US")
        published += 1

    async def one_shot(case: str, n: int, at: datetime) -> None:
        """What contact-service's /contact-attempts emits: the permit, then the attempt on it."""
        await publish(permit(case, f"pmt-{case}-{n}", at), case, at)
        await publish(
            attempt(case, f"att-{case}-{n}", permit_id=f"pmt-{case}-{n}", contacted_at=at), case, at
        )

    for case in ("p-ok", "p-expired", "p-reused", "p-unknown", "p-reported", "p-cap"):
        await publish(opened(case, "US", "America/New_York"), case, NOON - timedelta(days=10))

    await one_shot("p-ok", 1, NOON)

    await publish(permit("p-expired", "pmt-late", NOON), "p-expired", NOON)
    await publish(
        ContactPermitExpired(permit_id="pmt-late", channel=Channel.PHONE, debtor_id="dbt-p-expired"),
        "p-expired",
        NOON + 2 * TTL,
    )
    late = NOON + 3 * TTL
    await publish(
        attempt("p-expired", "att-late", permit_id="pmt-late", contacted_at=late), "p-expired", late
    )

    await one_shot("p-reused", 1, NOON)
    again = NOON + timedelta(minutes=5)
    await publish(
        attempt("p-reused", "att-again", permit_id="pmt-p-reused-1", contacted_at=again), "p-reused", again
    )

    await publish(attempt("p-unknown", "att-forged", permit_id="pmt-forged"), "p-unknown", NOON)

    # Eight calls another system made and reported five minutes later, all in daytime.
    for n in range(8):
        at = NOON + timedelta(hours=n % 4, days=n // 4 - 1)
        reported = attempt("p-reported", f"ext-{n}", reported_by=SOURCE, contacted_at=at)
        await publish(reported, "p-reported", at + timedelta(minutes=5))

    # Six calls, a live permit (the seventh), and a permit the gate could not have issued.
    for n in range(6):
        await one_shot("p-cap", n, NOON - timedelta(days=1) + timedelta(hours=n % 3, days=n // 3))
    await publish(permit("p-cap", "pmt-live", NOON + timedelta(hours=3)), "p-cap", NOON + timedelta(hours=3))
    over = NOON + timedelta(hours=4)
    await publish(permit("p-cap", "pmt-over", over), "p-cap", over)

    await audit.wait_for_entries(published)
    return (await audit.get("/audit/findings")).json()


def by_case(findings: dict[str, Any], case: str) -> list[dict[str, Any]]:
    return [f for f in findings["findings"] if f["case_id"] == case]


async def entries(audit: AuditUnderTest, case: str, kind: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await audit.get("/audit/entries", case_id=case, type=kind)).json()["items"]
    return items


async def test_the_one_shot_pair_has_no_finding(findings: dict[str, Any]) -> None:
    assert by_case(findings, "p-ok") == []


async def test_an_attempt_on_an_expired_permit(audit: AuditUnderTest, findings: dict[str, Any]) -> None:
    [found] = by_case(findings, "p-expired")
    assert (found["rule_kind"], found["rule_id"]) == ("permit", "GATE-PERMIT-EXPIRED")
    assert "att-late" in found["reason"] and "pmt-late" in found["reason"]
    issued = await entries(audit, "p-expired", "collections.contact.permit_issued")
    released = await entries(audit, "p-expired", "collections.contact.permit_expired")
    proof = set(found["evidence_entry_ids"])
    assert {issued[0]["id"], released[0]["id"], found["attempt_entry_id"]} <= proof


async def test_a_second_attempt_on_a_used_permit(audit: AuditUnderTest, findings: dict[str, Any]) -> None:
    [found] = by_case(findings, "p-reused")
    assert (found["rule_kind"], found["rule_id"]) == ("permit", "GATE-PERMIT-REUSED")
    assert "att-again" in found["reason"] and "att-p-reused-1" in found["reason"]
    attempts = await entries(audit, "p-reused", "collections.contact.attempted")
    assert {a["id"] for a in attempts} <= set(found["evidence_entry_ids"])  # both attempts on it


async def test_an_attempt_on_an_unknown_permit(findings: dict[str, Any]) -> None:
    [found] = by_case(findings, "p-unknown")
    assert (found["rule_kind"], found["rule_id"]) == ("permit", "GATE-PERMIT-UNKNOWN")
    assert "pmt-forged" in found["reason"] and "unknown permit" in found["reason"]


async def test_a_reported_contact_over_the_cap_names_its_source(findings: dict[str, Any]) -> None:
    [found] = by_case(findings, "p-reported")
    assert found["rule_id"] == "US-REGF-7IN7" and found["pack_version"] == "2026.1"
    assert found["reason"].startswith(f"reported by {SOURCE}: the gate would have refused US-REGF-7IN7")


async def test_a_permit_issued_over_the_cap_counting_the_live_permit(
    audit: AuditUnderTest, findings: dict[str, Any]
) -> None:
    [found] = by_case(findings, "p-cap")
    assert found["rule_id"] == "US-REGF-7IN7"
    issued = await entries(audit, "p-cap", "collections.contact.permit_issued")
    assert found["attempt_entry_id"] == issued[-1]["id"]  # pmt-over, the last permit
    assert {i["id"] for i in issued[:-1]} <= set(found["evidence_entry_ids"])  # the seven it counted


async def test_findings_filter_by_permit_rule(audit: AuditUnderTest, findings: dict[str, Any]) -> None:
    only = (await audit.get("/audit/findings", rule_id="GATE-PERMIT-REUSED")).json()
    assert [f["case_id"] for f in only["findings"]] == ["p-reused"]
