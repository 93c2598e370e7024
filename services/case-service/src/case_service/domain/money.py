"""A case's balance in parts, and the allocation waterfall that splits a payment over them.

The debtor owes principal + interest + fees + costs; `credit` is what the creditor owes the debtor
(an over-payment, until refunded). No part is ever below zero and the owed parts always add up to the
balance: every change is an allocation (part -> signed delta) applied to the parts, and the same
allocation is what the `CaseBalanceChanged` event carries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from case_service.domain.errors import PolicyError
from dcp_events.catalogue.base import CaseAmounts, Money
from dcp_events.catalogue.cases import BalanceParts, PartChange
from dcp_events.catalogue.enums import BalancePart

OWED_PARTS: tuple[BalancePart, ...] = (
    BalancePart.PRINCIPAL,
    BalancePart.INTEREST,
    BalancePart.FEES,
    BalancePart.COSTS,
)


@dataclass(frozen=True)
class Parts:
    currency: str
    principal: int = 0
    interest: int = 0
    fees: int = 0
    costs: int = 0
    credit: int = 0

    @classmethod
    def from_amounts(cls, amounts: CaseAmounts) -> Parts:
        return cls(
            currency=amounts.total_balance.currency,
            principal=amounts.principal.amount_minor,
            interest=amounts.interest.amount_minor,
            fees=amounts.fees.amount_minor,
        )

    @classmethod
    def from_event(cls, parts: BalanceParts) -> Parts:
        return cls(parts.currency, parts.principal, parts.interest, parts.fees, parts.costs, parts.credit)

    def to_event(self) -> BalanceParts:
        return BalanceParts(
            currency=self.currency,
            principal=self.principal,
            interest=self.interest,
            fees=self.fees,
            costs=self.costs,
            credit=self.credit,
        )

    @property
    def owed(self) -> int:
        return self.principal + self.interest + self.fees + self.costs

    @property
    def balance(self) -> Money:
        return Money(amount_minor=self.owed, currency=self.currency)

    def of(self, part: BalancePart) -> int:
        return int(getattr(self, part.value))

    def apply(self, allocation: Iterable[tuple[BalancePart, int]]) -> Parts:
        values = {part: self.of(part) for part in (*OWED_PARTS, BalancePart.CREDIT)}
        for part, delta in allocation:
            values[part] += delta
            if values[part] < 0:
                raise ValueError(f"{part.value} would go below zero")
        return Parts(
            self.currency,
            principal=values[BalancePart.PRINCIPAL],
            interest=values[BalancePart.INTEREST],
            fees=values[BalancePart.FEES],
            costs=values[BalancePart.COSTS],
            credit=values[BalancePart.CREDIT],
        )


Allocation = list[tuple[BalancePart, int]]


def to_changes(allocation: Allocation) -> list[PartChange]:
    return [PartChange(part=part, delta_minor=delta) for part, delta in allocation if delta != 0]


def from_changes(changes: Sequence[PartChange]) -> Allocation:
    return [(c.part, c.delta_minor) for c in changes]


def owed_delta(allocation: Allocation) -> int:
    return sum(delta for part, delta in allocation if part is not BalancePart.CREDIT)


@dataclass(frozen=True)
class Waterfall:
    """The order a payment pays off the owed parts; what is left over becomes a credit."""

    name: str
    order: tuple[BalancePart, ...]

    def __post_init__(self) -> None:
        if sorted(self.order) != sorted(OWED_PARTS):
            raise PolicyError(
                f"waterfall {self.name!r} must name each of {', '.join(p.value for p in OWED_PARTS)} once"
            )

    def pay(self, parts: Parts, amount: int) -> Allocation:
        """The split of a payment of `amount` over `parts`."""
        allocation: Allocation = []
        left = amount
        for part in self.order:
            taken = min(left, parts.of(part))
            if taken:
                allocation.append((part, -taken))
                left -= taken
        if left:
            allocation.append((BalancePart.CREDIT, left))
        return allocation


DEFAULT_WATERFALL = Waterfall(
    "costs-fees-interest-principal",
    (BalancePart.COSTS, BalancePart.FEES, BalancePart.INTEREST, BalancePart.PRINCIPAL),
)


def undo(parts: Parts, allocation: Allocation, amount: int) -> Allocation:
    """The allocation that takes back (up to `amount` of) a payment booked as `allocation`: its credit
    first (a credit already refunded is owed again, as principal), then the owed parts it paid, last
    paid first."""
    result: Allocation = []
    left = amount
    credit = sum(delta for part, delta in allocation if part is BalancePart.CREDIT)
    if credit and left:
        back = min(credit, left)
        from_credit = min(back, parts.credit)
        if from_credit:
            result.append((BalancePart.CREDIT, -from_credit))
        if back - from_credit:
            result.append((BalancePart.PRINCIPAL, back - from_credit))
        left -= back
    for part, delta in reversed(allocation):
        if part is BalancePart.CREDIT or not left:
            continue
        back = min(-delta, left)
        result.append((part, back))
        left -= back
    return _merged(result)


def restate(parts: Parts, amounts: CaseAmounts) -> Allocation:
    """The creditor's new principal, interest and fees (costs and credit stay as they are)."""
    return [
        (BalancePart.PRINCIPAL, amounts.principal.amount_minor - parts.principal),
        (BalancePart.INTEREST, amounts.interest.amount_minor - parts.interest),
        (BalancePart.FEES, amounts.fees.amount_minor - parts.fees),
    ]


def restate_total(parts: Parts, total: int) -> Allocation:
    """A new total with no split given: an increase is principal, a decrease comes off the waterfall."""
    delta = total - parts.owed
    if delta >= 0:
        return [(BalancePart.PRINCIPAL, delta)]
    return [(part, d) for part, d in DEFAULT_WATERFALL.pay(parts, -delta) if part is not BalancePart.CREDIT]


def waive_all(parts: Parts) -> Allocation:
    return [(part, -parts.of(part)) for part in OWED_PARTS if parts.of(part)]


def legacy(parts: Parts, delta: int) -> Allocation:
    """How a balance change recorded before parts existed is replayed: an increase as principal, a
    decrease off the default waterfall (never below zero)."""
    if delta >= 0:
        return [(BalancePart.PRINCIPAL, delta)]
    return [(p, d) for p, d in DEFAULT_WATERFALL.pay(parts, -delta) if p is not BalancePart.CREDIT]


def _merged(allocation: Allocation) -> Allocation:
    totals: dict[BalancePart, int] = {}
    for part, delta in allocation:
        totals[part] = totals.get(part, 0) + delta
    return [(part, delta) for part, delta in totals.items() if delta]


@dataclass(frozen=True)
class Allocations:
    """Which waterfall splits a payment: the creditor's, else the product's, else the default."""

    default: Waterfall = DEFAULT_WATERFALL
    by_product: Mapping[str, Waterfall] | None = None
    by_creditor: Mapping[str, Waterfall] | None = None

    def for_account(self, creditor_id: str | None, product: str | None) -> Waterfall:
        if creditor_id is not None and self.by_creditor and creditor_id in self.by_creditor:
            return self.by_creditor[creditor_id]
        if product is not None and self.by_product and product in self.by_product:
            return self.by_product[product]
        return self.default

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Allocations:
        def waterfall(name: str, order: Any) -> Waterfall:
            if not isinstance(order, list):
                raise PolicyError(
                    f"allocation {name!r}: a list of parts, e.g. [costs, fees, interest, principal]"
                )
            try:
                parts = tuple(BalancePart(p) for p in order)
                return Waterfall("-".join(p.value for p in parts), parts)
            except ValueError as exc:
                raise PolicyError(f"allocation {name!r}: {exc}") from exc

        default = waterfall("default", data["default"]) if "default" in data else DEFAULT_WATERFALL
        return cls(
            default=default,
            by_product={k: waterfall(f"product {k}", v) for k, v in (data.get("products") or {}).items()},
            by_creditor={k: waterfall(f"creditor {k}", v) for k, v in (data.get("creditors") or {}).items()},
        )
