"""The demo with a tiny portfolio, against the four services started by the end-to-end harness."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest
from rich.console import Console

from dcp_demo.api import Endpoints
from dcp_demo.cli import DemoResult, run_demo
from dcp_demo.simulation import Settings

pytestmark = pytest.mark.integration

# A Monday, 08:00 UTC: the demo's usual start.
START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def _harness() -> ModuleType:
    """tests/e2e/platform_under_test.py, loaded by path (the repo's tests are not a package)."""
    path = Path(__file__).resolve().parents[2] / "tests" / "e2e" / "platform_under_test.py"
    spec = importlib.util.spec_from_file_location("dcp_e2e_platform_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo_run(
    kafka_bootstrap: str, database_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DemoResult, str]]:
    harness = _harness()
    logs = tmp_path_factory.mktemp("demo-logs")
    platform = asyncio.run(harness.start_platform(kafka_bootstrap, database_server_url, START, logs))
    try:
        endpoints = Endpoints(
            case=platform.url("case"),
            contact=platform.url("contact"),
            payment=platform.url("payment"),
            audit=platform.url("audit"),
            kafka_bootstrap=platform.kafka_bootstrap,
            topic_prefix=platform.topic_prefix,
        )
        settings = Settings(accounts=60, days=2, seed=11, workdir=tmp_path_factory.mktemp("demo"))
        console = Console(record=True, width=140, force_terminal=False)
        result = asyncio.run(run_demo(endpoints, settings, console, settle_hours=24))
        yield result, console.export_text()
    finally:
        harness.stop_platform(platform)


def test_cases_are_placed_through_the_bulk_import_and_the_placements_topic(
    demo_run: tuple[DemoResult, str],
) -> None:
    result, text = demo_run
    s = result.summary
    assert s.placed_import > 0
    assert s.placed_kafka > 0
    assert s.cases == s.placed_import + s.placed_kafka == 60
    assert "by bulk import" in text


def test_the_gate_allowed_some_contacts_and_refused_others_naming_the_rule(
    demo_run: tuple[DemoResult, str],
) -> None:
    result, text = demo_run
    s = result.summary
    assert sum(s.allowed.values()) > 0
    assert sum(s.refused.values()) > 0
    assert all(rule.startswith(("US-", "GB-", "CN-")) for rule in s.refused)
    assert "refused" in text


def test_money_was_recovered(demo_run: tuple[DemoResult, str]) -> None:
    result, text = demo_run
    assert sum(result.summary.recovered.values()) > 0
    assert "amount recovered" in text


def test_the_auditor_finds_nothing_and_the_trail_verifies_against_signed_checkpoints(
    demo_run: tuple[DemoResult, str],
) -> None:
    result, text = demo_run
    s = result.summary
    assert s.findings == []
    assert s.attempts_checked >= sum(s.allowed.values())
    assert s.checkpoint.get("seq") is not None
    assert s.verified
    assert "audit findings: 0" in text
    assert "trail verification (GET /audit/verify): passed" in text
    # the newest checkpoint left the database, and the trail holds everything Kafka holds
    published = s.verification["checkpoints"]["published"]
    assert published["compared"] and published["latest"] == s.checkpoint["seq"]
    assert f"newest checkpoint: seq {s.checkpoint['seq']}, " in text
    assert s.verification["kafka"]["compared"] and s.verification["kafka"]["problems"] == []
    assert "completeness against Kafka: compared, problems: none" in text


def test_payment_service_and_case_service_agree_on_every_payment(demo_run: tuple[DemoResult, str]) -> None:
    result, text = demo_run
    assert result.summary.payments_compared >= sum(result.summary.payments.values()) > 0
    assert result.summary.divergences == []
    assert "reconciliation (GET /audit/reconciliation): 0 divergences" in text


def test_no_unexpected_answers_from_the_services(demo_run: tuple[DemoResult, str]) -> None:
    result, _ = demo_run
    assert result.summary.anomalies == {}, result.summary.anomaly_samples


def test_the_managers_change_the_policy_mid_run_and_judge_experiments_and_models(
    demo_run: tuple[DemoResult, str],
) -> None:
    """A collection policy change simulated, approved and activated mid-run; a stricter pack replayed
    and held back; the experiment by intention to treat with intervals and guards; a propensity model
    trained on the run's own history, activated, and ranking the worklists."""
    result, text = demo_run
    log = result.summary.policy_log
    change = log["collection_policy"]
    assert change["previous_version"] == 1 and change["version"] == 2
    assert change["simulation"]["open_cases"] > 0 and change["approved_by"] != change["activated_by"]
    assert "collection policy v1 -> v2 mid-run" in text
    assert log["rule_pack"]["decision"].startswith("held back") and "replayed over" in text
    [experiment] = result.summary.experiments
    assert experiment["counted_by"].startswith("intention to treat")
    assert sum(a["cases"] for a in experiment["arms"]) > 0
    assert {g["guard"] for g in experiment["challengers"][0]["guards"]} >= {"complaints", "gate_refusals"}
    assert "always-valid" in text and "guard complaints" in text
    model = log["model"]
    if model["trained"]:
        assert model["ranked_by"] == f"propensity-model {model['version']}"
        assert 0 <= model["metrics"]["pay"]["auc"] <= 1 and "lift of the top fifth" in text
    else:  # sixty accounts over two days may hold too few payments to hold some out: said so
        assert (
            model["why"].startswith("not enough outcome history") and "propensity model not trained" in text
        )


def test_the_console_links_it_prints_sign_in_as_each_role(demo_run: tuple[DemoResult, str]) -> None:
    import re

    import httpx

    _, text = demo_run
    links = dict(re.findall(r"^\s+(\w+)\s+(http://\S+/console/login\?as=\w+)", text, re.M))
    assert set(links) == {"auditor", "supervisor", "admin", "collector"}
    expected = {"auditor": 200, "supervisor": 200, "admin": 200, "collector": 403}
    for role, link in links.items():
        with httpx.Client(follow_redirects=True, timeout=30) as browser:
            page = browser.get(link)
            assert page.status_code == expected[role], (role, page.text[:300])
            if role == "supervisor":  # the portfolio of the run: its chart and its table
                assert page.url.path == "/console/portfolio"
                assert "<svg" in page.text and 'id="distribution-table"' in page.text


def test_the_call_asked_for_at_half_past_nine_is_refused_and_an_auditor_finds_it_in_the_console(
    demo_run: tuple[DemoResult, str],
) -> None:
    import re
    import shutil

    result, text = demo_run
    late = result.operation.stats.late_call
    assert late["rule_id"] == "US-REGF-TIME" and " 21:30 " in late["local_time"], late
    assert f"/console/cases/{late['case_id']}" in text
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("needs Debian's chromium (make tools installs it when run as root)")
    from playwright.sync_api import sync_playwright

    auditor = dict(re.findall(r"^\s+(\w+)\s+(http://\S+/console/login\?as=\w+)", text, re.M))["auditor"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(auditor)
            page.get_by_label("Case").fill(late["case_id"])
            page.keyboard.press("Enter")
            page.get_by_role("link", name=late["case_id"]).first.click()
            page.locator(".refused").first.wait_for()
            timeline = page.inner_text("main")
            assert "US-REGF-TIME" in timeline and late["citation"] in timeline and "21:30" in timeline
        finally:
            browser.close()
