"""Domain errors, each named for the rule it guards; the API maps them to problem+json."""

from __future__ import annotations

from dcp_compliance import Decision


class ContactRefused(Exception):
    """The compliance gate refused the contact (the refusal is recorded as `ContactBlocked`)."""

    def __init__(self, decision: Decision, attempt_id: str | None = None) -> None:
        super().__init__(f"{decision.rule_id}: {decision.reason}")
        self.decision = decision
        self.attempt_id = attempt_id


class PromiseRefused(Exception):
    """A promise to pay the rules do not allow (during a hold, or due outside the horizon)."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(f"{decision.rule_id}: {decision.reason}")
        self.decision = decision


class InvalidPromise(Exception):
    """A promise that can never be valid: not positive, or not in the case currency."""


class CaseUnknown(LookupError):
    """No `CaseOpened` for the case has reached this service."""


class CaseNotAssigned(PermissionError):
    """A collector acts only on the cases assigned to them (or to their agency or team)."""
