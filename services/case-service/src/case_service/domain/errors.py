"""Domain errors of the case aggregate, each named for the rule it guards (problem+json in api/)."""

from __future__ import annotations

from typing import Any

from dcp_platform.errors import DomainError, ErrorKind


class CaseRuleViolation(DomainError):
    """A command the case's rules refuse. `code` is the stable suffix of the problem type URI."""

    code = "case-rule-violation"
    title = "CaseRuleViolation"

    def __init_subclass__(cls, **problem: Any) -> None:
        super().__init_subclass__(**problem)
        cls.title = cls.__name__  # the problem title names the rule

    def previous_code(self) -> str:
        # Before one scheme for all services, the case service published `.../case/<code>`.
        return f"case/{self.code}"


class CaseClosedError(CaseRuleViolation, code="case-closed"):
    """The case is closed (or was never opened): it takes no more commands."""


class StageTransitionNotAllowed(CaseRuleViolation, code="stage-transition-not-allowed"):
    """Stages move forward by escalation only; back only by cure."""


class EscalationBlockedByHold(CaseRuleViolation, code="escalation-blocked-by-hold"):
    """A dispute, moratorium, bankruptcy, deceased or debt-advice hold pauses escalation."""


class CurrencyMismatch(CaseRuleViolation, code="currency-mismatch", kind=ErrorKind.INVALID):
    """Money in another currency than the case's."""


class ChargesFrozen(CaseRuleViolation, code="charges-frozen"):
    """A hold freezes interest and charges (GB breathing space, a bankruptcy stay): no increase."""

    def __init__(self, message: str, *, rule_id: str, citation: str | None, hold_type: str) -> None:
        super().__init__(message)
        self.rule_id, self.citation, self.hold_type = rule_id, citation, hold_type

    def problem_members(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "citation": self.citation, "hold_type": self.hold_type}


class HoldNotFound(CaseRuleViolation, code="hold-not-found", kind=ErrorKind.NOT_FOUND):
    """No hold with this id on the case."""


class HoldConflict(CaseRuleViolation, code="hold-conflict"):
    """The same hold id was used for a different hold type, or the expiry is not in the future."""


class VerificationRequired(CaseRuleViolation, code="verification-required"):
    """A verification_pending hold (a timely written dispute, US Regulation F 1006.38(d)(2)) ends only
    when verification of the dispute is sent, never by a person's release."""


class TimeBarredDebt(CaseRuleViolation, code="time-barred"):
    """A time-barred debt is never referred to legal nor sued on (12 CFR 1006.26(b); CONC 7.15.4R)."""


class LegalConflict(CaseRuleViolation, code="legal-conflict"):
    """The legal matter cannot take this step now: out of order, or another matter is open."""


class LegalNotFound(CaseRuleViolation, code="legal-matter-not-found", kind=ErrorKind.NOT_FOUND):
    """No legal matter (or referral request) with this id on the case."""


class NoteNotFound(CaseRuleViolation, code="note-not-found", kind=ErrorKind.NOT_FOUND):
    """No note with this id on the case (to supersede)."""


class NoteConflict(CaseRuleViolation, code="note-conflict"):
    """The note id names another note, or the note to supersede was superseded already."""


class VulnerabilityNotFound(CaseRuleViolation, code="vulnerability-not-found", kind=ErrorKind.NOT_FOUND):
    """No active vulnerability flag with this id on the case."""


class VulnerabilityConflict(CaseRuleViolation, code="vulnerability-conflict"):
    """The flag id names another flag, or the review date is missing or not in the future."""


class VulnerabilityDetailsNeedConsent(
    CaseRuleViolation, code="vulnerability-details-need-consent", kind=ErrorKind.INVALID
):
    """A vulnerability's sub-type or description was given without the debtor's consent to record it."""


class CloseNotAllowed(CaseRuleViolation, code="close-not-allowed"):
    """The close reason does not fit the case (paid in full above zero, settled without a settlement)."""


class InvalidPlacement(CaseRuleViolation, code="invalid-placement", kind=ErrorKind.INVALID):
    """The placement cannot open a case (not past due, inconsistent amounts)."""


class AssigneeNotQualified(CaseRuleViolation, code="assignee-not-qualified"):
    """The assignee is not qualified for the case's jurisdiction and language."""


class AssigneeAtCapacity(CaseRuleViolation, code="assignee-at-capacity"):
    """The assignee has no room for another open case."""


class NoQualifiedAssignee(CaseRuleViolation, code="no-qualified-assignee"):
    """Nobody qualified has room for the case."""


class NotWithAgency(CaseRuleViolation, code="not-with-agency"):
    """A recall needs the case to be placed with an agency."""


class ErasureNotAllowed(CaseRuleViolation, code="erasure-not-allowed"):
    """The case is open: its personal data is still needed to collect the debt (a lawful basis that
    outweighs erasure). Close or recall the case first."""

    title = "Personal data cannot be erased while the case is open"


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


class PolicyVersionRefused(DomainError):
    """A policy version command the lifecycle refuses. `code` is the stable suffix of the problem type."""

    code = "policy-version-refused"
    title = "PolicyVersionRefused"

    def __init_subclass__(cls, **problem: Any) -> None:
        super().__init_subclass__(**problem)
        cls.title = cls.__name__


class UnknownPolicy(PolicyVersionRefused, code="unknown-policy", kind=ErrorKind.NOT_FOUND):
    """No policy of that name, or no such version of it."""


class InvalidPolicyDocument(PolicyVersionRefused, code="invalid-policy-document", kind=ErrorKind.INVALID):
    """The document fails the policy's JSON Schema or its rules (the detail says where)."""


class FourEyesRequired(PolicyVersionRefused, code="four-eyes-required"):
    """A rule pack is activated only once approved, and its author cannot approve it."""


class PolicyVersionConflict(PolicyVersionRefused, code="policy-version-conflict"):
    """The version is already in force, or was written from a version that is no longer the newest."""
