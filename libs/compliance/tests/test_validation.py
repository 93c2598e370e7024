"""The validation period and dispute treatment, from the text of 12 CFR 1006.34(b)(5) and 1006.38(d)(2)."""

from __future__ import annotations

from datetime import date

import pytest

from dcp_compliance.packs import ValidationPeriod
from dcp_compliance.validation import (
    business_days_after,
    classify_dispute,
    validation_period_end,
    validation_rule,
)
from dcp_events.catalogue.enums import Channel, HoldType


def _us() -> ValidationPeriod:
    rule = validation_rule("US")
    assert rule is not None and isinstance(rule.parameters, ValidationPeriod)
    return rule.parameters


@pytest.mark.parametrize(
    ("provided_on", "ends_on"),
    [
        # Tuesday 3 March 2026: receipt assumed Tuesday 10 March (five weekdays), the period ends 30 days on.
        (date(2026, 3, 3), date(2026, 4, 9)),
        # Friday 20 November 2026: Thanksgiving (26 Nov) is no business day: receipt Monday 30 November.
        (date(2026, 11, 20), date(2026, 12, 30)),
        # Wednesday 23 December 2026: Christmas (Fri 25) and a weekend skipped: receipt Thursday 31 Dec.
        (date(2026, 12, 23), date(2027, 1, 30)),
        # Thursday 2 July 2026: Independence Day falls on a Saturday, observed Friday 3 July.
        (date(2026, 7, 2), date(2026, 8, 9)),
    ],
)
def test_receipt_is_assumed_five_business_days_after_it_is_provided_and_the_period_runs_30_days_more(
    provided_on: date, ends_on: date
) -> None:
    """1006.34(b)(5): 'ending 30 days after the consumer receives or is assumed to receive the validation
    information ... at least five days (excluding legal public holidays identified in 5 U.S.C. 6103(a),
    Saturdays, and Sundays) after the debt collector provides it'."""
    assert validation_period_end(_us(), provided_on) == ends_on


def test_a_business_day_count_skips_weekends_and_federal_holidays() -> None:
    assert business_days_after(date(2026, 1, 16), 1, "US") == date(2026, 1, 20)  # Martin Luther King Jr. Day
    assert business_days_after(date(2026, 6, 18), 1, "US") == date(2026, 6, 22)  # Juneteenth, then a weekend


def test_a_written_dispute_on_the_last_day_of_the_period_stops_collection_until_verification() -> None:
    """1006.38(d)(2)(i): a dispute 'in writing within the validation period' stops collection."""
    end = date(2026, 12, 30)
    for via in (Channel.LETTER, Channel.EMAIL, Channel.SMS):
        treated = classify_dispute("US", via, end, end)
        assert treated.hold_type is HoldType.VERIFICATION_PENDING and treated.within_validation_period
        assert treated.rule_id == "US-REGF-VALIDATION" and "1006.38(d)(2)" in (treated.citation or "")


def test_a_dispute_the_day_after_the_period_or_by_phone_gets_the_institutions_dispute_hold() -> None:
    end = date(2026, 12, 30)
    late = classify_dispute("US", Channel.LETTER, date(2026, 12, 31), end)
    assert (late.hold_type, late.within_validation_period) == (HoldType.DISPUTE, False)
    oral = classify_dispute("US", Channel.PHONE, date(2026, 12, 1), end)
    assert (oral.hold_type, oral.within_validation_period) == (HoldType.DISPUTE, True)
    assert "not in writing" in oral.reason


def test_a_written_dispute_before_any_validation_notice_is_treated_as_timely() -> None:
    early = classify_dispute("US", Channel.EMAIL, date(2026, 12, 1), None)
    assert early.hold_type is HoldType.VERIFICATION_PENDING and early.validation_period_end is None


@pytest.mark.parametrize("jurisdiction", ["GB", "CN", "ZZ"])
def test_a_jurisdiction_without_a_validation_period_keeps_the_dispute_hold(jurisdiction: str) -> None:
    treated = classify_dispute(jurisdiction, Channel.LETTER, date(2026, 12, 1), None)
    assert (treated.hold_type, treated.within_validation_period, treated.rule_id) == (
        HoldType.DISPUTE,
        None,
        None,
    )
