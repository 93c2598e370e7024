"""Domain errors of the payment side of a case, each named for the rule it guards."""

from __future__ import annotations


class PaymentDomainError(Exception):
    """A command the payment rules refuse."""


class PaymentReferenceConflict(PaymentDomainError):
    """The external reference was already used for a payment with another amount, currency or case."""

    def __init__(self, external_reference: str, existing_payment_id: str, difference: str) -> None:
        super().__init__(
            f"external reference {external_reference!r} already identifies payment {existing_payment_id} "
            f"with a different {difference}"
        )
        self.external_reference = external_reference
        self.existing_payment_id = existing_payment_id


class CurrencyMismatch(PaymentDomainError):
    """Money in a currency other than the case's."""

    def __init__(self, given: str, case_currency: str) -> None:
        super().__init__(f"the case is in {case_currency}; {given} is refused")
        self.given = given
        self.case_currency = case_currency


class ReceivedInTheFuture(PaymentDomainError):
    """A payment cannot have been received after now."""


class CaseUnknown(PaymentDomainError):
    """No case with this id is known (yet) to the payment service."""


class CaseAlreadyClosed(PaymentDomainError):
    """The case is closed: no new arrangements on it."""


class PaymentUnknown(PaymentDomainError):
    """No payment with this id on the case."""


class PaymentAlreadyReversed(PaymentDomainError):
    """A payment is reversed at most once."""


class InvalidPaymentPlan(PaymentDomainError):
    """The proposed schedule breaks a plan rule (sum, dates, term, amounts)."""


class ActivePlanExists(PaymentDomainError):
    """A case has at most one active repayment plan."""


class InvalidSettlement(PaymentDomainError):
    """The proposed settlement breaks a settlement rule (amount, deadline)."""


class ActiveSettlementExists(PaymentDomainError):
    """A case has at most one open settlement offer."""


class SupervisorApprovalRequired(PaymentDomainError):
    """The arrangement's discount or term is above what a collector may agree alone."""
