"""The contact service's commands: what a route or a consumed event asks it to do.

Each is handled by one function in `handlers.COMMAND_HANDLERS`. A command carries plain values only;
`principal` is the caller the case-access rule is checked for (on the case read again under the
debtor's lock).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from contact_service.application.ports import MessageRecord, PermitRecord
from contact_service.domain.contacts import PermitStanding
from contact_service.domain.errors import ContactRefused, PermitExpired, PermitUsed
from contact_service.domain.staff import StaffEntry
from dcp_compliance import Decision, ProposedContact
from dcp_events.catalogue.base import EventPayload, Money
from dcp_events.catalogue.contacts import (
    ContactWindow,
    DeliveryStatus,
    ValidationNoticeSent,
    VerificationSent,
)
from dcp_events.catalogue.enums import Channel, ContactOutcome
from dcp_events.catalogue.integration import ContactReported
from dcp_platform.auth import CaseAccess, Principal

# --- the gate ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckContact:
    """A dry run: the decision the gate would take now; nothing is recorded or published."""

    principal: Principal
    case_id: str
    proposed: ProposedContact


@dataclass(frozen=True)
class RecordAttempt:
    """Gate and record one attempt: `ContactAttempted` when allowed, `ContactBlocked` when refused.
    Idempotent by `attempt_id`: a repeat answers the first decision and records nothing."""

    principal: Principal
    case_id: str
    proposed: ProposedContact
    attempt_id: str
    outcome: ContactOutcome
    duration_seconds: int


@dataclass(frozen=True)
class AttemptAnswer:
    """What `RecordAttempt` answers. A refusal is recorded and committed like an allowed attempt; the
    caller raises it (`raise_if_refused`) once the bus has returned, so the 409 never rolls it back."""

    attempt_id: str
    decision: Decision
    created: bool  # False: the attempt id was recorded before; this is the first answer again

    def raise_if_refused(self) -> None:
        if not self.decision.allowed:
            raise ContactRefused(self.decision, self.attempt_id)


@dataclass(frozen=True)
class IssuePermit:
    """Decide `proposed` under the debtor's lock and, when allowed, issue a signed single-use permit
    that reserves the contact's place in every cap and cool-down (`ContactPermitIssued`); when refused,
    `ContactBlocked` (with the permit id as its attempt id). Idempotent by `permit_id`."""

    principal: Principal
    case_id: str
    proposed: ProposedContact
    permit_id: str


@dataclass(frozen=True)
class PermitAnswer:
    permit: PermitRecord | None  # None: refused
    decision: Decision
    created: bool
    permit_id: str = ""  # the refusal's id too (the ContactBlocked's attempt id)

    def raise_if_refused(self) -> None:
        if self.permit is None:
            raise ContactRefused(self.decision, self.permit_id or None)


@dataclass(frozen=True)
class RecordPermitOutcome:
    """The outcome of the contact made on a permit (`ContactAttempted` with the permit id). On a permit
    already used or expired the contact is still recorded (it took place, and counts), and the answer
    says the permit was spent. Idempotent by `attempt_id`."""

    principal: Principal | None  # None: a channel reporting on its own permit (no caller to check)
    permit_id: str
    attempt_id: str
    outcome: ContactOutcome
    duration_seconds: int = 0
    recording_ref: str | None = None


@dataclass(frozen=True)
class OutcomeAnswer:
    attempt_id: str
    permit_id: str
    standing: PermitStanding
    created: bool
    contacted_at: datetime

    def raise_if_spent(self) -> None:
        if self.standing is PermitStanding.USED:
            raise PermitUsed(self.permit_id, self.attempt_id)
        if self.standing is PermitStanding.EXPIRED:
            raise PermitExpired(self.permit_id, self.attempt_id)


@dataclass(frozen=True)
class ExpirePermit:
    """A permit's expiry timer fired: an unused permit releases its reservation (`ContactPermitExpired`)."""

    permit_id: str


@dataclass(frozen=True)
class RecordReportedContact:
    """A contact another system made and reported on integration.contacts: recorded as a fact (it counts
    in the gate's history from now on), with its source; the gate's decision on it is for the audit."""

    case_id: str
    report: ContactReported


@dataclass(frozen=True)
class RecordMessage:
    """A message handed to its channel (or its delivery reported since): the message row, and on a
    status report `MessageDeliveryReported` on the case's contact stream."""

    message: MessageRecord
    report: DeliveryStatus | None = None
    outcome: RecordPermitOutcome | None = None  # at hand-over: the contact recorded on its permit
    # a validation notice (what it told the debtor) or the verification of a dispute
    notice: ValidationNoticeSent | VerificationSent | None = None


# --- promises and debtor requests -------------------------------------------------------------------


@dataclass(frozen=True)
class MakePromise:
    """A promise to pay (`PromiseMade`); answers the new promise id."""

    principal: Principal
    case_id: str
    amount: Money
    due_on: date
    channel: Channel
    attempt_id: str | None = None
    collector_id: str | None = None


DebtorRequestKind = Literal[
    "dispute",
    "cease_communication",
    "channel_opt_out",
    "preferred_contact_times",
    "workplace_contact_prohibited",
    "agreed_contact_person",
]

DEBT_REQUESTS: frozenset[str] = frozenset({"dispute", "cease_communication"})
"""The requests about one debt (recorded on that case); the others concern the debtor (recorded on
each of the debtor's open cases)."""


@dataclass(frozen=True)
class FindDispute:
    """A dispute of the case, as recorded on its contact stream (DisputeNotFound: none with this id)."""

    principal: Principal
    case_id: str
    dispute_id: str | None = None  # None: the answer is every dispute of the case
    access: CaseAccess = CaseAccess.ACT


@dataclass(frozen=True)
class RecordDebtorRequest:
    """A debtor's request; answers the ids of the cases it was recorded on."""

    principal: Principal
    case_id: str
    kind: DebtorRequestKind
    received_via: Channel
    reason: str | None = None
    channel: Channel | None = None
    contact_point: str | None = None
    windows: tuple[ContactWindow, ...] | None = None
    preferred_channel: Channel | None = None
    disputed_amount: Money | None = None
    relation: str | None = None

    @property
    def whole_debtor(self) -> bool:
        return self.kind not in DEBT_REQUESTS


# --- consumed events --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FoldCaseEvent:
    """An event of collections.cases about `case_id`, recorded at `at`: `CaseOpened` makes the case
    known; the others change its facts, status, balance, assignee or treatment (or nothing)."""

    case_id: str
    payload: EventPayload
    at: datetime


@dataclass(frozen=True)
class FoldCaseEvents:
    """A consumed batch of collections.cases events, in offset order, folded together."""

    events: Sequence[FoldCaseEvent]


@dataclass(frozen=True)
class RecordPromiseOutcome:
    """payment-service settled a promise: it was kept or broken (the worklist ranks broken ones first)."""

    promise_id: str
    status: Literal["kept", "broken"]


@dataclass(frozen=True)
class RecordStaffMember:
    """case-service's staff directory changed (`StaffMemberChanged`): who may contact whom, from now."""

    entry: StaffEntry
