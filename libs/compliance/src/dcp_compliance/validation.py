"""The validation period and what a dispute calls for (US Regulation F 1006.34(b)(5), 1006.38(d)).

A pack with a `validation_period` rule dates the period from the day the validation information is
provided: receipt is assumed a number of business days later (weekends and the country's public
holidays excluded, 5 U.S.C. 6103(a) for the US), and the period ends a number of days after receipt.
A dispute in writing on or before that day stops collection until verification is sent (the pack's
`timely_written_dispute_hold`); any other dispute is recorded and gets the institution's hold, or
none. A dispute before any validation information was provided is treated as timely: the period has
not even begun, and treating it as late could only take a protection away.

A pack without the rule (GB, CN) keeps the one treatment it always had: a dispute hold.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import holidays

from dcp_compliance.packs import Rule, UnknownJurisdiction, ValidationPeriod, load_pack
from dcp_events.catalogue.enums import Channel, HoldType

__all__ = [
    "DisputeTreatment",
    "business_days_after",
    "classify_dispute",
    "validation_period_end",
    "validation_rule",
]


@functools.cache
def _holidays(country: str, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, years=year).keys())


def business_days_after(day: date, count: int, country: str) -> date:
    """The date `count` business days after `day` (Saturdays, Sundays and `country`'s public holidays,
    observed dates included, do not count)."""
    current = day
    left = count
    while left > 0:
        current += timedelta(days=1)
        if current.weekday() < 5 and current not in _holidays(country, current.year):
            left -= 1
    return current


def validation_period_end(params: ValidationPeriod, provided_on: date) -> date:
    """The last day of the validation period of information provided (mailed, sent) on `provided_on`."""
    received = business_days_after(provided_on, params.assumed_receipt_business_days, params.holiday_calendar)
    return received + timedelta(days=params.days_after_receipt)


def validation_rule(jurisdiction: str, at: datetime | None = None) -> Rule | None:
    """The `validation_period` rule of the jurisdiction's pack in force at `at` (None: it has none)."""
    try:
        pack = load_pack(jurisdiction, at=at)
    except UnknownJurisdiction:
        return None
    for rule in pack.rules:
        if isinstance(rule.parameters, ValidationPeriod):
            return rule
    return None


@dataclass(frozen=True)
class DisputeTreatment:
    """What one dispute calls for: the hold to place (None: none), whether it came within the
    validation period (None: the jurisdiction has none), the period's end, and the rule that says so."""

    hold_type: HoldType | None
    within_validation_period: bool | None
    validation_period_end: date | None
    rule_id: str | None
    citation: str | None
    reason: str


def classify_dispute(
    jurisdiction: str,
    received_via: Channel,
    received_on: date,
    period_end: date | None,
    at: datetime | None = None,
) -> DisputeTreatment:
    """The treatment of a dispute received on `received_on` (the debtor's date) via `received_via`,
    where the last validation period ends on `period_end` (None: no validation information sent)."""
    rule = validation_rule(jurisdiction, at)
    if rule is None:
        return DisputeTreatment(HoldType.DISPUTE, None, None, None, None, "disputes hold the case")
    params = rule.parameters
    assert isinstance(params, ValidationPeriod)
    within = period_end is None or received_on <= period_end
    written = received_via in params.written_via
    ends = f"the validation period ends {period_end}" if period_end else "no validation notice sent yet"
    if within and written:
        reason = (
            f"a written dispute within the validation period ({ends}): collection stops until verification"
        )
        return DisputeTreatment(
            params.timely_written_dispute_hold, True, period_end, rule.id, rule.citation, reason
        )
    why = "outside the validation period" if not within else f"not in writing ({received_via.value})"
    hold = params.other_dispute_hold
    outcome = f"held as {hold.value}" if hold else "recorded without a hold"
    return DisputeTreatment(
        hold, within, period_end, rule.id, rule.citation, f"a dispute {why} ({ends}): {outcome}"
    )
