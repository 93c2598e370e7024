"""The case's limitation date over HTTP and Kafka against the real stack: dated when opened, shown on
the case (and whether barred today), dated again when a payment restarts the period, in the history."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from dcp_events.catalogue import contacts, payments
from dcp_events.catalogue.base import Money
from dcp_events.catalogue.enums import Channel, ContactOutcome, ContactParty, PaymentMethod

from .conftest import SUPERVISOR, CaseHarness, eventually, placement_body

pytestmark = pytest.mark.integration

_SCOTLAND = {"lines": ["1 High Street"], "city": "Perth", "region": "SCT", "country": "GB"}


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


async def _open(harness: CaseHarness, reference: str, days_past_due: int, address: dict[str, Any]) -> str:
    body = placement_body(reference, days_past_due=days_past_due)
    body["debtor"]["address"] = address
    response = await harness.client.post("/cases", json=body, headers=SUPERVISOR)
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"])


async def test_a_scottish_case_is_dated_by_the_five_year_prescription_and_a_payment_restarts_it(
    harness: CaseHarness,
) -> None:
    """Prescription and Limitation (Scotland) Act 1973 s.6 (five years; the obligation is extinguished)
    and s.10 (a part payment is a relevant acknowledgment: the five years run anew)."""
    case_id = await _open(harness, "LIM-SCT-1", 30, _SCOTLAND)
    case = await harness.case(case_id)
    due_since = date.fromisoformat(case["due_since"])
    assert case["time_barred_at"] == _add_years(due_since, 5).isoformat()
    assert case["time_barred"] is False
    dated = case["detail"]["limitation"]
    assert (dated["rule_id"], dated["extinguishes"]) == ("GB-SCT-LIM-OPEN-ENDED", True)
    assert "1973 s.6" in dated["citation"]

    paid_at = harness.clock.now()
    payment = payments.PaymentReceived(
        payment_id="lim-p-1",
        amount=Money(amount_minor=1000, currency="GBP"),
        method=PaymentMethod.CARD,
        external_reference="ext-lim-p-1",
        received_at=paid_at,
    )
    await harness.publish(payment, case_id)

    async def redated() -> dict[str, Any] | None:
        view = await harness.case(case_id)
        return view if view["time_barred_at"] == _add_years(paid_at.date(), 5).isoformat() else None

    after = await eventually(redated)
    assert after["detail"]["limitation"]["restart_kind"] == "payment"
    listed = (await harness.client.get("/cases", params={"jurisdiction": "GB"}, headers=SUPERVISOR)).json()
    [row] = [c for c in listed["items"] if c["case_id"] == case_id]
    assert row["time_barred_at"] == after["time_barred_at"]

    events = (await harness.client.get(f"/cases/{case_id}/events", headers=SUPERVISOR)).json()
    assert [e["type"] for e in events].count("collections.case.limitation_dated.v1") == 2


async def test_an_old_english_debt_shows_as_time_barred_today(harness: CaseHarness) -> None:
    """Limitation Act 1980 s.5: six years from the default; the remedy is barred (not extinguished)."""
    england = {"lines": ["1 Mill Lane"], "city": "Leeds", "region": "ENG", "country": "GB"}
    case_id = await _open(harness, "LIM-ENG-1", 7 * 366, england)
    case = await harness.case(case_id)
    assert case["time_barred"] is True
    assert date.fromisoformat(case["time_barred_at"]) <= harness.clock.now().date() - timedelta(days=300)
    assert case["detail"]["limitation"]["extinguishes"] is False


async def test_a_collectors_demand_that_reaches_a_chinese_debtor_restarts_the_three_years(
    harness: CaseHarness,
) -> None:
    """CN Civil Code art. 188 (three years) and art. 195 (the obligee's claim for performance
    interrupts; the period runs anew from it)."""
    body = placement_body("LIM-CN-1", days_past_due=40, jurisdiction="CN")
    body["debtor"].update(language="zh-CN", time_zone="Asia/Shanghai")
    response = await harness.client.post("/cases", json=body, headers=SUPERVISOR)
    assert response.status_code == 201, response.text
    case_id = str(response.json()["case_id"])
    case = await harness.case(case_id)
    assert case["time_barred_at"] == _add_years(date.fromisoformat(case["due_since"]), 3).isoformat()

    contacted = harness.clock.now()
    for n, outcome in enumerate([ContactOutcome.NO_ANSWER, ContactOutcome.RIGHT_PARTY_CONTACT]):
        await harness.publish(
            contacts.ContactAttempted(
                attempt_id=f"lim-att-{n}",
                channel=Channel.PHONE,
                party=ContactParty.DEBTOR,
                collector_id="col-lim",
                agency_id=None,
                outcome=outcome,
                duration_seconds=60,
                recording_ref=None,
            ),
            case_id,
        )

    async def restarted() -> dict[str, Any] | None:
        view = await harness.case(case_id)
        return view if view["time_barred_at"] == _add_years(contacted.date(), 3).isoformat() else None

    after = await eventually(restarted)
    assert after["detail"]["limitation"]["restart_kind"] == "creditor_demand"
