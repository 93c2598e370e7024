"""The case service's commands: what a route, a consumed event, a timer or an import asks it to do.

Each is handled by one function in `handlers.COMMAND_HANDLERS`. A command carries plain values only;
`expected_version` (the client's If-Match) refuses the command when the case moved on since it read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from case_service.domain.assignment import AssignmentPolicy, StaffMember
from dcp_events.catalogue.base import CaseAmounts, Money
from dcp_events.catalogue.debtor import Account, Debtor, EmailAddress, PhoneNumber, PostalAddress
from dcp_events.catalogue.enums import CloseReason, HoldType, Stage
from dcp_events.catalogue.integration import case_id_for_account


@dataclass(frozen=True)
class Placement:
    """A delinquent account placed for collection (REST, the placements topic, or an import row)."""

    debtor: Debtor
    account: Account
    amounts: CaseAmounts
    due_since: date
    jurisdiction: str
    risk_score: int | None = None
    placement_id: str | None = None

    @property
    def case_id(self) -> str:
        """The same creditor and account reference always make the same case."""
        return case_id_for_account(self.account.creditor_id, self.account.account_reference)


@dataclass(frozen=True)
class OpenCase:
    placement: Placement


@dataclass(frozen=True)
class OpenCases:
    """A chunk of a bulk import: open every placement not placed yet, in one transaction."""

    placements: list[tuple[int, Placement]]  # (row number, placement)


@dataclass(frozen=True)
class UpdatePlacement:
    case_id: str
    placement_id: str | None
    amounts: CaseAmounts | None
    days_past_due: int | None
    phones: list[PhoneNumber] | None
    emails: list[EmailAddress] | None
    address: PostalAddress | None


@dataclass(frozen=True)
class RecallPlacement:
    case_id: str
    reason: str | None


@dataclass(frozen=True)
class AssignCase:
    case_id: str
    policy: AssignmentPolicy
    team: str | None = None
    assignee_id: str | None = None
    reason: str | None = None
    expected_version: int | None = None


@dataclass(frozen=True)
class UpsertStaffMember:
    """A collector or agency joins the staff directory, or changes (capacity, team, qualifications)."""

    member: StaffMember


@dataclass(frozen=True)
class ChangeStage:
    case_id: str
    to_stage: Stage
    reason: str
    expected_version: int | None = None


@dataclass(frozen=True)
class PlaceHold:
    case_id: str
    hold_id: str
    hold_type: HoldType
    reason: str | None
    expires_at: datetime | None
    evidence_ref: str | None = None
    expected_version: int | None = None


@dataclass(frozen=True)
class HoldForDebtorRequest:
    """A dispute or cease request from the contact service: a hold, unless the case is closed."""

    case_id: str
    hold_id: str
    hold_type: HoldType
    reason: str
    at: datetime


@dataclass(frozen=True)
class ReleaseHold:
    case_id: str
    hold_id: str
    reason: str
    expected_version: int | None = None


@dataclass(frozen=True)
class ExpireHold:
    case_id: str
    hold_id: str


@dataclass(frozen=True)
class CloseCase:
    case_id: str
    reason: CloseReason
    note: str | None
    expected_version: int | None = None


@dataclass(frozen=True)
class ApplyPayment:
    case_id: str
    payment_id: str
    amount: Money


@dataclass(frozen=True)
class ReversePayment:
    case_id: str
    payment_id: str
    amount: Money


@dataclass(frozen=True)
class RecordSettlement:
    case_id: str
    settlement_id: str
    amount: Money
    due_on: date


@dataclass(frozen=True)
class LapseSettlement:
    case_id: str
    settlement_id: str


@dataclass(frozen=True)
class PaySettlement:
    case_id: str
    settlement_id: str
    amount: Money
    due_on: date


@dataclass(frozen=True)
class AgeCases:
    """The daily ageing run (a batch of cases; the handler schedules the rest)."""

    batch: int = 500


@dataclass(frozen=True)
class RecordPromiseMade:
    promise_id: str
    case_id: str
    collector_id: str | None
    at: datetime


@dataclass(frozen=True)
class RecordPromiseSettled:
    promise_id: str
    case_id: str
    status: str  # kept | broken
    at: datetime


@dataclass(frozen=True)
class RecordContactActivity:
    event_id: str
    case_id: str
    collector_id: str
    kinds: tuple[str, ...] = field(default=("attempt",))
    at: datetime | None = None


@dataclass
class ImportProgress:
    rows_read: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    bytes_read: int = 0


@dataclass(frozen=True)
class CreateImport:
    import_id: str
    fmt: str
    filename: str | None
    actor: str | None
    bytes_total: int | None


@dataclass(frozen=True)
class SetImportStatus:
    import_id: str
    status: str  # running | completed | failed
    error: str | None = None


@dataclass(frozen=True)
class ImportChunk:
    """Rows of an import file (row number, parsed row or why it could not be read) and the
    progress before them."""

    import_id: str
    rows: list[tuple[int, dict[str, Any] | str]]
    progress: ImportProgress
    bytes_read: int
