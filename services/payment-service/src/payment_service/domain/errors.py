"""Domain errors of the payment side of a case, each named for the rule it guards."""

from __future__ import annotations

from typing import Any

from dcp_platform.errors import DomainError, ErrorKind


class PaymentDomainError(DomainError):
    """A command the payment rules refuse."""

    code = "payment-rule"
    title = "Refused by a payment rule"
    kind = ErrorKind.INVALID


class PaymentReferenceConflict(PaymentDomainError):
    """The external reference was already used for a payment with another amount, currency or case."""

    code = "payment-reference-conflict"
    title = "External reference already used"
    kind = ErrorKind.CONFLICT

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


class CurrencyMismatch(PaymentDomainError):
    """Money in a currency other than the case's."""

    code = "currency-mismatch"
    title = "Currency differs from the case's"
    kind = ErrorKind.INVALID

    def __init__(self, given: str, case_currency: str) -> None:
        super().__init__(f"the case is in {case_currency}; {given} is refused")
        self.given = given
        self.case_currency = case_currency

    def problem_members(self) -> dict[str, Any]:
        return {"currency": self.given, "case_currency": self.case_currency}


class ReceivedInTheFuture(PaymentDomainError):
    """A payment cannot have been received after now."""

    code = "received-in-the-future"
    title = "Time in the future"
    kind = ErrorKind.INVALID


class CaseUnknown(PaymentDomainError):
    """No case with this id is known (yet) to the payment service."""

    code = "case-unknown"
    title = "Case not known"
    kind = ErrorKind.NOT_FOUND


class CaseAlreadyClosed(PaymentDomainError):
    """The case is closed: no new arrangements on it."""

    code = "case-closed"
    title = "Case is closed"
    kind = ErrorKind.CONFLICT


class PaymentUnknown(PaymentDomainError):
    """No payment with this id on the case."""

    code = "not-found"
    title = "Not found"
    kind = ErrorKind.NOT_FOUND


class PaymentAlreadyReversed(PaymentDomainError):
    """A payment is reversed at most once."""

    code = "payment-already-reversed"
    title = "Payment already reversed"
    kind = ErrorKind.CONFLICT


class InvalidPaymentPlan(PaymentDomainError):
    """The proposed schedule breaks a plan rule (sum, dates, term, amounts)."""

    code = "invalid-payment-plan"
    title = "Payment plan refused"
    kind = ErrorKind.INVALID


class ActivePlanExists(PaymentDomainError):
    """A case has at most one active repayment plan."""

    code = "active-plan-exists"
    title = "The case already has an active plan"
    kind = ErrorKind.CONFLICT


class InvalidSettlement(PaymentDomainError):
    """The proposed settlement breaks a settlement rule (amount, deadline)."""

    code = "invalid-settlement"
    title = "Settlement refused"
    kind = ErrorKind.INVALID


class ActiveSettlementExists(PaymentDomainError):
    """A case has at most one open settlement offer."""

    code = "active-settlement-exists"
    title = "The case already has an open settlement"
    kind = ErrorKind.CONFLICT


class SupervisorApprovalRequired(PaymentDomainError):
    """The arrangement's discount or term is above what a collector may agree alone."""

    code = "supervisor-approval-required"
    title = "Supervisor approval required"
    kind = ErrorKind.FORBIDDEN
