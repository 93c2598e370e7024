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

from contact_service.domain.errors import ContactRefused
from dcp_compliance import Decision, ProposedContact
from dcp_events.catalogue.base import EventPayload, Money
from dcp_events.catalogue.contacts import ContactWindow
from dcp_events.catalogue.enums import Channel, ContactOutcome
from dcp_platform.auth import Principal

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
