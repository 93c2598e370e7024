"""Domain errors, each named for the rule it guards; the platform renders them as problem+json."""

from __future__ import annotations

from typing import Any

from dcp_compliance import Decision
from dcp_platform.errors import DomainError, ErrorKind


class ContactRefused(
    DomainError,
    code="contact-refused",
    title="Contact refused by the compliance gate",
    kind=ErrorKind.CONFLICT,
):
    """The compliance gate refused the contact (the refusal is recorded as `ContactBlocked`)."""

    def __init__(self, decision: Decision, attempt_id: str | None = None) -> None:
        super().__init__(f"{decision.rule_id}: {decision.reason}")
        self.decision = decision
        self.attempt_id = attempt_id

    def problem_members(self) -> dict[str, Any]:
        d = self.decision
        return {
            "attempt_id": self.attempt_id,
            "rule_id": d.rule_id,
            "citation": d.citation,
            "reason": d.reason,
            "next_allowed_at": d.next_allowed_at,
            "rule_pack_id": d.pack_id,
            "rule_pack_version": d.pack_version,
            "time_zone": d.time_zone,
            "time_zone_source": d.time_zone_source,
        }


class PermitExpired(
    DomainError,
    code="permit-expired",
    title="The contact permit has expired",
    kind=ErrorKind.CONFLICT,
):
    """An outcome arrived after its permit expired: the contact is recorded (it took place) and is a
    finding of the audit; the caller learns the permit no longer covered it."""

    def __init__(self, permit_id: str, attempt_id: str) -> None:
        super().__init__(f"permit {permit_id} had expired; the contact is recorded as {attempt_id}")
        self.permit_id = permit_id
        self.attempt_id = attempt_id

    def problem_members(self) -> dict[str, Any]:
        return {"permit_id": self.permit_id, "attempt_id": self.attempt_id, "recorded": True}


class PermitUsed(
    DomainError,
    code="permit-used",
    title="The contact permit was used before",
    kind=ErrorKind.CONFLICT,
):
    """A second contact on a single-use permit: recorded (it took place) and a finding of the audit."""

    def __init__(self, permit_id: str, attempt_id: str) -> None:
        super().__init__(f"permit {permit_id} was used before; the contact is recorded as {attempt_id}")
        self.permit_id = permit_id
        self.attempt_id = attempt_id

    def problem_members(self) -> dict[str, Any]:
        return {"permit_id": self.permit_id, "attempt_id": self.attempt_id, "recorded": True}


class AttemptIdTaken(
    DomainError, code="id-taken", title="The id names another contact", kind=ErrorKind.CONFLICT
):
    """An idempotency key (attempt or permit id) already recorded for a different contact or case."""


class PermitUnknown(DomainError, LookupError, code="not-found", title="Not found", kind=ErrorKind.NOT_FOUND):
    """No permit of that id was issued."""


class InvalidMessage(DomainError, code="invalid-message", title="Invalid message", kind=ErrorKind.INVALID):
    """A message that cannot be sent as asked: no contact point for the channel, no address, no template."""


class NothingToPrint(
    DomainError, code="nothing-to-print", title="No letter to print", kind=ErrorKind.CONFLICT
):
    """A print file was asked for with no letter waiting."""


class ChannelUnavailable(
    DomainError,
    code="channel-unavailable",
    title="The channel could not take the message",
    kind=ErrorKind.UNAVAILABLE,
):
    """The SMTP server, SMS gateway or letter store refused or could not be reached; nothing was sent and
    the permit is left to expire."""


class PromiseRefused(
    DomainError,
    code="promise-refused",
    title="Promise refused by the compliance rules",
    kind=ErrorKind.CONFLICT,
):
    """A promise to pay the rules do not allow (during a hold, or due outside the horizon)."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(f"{decision.rule_id}: {decision.reason}")
        self.decision = decision

    def problem_members(self) -> dict[str, Any]:
        d = self.decision
        return {
            "rule_id": d.rule_id,
            "citation": d.citation,
            "reason": d.reason,
            "rule_pack_id": d.pack_id,
            "rule_pack_version": d.pack_version,
        }


class InvalidPromise(
    DomainError, code="invalid-promise", title="Invalid promise to pay", kind=ErrorKind.INVALID
):
    """A promise that can never be valid: not positive, or not in the case currency."""


class CaseUnknown(DomainError, LookupError, code="not-found", title="Not found", kind=ErrorKind.NOT_FOUND):
    """No `CaseOpened` for the case has reached this service."""


class CaseNotAssigned(
    DomainError, PermissionError, code="forbidden", title="Forbidden", kind=ErrorKind.FORBIDDEN
):
    """A collector acts only on the cases assigned to them (or to their agency or team)."""


class DisputeNotFound(
    DomainError, code="dispute-not-found", title="No such dispute", kind=ErrorKind.NOT_FOUND
):
    """No dispute with this id on the case."""


class DisputeAlreadyVerified(
    DomainError,
    code="dispute-already-verified",
    title="The dispute was verified before",
    kind=ErrorKind.CONFLICT,
):
    """Verification of this dispute was sent before; it is sent once."""
