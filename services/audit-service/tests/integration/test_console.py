"""The auditors' console: a development sign-in, a case's trail with the refusal, its rule and
citation, verification that passes and turns red naming a tampered entry, Chinese pages, and no
auditor page for a collector. Served by the audit-service over its own API (the same masking)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from audit_service.verifier import cli as verifier_cli
from dcp_events.catalogue import ContactAttempted, ContactBlocked
from dcp_events.catalogue.enums import Channel, ContactOutcome, ContactParty
from dcp_events.catalogue.examples import EXAMPLES
from dcp_platform.auth import Role

from .conftest import ADMIN, AuditUnderTest, token
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


async def test_an_auditor_sees_the_refusal_at_half_past_nine_with_its_rule(
    trail: AuditUnderTest, tmp_path: Path
) -> None:
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
        # the download is checked offline as it is, with the key it carries
        (tmp_path / "proof.json").write_bytes(proof.content)
        checked = CliRunner().invoke(verifier_cli, ["proof", str(tmp_path / "proof.json")])
        assert checked.exit_code == 0 and "OK: the entry is covered" in checked.output, checked.output
        assert "compare it with the key you trust" in checked.output
        forged = proof.json()
        forged["proof"]["entry_hash"] = "00" * 32
        (tmp_path / "forged.json").write_text(json.dumps(forged))
        assert CliRunner().invoke(verifier_cli, ["proof", str(tmp_path / "forged.json")]).exit_code == 1
        exported = await client.get("/console/export", params={"case_id": CASE, "format": "csv"})
        assert exported.status_code == 200 and "att-2130" in exported.text
        found = await client.get("/console/findings", params={"case_id": CASE, "lang": "en"})
        assert found.status_code == 200 and "contacts checked again" in found.text

        verified = await client.get("/console/verify")
        assert verified.status_code == 200 and 'class="status ok"' in verified.text, verified.text
        assert 'id="chains"' in verified.text and "collections.contacts[" in verified.text  # each chain
    finally:
        await client.aclose()


async def test_personal_data_is_masked_per_role_as_the_api_masks_it(trail: AuditUnderTest) -> None:
    phone = "+447700900123"  # the debtor's number in the case's opening entry
    auditor, admin = await _signed_in(trail, "auditor"), await _signed_in(trail, "admin")
    try:
        for path in (f"/console/export?case_id={CASE}&format=jsonl", f"/console/entries?case_id={CASE}"):
            assert phone not in (await auditor.get(path)).text, path  # auditors see it masked
        assert (
            phone in (await admin.get(f"/console/export?case_id={CASE}&format=jsonl")).text
        )  # AUDIT_PII_ROLES
        api = await trail.client.get(
            "/audit/export", params={"case_id": CASE}, headers=token(Role.AUDITOR, "a")
        )
        mine = await auditor.get(f"/console/export?case_id={CASE}&format=jsonl")
        assert mine.text == api.text  # exactly the API's answer for the role
    finally:
        await auditor.aclose()
        await admin.aclose()


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


async def test_a_supervisor_sees_the_refusals_by_rule_and_day_as_the_api_counts_them(
    trail: AuditUnderTest,
) -> None:
    blocked = EXAMPLES["collections.contact.blocked.v1"]
    rule = blocked.rule_id  # type: ignore[attr-defined]
    supervisor = token(Role.SUPERVISOR, "sup-1")
    period = {"from": "2026-11-30T00:00:00+00:00", "to": "2026-12-03T00:00:00+00:00"}
    counted = (await trail.client.get("/audit/refusals", params=period, headers=supervisor)).json()
    assert counted["days"] == ["2026-11-30", "2026-12-01", "2026-12-02"]
    mine = next(r for r in counted["rules"] if r["rule_id"] == rule)
    assert mine["per_day"] == [0, 0, 1]  # 02:30 UTC on 2 December: 21:30 on the 1st in New York
    assert mine["per_channel"] == {blocked.channel.value: 1}  # type: ignore[attr-defined]
    collector = token(Role.COLLECTOR, "col-1")
    assert (await trail.client.get("/audit/refusals", headers=collector)).status_code == 403
    backwards = {"from": period["to"], "to": period["from"]}
    bad = await trail.client.get("/audit/refusals", params=backwards, headers=supervisor)
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/problem+json")

    client = await _signed_in(trail, "supervisor")
    try:
        page = await client.get("/console/refusals", params={"from": "2026-11-30", "to": "2026-12-02"})
        assert page.status_code == 200, page.text
        assert f'<tr data-key="{rule}">' in page.text
        assert f'data-field="total" data-value="{mine["total"]}"' in page.text
        assert "<svg" in page.text and "<script" not in page.text  # the chart, without any script
        assert "script-src" not in page.headers["content-security-policy"]
        assert "default-src 'none'" in page.headers["content-security-policy"]
        # supervisors see the figures, not the trail itself
        assert (await client.get(f"/console/cases/{CASE}")).status_code == 403
        assert "/console/entries" not in page.text and "/console/portfolio" in page.text
        bad = await client.get("/console/refusals", params={"from": "yesterday"})
        assert bad.status_code == 400 and "is not a date" in bad.text and "yesterday" in bad.text
        backwards = await client.get("/console/refusals", params={"from": "2026-12-03", "to": "2026-12-01"})
        assert backwards.status_code == 400 and "must be before" in backwards.text
        zh = await client.get("/console/refusals", params={"lang": "zh"})
        assert "合规拦截" in zh.text

        # case-service's figures, when it does not answer: a page that says so (never a 500)
        assert trail.app is not None
        state = trail.app.state
        kept, state.console_case_service_url = state.console_case_service_url, "http://127.0.0.1:9"
        try:
            down = await client.get("/console/portfolio")
        finally:
            state.console_case_service_url = kept
        assert down.status_code == 503 and "did not answer" in down.text
    finally:
        await client.aclose()


async def test_a_development_link_signs_in_as_its_role(trail: AuditUnderTest) -> None:
    client = httpx.AsyncClient(transport=trail.client._transport, base_url=str(trail.client.base_url))
    try:
        r = await client.get("/console/login", params={"as": "supervisor"})
        assert r.status_code == 303 and r.headers["location"].startswith("/console/portfolio")
        assert "dcp_console_token" in r.headers["set-cookie"]
        assert (await client.get("/console/login", params={"as": "root"})).status_code == 404
    finally:
        await client.aclose()
