"""The console in a real headless browser (Debian's chromium driven by Playwright) against the running
platform: sign in as an auditor, search the trail, open the case refused at 21:30 and see the refusal
with its rule, verification passed, then red naming a tampered entry; a collector gets no auditor
page; a supervisor sees the charts with the figures of `/kpis/*` and `/audit/refusals`; Chinese pages;
keyboard navigation. Screenshots of the main pages are saved under .local/screenshots."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from .journeys import (
    assign_directly,
    contact_service_sees,
    expect,
    only,
    open_case,
    placement,
    register_staff,
    wait_case,
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


async def assert_accessible(page: Any) -> None:
    """No WCAG 2 A or AA violation axe-core finds on the page (labels, contrast, landmarks, names)."""
    from axe_playwright_python.async_playwright import Axe

    options = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
    results = await Axe().run(page, options=options)
    assert results.violations_count == 0, results.generate_report()


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
    await assert_accessible(page)
    await page.get_by_role("link", name=case_id).first.click()

    refusal = page.locator(".refused").first
    await refusal.wait_for()
    timeline = await page.inner_text("main")
    assert "US-REGF-TIME" in timeline and "12 CFR 1006.6(b)(1)(i)" in timeline
    assert "21:30" in timeline  # the debtor's local time the gate decided at
    await page.screenshot(path=str(SCREENSHOTS / "console-case-trail.png"), full_page=True)
    await assert_accessible(page)

    await page.get_by_role("link", name="Verification").click()
    status = page.get_by_role("status")
    assert (await status.inner_text()).strip() == "Verification passed"
    await page.screenshot(path=str(SCREENSHOTS / "console-verification.png"), full_page=True)
    await assert_accessible(page)

    await page.get_by_role("link", name="中文").click()
    assert await page.get_attribute("html", "lang") == "zh"
    assert (await page.get_by_role("status").inner_text()).strip() == "验证通过"
    await page.set_viewport_size({"width": 820, "height": 1180})  # a tablet
    await page.screenshot(path=str(SCREENSHOTS / "console-verification-zh-tablet.png"), full_page=True)
    await assert_accessible(page)
    await page.close()


async def test_a_collector_gets_no_auditor_page(platform: Platform, browser: Any) -> None:
    base = platform.url("audit")
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await _sign_in(page, base, "collector")
    response = await page.goto(f"{base}/console/entries")
    assert response is not None and response.status == 403
    assert "may not see this page" in await page.inner_text("main")
    await page.close()


async def test_a_tampered_entry_turns_the_verification_page_red_and_names_it(
    platform: Platform, browser: Any
) -> None:
    case_id = await _refused_at_half_past_nine(platform)
    refusal = only(
        await wait_trail(platform, case_id, "collections.contact.blocked"), "collections.contact.blocked"
    )
    target = int(refusal[0]["id"])
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    base = platform.url("audit")
    await _sign_in(page, base, "auditor")
    await page.goto(f"{base}/console/verify")
    assert (await page.get_by_role("status").inner_text()).strip() == "Verification passed"

    # as in the audit tests: a superuser rewrites the refusal's stored bytes behind the trigger
    database = await asyncpg.connect(platform.databases["audit"])
    try:
        original = await database.fetchval("SELECT entry FROM audit_entries WHERE id = $1", target)
        await _rewrite(database, target, original.replace(b"US-REGF-TIME", b"US-REGF-NONE"))
        try:
            await page.reload()
            status = page.get_by_role("status")
            assert (await status.inner_text()).strip() == "Verification FAILED"
            assert await status.evaluate("e => e.classList.contains('bad')")
            assert f"entry {target}" in await page.inner_text("main")
            await page.screenshot(path=str(SCREENSHOTS / "console-verification-tampered.png"), full_page=True)
        finally:
            await _rewrite(database, target, original)  # the session's other tests verify the trail
    finally:
        await database.close()
    await page.reload()
    assert (await page.get_by_role("status").inner_text()).strip() == "Verification passed"
    await page.close()


async def _rewrite(database: asyncpg.Connection, entry_id: int, entry: bytes) -> None:
    async with database.transaction():
        await database.execute("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
        await database.execute("UPDATE audit_entries SET entry = $2 WHERE id = $1", entry_id, entry)
        await database.execute("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only")


async def _pay(platform: Platform, case_id: str, minor: int) -> None:
    async with platform.client("payment", "integration", "core-banking") as bank:
        expect(
            await bank.post(
                "/payments",
                json={
                    "case_id": case_id,
                    "amount": {"amount_minor": minor, "currency": "USD"},
                    "method": "bank_transfer",
                    "external_reference": f"bank-{uuid.uuid4().hex[:12]}",
                },
            ),
            201,
        )


async def _same_figures(read: Callable[[], Awaitable[dict[str, Any]]], page: Any, url: str) -> dict[str, Any]:
    """The page loaded between two reads of the API that agree: the figures it shows are those."""
    for _ in range(10):
        before = await read()
        await page.goto(url)
        after = await read()
        if _without_period(before) == _without_period(after):
            return after
    raise AssertionError(f"the figures behind {url} kept changing")


def _without_period(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "period"}


async def _cell(page: Any, table: str, key: str, field: str) -> tuple[str | None, str]:
    cell = page.locator(f'#{table} tr[data-key="{key}"] [data-field="{field}"]')
    return await cell.get_attribute("data-value"), (await cell.inner_text()).strip()


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


async def test_a_supervisor_sees_the_charts_with_the_figures_of_the_kpis(
    platform: Platform, browser: Any
) -> None:
    case_id = await _refused_at_half_past_nine(platform)
    await _pay(platform, case_id, 13_000)
    await wait_case(
        platform, case_id, "payment applied", lambda v: v["detail"]["recovered"]["amount_minor"] == 13_000
    )
    base = platform.url("audit")
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await _sign_in(page, base, "supervisor")
    assert "/console/portfolio" in page.url
    assert await page.get_by_role("link", name="Trail entries").count() == 0  # not an auditor

    async with (
        platform.client("case", "supervisor", "sup-kpis") as case,
        platform.client("audit", "supervisor", "sup-kpis") as audit,
    ):

        async def kpis(path: str) -> dict[str, Any]:
            return expect(await case.get(path), 200)

        # the portfolio: every (bucket, stage, currency) cell, recovery per currency, the cure rate
        body = await _same_figures(lambda: kpis("/kpis/portfolio"), page, f"{base}/console/portfolio")
        assert body["distribution"], body
        for row in body["distribution"]:
            key = f"{row['bucket']}/{row['stage']}/{row['currency']}"
            assert await _cell(page, "distribution-table", key, "cases") == (
                str(row["cases"]),
                f"{row['cases']:,}",
            )
        usd = next(r for r in body["recovery"] if r["currency"] == "USD")
        assert usd["recovered_minor"] >= 13_000
        for row in body["recovery"]:
            value, shown = await _cell(page, "recovery-table", row["currency"], "recovery_rate")
            assert (value, shown) == (str(row["recovery_rate"]), _percent(row["recovery_rate"]))
        assert (await page.inner_text("#cure-rate")).strip() == _percent(body["cure"]["rate"])
        # the chart prints the same counts: its bars add up to the open cases
        chart = page.locator('svg[aria-label="Open cases by bucket and stage"]')
        texts = await chart.locator("text.value").all_text_contents()
        printed = [int(t.replace(",", "")) for t in texts if t.strip()]
        assert sum(printed) == sum(r["cases"] for r in body["distribution"])
        assert await page.locator("script").count() == 0
        await page.screenshot(path=str(SCREENSHOTS / "console-portfolio.png"), full_page=True)
        await assert_accessible(page)

        body = await _same_figures(lambda: kpis("/kpis/collectors"), page, f"{base}/console/collectors")
        for row in body["collectors"]:
            for field in ("attempts", "right_party_contacts"):
                value, shown = await _cell(page, "collectors-table", row["collector_id"], field)
                assert value == str(row[field]) and shown == f"{row[field]:,}"
            value, shown = await _cell(
                page, "collectors-table", row["collector_id"], "right_party_contact_rate"
            )
            assert shown == _percent(row["right_party_contact_rate"])
        await page.screenshot(path=str(SCREENSHOTS / "console-collectors.png"), full_page=True)
        await assert_accessible(page)

        body = await _same_figures(lambda: kpis("/kpis/strategies"), page, f"{base}/console/strategies")
        assert body["strategies"]
        for row in body["strategies"]:
            arm = f"{row['experiment_id'] or ''}/{row['experiment_arm'] or ''}"
            key = f"{row['strategy_id']}/{arm}/{row['currency']}"
            value, shown = await _cell(page, "strategies-table", key, "recovery_rate")
            assert (value, shown) == (str(row["recovery_rate"]), _percent(row["recovery_rate"]))
        await page.screenshot(path=str(SCREENSHOTS / "console-strategies.png"), full_page=True)
        await assert_accessible(page)

        async def refusals() -> dict[str, Any]:
            return expect(await audit.get("/audit/refusals"), 200)

        body = await _same_figures(refusals, page, f"{base}/console/refusals")
        assert any(r["rule_id"] == "US-REGF-TIME" for r in body["rules"])
        for row in body["rules"]:
            assert await _cell(page, "refusals-table", row["rule_id"], "total") == (
                str(row["total"]),
                f"{row['total']:,}",
            )
        assert (await page.inner_text("#refusals-total")).strip() == f"{body['total']:,}"
        await page.screenshot(path=str(SCREENSHOTS / "console-refusals.png"), full_page=True)
        await assert_accessible(page)

    await page.get_by_role("link", name="中文").click()
    assert "合规拦截" in await page.inner_text("h1")
    await page.close()
