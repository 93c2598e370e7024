"""The right to erasure across the platform, through its public interfaces on the real stack: a closed
case's debtor asks to be forgotten; an administrator erases; case-service, contact-service and the audit
trail stop showing the personal data, and the trail still verifies."""

from __future__ import annotations

import json
import uuid

import pytest

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
