"""Domain errors of the case aggregate, each named for the rule it guards (problem+json in api/)."""

from __future__ import annotations

from typing import ClassVar

from dcp_platform.errors import DomainError, ErrorKind


class CaseRuleViolation(DomainError):
    """A command the case's rules refuse. `code` is the stable suffix of the problem type URI."""

    code = "case-rule-violation"
    title = "CaseRuleViolation"

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls.title = cls.__name__  # the problem title names the rule

    def previous_code(self) -> str:
        # Before one scheme for all services, the case service published `.../case/<code>`.
        return f"case/{self.code}"


class CaseClosedError(CaseRuleViolation):
    code = "case-closed"


class StageTransitionNotAllowed(CaseRuleViolation):
    code = "stage-transition-not-allowed"


class EscalationBlockedByHold(CaseRuleViolation):
    code = "escalation-blocked-by-hold"


class NegativeBalance(CaseRuleViolation):
    code = "negative-balance"


class CurrencyMismatch(CaseRuleViolation):
    code = "currency-mismatch"
    kind: ClassVar[ErrorKind] = ErrorKind.INVALID


class HoldNotFound(CaseRuleViolation):
    code = "hold-not-found"
    kind: ClassVar[ErrorKind] = ErrorKind.NOT_FOUND


class HoldConflict(CaseRuleViolation):
    """The same hold id was used for a different hold type, or the expiry is not in the future."""

    code = "hold-conflict"


class CloseNotAllowed(CaseRuleViolation):
    code = "close-not-allowed"


class InvalidPlacement(CaseRuleViolation):
    code = "invalid-placement"
    kind: ClassVar[ErrorKind] = ErrorKind.INVALID


class AssigneeNotQualified(CaseRuleViolation):
    code = "assignee-not-qualified"


class AssigneeAtCapacity(CaseRuleViolation):
    code = "assignee-at-capacity"


class NoQualifiedAssignee(CaseRuleViolation):
    code = "no-qualified-assignee"


class NotWithAgency(CaseRuleViolation):
    code = "not-with-agency"


class CaseNotFound(DomainError, LookupError):
    """No case with this id was ever opened here."""

    code = "not-found"
    title = "Not found"
    kind = ErrorKind.NOT_FOUND

    def __init__(self, case_id: str) -> None:
        super().__init__(f"no case {case_id}")
        self.case_id = case_id


class PolicyError(ValueError):
    """The strategy / bucket configuration file is not valid."""
