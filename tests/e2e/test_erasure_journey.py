"""The right to erasure across the platform, through its public interfaces on the real stack: a closed
case's debtor asks to be forgotten; an administrator erases; case-service, contact-service and the audit
trail stop showing the personal data, and the trail still verifies."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from .journeys import case_view, eventually, expect, open_case, placement, trail, wait_trail
from .platform_under_test import Platform

pytestmark = pytest.mark.integration


async def test_an_erased_debtor_is_shown_nowhere_and_the_trail_still_verifies(platform: Platform) -> None:
    debtor_id = f"dbt-erase-{uuid.uuid4().hex[:8]}"
    body = placement(
        "GB",
        time_zone="Europe/London",
        language="en-GB",
        currency="GBP",
        principal_minor=50_000,
        country_code="44",
        debtor_id=debtor_id,
    )
    phone = body["debtor"]["phones"][0]["number"]
    personal = [body["debtor"]["full_name"], phone, f"{debtor_id}@example.org", "1 High Street"]
    case_id = str((await open_case(platform, body, "sup-erase"))["case_id"])
    await wait_trail(platform, case_id, "collections.case.opened")

    # Kafka holds the debtor's personal data sealed: no value in clear, the whole payload under the
    # case's key; the trail shows it opened to an administrator and masked to an auditor.
    published = await records_of(platform, "collections.cases", case_id)
    assert published and not any(value in text for text in published for value in personal)
    assert all('"sealeddata"' in text for text in published if "collections.case.opened" in text)
    async with platform.client("audit", "admin", "adm-erase") as audit:
        as_admin = (await audit.get(f"/audit/cases/{case_id}/trail")).text
    async with platform.client("audit", "auditor", "aud-erase") as audit:
        as_auditor = (await audit.get(f"/audit/cases/{case_id}/trail")).text
    assert body["debtor"]["full_name"] in as_admin and phone in as_admin
    assert body["debtor"]["full_name"] not in as_auditor and phone[:3] + "*" in as_auditor
    async with platform.client("case", "supervisor", "sup-erase") as case:
        expect(await case.post(f"/cases/{case_id}/close", json={"reason": "recalled"}), 200)
    async with platform.client("case", "admin", "adm-erase") as admin:
        outcome = expect(
            await admin.post(
                f"/debtors/{debtor_id}/erasure",
                json={"reason": "the debtor's request of 2026-12-01", "legal_basis": "UK GDPR Art. 17(1)(a)"},
            ),
            200,
        )
    assert outcome["erased"] == [case_id]
    await wait_trail(platform, case_id, "collections.case.erasure_completed")

    async def nothing_shown() -> bool:
        shown = json.dumps(await case_view(platform, case_id))
        async with platform.client("audit", "admin", "adm-erase") as audit:
            shown += (await audit.get(f"/audit/cases/{case_id}/trail")).text
            shown += (await audit.get("/audit/export", params={"case_id": case_id})).text
        async with platform.client("contact", "admin", "adm-erase") as contact:
            shown += (await contact.get(f"/cases/{case_id}/contacts")).text
        return not any(value in shown for value in personal)

    await eventually(nothing_shown, f"case {case_id}: no personal data shown after the erasure")
    entries = await trail(platform, case_id)
    assert all(e["erased"] for e in entries)
    async with platform.client("audit", "admin", "adm-erase") as audit:
        assert (await audit.post("/audit/checkpoints")).status_code in (200, 201)
        report = expect(await audit.get("/audit/verify"), 200)
    assert report["ok"], report
    # What Kafka keeps of the case is what it was (the chains hash those bytes), and it opens no more:
    # the case's data key is gone from the vault.
    after = await records_of(platform, "collections.cases", case_id)
    assert after[: len(published)] == published
    vault = await asyncpg.connect(platform.data_keys_url)
    try:
        live = await vault.fetchval(
            "SELECT wrapped_key IS NOT NULL FROM data_keys WHERE subject = $1",
            platform.topic_prefix + case_id,
        )
    finally:
        await vault.close()
    assert live is False


async def records_of(platform: Platform, topic: str, case_id: str) -> list[str]:
    """The records of `case_id` on a topic, from its start, as text."""
    consumer = AIOKafkaConsumer(
        platform.topic(topic),
        bootstrap_servers=platform.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        out: list[str] = []
        idle = 0
        while idle < 3:
            batches = await consumer.getmany(timeout_ms=500)
            idle = 0 if batches else idle + 1
            out += [
                r.value.decode()
                for records in batches.values()
                for r in sorted(records, key=lambda r: r.offset)
                if r.key == case_id.encode() and r.value is not None
            ]
        return out
    finally:
        await consumer.stop()
