"""Domain errors of the payment side of a case, each named for the rule it guards."""

from __future__ import annotations

from typing import Any

from dcp_platform.errors import DomainError, ErrorKind


class PaymentDomainError(
    DomainError, code="payment-rule", title="Refused by a payment rule", kind=ErrorKind.INVALID
):
    """A command the payment rules refuse."""


class PaymentReferenceConflict(
    PaymentDomainError,
    code="payment-reference-conflict",
    title="External reference already used",
    kind=ErrorKind.CONFLICT,
):
    """The external reference was already used for a payment with another amount, currency or case."""

    def __init__(self, external_reference: str, existing_payment_id: str, difference: str) -> None:
        super().__init__(
            f"external reference {external_reference!r} already identifies payment {existing_payment_id} "
            f"with a different {difference}"
        )
        self.external_reference = external_reference
        self.existing_payment_id = existing_payment_id

    def problem_members(self) -> dict[str, Any]:
        return {
            "external_reference": self.external_reference,
            "existing_payment_id": self.existing_payment_id,
        }


class CurrencyMismatch(
    PaymentDomainError,
    code="currency-mismatch",
    title="Currency differs from the case's",
    kind=ErrorKind.INVALID,
):
    """Money in a currency other than the case's."""

    def __init__(self, given: str, case_currency: str) -> None:
        super().__init__(f"the case is in {case_currency}; {given} is refused")
        self.given = given
        self.case_currency = case_currency

    def problem_members(self) -> dict[str, Any]:
        return {"currency": self.given, "case_currency": self.case_currency}


class ReceivedInTheFuture(
    PaymentDomainError, code="received-in-the-future", title="Time in the future", kind=ErrorKind.INVALID
):
    """A payment cannot have been received after now."""


class CaseUnknown(PaymentDomainError, code="case-unknown", title="Case not known", kind=ErrorKind.NOT_FOUND):
    """No case with this id is known (yet) to the payment service."""


class CaseAlreadyClosed(
    PaymentDomainError, code="case-closed", title="Case is closed", kind=ErrorKind.CONFLICT
):
    """The case is closed: no new arrangements on it."""


class PaymentUnknown(PaymentDomainError, code="not-found", title="Not found", kind=ErrorKind.NOT_FOUND):
    """No payment with this id on the case."""


class PaymentAlreadyReversed(
    PaymentDomainError,
    code="payment-already-reversed",
    title="Payment already reversed",
    kind=ErrorKind.CONFLICT,
):
    """A payment is reversed at most once."""


class InvalidPaymentPlan(
    PaymentDomainError, code="invalid-payment-plan", title="Payment plan refused", kind=ErrorKind.INVALID
):
    """The proposed schedule breaks a plan rule (sum, dates, term, amounts)."""


class ActivePlanExists(
    PaymentDomainError,
    code="active-plan-exists",
    title="The case already has an active plan",
    kind=ErrorKind.CONFLICT,
):
    """A case has at most one active repayment plan."""


class InvalidSettlement(
    PaymentDomainError, code="invalid-settlement", title="Settlement refused", kind=ErrorKind.INVALID
):
    """The proposed settlement breaks a settlement rule (amount, deadline)."""


class ActiveSettlementExists(
    PaymentDomainError,
    code="active-settlement-exists",
    title="The case already has an open settlement",
    kind=ErrorKind.CONFLICT,
):
    """A case has at most one open settlement offer."""


class InvalidFinancialStatement(
    PaymentDomainError,
    code="invalid-financial-statement",
    title="Financial statement refused",
    kind=ErrorKind.INVALID,
):
    """An income and expenditure statement that cannot be recorded (currency, dates, no income lines)."""


class SupervisorApprovalRequired(
    PaymentDomainError,
    code="supervisor-approval-required",
    title="Supervisor approval required",
    kind=ErrorKind.FORBIDDEN,
):
    """The arrangement's discount or term is above what a collector may agree alone, or asks more than
    the debtor's income and expenditure statement leaves (or there is none where one is required)."""
