"""The contact side of one case, rebuilt from its events: every attempt the gate decided (allowed or
blocked), every promise made, every debtor request recorded.

The gate's decision itself is `dcp_compliance`'s (pure); this aggregate records what was decided and
refuses nothing a decision did not: an attempt id is recorded once, whatever its verdict. It keeps the
case's contact permits (issued, used by an attempt, expired) and says whether an outcome arriving now
finds its permit open; an outcome on a spent permit is still recorded (the contact took place).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum

from dcp_events.catalogue import contacts as events
from dcp_events.catalogue.base import Money
from dcp_events.catalogue.enums import Channel, ContactOutcome, HoldType
from dcp_platform.eventsourcing.aggregate import Aggregate, applies

DEBTOR_REQUESTS = (
    events.CeaseRequested,
    events.ChannelOptedOut,
    events.ContactPreferencesSet,
    events.WorkplaceContactProhibited,
    events.ContactPersonAgreed,
)


@dataclass(frozen=True)
class RecordedDispute:
    """A dispute of this debt, how its pack classified it, and the verification sent for it."""

    dispute_id: str
    received_via: Channel
    reason: str
    raised_at: datetime | None
    hold_type: HoldType | None
    within_validation_period: bool | None
    validation_period_end: date | None
    rule_id: str | None
    verification_attempt_id: str | None = None
    verified_at: datetime | None = None

    @property
    def status(self) -> str:
        """verified (verification sent), verification_pending (collection stops until it is) or open."""
        if self.verified_at is not None:
            return "verified"
        if self.hold_type is HoldType.VERIFICATION_PENDING:
            return "verification_pending"
        return "open"


@dataclass(frozen=True)
class CaseDisputes:
    validation_period_end: date | None
    disputes: list[RecordedDispute]


@dataclass(frozen=True)
class RecordedAttempt:
    attempt_id: str
    allowed: bool
    channel: Channel
    outcome: ContactOutcome | None
    rule_id: str | None


class PermitStanding(StrEnum):
    """What an outcome recorded on a permit finds: the permit still open, or spent."""

    OPEN = "open"  # issued, not used, before its expiry: the outcome uses it
    USED = "used"  # an outcome was recorded on it before (under another attempt id)
    EXPIRED = "expired"  # its expiry passed (or its timer fired) before the outcome came
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Permit:
    permit_id: str
    channel: Channel
    expires_at: datetime
    status: str = "issued"  # issued | used | expired
    attempt_id: str | None = None


@dataclass(frozen=True)
class RecordedPromise:
    promise_id: str
    amount: Money
    due_on: date


@dataclass
class CaseContacts(Aggregate[events.ContactEvent]):
    """The stream of a case's contact events (stream id: the case id)."""

    case_id: str
    attempts: dict[str, RecordedAttempt] = field(default_factory=dict)
    promises: dict[str, RecordedPromise] = field(default_factory=dict)
    permits: dict[str, Permit] = field(default_factory=dict)
    deliveries: set[tuple[str, str]] = field(default_factory=set)  # (attempt id, status) reported
    validation_period_end: date | None = None  # of the last validation notice sent
    disputes: dict[str, RecordedDispute] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)  # event types of the debtor requests, in order
    last_contact_at: datetime | None = None

    @property
    def aggregate_id(self) -> str:
        return self.case_id

    @classmethod
    def new(cls, aggregate_id: str) -> CaseContacts:
        return cls(aggregate_id)

    # --- commands -----------------------------------------------------------------------------

    def record_attempt(self, event: events.ContactAttempted | events.ContactBlocked, at: datetime) -> bool:
        """Record the gate's decision on one attempt; False when that attempt id is already recorded."""
        if event.attempt_id in self.attempts:
            return False
        self._record(event, at)
        return True

    def issue_permit(self, event: events.ContactPermitIssued, at: datetime) -> None:
        if event.permit_id in self.permits:
            raise ValueError(f"permit {event.permit_id} is already issued")
        self._record(event, at)

    def permit_standing(self, permit_id: str, now: datetime) -> PermitStanding:
        """Whether an outcome recorded now may use the permit."""
        permit = self.permits.get(permit_id)
        if permit is None:
            return PermitStanding.UNKNOWN
        if permit.status == "used":
            return PermitStanding.USED
        if permit.status == "expired" or now > permit.expires_at:
            return PermitStanding.EXPIRED
        return PermitStanding.OPEN

    def expire_permit(self, permit_id: str, debtor_id: str, at: datetime) -> bool:
        """Release an unused permit's reservation (`ContactPermitExpired`); False when it was used or
        expired before."""
        permit = self.permits.get(permit_id)
        if permit is None or permit.status != "issued":
            return False
        self._record(
            events.ContactPermitExpired(permit_id=permit_id, channel=permit.channel, debtor_id=debtor_id), at
        )
        return True

    def record_delivery(self, event: events.MessageDeliveryReported, at: datetime) -> bool:
        """A channel's report on a message; False when that status of that message is known already."""
        key = (event.attempt_id, event.status.value)
        if key in self.deliveries:
            return False
        self._record(event, at)
        return True

    def make_promise(self, event: events.PromiseMade, at: datetime) -> None:
        self._record(event, at)

    def raise_dispute(self, event: events.DisputeRaised, at: datetime) -> None:
        if event.dispute_id in self.disputes:
            raise ValueError(f"dispute {event.dispute_id} is already recorded")
        self._record(event, at)

    def send_verification(self, event: events.VerificationSent, at: datetime) -> bool:
        """Record the verification of a dispute; False when one was recorded for it before."""
        dispute = self.disputes.get(event.dispute_id)
        if dispute is None:
            raise KeyError(event.dispute_id)
        if dispute.verified_at is not None:
            return False
        self._record(event, at)
        return True

    def record_request(self, event: events.ContactEvent, at: datetime) -> None:
        if not isinstance(event, DEBTOR_REQUESTS):
            raise TypeError(f"{type(event).__name__} is not a debtor request")
        self._record(event, at)

    # --- mutators -----------------------------------------------------------------------------

    @applies(events.ContactAttempted)
    def _attempted(self, event: events.ContactAttempted, at: datetime | None) -> None:
        self.attempts[event.attempt_id] = RecordedAttempt(
            event.attempt_id, True, event.channel, event.outcome, None
        )
        self.last_contact_at = at or self.last_contact_at
        permit = self.permits.get(event.permit_id or "")
        if permit is not None and permit.status == "issued":
            self.permits[permit.permit_id] = replace(permit, status="used", attempt_id=event.attempt_id)

    @applies(events.ContactPermitIssued)
    def _permitted(self, event: events.ContactPermitIssued, _at: datetime | None) -> None:
        self.permits[event.permit_id] = Permit(event.permit_id, event.channel, event.expires_at)

    @applies(events.ContactPermitExpired)
    def _permit_expired(self, event: events.ContactPermitExpired, _at: datetime | None) -> None:
        permit = self.permits.get(event.permit_id)
        if permit is not None and permit.status == "issued":
            self.permits[event.permit_id] = replace(permit, status="expired")

    @applies(events.ContactBlocked)
    def _blocked(self, event: events.ContactBlocked, _at: datetime | None) -> None:
        self.attempts[event.attempt_id] = RecordedAttempt(
            event.attempt_id, False, event.channel, None, event.rule_id
        )

    def record_validation_notice(self, event: events.ValidationNoticeSent, at: datetime) -> None:
        self._record(event, at)

    @applies(events.ValidationNoticeSent)
    def _validation_notice(self, event: events.ValidationNoticeSent, _at: datetime | None) -> None:
        self.validation_period_end = event.validation_period_end

    @applies(events.MessageDeliveryReported)
    def _delivered(self, event: events.MessageDeliveryReported, _at: datetime | None) -> None:
        self.deliveries.add((event.attempt_id, event.status.value))

    @applies(events.PromiseMade)
    def _promised(self, event: events.PromiseMade, _at: datetime | None) -> None:
        self.promises[event.promise_id] = RecordedPromise(event.promise_id, event.amount, event.due_on)

    @applies(events.DisputeRaised)
    def _disputed(self, event: events.DisputeRaised, at: datetime | None) -> None:
        self.requests.append(event.type_name())
        self.disputes[event.dispute_id] = RecordedDispute(
            dispute_id=event.dispute_id,
            received_via=event.received_via,
            reason=event.reason,
            raised_at=at,
            hold_type=event.hold_type,
            within_validation_period=event.within_validation_period,
            validation_period_end=event.validation_period_end,
            rule_id=event.rule_id,
        )

    @applies(events.VerificationSent)
    def _verified(self, event: events.VerificationSent, at: datetime | None) -> None:
        dispute = self.disputes.get(event.dispute_id)
        if dispute is not None:
            self.disputes[event.dispute_id] = replace(
                dispute, verification_attempt_id=event.attempt_id, verified_at=at
            )

    @applies(*DEBTOR_REQUESTS)
    def _requested(self, event: events.ContactEvent, _at: datetime | None) -> None:
        self.requests.append(event.type_name())
