"""Domain errors of the case aggregate, each named for the rule it guards (problem+json in api/)."""

from __future__ import annotations


class CaseRuleViolation(Exception):
    """A command the case's rules refuse. `code` is the stable suffix of the problem type URI."""

    code = "case-rule-violation"


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


class HoldNotFound(CaseRuleViolation):
    code = "hold-not-found"


class HoldConflict(CaseRuleViolation):
    """The same hold id was used for a different hold type, or the expiry is not in the future."""

    code = "hold-conflict"


class CloseNotAllowed(CaseRuleViolation):
    code = "close-not-allowed"


class InvalidPlacement(CaseRuleViolation):
    code = "invalid-placement"


class AssigneeNotQualified(CaseRuleViolation):
    code = "assignee-not-qualified"


class AssigneeAtCapacity(CaseRuleViolation):
    code = "assignee-at-capacity"


class NoQualifiedAssignee(CaseRuleViolation):
    code = "no-qualified-assignee"


class NotWithAgency(CaseRuleViolation):
    code = "not-with-agency"


class PolicyError(ValueError):
    """The strategy / bucket configuration file is not valid."""
