"""The contact side of one case, rebuilt from its events: every attempt the gate decided (allowed or
blocked), every promise made, every debtor request recorded.

The gate's decision itself is `dcp_compliance`'s (pure); this aggregate records what was decided and
refuses nothing a decision did not: an attempt id is recorded once, whatever its verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from dcp_events.catalogue import contacts as events
from dcp_events.catalogue.base import Money
from dcp_events.catalogue.enums import Channel, ContactOutcome
from dcp_platform.eventsourcing.aggregate import Aggregate, applies

DEBTOR_REQUESTS = (
    events.DisputeRaised,
    events.CeaseRequested,
    events.ChannelOptedOut,
    events.ContactPreferencesSet,
    events.WorkplaceContactProhibited,
    events.ContactPersonAgreed,
)


@dataclass(frozen=True)
class RecordedAttempt:
    attempt_id: str
    allowed: bool
    channel: Channel
    outcome: ContactOutcome | None
    rule_id: str | None


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

    def make_promise(self, event: events.PromiseMade, at: datetime) -> None:
        self._record(event, at)

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

    @applies(events.ContactBlocked)
    def _blocked(self, event: events.ContactBlocked, _at: datetime | None) -> None:
        self.attempts[event.attempt_id] = RecordedAttempt(
            event.attempt_id, False, event.channel, None, event.rule_id
        )

    @applies(events.PromiseMade)
    def _promised(self, event: events.PromiseMade, _at: datetime | None) -> None:
        self.promises[event.promise_id] = RecordedPromise(event.promise_id, event.amount, event.due_on)

    @applies(*DEBTOR_REQUESTS)
    def _requested(self, event: events.ContactEvent, _at: datetime | None) -> None:
        self.requests.append(event.type_name())
