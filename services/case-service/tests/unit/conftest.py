"""Builders for the domain tests (no I/O)."""

from __future__ import annotations

from datetime import date

import pytest

from case_service.adapters.policy_file import load_policy
from case_service.domain.case import Case
from case_service.domain.policy import CollectionPolicy
from dcp_events.catalogue.base import CaseAmounts, Money
from dcp_events.catalogue.debtor import Account, Debtor

TODAY = date(2026, 11, 30)


@pytest.fixture(scope="session")
def policy() -> CollectionPolicy:
    return load_policy()


def gbp(minor: int) -> Money:
    return Money(amount_minor=minor, currency="GBP")


def new_case(
    policy: CollectionPolicy,
    *,
    case_id: str = "case-1",
    balance: int = 100_000,
    due_since: date = date(2026, 11, 10),
    today: date = TODAY,
    product: str = "credit_card",
    risk_score: int | None = 300,
) -> Case:
    case = Case.open(
        case_id,
        debtor=Debtor(
            debtor_id="d-1",
            full_name="Ada Lovelace",
            language="en-GB",
            time_zone="Europe/London",
            time_zone_source="address",
        ),
        account=Account(creditor_id="acme", account_reference=case_id, product=product),
        amounts=CaseAmounts(principal=gbp(balance), interest=gbp(0), fees=gbp(0), total_balance=gbp(balance)),
        due_since=due_since,
        jurisdiction="GB",
        risk_score=risk_score,
        placement_id=None,
        today=today,
        policy=policy,
    )
    case.version = len(case.pull_changes())
    return case
