"""The payment service's commands: what a route, a consumed event or a due-date timer asks it to do.

Each is handled by one function in `handlers.COMMAND_HANDLERS`. A command carries plain values only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime

from dcp_events.catalogue.base import Money
from dcp_events.catalogue.enums import Channel, PaymentMethod, ReversalReason
from dcp_events.catalogue.payments import Household, StatementCategory, StatementFrequency, StatementSource
from payment_service.domain.ledger import CaseFacts

# --- payments (REST, and payments core banking posted on integration.payments) -----------------


@dataclass(frozen=True)
class RecordPayment:
    """Idempotent by `external_reference`: the same reference again returns the first payment."""

    case_id: str
    amount: Money
    method: PaymentMethod
    external_reference: str
    received_at: datetime | None = None
    # A payment reported by the bank (integration.payments) is a fact: in another currency than the
    # case's it is held unapplied (CURRENCY_MISMATCH) rather than refused as at the API.
    hold_foreign_currency: bool = False


@dataclass(frozen=True)
class PaymentOutcome:
    """What `RecordPayment` returns: the payment, and whether this command created it."""

    payment_id: str
    created: bool


@dataclass(frozen=True)
class ReversePayment:
    payment_id: str
    reason: ReversalReason
    reference: str | None = None
    reversed_at: datetime | None = None


# --- arrangements (REST, and promises made during contacts) -------------------------------------


@dataclass(frozen=True)
class AgreePlan:
    case_id: str
    total: Money
    installments: Sequence[tuple[date, Money]]
    by_supervisor: bool
    channel: Channel | None = None
    collector_id: str | None = None


@dataclass(frozen=True)
class AgreeSettlement:
    case_id: str
    amount: Money
    due_on: date
    by_supervisor: bool
    collector_id: str | None = None


@dataclass(frozen=True)
class RecordFinancialStatement:
    """The debtor's income and expenditure, line by line: (category, item, amount, frequency)."""

    case_id: str
    statement_date: date
    source: StatementSource
    household: Household
    lines: Sequence[tuple[StatementCategory, str, Money, StatementFrequency]]
    recorded_by: str
    savings: Money | None = None


@dataclass(frozen=True)
class TrackPromise:
    """A promise to pay made during a contact (contact-service's `PromiseMade`)."""

    case_id: str
    promise_id: str
    amount: Money
    due_on: date
    made_at: datetime


# --- what case-service reports on collections.cases ---------------------------------------------


@dataclass(frozen=True)
class RecordCaseOpened:
    """The case exists: remember its facts and apply the payments held waiting for it."""

    facts: CaseFacts

    @property
    def case_id(self) -> str:
        return self.facts.case_id


@dataclass(frozen=True)
class RecordCaseBalance:
    case_id: str
    balance_minor: int


@dataclass(frozen=True)
class RecordCaseClosed:
    case_id: str
    final_balance_minor: int


@dataclass(frozen=True)
class RecordCaseReopened:
    """A closed case is open again (the reversal of the payment that closed it)."""

    case_id: str


@dataclass(frozen=True)
class RecordCaseAssignment:
    """Who the case is assigned to (collectors act only on the cases assigned to them)."""

    case_id: str
    assignee_kind: str
    assignee_id: str


@dataclass(frozen=True)
class EraseStatementLines:
    """The debtor's personal data on the case was erased (`ErasureCompleted`): the lines of its income
    and expenditure statements go; their monthly totals stay, the record of what the arrangements
    agreed on them were judged by."""

    case_id: str


@dataclass(frozen=True)
class RecordCaseEvents:
    """A consumed batch of the case commands above (opened, balance, closed, assignment, erasure), in
    order."""

    commands: Sequence[
        RecordCaseOpened | RecordCaseBalance | RecordCaseClosed | RecordCaseAssignment | EraseStatementLines
    ]
    cause: Callable[[str], AbstractContextManager[object]] | None = None
    """The causal context of what the opening of case `case_id` causes (its held payments applied);
    None: the current one."""


# --- due dates (durable timers) -----------------------------------------------------------------


@dataclass(frozen=True)
class PromiseDue:
    """The promise's due date plus grace has passed: kept or broken."""

    case_id: str
    promise_id: str


@dataclass(frozen=True)
class InstallmentDue:
    """An installment's due date plus grace has passed: missed unless paid (misses break the plan)."""

    case_id: str
    plan_id: str
    number: int


@dataclass(frozen=True)
class SettlementDue:
    """The settlement's deadline has passed: lapsed unless paid in full in time."""

    case_id: str
    settlement_id: str
