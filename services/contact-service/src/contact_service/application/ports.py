"""What the contact service's handlers and queries need besides the domain: the read models (the case
facts folded from collections.cases, the contact history with the gate's decisions, the promises),
one unit of work per command (those read models and the case contact streams in one transaction,
with the per-debtor lock), and the environment every handler may read (the clock).

Two implementations: PostgreSQL (`adapters/unit_of_work.py`) and, for the fast application tests,
memory (`adapters/memory.py`), both passing `adapters/unit_of_work_contract.py`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contact_service.domain.contacts import CaseContacts
from contact_service.domain.fx import FxTable, packaged_table
from contact_service.domain.staff import StaffEntry
from dcp_compliance import CaseFacts, ContactHistoryEntry, ContactPurpose, Decision
from dcp_compliance.permits import PermitSigner
from dcp_events import CloudEvent
from dcp_events.catalogue.building import parse_data
from dcp_events.catalogue.enums import Channel, ContactOutcome, ContactParty
from dcp_events.catalogue.policies import PolicyActivated
from dcp_platform.application import CommandBus
from dcp_platform.clock import Clock
from dcp_platform.eventsourcing.repository import EventStorePort, Repository
from dcp_platform.eventsourcing.timer_ports import TimerPort
from dcp_platform.scoring import PropensityModel

SOURCE = "/contact-service"


def contacts_repository(store: EventStorePort, clock: Clock) -> Repository[CaseContacts]:
    """Case contact streams in `store` (their events carry the case's jurisdiction, from the read model)."""
    return Repository(store, CaseContacts, source=SOURCE, clock=clock)


def _dev_signer() -> PermitSigner:
    return PermitSigner(Ed25519PrivateKey.generate())


@dataclass
class Scoring:
    """The `propensity-model` version in force (None: the rule-based order), switched as its
    PolicyActivated arrives on collections.policies."""

    model: PropensityModel | None = None
    version: str = "1"

    def follow(self, event: CloudEvent) -> None:
        if not event.type.startswith("collections.policy.activated."):
            return
        payload = parse_data(event)
        if isinstance(payload, PolicyActivated) and payload.name == "propensity-model":
            self.model = PropensityModel.from_document(json.loads(payload.document), payload.decision_version)
            self.version = payload.decision_version


@dataclass(frozen=True)
class ContactEnvironment:
    """The clock, the exchange rates of the worklist, and how permits are made: the signing key, how
    long a contact may start after its permit (`permit_ttl`) and how long its outcome may take after
    that (`permit_grace`). The rule packs are bundled data, read through `dcp_compliance.load_pack`."""

    clock: Clock
    fx: FxTable = field(default_factory=packaged_table)
    signer: PermitSigner = field(default_factory=_dev_signer)
    permit_ttl: timedelta = timedelta(minutes=15)
    permit_grace: timedelta = timedelta(minutes=15)
    scoring: Scoring = field(default_factory=Scoring)

    def now(self) -> datetime:
        return self.clock.now()


@dataclass(frozen=True)
class CaseRow:
    """A case as this service knows it: the facts the gate decides on, folded from collections.cases,
    and what worklists and case access read (assignee, balance, risk score, treatment)."""

    case_id: str
    debtor_id: str
    jurisdiction: str
    status: str
    assignee_kind: str | None
    assignee_id: str | None
    currency: str
    balance_minor: int
    risk_score: int | None
    strategy_assigned_at: datetime | None
    treatment: list[dict[str, Any]]
    facts: CaseFacts
    creditor_id: str | None = None  # whose case it is (creditor isolation)
    profile: dict[str, Any] = field(default_factory=dict)
    """What messages and letters say: full_name, language, address (lines), account_reference, product,
    placed_on, and the itemization since placement (amount, interest, fees, payments, credits)."""


ContactRow = dict[str, Any]
"""A row of the contact history by column name (`attempt_id`, `case_id`, `debtor_id`, `at`, `decision`
(allow or deny), `channel`, `party`, `purpose`, `outcome`, `collector_id`, `agency_id`,
`contact_point`, `duration_seconds`, `recording_ref`, `rule_id`, `citation`, `reason`,
`next_allowed_at`, `pack_id`, `pack_version`; enums as their values)."""


@dataclass(frozen=True)
class ContactRecord:
    """One attempt as the contacts read model keeps it: what the gate decided, and the outcome."""

    attempt_id: str
    case_id: str
    debtor_id: str
    at: datetime
    decision: Decision
    channel: Channel
    party: ContactParty
    purpose: ContactPurpose
    outcome: ContactOutcome | None
    collector_id: str | None
    agency_id: str | None
    contact_point: str | None
    duration_seconds: int | None
    recording_ref: str | None
    permit_id: str | None = None
    source: str | None = None  # the system that reported it (integration.contacts); None: the platform

    def row(self) -> dict[str, Any]:
        """The row of the `contacts` table."""
        d = self.decision
        return {
            "attempt_id": self.attempt_id,
            "case_id": self.case_id,
            "debtor_id": self.debtor_id,
            "at": self.at,
            "decision": d.verdict.value,
            "channel": self.channel.value,
            "party": self.party.value,
            "purpose": self.purpose.value,
            "outcome": self.outcome.value if self.outcome is not None else None,
            "collector_id": self.collector_id,
            "agency_id": self.agency_id,
            "contact_point": self.contact_point,
            "duration_seconds": self.duration_seconds,
            "recording_ref": self.recording_ref,
            "rule_id": d.rule_id,
            "citation": d.citation,
            "reason": d.reason,
            "next_allowed_at": d.next_allowed_at,
            "pack_id": d.pack_id,
            "pack_version": d.pack_version,
            "permit_id": self.permit_id,
            "source": self.source,
        }


@dataclass(frozen=True)
class PermitRecord:
    """A contact permit as the `contact_permits` read model keeps it; while `issued`, the gate counts
    it as a contact made at `issued_at` (its reservation)."""

    permit_id: str
    case_id: str
    debtor_id: str
    issued_at: datetime
    not_after: datetime
    expires_at: datetime
    channel: Channel
    party: ContactParty
    purpose: ContactPurpose
    collector_id: str | None
    agency_id: str | None
    contact_point: str | None
    contact_point_sha256: str | None
    pack_id: str
    pack_version: str
    key_id: str
    signature: str
    status: str = "issued"
    attempt_id: str | None = None
    used_at: datetime | None = None

    def row(self) -> dict[str, Any]:
        row = dict(self.__dict__)
        row.update(channel=self.channel.value, party=self.party.value, purpose=self.purpose.value)
        return row


@dataclass(frozen=True)
class MessageRecord:
    """A message handed to a channel (e-mail, SMS, letter) and what the channel reported since."""

    attempt_id: str
    permit_id: str | None
    case_id: str
    channel: Channel
    template: str | None
    provider_reference: str | None
    content_sha256: str | None
    status: str
    detail: str | None
    sent_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class PromiseRecord:
    """A promise to pay as the promises read model keeps it (open until payment-service settles it)."""

    promise_id: str
    case_id: str
    amount_minor: int
    currency: str
    due_on: date
    made_at: datetime
    collector_id: str | None


class ContactReads(Protocol):
    """The read models, as the dry-run check, contact options, worklists and history read them (no lock)."""

    async def case(self, case_id: str) -> CaseRow | None: ...

    async def staff_member(self, staff_id: str) -> StaffEntry | None:
        """A collector or agency as the staff directory last said (None: not in it)."""
        ...

    async def cases_assigned_to(self, kinds_ids: Sequence[tuple[str, str]]) -> list[CaseRow]:
        """The open cases assigned to any of the (assignee kind, id) pairs."""
        ...

    async def history(
        self, debtor_id: str, since: datetime, third_party_point: str | None = None
    ) -> list[ContactHistoryEntry]:
        """The debtor's allowed contacts since `since` (and every earlier one with the third party asked),
        with the debtor's live permits as contacts made when they were issued (their reservations)."""
        ...

    async def find_contact(self, attempt_id: str) -> ContactRow | None: ...

    async def find_permit(self, permit_id: str) -> PermitRecord | None: ...

    async def cases_reached_at(self, contact_point: str) -> list[CaseRow]:
        """The open cases whose debtor has `contact_point` (a number or address replying to us)."""
        ...

    async def messages_of_case(self, case_id: str) -> list[MessageRecord]:
        """Newest first."""
        ...

    async def find_message(self, channel: Channel, provider_reference: str) -> MessageRecord | None: ...

    async def find_message_of_attempt(self, attempt_id: str) -> MessageRecord | None: ...

    async def message_counts(self) -> dict[tuple[str, str], int]:
        """(channel, status) -> how many messages."""
        ...

    async def contacts_of_case(self, case_id: str, limit: int) -> list[ContactRow]:
        """Newest first (then by attempt id), refusals included."""
        ...

    async def recent_contacts_of_case(self, case_id: str, since: datetime) -> list[tuple[datetime, Channel]]:
        """When and on which channel the case's allowed contacts since `since` took place."""
        ...

    async def promises_of_case(self, case_id: str) -> list[tuple[date, str]]:
        """(due on, status) of every promise on the case."""
        ...


class ContactUnitOfWork(TimerPort, ContactReads, Protocol):
    """Everything one command touches, in one transaction: the reads above, the case contact streams,
    the writes to the read models, and the per-debtor lock."""

    contacts: Repository[CaseContacts]
    tx: Any

    async def record_staff_member(self, entry: StaffEntry, at: datetime) -> None:
        """Keep the directory's latest entry for the person."""
        ...

    async def case(self, case_id: str, *, for_update: bool = False) -> CaseRow | None: ...

    async def lock_debtor(self, debtor_id: str) -> None:
        """Serialise every gate decision and record about one debtor until the transaction ends."""
        ...

    async def lock_debtors(self, debtor_ids: Sequence[str]) -> None:
        """`lock_debtor` of each of them, in one go and in a fixed order."""
        ...

    async def cases(self, case_ids: Sequence[str], *, for_update: bool = False) -> dict[str, CaseRow]:
        """The known cases among `case_ids`, by id."""
        ...

    async def save_cases(self, new: Sequence[CaseRow], changed: Sequence[CaseRow]) -> None:
        """Insert the `new` cases (one already known is left as it is) and write the `changed` ones whole."""
        ...

    async def open_cases_of_debtor(self, debtor_id: str) -> list[str]:
        """The ids of the debtor's open cases, in id order."""
        ...

    async def insert_case(
        self, facts: CaseFacts, currency: str, balance_minor: int, risk_score: int | None
    ) -> None:
        """A case just opened (a repeat of a known case changes nothing)."""
        ...

    async def update_case(self, case_id: str, changes: Mapping[str, Any]) -> None:
        """Set `CaseRow` fields of the case (`facts` as CaseFacts, `treatment` as a list)."""
        ...

    async def record_contact(self, record: ContactRecord) -> None: ...

    async def insert_permit(self, record: PermitRecord) -> None: ...

    async def close_permit(
        self, permit_id: str, status: str, attempt_id: str | None = None, at: datetime | None = None
    ) -> None:
        """`used` (by `attempt_id`, at `at`) or `expired`: the permit no longer reserves anything."""
        ...

    async def park_report(self, attempt_id: str, case_id: str, report: dict[str, Any], at: datetime) -> None:
        """Keep a reported contact whose case is not known yet (a repeat changes nothing)."""
        ...

    async def take_parked_reports(self, case_ids: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
        """(case id, report) of the contacts parked for `case_ids`, in arrival order, removed."""
        ...

    async def record_message(self, record: MessageRecord) -> None:
        """Insert the message, or (same attempt id) replace it."""
        ...

    async def insert_promise(self, record: PromiseRecord) -> None: ...

    async def set_promise_status(self, promise_id: str, status: str) -> None:
        """`kept` or `broken` (an unknown promise changes nothing)."""
        ...

    async def erase_contact_points(self, case_id: str) -> None:
        """Remove the contact points (numbers, addresses) from the case's contact history (an erasure);
        the attempts themselves, their times, channels and the gate's decisions stay."""
        ...

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the unit of work's own transaction has committed (never if it rolls back);
        in a caller's transaction (a consumer's batch), when the handler returns."""
        ...


ReadModels = Callable[[], AbstractAsyncContextManager[ContactReads]]
"""`reading()`: the read models on a connection of their own, for the queries."""

ContactBus = CommandBus[ContactUnitOfWork, ContactEnvironment]
