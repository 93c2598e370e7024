"""What messages and letters say about a case, folded from collections.cases: the debtor's name,
language and mailing address, the account, and the Regulation F itemization (1006.34(c)(2)) — what was
owed when the case was placed (the itemization date) and the interest, fees, payments and credits since.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dcp_events.catalogue.cases import CaseBalanceChanged, CaseOpened
from dcp_events.catalogue.enums import BalanceChangeReason

Profile = dict[str, Any]

# Into which itemization figure a balance change goes: charges add (interest; fees and legal costs),
# payments and credits (waivers, reductions) subtract; a reversal undoes a payment.
_CHARGES = {
    BalanceChangeReason.INTEREST: "interest",
    BalanceChangeReason.FEE: "fees",
    BalanceChangeReason.COSTS: "fees",
}


def profile_of(opened: CaseOpened, at: datetime) -> Profile:
    debtor = opened.debtor
    address = debtor.address
    lines: list[str] = []
    if address is not None:
        locality = " ".join(p for p in (address.city, address.region, address.postal_code) if p)
        lines = [*address.lines, locality, address.country]
    return {
        "full_name": debtor.full_name,
        "language": debtor.language,
        "address": lines,
        "account_reference": opened.account.account_reference,
        "creditor_id": opened.account.creditor_id,
        "product": opened.account.product,
        "placed_on": at.date().isoformat(),
        "days_past_due": opened.days_past_due,
        "itemization": {
            "amount": opened.amounts.total_balance.amount_minor,
            "interest": 0,
            "fees": 0,
            "payments": 0,
            "credits": 0,
        },
    }


def profile_after(profile: Profile, change: CaseBalanceChanged) -> Profile:
    """The profile after a balance change (the same object when the change moves no figure)."""
    item = profile.get("itemization")
    if item is None:
        return profile
    delta = change.change.delta_minor
    reason = change.reason
    figures = dict(item)
    if reason in _CHARGES and delta > 0:
        figures[_CHARGES[reason]] += delta
    elif reason is BalanceChangeReason.PAYMENT:
        figures["payments"] += -delta
    elif reason is BalanceChangeReason.REVERSAL:
        figures["payments"] = max(0, figures["payments"] - delta)
    elif delta < 0:  # a waiver, a reduction, a charge taken back
        figures["credits"] += -delta
    elif delta > 0:  # an adjustment that adds to the debt
        figures["fees"] += delta
    else:
        return profile
    return {**profile, "itemization": figures}


def profile_erased(profile: Profile) -> Profile:
    """An erasure: the debtor's name and address go; the account and figures stay."""
    return {**profile, "full_name": None, "address": []}
