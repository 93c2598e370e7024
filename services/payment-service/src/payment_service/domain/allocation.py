"""Allocation of payments to a plan's installments: always to the oldest installment still open."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Allocation:
    """How much of each installment is paid, and which payment paid what."""

    paid: list[int]
    splits: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    """payment id -> [(installment number, amount)]."""
    unallocated: int = 0

    @property
    def total_paid(self) -> int:
        return sum(self.paid)


def allocate(installment_amounts: Sequence[int], payments: Sequence[tuple[str, int]]) -> Allocation:
    """Allocate `payments` (id, amount), in the order given, to installments (numbered from 1).

    Each payment fills the oldest installment that is not fully paid, then the next; a missed
    installment stays open, so it is filled before a later one. What exceeds the plan is unallocated.
    """
    paid = [0] * len(installment_amounts)
    splits: dict[str, list[tuple[int, int]]] = {}
    unallocated = 0
    current = 0
    for payment_id, amount in payments:
        if amount < 0:
            raise ValueError("payment amounts are never negative")
        remaining = amount
        while remaining > 0 and current < len(installment_amounts):
            room = installment_amounts[current] - paid[current]
            share = min(room, remaining)
            if share > 0:
                paid[current] += share
                splits.setdefault(payment_id, []).append((current + 1, share))
                remaining -= share
            if paid[current] >= installment_amounts[current]:
                current += 1
        unallocated += remaining
    return Allocation(paid=paid, splits=splits, unallocated=unallocated)
