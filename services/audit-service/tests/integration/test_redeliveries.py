"""A producer that re-sends events it already sent (a relay crashed after its send and before it stored
its progress): the trail keeps every copy in its chain and marks each as a redelivery of the first, so
the chains verify, findings and counts see each event once, and a forged mark is caught by verify."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from audit_service.application.ingest import REDELIVERIES
from dcp_events import encode_event, new_event
from dcp_events.catalogue import ContactAttempted
from dcp_events.catalogue.enums import Channel, ContactOutcome, ContactParty

from .conftest import ADMIN, AuditUnderTest
from .test_findings import by_case, opened, without_permit

pytestmark = pytest.mark.integration

NOON = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
CASE = "c-resent"


def call(n: int, at: datetime) -> bytes:
    payload = ContactAttempted(
        attempt_id=f"att-resent-{n}",
        channel=Channel.PHONE,
        party=ContactParty.DEBTOR,
        collector_id="usr-alice",
        agency_id=None,
        outcome=ContactOutcome.NO_ANSWER,
        duration_seconds=0,
        recording_ref=None,
        contact_point="+447700900123",
    )
    event = new_event(
        payload,
        subject=CASE,
        source="/contact-service",
        actor="usr-alice",
        actorrole="collector",
        correlationid=str(uuid.uuid4()),
        time=at,
        jurisdiction="US",
    )
    return encode_event(event)


@pytest.fixture(scope="module")
async def resent(audit: AuditUnderTest) -> dict[str, Any]:
    """Seven calls in seven days (the most Regulation F allows), then the last three sent again."""
    topic = "collections.contacts"
    before = REDELIVERIES.labels(topic)._value.get()
    await audit.publish(
        opened(CASE, "US", "America/New_York"), CASE, NOON - timedelta(days=10), jurisdiction="US"
    )
    calls = [call(n, NOON - timedelta(days=6 - n)) for n in range(7)]
    for value in calls:
        await audit.publish_raw(topic, value, key=CASE.encode())
    for value in calls[-3:]:
        await audit.publish_raw(topic, value, key=CASE.encode())
    await audit.wait_for_entries(1 + 7 + 3)
    assert (await audit.client.post("/audit/checkpoints", headers=ADMIN)).status_code == 201
    return {
        "metric": REDELIVERIES.labels(topic)._value.get() - before,
        "entries": (await audit.get("/audit/entries", case_id=CASE, limit=50)).json(),
        "findings": (await audit.get("/audit/findings", case_id=CASE)).json(),
        "verify": (await audit.get("/audit/verify")).json(),
    }


async def test_every_copy_is_kept_and_marked_as_a_redelivery_of_the_first(resent: dict[str, Any]) -> None:
    calls = [e for e in resent["entries"]["items"] if e["topic"] == "collections.contacts"]
    assert len(calls) == 10
    first_seq = {}
    for entry in calls:
        if entry["redelivery_of"] is None:
            first_seq[entry["event_id"]] = entry["seq"]
    assert len(first_seq) == 7
    copies = [e for e in calls if e["redelivery_of"] is not None]
    assert len(copies) == 3
    for copy in copies:
        assert copy["redelivery_of"] == first_seq[copy["event_id"]] < copy["seq"]
    assert resent["metric"] == 3


async def test_the_chains_verify_and_report_the_redeliveries(resent: dict[str, Any]) -> None:
    report = resent["verify"]
    assert report["ok"] is True, report
    assert report["redeliveries"] == 3
    assert report["kafka"] == {"compared": True, "problems": [], "behind": 0}


async def test_findings_count_each_event_once(resent: dict[str, Any]) -> None:
    # ten entries, seven calls: the seven-in-seven-days cap is reached, not exceeded
    assert resent["findings"]["attempts_checked"] == 7
    assert by_case(resent["findings"], CASE) == []
    assert len(without_permit(resent["findings"], CASE)) == 7  # one per call, not per copy


async def test_a_forged_or_removed_mark_is_caught_by_verify(
    audit: AuditUnderTest, resent: dict[str, Any]
) -> None:
    su = await audit.superuser()
    try:
        await su.execute("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
        # hide a copy (so a count would see the event twice) by clearing its mark
        await su.execute(
            "UPDATE audit_entries SET redelivery_of = NULL WHERE id = "
            "(SELECT min(id) FROM audit_entries WHERE case_id = $1 AND redelivery_of IS NOT NULL)",
            CASE,
        )
        await su.execute("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only")
        report = (await audit.get("/audit/verify")).json()
    finally:
        await su.close()
    assert report["ok"] is False
    reasons = [c["first_broken_link"]["reason"] for c in report["chains"] if c["first_broken_link"]]
    assert any("redelivery_of is None" in reason for reason in reasons), reasons
