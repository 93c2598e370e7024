"""Payments, promises, plans and settlements, published by payment-service on collections.payments."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field, StrictBool, StrictInt, model_validator

from dcp_events.catalogue.base import Count, EventPayload, Id, IsoDate, Money, PayloadModel, Text, UtcDateTime
from dcp_events.catalogue.enums import Channel, PaymentMethod, ReversalReason

TOPIC = "collections.payments"


def _positive(money: Money, name: str) -> None:
    if money.amount_minor == 0:
        raise ValueError(f"{name} must be more than zero")


class PaymentEvent(EventPayload):
    topic: ClassVar[str] = TOPIC


class PaymentReceived(PaymentEvent):
    event_type: ClassVar[str] = "collections.payment.received"
    version: ClassVar[int] = 1

    payment_id: Id
    amount: Money
    method: PaymentMethod
    external_reference: Id = Field(description="The payer's or bank's reference; the idempotency key.")
    received_at: UtcDateTime

    @model_validator(mode="after")
    def _positive_amount(self) -> PaymentReceived:
        _positive(self.amount, "amount")
        return self


class UnappliedReason(StrEnum):
    """Why a received payment is held instead of being applied to its case."""

    UNKNOWN_CASE = "unknown_case"
    CASE_CLOSED = "case_closed"
    CURRENCY_MISMATCH = "currency_mismatch"


class PaymentHeld(PaymentEvent):
    """A payment was received but cannot be applied yet (unknown or closed case): it is kept,
    visible as unapplied, and applied (`PaymentReceived`) when its case appears. No balance changes."""

    event_type: ClassVar[str] = "collections.payment.held"
    version: ClassVar[int] = 1

    payment_id: Id
    amount: Money
    method: PaymentMethod
    external_reference: Id = Field(description="The payer's or bank's reference; the idempotency key.")
    received_at: UtcDateTime
    reason: UnappliedReason

    @model_validator(mode="after")
    def _positive_amount(self) -> PaymentHeld:
        _positive(self.amount, "amount")
        return self


class PaymentReversed(PaymentEvent):
    event_type: ClassVar[str] = "collections.payment.reversed"
    version: ClassVar[int] = 1

    payment_id: Id
    amount: Money
    reason: ReversalReason
    external_reference: Id | None = None
    reversed_at: UtcDateTime
    applied: StrictBool = Field(
        default=True,
        description="False: the payment was still held unapplied, so the case balance does not change.",
    )


class PromiseKept(PaymentEvent):
    event_type: ClassVar[str] = "collections.payment.promise_kept"
    version: ClassVar[int] = 1

    promise_id: Id
    amount_promised: Money
    amount_paid: Money
    due_on: IsoDate
    payment_ids: list[Id] = Field(min_length=1)


class PromiseTracked(PaymentEvent):
    """payment-service watches a promise (from `PromiseMade`): payments received from `made_at`
    until `settles_at` (the due date plus grace, end of day in the debtor's time zone) count."""

    event_type: ClassVar[str] = "collections.payment.promise_tracked"
    version: ClassVar[int] = 1

    promise_id: Id
    amount_promised: Money
    due_on: IsoDate
    made_at: UtcDateTime
    settles_at: UtcDateTime


class PromiseBroken(PaymentEvent):
    event_type: ClassVar[str] = "collections.payment.promise_broken"
    version: ClassVar[int] = 1

    promise_id: Id
    amount_promised: Money
    amount_paid: Money
    due_on: IsoDate
    reversed_payment_id: Id | None = Field(
        default=None, description="Set when a reversal broke a promise that had been kept."
    )


class Installment(PayloadModel):
    number: StrictInt = Field(ge=1)
    due_on: IsoDate
    amount: Money


class PaymentPlanAgreed(PaymentEvent):
    event_type: ClassVar[str] = "collections.payment.plan_agreed"
    version: ClassVar[int] = 1

    plan_id: Id
    total: Money
    installments: list[Installment] = Field(min_length=1)
    channel: Channel | None = None
    collector_id: Id | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PaymentPlanAgreed:
        if [i.number for i in self.installments] != list(range(1, len(self.installments) + 1)):
            raise ValueError("installments must be numbered 1, 2, 3... in order")
        if any(a.due_on >= b.due_on for a, b in zip(self.installments, self.installments[1:], strict=False)):
            raise ValueError("installment due dates must increase")
        if any(i.amount.currency != self.total.currency for i in self.installments):
            raise ValueError("installments and total are in different currencies")
        if sum(i.amount.amount_minor for i in self.installments) != self.total.amount_minor:
            raise ValueError("installments do not add up to the total")
        return self


class InstallmentMissed(PaymentEvent):
    event_type: ClassVar[str] = "collections.payment.installment_missed"
    version: ClassVar[int] = 1

    plan_id: Id
    installment_number: StrictInt = Field(ge=1)
    due_on: IsoDate
    amount_due: Money
    amount_paid: Money
    reversed_payment_id: Id | None = Field(
        default=None, description="Set when a reversal unpaid an installment whose deadline had passed."
    )


class PaymentPlanCompleted(PaymentEvent):
    event_type: ClassVar[str] = "collections.payment.plan_completed"
    version: ClassVar[int] = 1

    plan_id: Id
    total_paid: Money


class PaymentPlanBroken(PaymentEvent):
    event_type: ClassVar[str] = "collections.payment.plan_broken"
    version: ClassVar[int] = 1

    plan_id: Id
    missed_installments: Count
    reason: Text


class SettlementAgreed(PaymentEvent):
    event_type: ClassVar[str] = "collections.payment.settlement_agreed"
    version: ClassVar[int] = 1

    settlement_id: Id
    settlement_amount: Money
    balance_at_agreement: Money
    due_on: IsoDate
    collector_id: Id | None = None

    @model_validator(mode="after")
    def _a_discount(self) -> SettlementAgreed:
        if self.settlement_amount.currency != self.balance_at_agreement.currency:
            raise ValueError("settlement and balance are in different currencies")
        if self.settlement_amount.amount_minor > self.balance_at_agreement.amount_minor:
            raise ValueError("a settlement cannot exceed the balance")
        _positive(self.settlement_amount, "settlement_amount")
        return self


class SettlementPaid(PaymentEvent):
    """The settlement amount was paid in time: the case closes as settled, the rest is waived."""

    event_type: ClassVar[str] = "collections.payment.settlement_paid"
    version: ClassVar[int] = 1

    settlement_id: Id
    settlement_amount: Money
    amount_paid: Money
    balance_at_agreement: Money
    due_on: IsoDate
    payment_ids: list[Id] = Field(min_length=1)


class SettlementLapsed(PaymentEvent):
    event_type: ClassVar[str] = "collections.payment.settlement_lapsed"
    version: ClassVar[int] = 1

    settlement_id: Id
    due_on: IsoDate
    amount_paid: Money
    reason: Text | None = None
