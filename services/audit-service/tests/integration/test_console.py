"""The auditors' console: a development sign-in, a case's trail with the refusal, its rule and
citation, verification that passes and turns red naming a tampered entry, Chinese pages, and no
auditor page for a collector. Served by the audit-service over its own API (the same masking)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from dcp_events.catalogue import ContactAttempted, ContactBlocked
from dcp_events.catalogue.enums import Channel, ContactOutcome, ContactParty
from dcp_events.catalogue.examples import EXAMPLES

from .conftest import ADMIN, AuditUnderTest
from .test_findings import opened

pytestmark = pytest.mark.integration

# 21:30 in New York on Tuesday 2026-12-01 (UTC-5)
LATE = datetime(2026, 12, 2, 2, 30, tzinfo=UTC)
CASE = "c-console-2130"


async def _signed_in(audit: AuditUnderTest, role: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=audit.client._transport, base_url=str(audit.client.base_url))
    form = await client.get("/console/login")
    assert form.status_code == 200 and 'name="role"' in form.text and "<label" in form.text
    r = await client.post("/console/login", data={"role": role, "subject": f"{role}-1", "lang": "en"})
    assert r.status_code == 303 and "dcp_console_token" in r.headers["set-cookie"], r.text
    assert "httponly" in r.headers["set-cookie"].lower()
    return client


@pytest.fixture(scope="module")
async def trail(audit: AuditUnderTest) -> AuditUnderTest:
    await audit.publish(
        opened(CASE, "US", "America/New_York"), CASE, LATE - timedelta(days=2), jurisdiction="US"
    )
    blocked: ContactBlocked = EXAMPLES["collections.contact.blocked.v1"]  # type: ignore[assignment]
    await audit.publish(blocked.model_copy(update={"attempt_id": "att-2130"}), CASE, LATE, jurisdiction="US")
    await audit.publish(
        ContactAttempted(
            attempt_id="att-next-day",
            channel=Channel.PHONE,
            party=ContactParty.DEBTOR,
            collector_id="usr-alice",
            agency_id=None,
            outcome=ContactOutcome.NO_ANSWER,
            duration_seconds=0,
            recording_ref=None,
        ),
        CASE,
        LATE + timedelta(hours=12),
        jurisdiction="US",
    )
    await audit.wait_for_entries(3)
    assert (await audit.client.post("/audit/checkpoints", headers=ADMIN)).status_code == 201
    return audit


async def test_an_auditor_sees_the_refusal_at_half_past_nine_with_its_rule(trail: AuditUnderTest) -> None:
    client = await _signed_in(trail, "auditor")
    try:
        found = await client.get("/console/entries", params={"case_id": CASE})
        assert found.status_code == 200 and f"/console/cases/{CASE}" in found.text
        page = await client.get(f"/console/cases/{CASE}")
        assert page.status_code == 200, page.text
        blocked = EXAMPLES["collections.contact.blocked.v1"]
        assert 'class="refused"' in page.text and blocked.rule_id in page.text  # type: ignore[attr-defined]
        assert blocked.citation in page.text  # type: ignore[attr-defined]
        assert '<html lang="en">' in page.text and 'href="#content"' in page.text  # skip link, language
        zh = await client.get(f"/console/cases/{CASE}", params={"lang": "zh"})
        assert '<html lang="zh">' in zh.text and "案件审计轨迹" in zh.text and "拒绝" in zh.text

        entry_id = int(page.text.split("/console/entries/")[1].split("/proof")[0])
        proof = await client.get(f"/console/entries/{entry_id}/proof")
        assert proof.status_code == 200 and "attachment" in proof.headers["content-disposition"]
        assert proof.json()["public_key"]["algorithm"] == "Ed25519" and proof.json()["proof"]
        exported = await client.get("/console/export", params={"case_id": CASE, "format": "csv"})
        assert exported.status_code == 200 and "att-2130" in exported.text
        found = await client.get("/console/findings", params={"case_id": CASE, "lang": "en"})
        assert found.status_code == 200 and "contacts checked again" in found.text

        verified = await client.get("/console/verify")
        assert verified.status_code == 200 and 'class="status ok"' in verified.text, verified.text
    finally:
        await client.aclose()


async def test_a_collector_gets_no_auditor_page_and_no_sign_in_means_the_login_page(
    trail: AuditUnderTest,
) -> None:
    client = await _signed_in(trail, "collector")
    try:
        page = await client.get(f"/console/cases/{CASE}")
        assert page.status_code == 403 and "may not see this page" in page.text and CASE not in page.text
    finally:
        await client.aclose()
    anonymous = await trail.client.get("/console/entries")
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/console/login"


async def test_a_tampered_entry_turns_verification_red_and_is_named(trail: AuditUnderTest) -> None:
    su = await trail.superuser()
    try:
        target = await su.fetchrow(
            "SELECT id FROM audit_entries WHERE entry LIKE '%\"att-next-day\"%'::bytea"
        )
        await su.execute("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
        await su.execute(
            """UPDATE audit_entries SET entry = convert_to(replace(convert_from(entry, 'UTF8'),
               '"no_answer"', '"right_party_contact"'), 'UTF8') WHERE id = $1""",
            target["id"],
        )
        await su.execute("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only")
    finally:
        await su.close()
    client = await _signed_in(trail, "auditor")
    try:
        page = await client.get("/console/verify")
    finally:
        await client.aclose()
    assert 'class="status bad"' in page.text and f"entry {target['id']}" in page.text
