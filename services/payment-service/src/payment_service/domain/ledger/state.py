"""What a case ledger keeps (payments, promises, plans, settlements) and what it decides with (the
facts of the case, the arrangement policy): plain data, no behaviour beyond derived values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from dcp_events.catalogue.base import Money
from dcp_events.catalogue.enums import Channel, PaymentMethod, ReversalReason
from dcp_events.catalogue.payments import Affordability, StatementEntry, StatementSource, UnappliedReason

UTC_ZONE = "UTC"
"""The time zone deadlines fall in while the case (and so the debtor's time zone) is unknown."""


@dataclass(frozen=True)
class CaseFacts:
    """What the payment service knows of a case from case-service's events."""

    case_id: str
    currency: str
    balance_minor: int
    time_zone: str
    jurisdiction: str | None
    closed: bool
    creditor_id: str | None = None  # whose case it is (creditor isolation)


@dataclass(frozen=True)
class ArrangementPolicy:
    """The configurable rules for promises, plans and settlements."""

    promise_grace_days: int = 2
    installment_grace_days: int = 3
    settlement_grace_days: int = 0
    plan_max_term_months: int = 60
    plan_supervisor_term_months: int = 12
    plan_missed_installments_to_break: int = 2
    supervisor_discount_bps: int = 2000
    """Discounts above this (basis points of the balance) need a supervisor."""
    settlement_max_days: int = 180
    settlement_supervisor_days: int = 30
    statement_valid_months: int = 6
    """An income and expenditure statement judges arrangements for this many months after its date."""
    statement_required_in: tuple[str, ...] = ()
    """Jurisdictions where a collector agrees a plan or a settlement only with a current statement."""


class PaymentStatus(StrEnum):
    APPLIED = "applied"
    UNAPPLIED = "unapplied"
    REVERSED = "reversed"


class ArrangementStatus(StrEnum):
    OPEN = "open"
    KEPT = "kept"
    BROKEN = "broken"
    ACTIVE = "active"
    COMPLETED = "completed"
    PAID = "paid"
    LAPSED = "lapsed"


@dataclass
class LedgerPayment:
    payment_id: str
    amount_minor: int
    currency: str
    method: PaymentMethod
    external_reference: str
    received_at: datetime
    status: PaymentStatus
    order: int
    unapplied_reason: UnappliedReason | None = None
    applied_at: datetime | None = None
    was_applied: bool = False
    reversed_at: datetime | None = None
    reversal_reason: ReversalReason | None = None

    @property
    def money(self) -> Money:
        return Money(amount_minor=self.amount_minor, currency=self.currency)


@dataclass
class TrackedPromise:
    promise_id: str
    amount_minor: int
    currency: str
    due_on: date
    made_at: datetime
    settles_at: datetime
    status: ArrangementStatus = ArrangementStatus.OPEN
    amount_paid_minor: int = 0
    settled_at: datetime | None = None


@dataclass
class PlanInstallment:
    number: int
    due_on: date
    amount_minor: int
    missed: bool = False


@dataclass
class Plan:
    plan_id: str
    currency: str
    total_minor: int
    installments: list[PlanInstallment]
    agreed_at: datetime
    channel: Channel | None = None
    collector_id: str | None = None
    status: ArrangementStatus = ArrangementStatus.ACTIVE
    ended_at: datetime | None = None
    affordability: Affordability | None = None

    @property
    def missed_count(self) -> int:
        return sum(1 for i in self.installments if i.missed)


@dataclass
class Settlement:
    settlement_id: str
    amount_minor: int
    currency: str
    balance_at_agreement_minor: int
    due_on: date
    agreed_at: datetime
    collector_id: str | None = None
    status: ArrangementStatus = ArrangementStatus.ACTIVE
    amount_paid_minor: int = 0
    ended_at: datetime | None = None
    affordability: Affordability | None = None


@dataclass
class FinancialStatement:
    statement_id: str
    statement_date: date
    source: StatementSource
    currency: str
    entries: list[StatementEntry]
    adults: int
    children: int
    vehicles: int
    income_minor: int
    outgoings_minor: int
    non_priority_minor: int
    surplus_minor: int
    available_minor: int
    savings_minor: int
    recorded_by: str
    recorded_at: datetime
    order: int
