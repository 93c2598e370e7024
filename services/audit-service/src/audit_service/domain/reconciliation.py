"""Reconciliation: what payment-service applied against what case-service booked, payment by payment,
from the two services' events alone.

payment-service's side: `PaymentReceived` (applied) and `PaymentReversed` with `applied` (taken back).
case-service's side: `CaseBalanceChanged` with reason `payment` or `reversal` and the payment id as its
reference; the money it booked is what the owed parts lost plus what the credit gained (the allocation),
or the change itself for an event written before parts existed. A payment is reconciled when both sides
agree on its amount and on whether it still stands; anything else is a divergence, with the trail
entries that prove it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dcp_events.catalogue import cases, payments
from dcp_events.catalogue.enums import BalanceChangeReason, BalancePart


@dataclass
class PaymentSides:
    case_id: str
    currency: str | None = None
    applied_minor: int | None = None  # by payment-service (None: it never applied one)
    reversed_by_payments: bool = False
    booked_minor: int | None = None  # by case-service
    reversed_by_cases: bool = False
    last_seen: datetime | None = None
    evidence: list[int] = field(default_factory=list)

    def seen(self, entry_id: int, at: datetime) -> None:
        self.evidence.append(entry_id)
        self.last_seen = at if self.last_seen is None or at > self.last_seen else self.last_seen


@dataclass(frozen=True)
class Divergence:
    # not-booked, booked-without-payment, amount-differs, reversal-not-booked, reversal-without-payment
    kind: str
    case_id: str
    payment_id: str
    applied: dict[str, Any] | None
    booked: dict[str, Any] | None
    explanation: str
    evidence_entry_ids: list[int]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "case_id": self.case_id,
            "payment_id": self.payment_id,
            "applied_by_payment_service": self.applied,
            "booked_by_case_service": self.booked,
            "explanation": self.explanation,
            "evidence_entry_ids": self.evidence_entry_ids,
        }


def booked_money(event: cases.CaseBalanceChanged) -> int:
    """The money a payment (or, negative, a reversal) moved in case-service's books."""
    if event.allocation is None:
        return -event.change.delta_minor
    credit = sum(p.delta_minor for p in event.allocation if p.part is BalancePart.CREDIT)
    return credit - event.change.delta_minor


class Reconciliation:
    """Folds the two services' events (in trail order) into one `PaymentSides` per payment."""

    def __init__(self) -> None:
        self.payments: dict[str, PaymentSides] = {}

    def _sides(self, payment_id: str, case_id: str) -> PaymentSides:
        return self.payments.setdefault(payment_id, PaymentSides(case_id))

    def add(self, entry_id: int, at: datetime, case_id: str, payload: object) -> None:
        if isinstance(payload, payments.PaymentReceived):
            sides = self._sides(payload.payment_id, case_id)
            sides.applied_minor, sides.currency = payload.amount.amount_minor, payload.amount.currency
            sides.seen(entry_id, at)
        elif isinstance(payload, payments.PaymentReversed) and payload.applied:
            sides = self._sides(payload.payment_id, case_id)
            sides.reversed_by_payments = True
            sides.currency = sides.currency or payload.amount.currency
            sides.seen(entry_id, at)
        elif isinstance(payload, cases.CaseBalanceChanged) and payload.reference is not None:
            if payload.reason is BalanceChangeReason.PAYMENT:
                sides = self._sides(payload.reference, case_id)
                sides.booked_minor = booked_money(payload)
                sides.currency = sides.currency or payload.change.currency
                sides.seen(entry_id, at)
            elif payload.reason is BalanceChangeReason.REVERSAL:
                sides = self._sides(payload.reference, case_id)
                sides.reversed_by_cases = True
                sides.seen(entry_id, at)

    def divergences(self, settled_before: datetime | None = None) -> list[Divergence]:
        """Every payment the two sides disagree on whose newest evidence is older than
        `settled_before` (events still in flight between the services are not divergences yet)."""
        found: list[Divergence] = []
        for payment_id, s in self.payments.items():
            if settled_before is not None and s.last_seen is not None and s.last_seen >= settled_before:
                continue
            divergence = _compare(payment_id, s)
            if divergence is not None:
                found.append(divergence)
        return sorted(found, key=lambda d: (d.case_id, d.payment_id))


def _money(minor: int | None, currency: str | None) -> dict[str, Any] | None:
    return None if minor is None else {"amount_minor": minor, "currency": currency}


def _compare(payment_id: str, s: PaymentSides) -> Divergence | None:
    applied = _money(s.applied_minor, s.currency)
    booked = _money(s.booked_minor, s.currency)

    def divergence(kind: str, explanation: str) -> Divergence:
        return Divergence(kind, s.case_id, payment_id, applied, booked, explanation, sorted(s.evidence))

    if s.applied_minor is not None and s.booked_minor is None:
        return divergence("not-booked", "payment-service applied the payment; case-service never booked it")
    if s.applied_minor is None and s.booked_minor is not None:
        return divergence(
            "booked-without-payment", "case-service booked a payment that payment-service never applied"
        )
    if s.applied_minor is not None and s.booked_minor is not None and s.applied_minor != s.booked_minor:
        return divergence(
            "amount-differs",
            f"payment-service applied {s.applied_minor}, case-service booked {s.booked_minor}",
        )
    if s.reversed_by_payments and not s.reversed_by_cases:
        return divergence(
            "reversal-not-booked", "payment-service reversed the payment; case-service still books it"
        )
    if s.reversed_by_cases and not s.reversed_by_payments:
        return divergence(
            "reversal-without-payment", "case-service reversed a payment that payment-service still applies"
        )
    return None
