"""Bulk placement through POST /imports (CSV, JSON Lines): bad rows reported, re-imports open nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dcp_events.catalogue.integration import case_id_for_account

from .conftest import SUPERVISOR, CaseHarness, eventually

pytestmark = pytest.mark.integration

HEADER = (
    "creditor_id,account_reference,product,debtor_id,full_name,language,time_zone,phone,"
    "currency,principal_minor,interest_minor,fees_minor,days_past_due,jurisdiction,risk_score"
)
ROWS = [
    "imp-bank,IMP-1,credit_card,d1,Alan Turing,en-GB,Europe/London,+447700900001,GBP,50000,1000,0,45,GB,200",
    "imp-bank,IMP-2,credit_card,d2,Joan Clarke,en-GB,Europe/London,,GBP,20000,0,0,10,GB,",
    "imp-bank,IMP-3,credit_card,d3,No Money,en-GB,Europe/London,,GBP,-5,0,0,10,GB,",  # negative amount
    "imp-bank,IMP-4,credit_card,d4,Bad Zone,en-GB,Mars/Olympus,,GBP,100,0,0,10,GB,",  # unknown time zone
    "imp-bank,IMP-5,credit_card,d5,Not Due,en-GB,Europe/London,,XXX,100,0,0,10,GB,",  # not a currency
    "imp-bank,IMP-6,personal_loan,d6,Tim Berners-Lee,en-GB,Europe/London,,GBP,99000,0,500,200,GB,750",
]


async def run(harness: CaseHarness, body: bytes, content_type: str) -> dict[str, Any]:
    started = await harness.client.post(
        "/imports", content=body, headers={**SUPERVISOR, "Content-Type": content_type}
    )
    assert started.status_code == 202, started.text
    import_id = started.json()["import_id"]

    async def done() -> dict[str, Any] | None:
        status = (await harness.client.get(f"/imports/{import_id}", headers=SUPERVISOR)).json()
        return status if status["status"] in ("completed", "failed") else None

    result: dict[str, Any] = await eventually(done)
    return result


async def test_a_csv_import_opens_good_rows_reports_bad_ones_and_is_idempotent(harness: CaseHarness) -> None:
    body = "\n".join([HEADER, *ROWS]).encode()
    first = await run(harness, body, "text/csv")
    assert first["status"] == "completed"
    assert (first["rows_read"], first["accepted"], first["duplicates"], first["rejected"]) == (6, 3, 0, 3)
    reasons = {r["row"]: r["reason"] for r in first["rejections"]}
    assert set(reasons) == {3, 4, 5}
    assert "principal_minor" in reasons[3]
    assert "time zone" in reasons[4] or "time_zone" in reasons[4]
    assert "currency" in reasons[5].lower() or "ISO 4217" in reasons[5]

    case = await harness.case(case_id_for_account("imp-bank", "IMP-6"))
    assert (case["bucket"], case["stage"]) == ("181+", "legal")
    assert case["balance"] == {"amount_minor": 99500, "currency": "GBP"}

    again = await run(harness, body, "text/csv")
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 3, 3)


async def test_a_json_lines_import_validates_each_line(harness: CaseHarness) -> None:
    good = {
        "creditor_id": "imp-bank",
        "account_reference": "JL-1",
        "product": "overdraft",
        "debtor_id": "dj1",
        "full_name": "Katherine Johnson",
        "language": "en-US",
        "time_zone": "America/New_York",
        "currency": "USD",
        "principal_minor": 12345,
        "due_since": "2026-10-01",
        "jurisdiction": "US",
    }
    lines = [json.dumps(good), "{not json", json.dumps({**good, "account_reference": "JL-2", "surprise": 1})]
    result = await run(harness, "\n".join(lines).encode(), "application/x-ndjson")
    assert (result["accepted"], result["rejected"]) == (1, 2)
    assert [r["row"] for r in result["rejections"]] == [2, 3]
    assert "not JSON" in result["rejections"][0]["reason"]
    assert "surprise" in result["rejections"][1]["reason"]
    case = await harness.case(case_id_for_account("imp-bank", "JL-1"))
    assert case["days_past_due"] == 60


async def test_an_import_without_a_known_format_is_refused(harness: CaseHarness) -> None:
    response = await harness.client.post(
        "/imports", content=b"a,b", headers={**SUPERVISOR, "Content-Type": "application/octet-stream"}
    )
    assert response.status_code == 400


async def test_a_row_nested_too_deeply_or_with_a_duplicate_key_is_rejected_and_the_import_goes_on(
    harness: CaseHarness,
) -> None:
    good = {
        "creditor_id": "imp-bank",
        "account_reference": "DEEP-1",
        "product": "overdraft",
        "debtor_id": "dd1",
        "full_name": "Grace Hopper",
        "language": "en-US",
        "time_zone": "America/New_York",
        "currency": "USD",
        "principal_minor": 500,
        "due_since": "2026-10-01",
        "jurisdiction": "US",
    }
    deep = '{"creditor_id": ' + "[" * 10_000 + "]" * 10_000 + "}"
    twice = json.dumps({**good, "account_reference": "DEEP-2"})[:-1] + ', "principal_minor": 7}'
    lines = [deep, twice, json.dumps(good)]
    result = await run(harness, "\n".join(lines).encode(), "application/x-ndjson")
    assert result["status"] == "completed", result
    assert (result["accepted"], result["rejected"]) == (1, 2)
    reasons = {r["row"]: r["reason"] for r in result["rejections"]}
    assert "nested too deeply" in reasons[1]
    assert "'principal_minor' appears twice" in reasons[2]
    await harness.case(case_id_for_account("imp-bank", "DEEP-1"))
