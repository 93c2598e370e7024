"""The case service's commands: what a route, a consumed event, a timer or an import asks it to do.

Each is handled by one function in `handlers.COMMAND_HANDLERS`. A command carries plain values only;
`expected_version` (the client's If-Match) refuses the command when the case moved on since it read it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from case_service.domain.assignment import AssignmentPolicy, StaffMember
from dcp_compliance.limitation import RestartKind
from dcp_events.catalogue.base import CaseAmounts, DocumentReference, Money
from dcp_events.catalogue.cases import CaseLegalStepRecorded, VulnerabilityConsent
from dcp_events.catalogue.debtor import Account, Debtor, EmailAddress, PhoneNumber, PostalAddress
from dcp_events.catalogue.enums import (
    BalanceChangeReason,
    CloseReason,
    HoldType,
    LegalHandler,
    NoteAudience,
    NoteCategory,
    Stage,
    VulnerabilityReviewOutcome,
    VulnerabilityType,
)
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
    """A chunk of a bulk import, or a batch of placements consumed from Kafka: open every placement
    not placed yet, in one transaction."""

    placements: list[tuple[int, Placement]]  # (row number, placement)
    cause: Callable[[int], AbstractContextManager[object]] | None = None
    """The causal context (actor, correlation, causation) of row `number`'s events; None: the
    current one for every row."""


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
class CaseCommand:
    """A command on one case (the bases below share their fields; the table names the leaves)."""

    case_id: str


@dataclass(frozen=True)
class RecallPlacement(CaseCommand):
    """The creditor takes the account back: the case closes as recalled."""

    reason: str | None


@dataclass(frozen=True)
class AssignCase(CaseCommand):
    """Assign by a policy: round robin in a team, least loaded, agency, recall, or a named assignee."""

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
class ChangeStage(CaseCommand):
    """A supervisor moves the case to a later stage."""

    to_stage: Stage
    reason: str
    expected_version: int | None = None


@dataclass(frozen=True)
class HoldCommand(CaseCommand):
    hold_id: str


@dataclass(frozen=True)
class PlaceHold(HoldCommand):
    """A dispute, cease, moratorium, bankruptcy... hold, placed by a collector or supervisor."""

    hold_type: HoldType
    reason: str | None
    expires_at: datetime | None
    evidence_ref: str | None = None
    expected_version: int | None = None


@dataclass(frozen=True)
class AddNote:
    """A note on the case (`CaseNoteAdded`); `supersedes` names the earlier note it corrects."""

    case_id: str
    note_id: str
    category: NoteCategory
    text: str
    visible_to: tuple[NoteAudience, ...]
    author: str
    supersedes: str | None = None


@dataclass(frozen=True)
class ReferToLegal:
    """Refer the case to a solicitor or the in-house legal team; answers "referred", or "requested"
    when a collector refers a balance above the policy's threshold (a supervisor approves it)."""

    case_id: str
    referral_id: str
    handler: LegalHandler
    handler_id: str
    reason: str
    by: str
    supervisor: bool
    documents: tuple[DocumentReference, ...] = ()


@dataclass(frozen=True)
class ApproveLegalReferral:
    case_id: str
    referral_id: str
    by: str


@dataclass(frozen=True)
class RecordLegalStep:
    case_id: str
    step: CaseLegalStepRecorded


@dataclass(frozen=True)
class FlagVulnerability:
    """Flag the debtor vulnerable on the case (`CaseVulnerabilityFlagged`); without `review_on` the
    pack's review interval for the type decides it. The pack's rule for the type may refer the case to
    a specialist team (`CaseReferredToSpecialist`, `CaseAssigned`)."""

    case_id: str
    flag_id: str
    vulnerability_type: VulnerabilityType
    consent: VulnerabilityConsent
    recorded_by: str
    source: str
    sub_type: str | None = None
    description: str | None = None
    review_on: date | None = None


@dataclass(frozen=True)
class ReviewVulnerability:
    """Review a flag: continue (new review date), change (type or details), or remove."""

    case_id: str
    flag_id: str
    outcome: VulnerabilityReviewOutcome
    reviewed_by: str
    review_on: date | None = None
    vulnerability_type: VulnerabilityType | None = None
    sub_type: str | None = None
    description: str | None = None
    consent: VulnerabilityConsent | None = None
    reason: str | None = None


@dataclass(frozen=True)
class MarkVulnerabilityReviewDue:
    """A flag's review timer fired."""

    case_id: str
    flag_id: str


@dataclass(frozen=True)
class HoldForDebtorRequest(HoldCommand):
    """A dispute or cease request from the contact service: a hold, unless the case is closed."""

    hold_type: HoldType
    reason: str
    at: datetime


@dataclass(frozen=True)
class ReleaseHold(HoldCommand):
    """A supervisor lifts a hold."""

    reason: str
    expected_version: int | None = None


@dataclass(frozen=True)
class ReleaseHoldOnVerification(HoldCommand):
    """Verification of a dispute was sent: its verification_pending hold ends (nothing when the case
    has no such hold, or is closed: the verification is a fact either way)."""

    reason: str


class ExpireHold(HoldCommand):
    """A hold's expiry timer fired."""


@dataclass(frozen=True)
class AddCharge(CaseCommand):
    """Interest, a fee or legal costs added to the debt by the creditor (refused under a freeze)."""

    reason: BalanceChangeReason
    amount: Money
    reference: str | None
    expected_version: int | None = None


@dataclass(frozen=True)
class CloseCase(CaseCommand):
    """Close as paid in full, settled, written off or recalled (the rules say when each is allowed)."""

    reason: CloseReason
    note: str | None
    expected_version: int | None = None


@dataclass(frozen=True)
class EraseDebtor:
    """Erase the debtor's personal data on every closed case of theirs (the right to erasure, or the end
    of a retention period); open cases keep it (still needed to collect) and are named."""

    debtor_id: str
    trigger: Literal["request", "retention"]
    reason: str
    legal_basis: str
    case_ids: tuple[str, ...] = ()  # only these of the debtor's cases (a retention timer names its case)


@dataclass(frozen=True)
class EraseAfterRetention:
    """The durable retention timer of a closed case fired."""

    case_id: str
    years: int
    citation: str


@dataclass(frozen=True)
class ErasureOutcome:
    erased: list[str]
    already_erased: list[str]
    still_open: list[str]


@dataclass(frozen=True)
class PaymentOnCase(CaseCommand):
    payment_id: str
    amount: Money


@dataclass(frozen=True)
class ApplyPayment(PaymentOnCase):
    """The payment service applied a payment: the balance goes down by its amount; the day it was
    received (`paid_on`) restarts the limitation period where the law says so."""

    paid_on: date | None = None


class ReversePayment(PaymentOnCase):
    """An applied payment was reversed (chargeback, returned): the balance goes back up."""


@dataclass(frozen=True)
class SettlementOnCase(CaseCommand):
    settlement_id: str
    amount: Money
    due_on: date


class RecordSettlement(SettlementOnCase):
    """A settlement was agreed: the case may close as settled once it is paid."""


class PaySettlement(SettlementOnCase):
    """The settlement was paid in time: the case closes as settled."""


@dataclass(frozen=True)
class LapseSettlement(CaseCommand):
    """The settlement's deadline passed unpaid: the full balance is owed again."""

    settlement_id: str


@dataclass(frozen=True)
class AccrueInterest:
    """The monthly interest run (a batch of cases after `after`; the handler schedules the rest)."""

    after: str | None = None
    batch: int = 500


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
class RecordArrangement:
    """A plan agreed, completed or broken (payment-service), a promise made (contact-service), kept or
    broken (payment-service): it pauses or resumes the collection path."""

    case_id: str
    kind: str  # plan | promise
    arrangement_id: str
    status: str  # active | kept | completed | broken
    until: date | None = None


@dataclass(frozen=True)
class RecordPromiseSettled:
    promise_id: str
    case_id: str
    status: str  # kept | broken
    at: datetime


@dataclass(frozen=True)
class RestartLimitation(CaseCommand):
    """Something happened on the debt that may restart its limitation period (`kind`, e.g. a
    creditor's demand that reached the debtor); the case is dated again if its law counts it."""

    kind: RestartKind
    on: date


@dataclass(frozen=True)
class RecordContactActivity:
    event_id: str
    case_id: str
    collector_id: str
    kinds: tuple[str, ...] = field(default=("attempt",))
    at: datetime | None = None


@dataclass(frozen=True)
class RecordCaseSignal:
    """A harm on a case that the experiments' guards watch, reported by another service."""

    case_id: str
    kind: str
    at: datetime


@dataclass(frozen=True)
class RecordContactOutcome:
    """A contact attempt's channel and whether it reached the debtor: the history a propensity
    model learns from."""

    event_id: str
    case_id: str
    channel: str
    right_party: bool
    at: datetime


@dataclass(frozen=True)
class ReviewExperiments:
    """Read every running experiment's guards, stop a challenger worse beyond one, and move the open
    cases of stopped arms to the champion's strategy (`batch` at a time)."""

    batch: int = 200


@dataclass(frozen=True)
class ProposePolicyVersion:
    name: str
    document: Any
    reason: str
    author: str
    based_on: int | None = None  # the version it was written from (refused if a newer one exists)


@dataclass(frozen=True)
class TrainPropensityModel:
    """Train the propensity model on the outcome history and store it as a new version of the
    `propensity-model` policy (in force once activated, like any policy version)."""

    author: str
    reason: str
    horizon_days: int = 7
    seed: int = 7


@dataclass(frozen=True)
class ApprovePolicyVersion:
    name: str
    version: int
    approver: str
    note: str | None = None


@dataclass(frozen=True)
class ActivatePolicyVersion:
    name: str
    version: int
    activated_by: str
    reason: str
    simulation_id: str | None = None


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
    creditors: frozenset[str] | None = None  # whose accounts the importer may place (None: any)
