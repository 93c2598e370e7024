"""The auditors' console in a real headless browser (Debian's chromium driven by Playwright) against
the running platform: sign in as an auditor, search the trail, open the case refused at 21:30 and
see the refusal with its rule, verification passed; a collector gets no auditor page; Chinese pages;
keyboard navigation. Screenshots of the main pages are saved under .local/screenshots."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from .journeys import (
    assign_directly,
    contact_service_sees,
    expect,
    open_case,
    placement,
    register_staff,
    wait_trail,
)
from .platform_under_test import Platform

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".local" / "screenshots"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium (make tools installs it when run as root)"
)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


async def _refused_at_half_past_nine(platform: Platform) -> str:
    """A US case whose collector asks to call at 21:30 in Chicago: refused (US-REGF-TIME), recorded."""
    day = platform.new_day()
    await platform.set_clock(day + timedelta(hours=27, minutes=30))  # 21:30 in Chicago (UTC-6)
    await register_staff(platform, "col-console", "collector", ["US"], ["en"])
    body = placement(
        "US",
        time_zone="America/Chicago",
        language="en-US",
        currency="USD",
        principal_minor=52_000,
        country_code="1312",
    )
    case_id = str((await open_case(platform, body, "sup-console"))["case_id"])
    await assign_directly(platform, case_id, "col-console", "sup-console")
    async with platform.client("contact", "collector", "col-console") as contact:
        await contact_service_sees(contact, case_id)
        refused = expect(
            await contact.post("/contact-permits", json={"case_id": case_id, "channel": "phone"}), 409
        )
        assert refused["rule_id"] == "US-REGF-TIME"
    await wait_trail(platform, case_id, "collections.contact.blocked")
    async with platform.client("audit", "admin", "adm-console") as audit:
        expect(await audit.post("/audit/checkpoints"), 201)  # the newest entries signed
    return case_id


async def _sign_in(page: Any, base: str, role: str) -> None:
    await page.goto(f"{base}/console/login")
    await page.get_by_label("Role").select_option(role)
    await page.get_by_label("User").fill(f"{role}-browser")
    await page.get_by_role("button", name="Sign in").click()


async def test_an_auditor_finds_the_refusal_at_half_past_nine_and_sees_the_trail_verify(
    platform: Platform, browser: Any
) -> None:
    case_id = await _refused_at_half_past_nine(platform)
    base = platform.url("audit")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await _sign_in(page, base, "auditor")
    assert "/console/entries" in page.url

    # search by case with the keyboard only: tab to the field, type, submit with Enter
    await page.get_by_label("Case").focus()
    await page.keyboard.type(case_id)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/console/entries?case_id={case_id}*")
    await page.screenshot(path=str(SCREENSHOTS / "console-entries.png"), full_page=True)
    await page.get_by_role("link", name=case_id).first.click()

    refusal = page.locator(".refused").first
    await refusal.wait_for()
    timeline = await page.inner_text("main")
    assert "US-REGF-TIME" in timeline and "12 CFR 1006.6(b)(1)(i)" in timeline
    assert "21:30" in timeline  # the debtor's local time the gate decided at
    await page.screenshot(path=str(SCREENSHOTS / "console-case-trail.png"), full_page=True)

    await page.get_by_role("link", name="Verification").click()
    status = page.get_by_role("status")
    assert (await status.inner_text()).strip() == "Verification passed"
    await page.screenshot(path=str(SCREENSHOTS / "console-verification.png"), full_page=True)

    await page.get_by_role("link", name="中文").click()
    assert await page.get_attribute("html", "lang") == "zh"
    assert (await page.get_by_role("status").inner_text()).strip() == "验证通过"
    await page.set_viewport_size({"width": 820, "height": 1180})  # a tablet
    await page.screenshot(path=str(SCREENSHOTS / "console-verification-zh-tablet.png"), full_page=True)
    await page.close()


async def test_a_collector_gets_no_auditor_page(platform: Platform, browser: Any) -> None:
    base = platform.url("audit")
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await _sign_in(page, base, "collector")
    response = await page.goto(f"{base}/console/entries")
    assert response is not None and response.status == 403
    assert "may not see this page" in await page.inner_text("main")
    await page.close()
