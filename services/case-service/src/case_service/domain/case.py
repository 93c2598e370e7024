"""The Case aggregate: a delinquent account from placement to closure, rebuilt from its events.

Commands check the rules, then record catalogue events (`dcp_events.catalogue.cases`) which are
applied to the state; `pull_changes()` hands the new ones to the application to append. Nothing
here does I/O or reads a clock: "today" and "now" are arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Literal

from case_service.domain import errors, money
from case_service.domain.ageing import CURRENT, days_past_due, stage_rank
from case_service.domain.policy import CollectionPolicy
from case_service.domain.segmentation import SegmentationProfile
from dcp_compliance.limitation import LimitationBasis, RestartEvent, RestartKind, time_barred_at
from dcp_events.catalogue import cases as events
from dcp_events.catalogue.base import CaseAmounts, DocumentReference, Money, MoneyDelta
from dcp_events.catalogue.debtor import Account, Debtor, EmailAddress, PhoneNumber, PostalAddress
from dcp_events.catalogue.enums import (
    AssigneeKind,
    BalanceChangeReason,
    BalancePart,
    CloseReason,
    HoldType,
    LegalHandler,
    LegalStep,
    NoteAudience,
    NoteCategory,
    Stage,
    VulnerabilityReviewOutcome,
    VulnerabilityType,
)
from dcp_platform.eventsourcing.aggregate import Aggregate, applies

# Holds under which a case may not move to a harsher stage (collection of the debt is paused).
# Cease-communication, attorney and complaint holds stop contact, not escalation.
HOLDS_BLOCKING_ESCALATION: frozenset[HoldType] = frozenset(
    {
        HoldType.DISPUTE,
        HoldType.VERIFICATION_PENDING,
        HoldType.BREATHING_SPACE,
        HoldType.MENTAL_HEALTH_CRISIS,
        HoldType.BANKRUPTCY,
        HoldType.DECEASED,
        HoldType.DEBT_ADVICE,
    }
)


# A case closed as paid that owes again (its closing payment reversed) is open again; a written-off or
# recalled case stays closed and books what arrives (a recovery).
_CLOSED_AS_PAID: frozenset[CloseReason] = frozenset({CloseReason.PAID_IN_FULL, CloseReason.SETTLED})

_CHARGE_PARTS: dict[BalanceChangeReason, BalancePart] = {
    BalanceChangeReason.INTEREST: BalancePart.INTEREST,
    BalanceChangeReason.FEE: BalancePart.FEES,
    BalanceChangeReason.COSTS: BalancePart.COSTS,
}


@dataclass(frozen=True)
class Hold:
    hold_id: str
    hold_type: HoldType
    reason: str | None
    expires_at: datetime | None


@dataclass(frozen=True)
class Freeze:
    """The rule that freezes interest and charges on the case now (its hold under a moratorium)."""

    rule_id: str
    citation: str | None
    hold_type: HoldType


@dataclass(frozen=True)
class Arrangement:
    kind: str  # plan | promise
    arrangement_id: str
    until: date | None  # a promise's due date


@dataclass(frozen=True)
class Settlement:
    settlement_id: str
    amount: Money
    due_on: date


ERASED_NAME = "[erased]"


def erased_debtor(debtor: Debtor) -> Debtor:
    """What stays of a debtor after an erasure: the ids, language and time zone (no personal data)."""
    return debtor.model_copy(
        update={"full_name": ERASED_NAME, "national_id": None, "phones": [], "emails": [], "address": None}
    )


def redacted_payload(payload: dict[str, object]) -> dict[str, object] | None:
    """A stored event's data without the debtor's personal data (None: it holds none). A CaseOpened
    keeps an erased debtor; a CaseDebtorUpdated keeps empty contact lists (it stays a valid update); a
    note keeps its category, audience and author, not its text."""
    if isinstance(payload.get("note_text"), str) and payload["note_text"] != ERASED_NAME:
        return {**payload, "note_text": ERASED_NAME}
    details = {
        k: ERASED_NAME
        for k in VULNERABILITY_DETAILS
        if isinstance(payload.get(k), str) and payload[k] != ERASED_NAME
    }
    if details:
        return {**payload, **details}
    debtor = payload.get("debtor")
    if isinstance(debtor, dict):
        erased = Debtor.model_validate(debtor)
        return {**payload, "debtor": erased_debtor(erased).model_dump(mode="json")}
    if any(payload.get(k) for k in ("phones", "emails", "address")):
        return {**payload, "phones": [], "emails": [], "address": None}
    return None


VULNERABILITY_DETAILS = ("vulnerability_sub_type", "vulnerability_description")


@dataclass(frozen=True)
class VulnerabilityFlag:
    """An active vulnerability flag: its type always; its details only with the debtor's consent."""

    flag_id: str
    vulnerability_type: VulnerabilityType
    sub_type: str | None
    description: str | None
    consent: events.VulnerabilityConsent
    review_on: date
    recorded_by: str
    source: str
    flagged_at: datetime | None
    review_due: bool = False
    referred_to: str | None = None


@dataclass(frozen=True)
class Note:
    """A case note as written; a correction is a new note, this one stays (`superseded_by` set)."""

    note_id: str
    category: NoteCategory
    text: str
    visible_to: tuple[NoteAudience, ...]
    author: str
    supersedes: str | None
    written_at: datetime | None
    superseded_by: str | None = None


@dataclass
class LegalMatter:
    """The case's legal matter: the referral and the steps since (claim, hearings, judgment,
    enforcement), the costs they added and what was recovered since the referral."""

    referral_id: str
    handler: LegalHandler
    handler_id: str
    status: str  # requested | referred | claim_filed | judgment | enforcement | withdrawn
    requested_by: str | None = None
    referred_at: datetime | None = None
    referred_by: str | None = None
    approved_by: str | None = None
    claim_reference: str | None = None
    court: str | None = None
    hearings: list[date] = field(default_factory=list)
    judgment_on: date | None = None
    judgment_minor: int = 0
    enforcement: list[str] = field(default_factory=list)
    costs_minor: int = 0
    recovered_minor: int = 0

    @property
    def active(self) -> bool:
        return self.status not in ("requested", "withdrawn")


# The steps of a legal matter and the matter's status each needs before it.
_STEP_NEEDS: dict[LegalStep, frozenset[str]] = {
    LegalStep.CLAIM_FILED: frozenset({"referred"}),
    LegalStep.HEARING: frozenset({"claim_filed"}),
    LegalStep.JUDGMENT: frozenset({"claim_filed"}),
    LegalStep.ENFORCEMENT: frozenset({"judgment", "enforcement"}),
    LegalStep.WITHDRAWN: frozenset({"referred", "claim_filed"}),
}
_STEP_STATUS: dict[LegalStep, str | None] = {
    LegalStep.CLAIM_FILED: "claim_filed",
    LegalStep.HEARING: None,
    LegalStep.JUDGMENT: "judgment",
    LegalStep.ENFORCEMENT: "enforcement",
    LegalStep.WITHDRAWN: "withdrawn",
}


@dataclass
class Case(Aggregate[events.CaseEvent]):
    case_id: str
    status: str = "new"  # new -> open -> closed
    close_reason: CloseReason | None = None
    debtor: Debtor | None = None
    erased: bool = False  # the debtor's personal data was erased (only what is not personal stays)
    account: Account | None = None
    amounts_at_placement: CaseAmounts | None = None
    balance: Money | None = None
    jurisdiction: str = ""
    risk_score: int | None = None
    placement_id: str | None = None
    due_since: date | None = None
    bucket: str = CURRENT
    stage: Stage = Stage.EARLY
    holds: dict[str, Hold] = field(default_factory=dict)
    strategy: events.CaseStrategyAssigned | None = None
    assignee: events.Assignee | None = None
    settlement: Settlement | None = None
    arrangements: dict[str, Arrangement] = field(default_factory=dict)
    interest_through: date | None = None  # interest accrued up to this day (exclusive)
    parts: money.Parts | None = None
    applied_payments: dict[str, int] = field(default_factory=dict)  # payment id -> amount applied
    payment_allocations: dict[str, money.Allocation] = field(default_factory=dict)
    recovered_minor: int = 0
    recovered_after_write_off_minor: int = 0
    notes: dict[str, Note] = field(default_factory=dict)  # in the order written
    limitation: events.CaseLimitationDated | None = None
    limitation_restarts: tuple[RestartEvent, ...] = ()  # the restarts the recorded dates counted
    vulnerabilities: dict[str, VulnerabilityFlag] = field(default_factory=dict)  # active flags
    legal: LegalMatter | None = None

    @property
    def aggregate_id(self) -> str:
        return self.case_id

    @classmethod
    def new(cls, aggregate_id: str) -> Case:
        return cls(aggregate_id)

    # --- queries --------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def currency(self) -> str:
        assert self.balance is not None
        return self.balance.currency

    def days_past_due(self, today: date) -> int:
        return days_past_due(self.due_since, today)

    def time_barred_on(self, today: date) -> bool:
        """Whether the debt is time-barred on `today` by its jurisdiction's limitation rule."""
        barred_at = self.limitation.time_barred_at if self.limitation is not None else None
        return barred_at is not None and today >= barred_at

    def blocking_holds(self) -> list[Hold]:
        return [h for h in self.holds.values() if h.hold_type in HOLDS_BLOCKING_ESCALATION]

    def _require_open(self) -> None:
        if self.status == "new":
            raise errors.CaseClosedError(f"case {self.case_id} was never opened")
        if self.status == "closed":
            reason = self.close_reason.value if self.close_reason else "closed"
            raise errors.CaseClosedError(f"case {self.case_id} is closed ({reason})")

    # --- opening --------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        case_id: str,
        *,
        debtor: Debtor,
        account: Account,
        amounts: CaseAmounts,
        due_since: date,
        jurisdiction: str,
        risk_score: int | None,
        placement_id: str | None,
        today: date,
        policy: CollectionPolicy,
    ) -> Case:
        """A new case: opened, bucketed, given a strategy, escalated to the stage its DPD calls for."""
        if due_since > today:
            raise errors.InvalidPlacement(f"due_since {due_since} is in the future")
        if amounts.total_balance.amount_minor == 0:
            raise errors.InvalidPlacement("nothing is owed: the total balance is zero")
        parts = amounts.principal.amount_minor + amounts.interest.amount_minor + amounts.fees.amount_minor
        if parts != amounts.total_balance.amount_minor:
            raise errors.InvalidPlacement(
                f"principal + interest + fees ({parts}) differ from the total balance"
                f" ({amounts.total_balance.amount_minor})"
            )
        dpd = days_past_due(due_since, today)
        if dpd == 0:
            raise errors.InvalidPlacement("the account is not past due")
        case = cls(case_id)
        case._record(
            events.CaseOpened(
                debtor=debtor,
                account=account,
                amounts=amounts,
                days_past_due=dpd,
                due_since=due_since,
                jurisdiction=jurisdiction,
                risk_score=risk_score,
                placement_id=placement_id,
            )
        )
        case._record(
            events.CaseBucketChanged(
                from_bucket=None,
                to_bucket=policy.ageing.bucket_for(dpd),
                days_past_due=dpd,
                due_since=due_since,
                reason="placed for collection",
                policy_version=policy.version,
            )
        )
        case.date_limitation()
        case._segment(policy)
        case._escalate_by_dpd(today, policy)
        return case

    # --- limitation ---------------------------------------------------------------------------

    def limitation_basis(self, restart: RestartEvent | None = None) -> LimitationBasis:
        """When the debt becomes time-barred under its jurisdiction's limitation rule (with `restart`)."""
        address = self.debtor.address if self.debtor is not None else None
        restarts = (*self.limitation_restarts, *([restart] if restart is not None else []))
        return time_barred_at(
            self.jurisdiction,
            address.region if address is not None else None,
            self.account.product if self.account is not None else None,
            self.due_since,
            restarts,
        )

    def date_limitation(self, restart: RestartEvent | None = None) -> bool:
        """Record the debt's limitation date when it changes (on opening, a new date of default, an
        event the law counts as a restart); True when recorded. An event the law does not count
        changes nothing."""
        if self.status == "new" or self.erased:  # an erased debtor's address is gone: the date stays
            return False
        basis = self.limitation_basis(restart)
        current = self.limitation
        if current is not None and (current.time_barred_at, current.rule_id, current.extinguishes) == (
            basis.time_barred_at,
            basis.rule_id,
            basis.extinguishes,
        ):
            return False
        self._record(
            events.CaseLimitationDated(
                time_barred_at=basis.time_barred_at,
                rule_id=basis.rule_id,
                citation=basis.citation,
                starts_on=basis.starts_on,
                restart_kind=basis.restart.kind.value if basis.restart is not None else None,
                restart_on=basis.restart.on if basis.restart is not None else None,
                extinguishes=basis.extinguishes,
                reason=basis.reason[:2000],
            )
        )
        return True

    # --- ageing, segmentation, stages -------------------------------------------------------

    def age(self, today: date, policy: CollectionPolicy) -> None:
        """The daily recomputation: bucket (re-segmenting on change) and DPD-driven escalation."""
        if not self.is_open:
            return
        dpd = self.days_past_due(today)
        bucket = policy.ageing.bucket_for(dpd)
        if bucket != self.bucket:
            self._record(
                events.CaseBucketChanged(
                    from_bucket=self.bucket,
                    to_bucket=bucket,
                    days_past_due=dpd,
                    due_since=self.due_since,
                    reason="daily ageing",
                    policy_version=policy.version,
                )
            )
            self._segment(policy)
        self._escalate_by_dpd(today, policy)

    def redate(self, due_since: date | None, today: date, policy: CollectionPolicy, reason: str) -> None:
        """The creditor reports a new oldest due date (None: the account is current again: cured)."""
        self._require_open()
        if due_since is not None and due_since >= today:
            due_since = None
        dpd = days_past_due(due_since, today)
        bucket = policy.ageing.bucket_for(dpd)
        if due_since == self.due_since and bucket == self.bucket:
            return
        self._record(
            events.CaseBucketChanged(
                from_bucket=self.bucket,
                to_bucket=bucket,
                days_past_due=dpd,
                due_since=due_since,
                reason=reason,
                policy_version=policy.version,
            )
        )
        if due_since is not None:
            self.date_limitation()
        if bucket == CURRENT:
            if self.stage is not Stage.EARLY:
                self._record(
                    events.CaseStageChanged(
                        from_stage=self.stage,
                        to_stage=Stage.EARLY,
                        days_past_due=0,
                        reason="cured: account current",
                        policy_version=policy.version,
                    )
                )
            if self.balance is not None and self.balance.amount_minor == 0:
                self._close(CloseReason.PAID_IN_FULL, "cured with nothing left to pay")
                return
        self._segment(policy)
        self._escalate_by_dpd(today, policy)

    def reconsider_strategy(self, policy: CollectionPolicy) -> None:
        """Segment the open case again under `policy` (an experiment arm it was on has stopped): a
        different strategy or arm is assigned, the same one leaves it as it is."""
        self._require_known()
        if self.is_open:
            self._segment(policy)

    def _segment(self, policy: CollectionPolicy, *, again: bool = False) -> None:
        assert self.account is not None and self.balance is not None
        decision = policy.segmentation.decide(
            SegmentationProfile(
                case_id=self.case_id,
                bucket=self.bucket,
                balance_minor=self.balance.amount_minor,
                currency=self.balance.currency,
                product=self.account.product,
                jurisdiction=self.jurisdiction,
                risk_score=self.risk_score,
            )
        )
        current = self.strategy
        if (
            not again
            and current is not None
            and current.segment == decision.segment
            and current.strategy_id == decision.strategy.id
            and current.strategy_version == decision.strategy.version
            and current.experiment_arm == decision.arm
        ):
            return
        self._record(
            events.CaseStrategyAssigned(
                segment=decision.segment,
                strategy_id=decision.strategy.id,
                strategy_version=decision.strategy.version,
                experiment_id=decision.experiment_id,
                experiment_arm=decision.arm,
                ruleset_version=decision.ruleset_version,
                worklist_order=decision.strategy.worklist_order,
                treatment=[
                    events.TreatmentStep(day_offset=s.day_offset, channel=s.channel, template=s.template)
                    for s in decision.strategy.steps
                ],
            )
        )

    def pausing_arrangements(self, today: date, policy: CollectionPolicy) -> list[Arrangement]:
        """The active plans and promises not yet due that make the collection path wait."""
        return [
            a
            for a in self.arrangements.values()
            if a.kind in policy.pause_escalation_for and (a.until is None or a.until >= today)
        ]

    def _escalate_by_dpd(self, today: date, policy: CollectionPolicy) -> None:
        target = self._stage_due_by_dpd(today, policy)
        if target is not None:
            dpd = self.days_past_due(today)
            self._change_stage(target, dpd, f"{dpd} days past due", policy.version)

    def _stage_due_by_dpd(self, today: date, policy: CollectionPolicy) -> Stage | None:
        """The stage the daily ageing moves the case to today (None: it stays where it is)."""
        if not self.is_open or self.pausing_arrangements(today, policy):
            return None  # a plan being paid or a promise not yet due: the debtor is paying, escalation waits
        target = policy.ageing.stage_for(self.days_past_due(today))
        if stage_rank(target) <= stage_rank(self.stage) or self.blocking_holds():
            return None  # never automatically de-escalated; escalation waits for the hold's release
        return target

    def escalate(self, to_stage: Stage, today: date, reason: str) -> None:
        """A supervisor moves the case to a later stage."""
        self._require_open()
        if stage_rank(to_stage) <= stage_rank(self.stage):
            raise errors.StageTransitionNotAllowed(
                f"a case moves only forward ({self.stage.value} -> {to_stage.value} refused);"
                " it returns to early only when cured"
            )
        if blocking := self.blocking_holds():
            kinds = ", ".join(sorted(h.hold_type.value for h in blocking))
            raise errors.EscalationBlockedByHold(
                f"case {self.case_id} is under a hold that forbids escalation: {kinds}"
            )
        self._change_stage(to_stage, self.days_past_due(today), reason)

    def _change_stage(
        self, to_stage: Stage, dpd: int, reason: str, policy_version: int | None = None
    ) -> None:
        self._record(
            events.CaseStageChanged(
                from_stage=self.stage,
                to_stage=to_stage,
                days_past_due=dpd,
                reason=reason,
                policy_version=policy_version,
            )
        )
        if to_stage is Stage.WRITTEN_OFF:
            self._close(CloseReason.WRITTEN_OFF, reason)

    # --- interest ----------------------------------------------------------------------------

    def accrue_interest(
        self, through: date, annual_rate_bps: int, day_count: int, freeze: Freeze | None = None
    ) -> bool:
        """Accrue simple interest on the principal from the last accrual up to `through` (exclusive):
        `CaseInterestAccrued`, then the interest part grows. Under a freeze nothing is charged and
        the period is closed all the same (frozen interest is never charged later)."""
        if not self.is_open or self.interest_through is None or through <= self.interest_through:
            return False
        assert self.parts is not None
        days = (through - self.interest_through).days
        numerator = self.parts.principal * annual_rate_bps * days
        denominator = 10_000 * day_count
        amount, rest = divmod(numerator, denominator)
        if 2 * rest > denominator or (2 * rest == denominator and amount % 2):
            amount += 1  # half to even
        charged = 0 if freeze is not None else amount
        self._record(
            events.CaseInterestAccrued(
                period_from=self.interest_through,
                period_to=through,
                annual_rate_bps=annual_rate_bps,
                on_principal=Money(amount_minor=self.parts.principal, currency=self.currency),
                amount=Money(amount_minor=charged, currency=self.currency),
                frozen_by=freeze.rule_id if freeze is not None else None,
                citation=freeze.citation if freeze is not None else None,
            )
        )
        if charged:
            self._book(
                BalanceChangeReason.INTEREST,
                [(BalancePart.INTEREST, charged)],
                f"interest:{self.interest_through.isoformat()}:{through.isoformat()}",
            )
        return True

    # --- arrangements (plans and promises from payment-service and contact-service) ---------

    def arrangement_started(self, kind: str, arrangement_id: str, until: date | None) -> bool:
        """A plan agreed or a promise made: recorded once (a fact, also on a closed case)."""
        self._require_known()
        if arrangement_id in self.arrangements:
            return False
        self._record(
            events.CaseArrangementChanged(
                kind=kind, arrangement_id=arrangement_id, status="active", until=until
            )
        )
        return True

    def arrangement_ended(
        self, kind: str, arrangement_id: str, status: str, today: date, policy: CollectionPolicy
    ) -> bool:
        """A plan completed or broken, a promise kept or broken. A broken one resumes the collection
        path: the strategy is assigned again (its treatment restarts) and escalation catches up."""
        self._require_known()
        known = self.arrangements.get(arrangement_id)
        if known is None and status != "broken":
            return False
        until = known.until if known is not None else None
        self._record(
            events.CaseArrangementChanged(
                kind=kind, arrangement_id=arrangement_id, status=status, until=until
            )
        )
        if status == "broken" and self.is_open:
            self._segment(policy, again=True)
            self._escalate_by_dpd(today, policy)
        return True

    # --- holds ----------------------------------------------------------------------------

    def place_hold(
        self,
        hold_id: str,
        hold_type: HoldType,
        *,
        reason: str | None,
        expires_at: datetime | None,
        now: datetime,
        evidence_ref: str | None = None,
    ) -> bool:
        """Place a hold; placing the same hold again is a no-op (returns False)."""
        self._require_open()
        existing = self.holds.get(hold_id)
        if existing is not None:
            if existing.hold_type is not hold_type:
                raise errors.HoldConflict(
                    f"hold {hold_id} is a {existing.hold_type.value} hold, not {hold_type.value}"
                )
            return False
        if expires_at is not None and expires_at <= now:
            raise errors.HoldConflict(f"hold expiry {expires_at.isoformat()} is not in the future")
        self._record(
            events.CaseHoldPlaced(
                hold_id=hold_id,
                hold_type=hold_type,
                reason=reason,
                expires_at=expires_at,
                evidence_ref=evidence_ref,
            )
        )
        return True

    def add_note(
        self,
        note_id: str,
        category: NoteCategory,
        text: str,
        visible_to: Sequence[NoteAudience],
        author: str,
        supersedes: str | None = None,
    ) -> bool:
        """Write a note (on an open or a closed case); the same note again is a no-op (False). A note
        is never changed: `supersedes` names the earlier note this one corrects."""
        self._require_known()
        audience = tuple(dict.fromkeys(visible_to))
        existing = self.notes.get(note_id)
        if existing is not None:
            same = (existing.category, existing.text, existing.visible_to, existing.supersedes)
            if same != (category, text, audience, supersedes):
                raise errors.NoteConflict(f"note {note_id} is another note")
            return False
        if supersedes is not None:
            earlier = self.notes.get(supersedes)
            if earlier is None:
                raise errors.NoteNotFound(f"case {self.case_id} has no note {supersedes}")
            if earlier.superseded_by is not None:
                raise errors.NoteConflict(f"note {supersedes} was superseded by {earlier.superseded_by}")
        self._record(
            events.CaseNoteAdded(
                note_id=note_id,
                category=category,
                note_text=text,
                visible_to=list(audience),
                author=author,
                supersedes=supersedes,
            )
        )
        return True

    # --- the legal stage ----------------------------------------------------------------------

    def refer_to_legal(
        self,
        referral_id: str,
        handler: LegalHandler,
        handler_id: str,
        reason: str,
        *,
        by: str,
        supervisor: bool,
        threshold: Money | None,
        today: date,
        documents: Sequence[DocumentReference] = (),
    ) -> str:
        """Refer the case to a solicitor or the in-house legal team: "referred", or "requested" when a
        collector refers a balance above `threshold` (a supervisor approves it). Never a time-barred
        debt (Regulation F 1006.26(b); the limitation rule of the case's jurisdiction), never under a
        hold that pauses escalation; the case moves to the legal stage."""
        self._require_open()
        assert self.balance is not None
        current = self.legal
        if current is not None and current.referral_id == referral_id:
            return current.status if current.status == "requested" else "referred"
        if current is not None and current.status != "withdrawn":
            raise errors.LegalConflict(f"case {self.case_id} has legal matter {current.referral_id} already")
        self._require_referable(today)
        if not supervisor and threshold is not None and self.balance.amount_minor > threshold.amount_minor:
            self._record(
                events.CaseLegalReferralRequested(
                    referral_id=referral_id,
                    handler=handler,
                    handler_id=handler_id,
                    reason=reason,
                    requested_by=by,
                    balance=self.balance,
                    approval_threshold=threshold,
                )
            )
            return "requested"
        self._refer(
            referral_id, handler, handler_id, reason, by, by if supervisor else None, today, documents
        )
        return "referred"

    def approve_legal_referral(self, referral_id: str, *, by: str, today: date) -> None:
        """A supervisor approves a collector's referral request (checked again: time-bar and holds)."""
        self._require_open()
        current = self.legal
        if current is None or current.referral_id != referral_id:
            raise errors.LegalNotFound(f"case {self.case_id} has no legal referral {referral_id}")
        if current.status != "requested":
            raise errors.LegalConflict(f"referral {referral_id} is {current.status}, not awaiting approval")
        self._require_referable(today)
        requester = current.requested_by or by
        self._refer(
            referral_id, current.handler, current.handler_id, "approved referral", requester, by, today, ()
        )

    def _require_referable(self, today: date) -> None:
        if self.time_barred_on(today):
            basis = self.limitation
            why = f" ({basis.rule_id}: {basis.citation})" if basis is not None else ""
            raise errors.TimeBarredDebt(
                f"case {self.case_id} is time-barred{why}: no suit and no threat of suit (12 CFR 1006.26(b))"
            )
        if blocking := self.blocking_holds():
            kinds = ", ".join(sorted(h.hold_type.value for h in blocking))
            raise errors.EscalationBlockedByHold(
                f"case {self.case_id} is under a hold that forbids it: {kinds}"
            )

    def _refer(
        self,
        referral_id: str,
        handler: LegalHandler,
        handler_id: str,
        reason: str,
        by: str,
        approved_by: str | None,
        today: date,
        documents: Sequence[DocumentReference],
    ) -> None:
        assert self.balance is not None
        self._record(
            events.CaseLegalReferred(
                referral_id=referral_id,
                handler=handler,
                handler_id=handler_id,
                reason=reason,
                referred_by=by,
                approved_by=approved_by,
                balance=self.balance,
                documents=list(documents),
            )
        )
        if stage_rank(self.stage) < stage_rank(Stage.LEGAL):
            self._change_stage(Stage.LEGAL, self.days_past_due(today), f"referred to legal ({referral_id})")

    def record_legal_step(
        self, step: events.CaseLegalStepRecorded, today: date, freeze: Freeze | None = None
    ) -> None:
        """One step of the legal matter, in order (a claim before a hearing or judgment, a judgment
        before enforcement); its costs go to the costs part, judgment interest to interest."""
        self._require_open()
        current = self.legal
        if current is None or current.referral_id != step.referral_id:
            raise errors.LegalNotFound(f"case {self.case_id} has no legal matter {step.referral_id}")
        if current.status not in _STEP_NEEDS[step.step]:
            raise errors.LegalConflict(
                f"{step.step.value} cannot follow a matter that is {current.status} "
                f"(it needs: {', '.join(sorted(_STEP_NEEDS[step.step]))})"
            )
        if step.step is LegalStep.CLAIM_FILED and self.time_barred_on(today):
            raise errors.TimeBarredDebt(f"case {self.case_id} is time-barred: no claim may be filed")
        if step.step is LegalStep.JUDGMENT and step.judgment_amount is None:
            raise errors.LegalConflict("a judgment names the amount awarded")
        for amount in (step.costs, step.judgment_amount, step.judgment_interest):
            if amount is not None:
                self._check_money(amount)
        self._record(step)
        reference = f"legal:{step.referral_id}:{step.step.value}:{step.on.isoformat()}"
        if step.costs is not None and step.costs.amount_minor > 0:
            self.add_charge(BalanceChangeReason.COSTS, step.costs, reference, freeze)
        if step.judgment_interest is not None and step.judgment_interest.amount_minor > 0:
            self.add_charge(BalanceChangeReason.INTEREST, step.judgment_interest, reference, freeze)

    # --- vulnerability flags ------------------------------------------------------------------

    @staticmethod
    def _require_consent(
        consent: events.VulnerabilityConsent, sub_type: str | None, description: str | None
    ) -> None:
        # Refused rather than dropped: the collector learns at once that nothing of it was kept.
        if not consent.given and (sub_type or description):
            raise errors.VulnerabilityDetailsNeedConsent(
                "the details of a vulnerability are recorded only with the debtor's consent: "
                "give consent, or flag the type alone"
            )

    def flag_vulnerability(
        self,
        flag_id: str,
        vulnerability_type: VulnerabilityType,
        *,
        sub_type: str | None,
        description: str | None,
        consent: events.VulnerabilityConsent,
        review_on: date,
        recorded_by: str,
        source: str,
        today: date,
    ) -> bool:
        """Flag the debtor vulnerable; the same flag again is a no-op (False). Without consent only the
        type and the fact of the flag are recorded: details given without it are refused."""
        self._require_open()
        self._require_consent(consent, sub_type, description)
        existing = self.vulnerabilities.get(flag_id)
        if existing is not None:
            same = (existing.vulnerability_type, existing.sub_type, existing.description, existing.review_on)
            if same != (vulnerability_type, sub_type, description, review_on):
                raise errors.VulnerabilityConflict(f"flag {flag_id} is another flag")
            return False
        if review_on <= today:
            raise errors.VulnerabilityConflict(
                f"the review date {review_on.isoformat()} is not in the future"
            )
        self._record(
            events.CaseVulnerabilityFlagged(
                flag_id=flag_id,
                vulnerability_type=vulnerability_type,
                vulnerability_sub_type=sub_type,
                vulnerability_description=description,
                consent=consent,
                review_on=review_on,
                recorded_by=recorded_by,
                source=source,
            )
        )
        return True

    def review_vulnerability(
        self,
        flag_id: str,
        outcome: VulnerabilityReviewOutcome,
        *,
        reviewed_by: str,
        today: date,
        review_on: date | None = None,
        vulnerability_type: VulnerabilityType | None = None,
        sub_type: str | None = None,
        description: str | None = None,
        consent: events.VulnerabilityConsent | None = None,
        reason: str | None = None,
    ) -> None:
        """Review a flag: it continues to a new review date, changes (type or details, with a new
        review date), or is removed (its treatment ends)."""
        self._require_known()
        flag = self.vulnerabilities.get(flag_id)
        if flag is None:
            raise errors.VulnerabilityNotFound(
                f"case {self.case_id} has no active vulnerability flag {flag_id}"
            )
        if outcome is VulnerabilityReviewOutcome.REMOVE:
            self._record(
                events.CaseVulnerabilityRemoved(
                    flag_id=flag_id,
                    vulnerability_type=flag.vulnerability_type,
                    removed_by=reviewed_by,
                    reason=reason,
                )
            )
            return
        if review_on is None:
            raise errors.VulnerabilityConflict("a flag that continues or changes needs its next review date")
        if review_on <= today:
            raise errors.VulnerabilityConflict(
                f"the review date {review_on.isoformat()} is not in the future"
            )
        if outcome is VulnerabilityReviewOutcome.CONTINUE:
            # the same flag: type, details and consent as they are
            kind, sub, text, given = flag.vulnerability_type, flag.sub_type, flag.description, flag.consent
        else:
            given = consent if consent is not None else flag.consent
            self._require_consent(given, sub_type, description)
            kind = vulnerability_type or flag.vulnerability_type
            sub, text = sub_type, description
        self._record(
            events.CaseVulnerabilityReviewed(
                flag_id=flag_id,
                outcome=outcome,
                vulnerability_type=kind,
                vulnerability_sub_type=sub if given.given else None,
                vulnerability_description=text if given.given else None,
                consent=given,
                review_on=review_on,
                reviewed_by=reviewed_by,
            )
        )

    def mark_review_due(self, flag_id: str, today: date) -> bool:
        """The review date of an active flag passed without a review (False: reviewed, removed, or
        marked already, or the case is closed)."""
        flag = self.vulnerabilities.get(flag_id)
        if flag is None or flag.review_due or flag.review_on > today or not self.is_open:
            return False
        self._record(
            events.CaseVulnerabilityReviewDue(
                flag_id=flag_id, vulnerability_type=flag.vulnerability_type, review_on=flag.review_on
            )
        )
        return True

    def refer_to_specialist(self, flag_id: str, team: str, rule_id: str, pack_version: str) -> bool:
        """Refer the case to the specialist team a pack's rule names for the flag (and assign it to
        that team); False when it was referred already."""
        self._require_open()
        flag = self.vulnerabilities.get(flag_id)
        if flag is None or flag.referred_to == team:
            return False
        self._record(
            events.CaseReferredToSpecialist(
                flag_id=flag_id,
                vulnerability_type=flag.vulnerability_type,
                team=team,
                rule_id=rule_id,
                pack_version=pack_version,
            )
        )
        self.assign(
            AssigneeKind.TEAM,
            team,
            f"vulnerability flag {flag_id} ({flag.vulnerability_type.value}): {rule_id}",
            "vulnerability_referral",
        )
        return True

    def release_hold(
        self, hold_id: str, reason: str, today: date, policy: CollectionPolicy, *, verified: bool = False
    ) -> None:
        """Release a hold; escalation that waited for it catches up. A verification_pending hold ends
        only when verification is sent (`verified`): no person may resume collection before it."""
        self._require_open()
        hold = self.holds.get(hold_id)
        if hold is None:
            raise errors.HoldNotFound(f"case {self.case_id} has no active hold {hold_id}")
        if hold.hold_type is HoldType.VERIFICATION_PENDING and not verified:
            raise errors.VerificationRequired(
                f"hold {hold_id} ends when verification of the dispute is sent "
                "(POST /cases/{case_id}/disputes/{dispute_id}/verification on the contact service)"
            )
        self._record(events.CaseHoldReleased(hold_id=hold_id, hold_type=hold.hold_type, reason=reason))
        self._escalate_by_dpd(today, policy)

    # --- money ----------------------------------------------------------------------------
    #
    # Payments and reversals are facts: they are booked on an open or a closed case alike. An
    # over-payment leaves a credit (refund due); a reversal that makes a case paid in full or settled
    # owe again reopens it; a payment on a written-off case is a recovery and the case stays written off.

    def _require_known(self) -> None:
        if self.status == "new":
            raise errors.CaseClosedError(f"case {self.case_id} was never opened")

    @property
    def written_off(self) -> bool:
        return self.status == "closed" and self.close_reason is CloseReason.WRITTEN_OFF

    def _book(
        self,
        reason: BalanceChangeReason,
        allocation: money.Allocation,
        reference: str | None,
        *,
        waterfall: str | None = None,
    ) -> None:
        """Record a change of the parts (and reopen a case closed as paid that owes again); a payment
        that leaves a credit records the refund due; an open case that owes nothing closes."""
        assert self.parts is not None
        allocation = [(part, delta) for part, delta in allocation if delta]
        if not allocation:
            return
        after = self.parts.apply(allocation)
        owed = money.owed_delta(allocation)
        if (
            self.status == "closed"
            and self.close_reason in _CLOSED_AS_PAID
            and owed > 0
            and self.close_reason is not None
        ):
            self._record(
                events.CaseReopened(
                    previous_close_reason=self.close_reason,
                    reason=f"{reason.value} {reference or ''}: {owed} {self.currency} owed again".replace(
                        " :", ":"
                    ),
                    reference=reference,
                )
            )
        credit_before = self.parts.credit
        self._record(
            events.CaseBalanceChanged(
                reason=reason,
                change=MoneyDelta(delta_minor=owed, currency=self.currency),
                balance_after=after.balance,
                reference=reference,
                allocation=money.to_changes(allocation),
                parts_after=after.to_event(),
                waterfall=waterfall,
                written_off=self.written_off,
            )
        )
        if after.credit > credit_before:
            self._record(
                events.CaseRefundDue(
                    amount=Money(amount_minor=after.credit - credit_before, currency=self.currency),
                    credit_after=Money(amount_minor=after.credit, currency=self.currency),
                    reference=reference,
                )
            )
        if self.is_open and after.owed == 0 and owed < 0:
            if self.settlement is not None:
                self._close(CloseReason.SETTLED, f"settlement {self.settlement.settlement_id} paid")
            else:
                self._close(CloseReason.PAID_IN_FULL, "balance paid")

    def _check_money(self, amount: Money) -> None:
        if amount.currency != self.currency:
            raise errors.CurrencyMismatch(f"case {self.case_id} is in {self.currency}, not {amount.currency}")

    def add_charge(
        self, reason: BalanceChangeReason, amount: Money, reference: str | None, freeze: Freeze | None = None
    ) -> None:
        """Interest, a fee or legal costs added to what is owed (each into its own part); refused
        while a hold freezes charges (ChargesFrozen, with the rule and its citation)."""
        self._require_open()
        self._check_money(amount)
        part = _CHARGE_PARTS.get(reason)
        if part is None:
            raise ValueError(f"{reason.value} is not a charge")
        if freeze is not None:
            raise errors.ChargesFrozen(
                f"case {self.case_id} is under a {freeze.hold_type.value} hold: interest and charges are "
                f"frozen ({freeze.citation or freeze.rule_id})",
                rule_id=freeze.rule_id,
                citation=freeze.citation,
                hold_type=freeze.hold_type.value,
            )
        self._book(reason, [(part, amount.amount_minor)], reference)

    def _frozen(
        self, allocation: money.Allocation, reference: str | None, freeze: Freeze | None
    ) -> money.Allocation:
        """Under a freeze, the increases of a creditor's restatement are not applied but recorded for
        the auditor (CaseChargeFrozen); its decreases are applied."""
        if freeze is None:
            return allocation
        increase = sum(d for p, d in allocation if d > 0 and p is not BalancePart.CREDIT)
        if increase:
            self._record(
                events.CaseChargeFrozen(
                    reason=BalanceChangeReason.ADJUSTMENT,
                    amount=Money(amount_minor=increase, currency=self.currency),
                    hold_type=freeze.hold_type,
                    rule_id=freeze.rule_id,
                    citation=freeze.citation,
                    reference=reference,
                )
            )
        return [(p, d) for p, d in allocation if d < 0]

    def apply_payment(
        self,
        payment_id: str,
        amount: Money,
        waterfall: money.Waterfall = money.DEFAULT_WATERFALL,
        paid_on: date | None = None,
    ) -> bool:
        """Book a payment, split by `waterfall`, whatever the case's state; the same payment twice is
        a no-op (returns False). A currency other than the case's cannot be booked (CurrencyMismatch).
        A payment made on `paid_on` restarts the limitation period where the law says so."""
        self._require_known()
        self._check_money(amount)
        if payment_id in self.applied_payments:
            return False
        assert self.parts is not None
        self._book(
            BalanceChangeReason.PAYMENT,
            waterfall.pay(self.parts, amount.amount_minor),
            payment_id,
            waterfall=waterfall.name,
        )
        if paid_on is not None:
            self.date_limitation(RestartEvent(kind=RestartKind.PAYMENT, on=paid_on))
        return True

    def reverse_payment(self, payment_id: str, amount: Money) -> bool:
        """A chargeback or returned payment takes back what the payment paid, part by part (an unknown
        or already reversed payment: no-op). A case closed as paid that owes again reopens."""
        self._require_known()
        self._check_money(amount)
        applied = self.applied_payments.get(payment_id)
        if applied is None:
            return False
        assert self.parts is not None
        booked = self.payment_allocations.get(payment_id) or [(BalancePart.PRINCIPAL, -applied)]
        self._book(
            BalanceChangeReason.REVERSAL,
            money.undo(self.parts, booked, min(amount.amount_minor, applied)),
            payment_id,
        )
        return True

    def restate(self, amounts: CaseAmounts, reference: str | None, freeze: Freeze | None = None) -> None:
        """The creditor restates what is owed by part (interest posted, fees, corrections); under a
        freeze only its decreases apply."""
        self._require_known()
        self._check_money(amounts.total_balance)
        assert self.parts is not None
        allocation = self._frozen(money.restate(self.parts, amounts), reference, freeze)
        self._book(BalanceChangeReason.ADJUSTMENT, allocation, reference)

    def restate_balance(self, total: Money, reference: str | None, freeze: Freeze | None = None) -> None:
        """The creditor restates the total only: an increase is principal, a decrease comes off the
        default waterfall; under a freeze only a decrease applies."""
        self._require_known()
        self._check_money(total)
        assert self.parts is not None
        allocation = self._frozen(money.restate_total(self.parts, total.amount_minor), reference, freeze)
        self._book(BalanceChangeReason.ADJUSTMENT, allocation, reference)

    def record_settlement(
        self, settlement_id: str, amount: Money, due_on: date, *, lapsed: bool = False
    ) -> None:
        self._require_open()
        self._check_money(amount)
        if lapsed and (self.settlement is None or self.settlement.settlement_id != settlement_id):
            return
        if not lapsed and self.settlement is not None and self.settlement.settlement_id == settlement_id:
            return
        self._record(
            events.CaseSettlementRecorded(
                settlement_id=settlement_id,
                status="lapsed" if lapsed else "agreed",
                settlement_amount=amount,
                due_on=due_on,
            )
        )

    def settlement_paid(self, settlement_id: str, amount: Money, due_on: date) -> None:
        """The settlement was paid in time: the rest of the balance is waived; the case closes as settled."""
        if self.status == "closed":
            return  # the last payment already brought the balance to zero
        self._require_open()
        if self.settlement is None or self.settlement.settlement_id != settlement_id:
            self.record_settlement(settlement_id, amount, due_on)
        assert self.parts is not None
        if self.parts.owed == 0:
            self._close(CloseReason.SETTLED, f"settlement {settlement_id} paid")
            return
        self._book(BalanceChangeReason.WAIVER, money.waive_all(self.parts), settlement_id)

    # --- assignment, debtor, closing ------------------------------------------------------

    def assign(
        self,
        kind: AssigneeKind,
        assignee_id: str,
        reason: str,
        policy: str,
        policy_version: int | None = None,
    ) -> bool:
        """`policy_version`: the collection policy version that chose the assignee (None: a person did)."""
        self._require_open()
        new = events.Assignee(kind=kind, id=assignee_id)
        if self.assignee == new:
            return False
        self._record(
            events.CaseAssigned(
                assignee=new,
                previous_assignee=self.assignee,
                reason=reason,
                policy=policy,
                policy_version=policy_version,
            )
        )
        return True

    def require_with_agency(self) -> None:
        self._require_open()
        if self.assignee is None or self.assignee.kind is not AssigneeKind.AGENCY:
            raise errors.NotWithAgency(f"case {self.case_id} is not placed with an agency")

    def update_debtor(
        self,
        phones: list[PhoneNumber] | None,
        emails: list[EmailAddress] | None,
        address: PostalAddress | None,
    ) -> None:
        self._require_open()
        if phones is None and emails is None and address is None:
            return
        self._record(events.CaseDebtorUpdated(phones=phones, emails=emails, address=address))

    def erase_personal_data(
        self, debtor_id: str, trigger: Literal["request", "retention"], reason: str, legal_basis: str
    ) -> bool:
        """Erase the debtor's personal data on this (closed) case; False when already erased."""
        if self.erased:
            return False
        if self.is_open:
            raise errors.ErasureNotAllowed(
                f"case {self.case_id} is open: its personal data is still needed to collect the debt"
            )
        self._record(
            events.ErasureCompleted(
                debtor_id=debtor_id, trigger=trigger, reason=reason, legal_basis=legal_basis
            )
        )
        return True

    def close(self, reason: CloseReason, note: str | None, today: date) -> None:
        self._require_open()
        assert self.balance is not None
        if reason is CloseReason.PAID_IN_FULL and self.balance.amount_minor != 0:
            raise errors.CloseNotAllowed(
                "a case closes as paid in full only at a zero balance"
                f" ({self.balance.amount_minor} {self.currency} owed)"
            )
        if reason is CloseReason.SETTLED:
            if self.settlement is None:
                raise errors.CloseNotAllowed("no settlement was agreed for this case")
            self.settlement_paid(
                self.settlement.settlement_id, self.settlement.amount, self.settlement.due_on
            )
            return
        if reason is CloseReason.WRITTEN_OFF:
            if blocking := self.blocking_holds():
                kinds = ", ".join(sorted(h.hold_type.value for h in blocking))
                raise errors.EscalationBlockedByHold(f"a case under a {kinds} hold cannot be written off")
            self._change_stage(Stage.WRITTEN_OFF, self.days_past_due(today), note or "written off")
            return
        self._close(reason, note)

    def _close(self, reason: CloseReason, note: str | None) -> None:
        assert self.balance is not None
        self._record(events.CaseClosed(reason=reason, final_balance=self.balance, note=note))

    # --- applying events (one mutator per event type) ---------------------------------------

    @applies(events.CaseOpened)
    def _opened(self, event: events.CaseOpened, at: datetime | None) -> None:
        self.status = "open"
        self.interest_through = at.date() if at is not None else None
        self.debtor = event.debtor
        self.account = event.account
        self.amounts_at_placement = event.amounts
        self.parts = money.Parts.from_amounts(event.amounts)
        self.balance = self.parts.balance
        self.jurisdiction = event.jurisdiction
        self.risk_score = event.risk_score
        self.placement_id = event.placement_id
        self.due_since = event.due_since

    @applies(events.CaseBucketChanged)
    def _bucket_changed(self, event: events.CaseBucketChanged, _at: datetime | None) -> None:
        self.bucket = event.to_bucket
        self.due_since = event.due_since

    @applies(events.CaseLimitationDated)
    def _limitation_dated(self, event: events.CaseLimitationDated, _at: datetime | None) -> None:
        self.limitation = event
        if event.restart_kind is not None and event.restart_on is not None:
            restart = RestartEvent(kind=RestartKind(event.restart_kind), on=event.restart_on)
            if restart not in self.limitation_restarts:
                self.limitation_restarts = (*self.limitation_restarts, restart)

    @applies(events.CaseStrategyAssigned)
    def _strategy_assigned(self, event: events.CaseStrategyAssigned, _at: datetime | None) -> None:
        self.strategy = event

    @applies(events.CaseStageChanged)
    def _stage_changed(self, event: events.CaseStageChanged, _at: datetime | None) -> None:
        self.stage = event.to_stage

    @applies(events.CaseAssigned)
    def _assigned(self, event: events.CaseAssigned, _at: datetime | None) -> None:
        self.assignee = event.assignee

    @applies(events.CaseHoldPlaced)
    def _hold_placed(self, event: events.CaseHoldPlaced, _at: datetime | None) -> None:
        self.holds[event.hold_id] = Hold(event.hold_id, event.hold_type, event.reason, event.expires_at)

    @applies(events.CaseLegalReferralRequested)
    def _legal_requested(self, event: events.CaseLegalReferralRequested, _at: datetime | None) -> None:
        self.legal = LegalMatter(
            event.referral_id, event.handler, event.handler_id, "requested", requested_by=event.requested_by
        )

    @applies(events.CaseLegalReferred)
    def _legal_referred(self, event: events.CaseLegalReferred, at: datetime | None) -> None:
        self.legal = LegalMatter(
            event.referral_id,
            event.handler,
            event.handler_id,
            "referred",
            requested_by=self.legal.requested_by if self.legal else None,
            referred_at=at,
            referred_by=event.referred_by,
            approved_by=event.approved_by,
        )

    @applies(events.CaseLegalStepRecorded)
    def _legal_step(self, event: events.CaseLegalStepRecorded, _at: datetime | None) -> None:
        matter = self.legal
        if matter is None:
            return
        status = _STEP_STATUS[event.step]
        if status is not None:
            matter.status = status
        if event.step is LegalStep.CLAIM_FILED:
            matter.claim_reference, matter.court = event.reference, event.court
        elif event.step is LegalStep.HEARING:
            matter.hearings.append(event.on)
        elif event.step is LegalStep.JUDGMENT:
            matter.judgment_on = event.on
            matter.judgment_minor = event.judgment_amount.amount_minor if event.judgment_amount else 0
        elif event.step is LegalStep.ENFORCEMENT and event.enforcement:
            matter.enforcement.append(event.enforcement)
        if event.costs is not None:
            matter.costs_minor += event.costs.amount_minor

    @applies(events.CaseNoteAdded)
    def _note_added(self, event: events.CaseNoteAdded, at: datetime | None) -> None:
        self.notes[event.note_id] = Note(
            event.note_id,
            event.category,
            event.note_text,
            tuple(event.visible_to),
            event.author,
            event.supersedes,
            at,
        )
        earlier = self.notes.get(event.supersedes or "")
        if earlier is not None:
            self.notes[earlier.note_id] = replace(earlier, superseded_by=event.note_id)

    @applies(events.CaseVulnerabilityFlagged)
    def _vulnerability_flagged(self, event: events.CaseVulnerabilityFlagged, at: datetime | None) -> None:
        self.vulnerabilities[event.flag_id] = VulnerabilityFlag(
            event.flag_id,
            event.vulnerability_type,
            event.vulnerability_sub_type,
            event.vulnerability_description,
            event.consent,
            event.review_on,
            event.recorded_by,
            event.source,
            at,
        )

    @applies(events.CaseVulnerabilityReviewed)
    def _vulnerability_reviewed(self, event: events.CaseVulnerabilityReviewed, _at: datetime | None) -> None:
        flag = self.vulnerabilities.get(event.flag_id)
        if flag is not None:
            self.vulnerabilities[event.flag_id] = replace(
                flag,
                vulnerability_type=event.vulnerability_type,
                sub_type=event.vulnerability_sub_type,
                description=event.vulnerability_description,
                consent=event.consent,
                review_on=event.review_on,
                review_due=False,
            )

    @applies(events.CaseVulnerabilityRemoved)
    def _vulnerability_removed(self, event: events.CaseVulnerabilityRemoved, _at: datetime | None) -> None:
        self.vulnerabilities.pop(event.flag_id, None)

    @applies(events.CaseVulnerabilityReviewDue)
    def _vulnerability_review_due(
        self, event: events.CaseVulnerabilityReviewDue, _at: datetime | None
    ) -> None:
        flag = self.vulnerabilities.get(event.flag_id)
        if flag is not None:
            self.vulnerabilities[event.flag_id] = replace(flag, review_due=True)

    @applies(events.CaseReferredToSpecialist)
    def _referred(self, event: events.CaseReferredToSpecialist, _at: datetime | None) -> None:
        flag = self.vulnerabilities.get(event.flag_id)
        if flag is not None:
            self.vulnerabilities[event.flag_id] = replace(flag, referred_to=event.team)

    @applies(events.CaseHoldReleased)
    def _hold_released(self, event: events.CaseHoldReleased, _at: datetime | None) -> None:
        self.holds.pop(event.hold_id, None)

    @applies(events.CaseBalanceChanged)
    def _balance_changed(self, event: events.CaseBalanceChanged, _at: datetime | None) -> None:
        assert self.parts is not None
        if event.allocation is not None:
            allocation = money.from_changes(event.allocation)
        else:  # recorded before the balance had parts
            allocation = money.legacy(self.parts, event.change.delta_minor)
        if event.parts_after is not None:
            self.parts = money.Parts.from_event(event.parts_after)
        else:
            self.parts = self.parts.apply(allocation)
        self.balance = self.parts.balance
        # money in: what the owed parts lost plus what the credit gained (a reversal: negative)
        money_in = sum(d for p, d in allocation if p is BalancePart.CREDIT) - money.owed_delta(allocation)
        if event.reason is BalanceChangeReason.PAYMENT and event.reference is not None:
            self.applied_payments[event.reference] = money_in
            self.payment_allocations[event.reference] = allocation
        elif event.reason is BalanceChangeReason.REVERSAL and event.reference is not None:
            self.applied_payments.pop(event.reference, None)
            self.payment_allocations.pop(event.reference, None)
        if event.reason in (BalanceChangeReason.PAYMENT, BalanceChangeReason.REVERSAL):
            self.recovered_minor += money_in
            if self.legal is not None and self.legal.active:
                self.legal.recovered_minor += money_in
            if event.written_off:
                self.recovered_after_write_off_minor += money_in

    @applies(events.CaseArrangementChanged)
    def _arrangement_changed(self, event: events.CaseArrangementChanged, _at: datetime | None) -> None:
        if event.status == "active":
            self.arrangements[event.arrangement_id] = Arrangement(
                event.kind, event.arrangement_id, event.until
            )
        else:
            self.arrangements.pop(event.arrangement_id, None)

    @applies(events.CaseInterestAccrued)
    def _interest_accrued(self, event: events.CaseInterestAccrued, _at: datetime | None) -> None:
        self.interest_through = event.period_to

    @applies(events.CaseChargeFrozen)
    def _charge_frozen(self, event: events.CaseChargeFrozen, _at: datetime | None) -> None:
        """Nothing changes: the increase was not applied."""

    @applies(events.CaseReopened)
    def _reopened(self, event: events.CaseReopened, _at: datetime | None) -> None:
        self.status = "open"
        self.close_reason = None

    @applies(events.CaseRefundDue)
    def _refund_due(self, event: events.CaseRefundDue, _at: datetime | None) -> None:
        """The credit is in the parts already; the event is the notice that it is due back."""

    @applies(events.CaseSettlementRecorded)
    def _settlement_recorded(self, event: events.CaseSettlementRecorded, _at: datetime | None) -> None:
        if event.status == "agreed":
            self.settlement = Settlement(event.settlement_id, event.settlement_amount, event.due_on)
        else:
            self.settlement = None

    @applies(events.CaseDebtorUpdated)
    def _debtor_updated(self, event: events.CaseDebtorUpdated, _at: datetime | None) -> None:
        assert self.debtor is not None
        changes: dict[str, object] = {}
        if event.phones is not None:
            changes["phones"] = event.phones
        if event.emails is not None:
            changes["emails"] = event.emails
        if event.address is not None:
            changes["address"] = event.address
        self.debtor = self.debtor.model_copy(update=changes)

    @applies(events.ErasureCompleted)
    def _erased(self, _event: events.ErasureCompleted, _at: datetime | None) -> None:
        self.erased = True
        if self.debtor is not None:
            self.debtor = erased_debtor(self.debtor)
        self.vulnerabilities = {
            k: replace(
                f,
                sub_type=ERASED_NAME if f.sub_type else None,
                description=ERASED_NAME if f.description else None,
            )
            for k, f in self.vulnerabilities.items()
        }

    @applies(events.CaseClosed)
    def _closed(self, event: events.CaseClosed, _at: datetime | None) -> None:
        self.status = "closed"
        self.close_reason = event.reason
        self.holds.clear()

    def next_ageing_on(self, today: date, policy: CollectionPolicy) -> date | None:
        """When the daily ageing next has something to do for this case (None: nothing, ever)."""
        if not self.is_open:
            return None
        # A case saved on a day its bucket or stage turns, before that day's run reached it (a payment
        # at 00:01, or a run days late after an outage), is still due today: the run has a change to make.
        if policy.ageing.bucket_for(self.days_past_due(today)) != self.bucket or self._stage_due_by_dpd(
            today, policy
        ):
            return today
        return policy.ageing.next_change_on(self.due_since, today)

    def hold_expiries(self) -> list[Hold]:
        return [h for h in self.holds.values() if h.expires_at is not None]


def tomorrow(today: date) -> date:
    return today + timedelta(days=1)
