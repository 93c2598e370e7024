"""Events of the case aggregate, published by case-service on collections.cases."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, StrictBool, StrictInt, StringConstraints, model_validator

from dcp_events.catalogue.base import (
    MAX_MINOR,
    CaseAmounts,
    Count,
    Currency,
    DocumentReference,
    EventPayload,
    Id,
    IsoDate,
    Jurisdiction,
    Money,
    MoneyDelta,
    PayloadModel,
    Text,
    UtcDateTime,
)
from dcp_events.catalogue.debtor import Account, Debtor, EmailAddress, PhoneNumber, PostalAddress
from dcp_events.catalogue.enums import (
    AssigneeKind,
    BalanceChangeReason,
    BalancePart,
    Channel,
    CloseReason,
    ConsentMethod,
    HoldType,
    LegalHandler,
    LegalStep,
    NoteAudience,
    NoteCategory,
    Stage,
    VulnerabilityReviewOutcome,
    VulnerabilityType,
)

TOPIC = "collections.cases"


class CaseEvent(EventPayload):
    topic: ClassVar[str] = TOPIC


class CaseOpened(CaseEvent):
    """A delinquent account placed for collection."""

    event_type: ClassVar[str] = "collections.case.opened"
    version: ClassVar[int] = 1

    debtor: Debtor
    account: Account
    amounts: CaseAmounts
    days_past_due: Count
    due_since: IsoDate
    jurisdiction: Jurisdiction
    risk_score: StrictInt | None = Field(default=None, ge=0, le=1000)
    placement_id: Id | None = Field(default=None, description="The integration placement it came from.")


class TreatmentStep(PayloadModel):
    """One step of a treatment strategy: on day `day_offset` after assignment, contact on `channel`."""

    day_offset: Count
    channel: Channel
    template: Id


class CaseStrategyAssigned(CaseEvent):
    event_type: ClassVar[str] = "collections.case.strategy_assigned"
    version: ClassVar[int] = 1

    segment: Id
    strategy_id: Id
    strategy_version: StrictInt = Field(ge=1)
    experiment_id: Id | None = None
    experiment_arm: Id | None = Field(default=None, description="e.g. champion, challenger-a.")
    ruleset_version: StrictInt | None = Field(
        default=None, ge=1, description="Version of the segmentation rule set that chose the strategy."
    )
    treatment: list[TreatmentStep] | None = Field(
        default=None, description="The strategy's ordered treatment steps (None: not given)."
    )
    worklist_order: Literal["policy", "rule-based", "propensity-model"] | None = Field(
        default=None,
        description="How the collectors' worklists rank the case: by the propensity-model version in "
        "force (`policy`, and None), always by the rule-based order, or by the model whenever one is "
        "in force (so a model can be an experiment's challenger arm).",
    )


class Assignee(PayloadModel):
    kind: AssigneeKind
    id: Id


class CaseAssigned(CaseEvent):
    event_type: ClassVar[str] = "collections.case.assigned"
    version: ClassVar[int] = 1

    assignee: Assignee
    previous_assignee: Assignee | None = None
    reason: Text
    policy: Id | None = Field(
        default=None, description="round_robin, least_loaded, agency_at_stage, recall or direct."
    )
    policy_version: Count | None = Field(
        default=None,
        description="The collection policy version that decided it (None: a person's decision).",
    )


class CaseStageChanged(CaseEvent):
    """Escalation (early -> late -> legal -> written_off) or de-escalation on cure."""

    event_type: ClassVar[str] = "collections.case.stage_changed"
    version: ClassVar[int] = 1

    from_stage: Stage
    to_stage: Stage
    days_past_due: Count
    reason: Text
    policy_version: Count | None = Field(
        default=None,
        description="The collection policy version that decided it (None: a person's decision).",
    )

    @model_validator(mode="after")
    def _is_a_change(self) -> CaseStageChanged:
        if self.from_stage == self.to_stage:
            raise ValueError(f"stage change from {self.from_stage} to itself")
        return self


class CaseHoldPlaced(CaseEvent):
    event_type: ClassVar[str] = "collections.case.hold_placed"
    version: ClassVar[int] = 1

    hold_id: Id
    hold_type: HoldType
    reason: Text | None = None
    expires_at: UtcDateTime | None = Field(default=None, description="None: until released.")
    evidence_ref: Id | None = None


class CaseHoldReleased(CaseEvent):
    event_type: ClassVar[str] = "collections.case.hold_released"
    version: ClassVar[int] = 1

    hold_id: Id
    hold_type: HoldType
    reason: Text


NoteText = Annotated[str, StringConstraints(min_length=1, max_length=4000)]


class CaseLegalReferralRequested(CaseEvent):
    """A collector asked to refer the case to legal; the balance is above what a collector may refer
    alone, so a supervisor approves it (`CaseLegalReferred`) or not."""

    event_type: ClassVar[str] = "collections.case.legal_referral_requested"
    version: ClassVar[int] = 1

    referral_id: Id
    handler: LegalHandler
    handler_id: Id = Field(description="The firm or the in-house team.")
    reason: Text
    requested_by: Id
    balance: Money
    approval_threshold: Money = Field(description="Balances above this need a supervisor to refer.")


class CaseLegalReferred(CaseEvent):
    """The case is referred to a solicitor or the in-house legal team (never a time-barred debt)."""

    event_type: ClassVar[str] = "collections.case.legal_referred"
    version: ClassVar[int] = 1

    referral_id: Id
    handler: LegalHandler
    handler_id: Id
    reason: Text
    referred_by: Id
    approved_by: Id | None = Field(default=None, description="The supervisor who approved a request.")
    balance: Money
    documents: list[DocumentReference] = Field(default_factory=list, max_length=20)


class CaseLegalStepRecorded(CaseEvent):
    """One step of the legal matter: a claim filed, a hearing, the judgment, an enforcement step, or
    the claim withdrawn. Documents by reference; its costs are booked to the costs part of the balance
    (a `CaseBalanceChanged`, reason costs, follows)."""

    event_type: ClassVar[str] = "collections.case.legal_step_recorded"
    version: ClassVar[int] = 1

    referral_id: Id
    step: LegalStep
    on: IsoDate = Field(description="The day of the step (filing, hearing, judgment, enforcement).")
    court: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    reference: Id | None = Field(default=None, description="The claim number, the court's reference.")
    judgment_amount: Money | None = Field(default=None, description="Judgment: the sum awarded (debt).")
    judgment_interest: Money | None = None
    enforcement: Id | None = Field(
        default=None, description="Enforcement: e.g. attachment_of_earnings, charging_order, garnishment."
    )
    costs: Money | None = Field(default=None, description="Costs of the step, added to the debt.")
    documents: list[DocumentReference] = Field(default_factory=list, max_length=20)
    recorded_by: Id
    note: Text | None = None


class CaseNoteAdded(CaseEvent):
    """A note written on the case. Notes are never edited: a correction is a new note that supersedes
    the earlier one (which stays in the history). The text is personal data (sealed in the event)."""

    event_type: ClassVar[str] = "collections.case.note_added"
    version: ClassVar[int] = 1

    note_id: Id
    category: NoteCategory
    note_text: NoteText
    visible_to: list[NoteAudience] = Field(min_length=1, description="The roles the note is shown to.")
    author: Id = Field(description="Who wrote it (the token's subject).")
    supersedes: Id | None = Field(default=None, description="The note this one corrects or replaces.")


class VulnerabilityConsent(PayloadModel):
    """The debtor's consent to record the details of a vulnerability (health details are special
    category data: kept only with explicit consent)."""

    given: StrictBool
    method: ConsentMethod | None = None
    at: UtcDateTime | None = None


class CaseVulnerabilityFlagged(CaseEvent):
    """The debtor is flagged vulnerable. Without consent only the type is recorded: the sub-type and
    the description (personal data, sealed in the event) are present only when `consent.given`."""

    event_type: ClassVar[str] = "collections.case.vulnerability_flagged"
    version: ClassVar[int] = 1

    flag_id: Id
    vulnerability_type: VulnerabilityType
    vulnerability_sub_type: Text | None = None
    vulnerability_description: Text | None = None
    consent: VulnerabilityConsent
    review_on: IsoDate = Field(description="The day the flag is due for review.")
    recorded_by: Id
    source: Text = Field(description="How the platform learned of it (e.g. call, letter, adviser).")

    @model_validator(mode="after")
    def _details_need_consent(self) -> CaseVulnerabilityFlagged:
        if not self.consent.given and (self.vulnerability_sub_type or self.vulnerability_description):
            raise ValueError("the details of a vulnerability are recorded only with the debtor's consent")
        return self


class CaseVulnerabilityReviewed(CaseEvent):
    """A flag reviewed: it continues (to a new review date) or changes type or details."""

    event_type: ClassVar[str] = "collections.case.vulnerability_reviewed"
    version: ClassVar[int] = 1

    flag_id: Id
    outcome: Literal[VulnerabilityReviewOutcome.CONTINUE, VulnerabilityReviewOutcome.CHANGE]
    vulnerability_type: VulnerabilityType
    vulnerability_sub_type: Text | None = None
    vulnerability_description: Text | None = None
    consent: VulnerabilityConsent
    review_on: IsoDate
    reviewed_by: Id

    @model_validator(mode="after")
    def _details_need_consent(self) -> CaseVulnerabilityReviewed:
        if not self.consent.given and (self.vulnerability_sub_type or self.vulnerability_description):
            raise ValueError("the details of a vulnerability are recorded only with the debtor's consent")
        return self


class CaseVulnerabilityRemoved(CaseEvent):
    """A flag removed on review: its treatment ends."""

    event_type: ClassVar[str] = "collections.case.vulnerability_removed"
    version: ClassVar[int] = 1

    flag_id: Id
    vulnerability_type: VulnerabilityType
    removed_by: Id
    reason: Text | None = None


class CaseVulnerabilityReviewDue(CaseEvent):
    """The review date of a flag passed without a review (raised by the case-service's timer)."""

    event_type: ClassVar[str] = "collections.case.vulnerability_review_due"
    version: ClassVar[int] = 1

    flag_id: Id
    vulnerability_type: VulnerabilityType
    review_on: IsoDate


class CaseReferredToSpecialist(CaseEvent):
    """The case assigned to a specialist team because the rule pack says so for a flag's type."""

    event_type: ClassVar[str] = "collections.case.referred_to_specialist"
    version: ClassVar[int] = 1

    flag_id: Id
    vulnerability_type: VulnerabilityType
    team: Id
    rule_id: Id
    pack_version: Text


class PartChange(PayloadModel):
    part: BalancePart
    delta_minor: StrictInt = Field(ge=-MAX_MINOR, le=MAX_MINOR)


class BalanceParts(PayloadModel):
    """A case's balance by part, in minor units of one currency."""

    currency: Currency
    principal: StrictInt = Field(ge=0, le=MAX_MINOR)
    interest: StrictInt = Field(ge=0, le=MAX_MINOR)
    fees: StrictInt = Field(ge=0, le=MAX_MINOR)
    costs: StrictInt = Field(ge=0, le=MAX_MINOR)
    credit: StrictInt = Field(default=0, ge=0, le=MAX_MINOR)

    @property
    def owed_minor(self) -> int:
        return self.principal + self.interest + self.fees + self.costs


class CaseBalanceChanged(CaseEvent):
    event_type: ClassVar[str] = "collections.case.balance_changed"
    version: ClassVar[int] = 1

    reason: BalanceChangeReason
    change: MoneyDelta = Field(description="The change of what the debtor owes (the credit part excluded).")
    balance_after: Money = Field(description="What the debtor owes after it: the owed parts' sum.")
    reference: Id | None = Field(default=None, description="Payment, reversal or adjustment id.")
    allocation: list[PartChange] | None = Field(
        default=None,
        description="How the change was split over the parts (a payment by the allocation waterfall); "
        "a credit entry is money the creditor now owes the debtor. None: written before parts existed.",
    )
    parts_after: BalanceParts | None = None
    waterfall: Id | None = Field(default=None, description="The allocation order that split a payment.")
    written_off: StrictBool = Field(
        default=False, description="Booked on a written-off case: a post-write-off recovery or its reversal."
    )

    @model_validator(mode="after")
    def _one_currency(self) -> CaseBalanceChanged:
        if self.change.currency != self.balance_after.currency:
            raise ValueError("change and balance_after are in different currencies")
        if self.parts_after is not None:
            if self.parts_after.currency != self.balance_after.currency:
                raise ValueError("parts_after and balance_after are in different currencies")
            if self.parts_after.owed_minor != self.balance_after.amount_minor:
                raise ValueError("the owed parts do not add up to balance_after")
        if self.allocation is not None:
            owed = sum(p.delta_minor for p in self.allocation if p.part is not BalancePart.CREDIT)
            if owed != self.change.delta_minor:
                raise ValueError("the allocation's owed parts do not add up to the change")
        return self


class CaseArrangementChanged(CaseEvent):
    """A repayment plan or a promise to pay on the case started or ended. While one is active (a promise
    until its due date), the collection path waits: no stage escalation, no agency placement (the
    collection policy says which kinds pause it)."""

    event_type: ClassVar[str] = "collections.case.arrangement_changed"
    version: ClassVar[int] = 1

    kind: Literal["plan", "promise"]
    arrangement_id: Id
    status: Literal["active", "kept", "completed", "broken"]
    until: IsoDate | None = Field(default=None, description="A promise's due date; None for a plan.")


class CaseInterestAccrued(CaseEvent):
    """Interest computed for a period at the product's rate (simple interest on the principal, the
    policy's day count). The amount is booked by the `CaseBalanceChanged` that follows; under a freeze
    nothing is charged (`frozen_by` names the rule) and the period is still closed."""

    event_type: ClassVar[str] = "collections.case.interest_accrued"
    version: ClassVar[int] = 1

    period_from: IsoDate = Field(description="First day of the period (inclusive).")
    period_to: IsoDate = Field(description="The day the period ends (exclusive): accrued up to it.")
    annual_rate_bps: StrictInt = Field(ge=0, le=100_000)
    on_principal: Money
    amount: Money
    frozen_by: Id | None = Field(default=None, description="The rule that froze it (nothing charged).")
    citation: Text | None = None


class CaseChargeFrozen(CaseEvent):
    """An increase of the debt (interest, fees, costs, a creditor's restatement) arrived while a hold
    freezes charges (GB breathing space, a bankruptcy stay): not applied; recorded for the auditor."""

    event_type: ClassVar[str] = "collections.case.charge_frozen"
    version: ClassVar[int] = 1

    reason: BalanceChangeReason
    amount: Money = Field(description="The increase that was not applied.")
    hold_type: HoldType
    rule_id: Id
    citation: Text | None = None
    reference: Id | None = None


class CaseReopened(CaseEvent):
    """A closed case is open again: a fact arrived that makes something owed again (the reversal of
    the payment that closed it). The close it undoes stays in the history."""

    event_type: ClassVar[str] = "collections.case.reopened"
    version: ClassVar[int] = 1

    previous_close_reason: CloseReason
    reason: Text
    reference: Id | None = Field(default=None, description="The payment or reversal that reopened it.")


class CaseRefundDue(CaseEvent):
    """The case holds a credit balance (the debtor paid more than was owed): the surplus is due back."""

    event_type: ClassVar[str] = "collections.case.refund_due"
    version: ClassVar[int] = 1

    amount: Money
    credit_after: Money
    reference: Id | None = Field(default=None, description="The payment that over-paid.")


class CaseClosed(CaseEvent):
    event_type: ClassVar[str] = "collections.case.closed"
    version: ClassVar[int] = 1

    reason: CloseReason
    final_balance: Money
    note: Text | None = None


class CaseBucketChanged(CaseEvent):
    """Days past due moved the case into another delinquency bucket; `current` means it was cured."""

    event_type: ClassVar[str] = "collections.case.bucket_changed"
    version: ClassVar[int] = 1

    from_bucket: Id | None = Field(default=None, description="None: the case was just opened.")
    to_bucket: Id = Field(description="e.g. 1-30, 31-60, 181+; `current` when no longer past due.")
    days_past_due: Count
    due_since: IsoDate | None = Field(default=None, description="None: the account is current.")
    reason: Text
    policy_version: Count | None = Field(
        default=None,
        description="The collection policy version that decided it (None: a person's decision).",
    )


class CaseLimitationDated(CaseEvent):
    """The date the debt becomes time-barred in its jurisdiction, first when the case opens and again
    whenever it changes (a payment or another event the law counts restarts the period; a new date of
    default). Recorded only when the date, or what follows from it, changes."""

    event_type: ClassVar[str] = "collections.case.limitation_dated"
    version: ClassVar[int] = 1

    time_barred_at: IsoDate | None = Field(
        description="The first day the debt is time-barred; None: it cannot be known (see `reason`)."
    )
    rule_id: Id | None = Field(default=None, description="The limitation rule, e.g. US-CA-LIM-OPEN-ENDED.")
    citation: Text | None = None
    starts_on: IsoDate | None = Field(default=None, description="The date the current period runs from.")
    restart_kind: Id | None = Field(
        default=None, description="What last restarted the period (payment, written_acknowledgment, ...)."
    )
    restart_on: IsoDate | None = None
    extinguishes: StrictBool = Field(
        default=False, description="Expiry extinguishes the debt (no collection at all), not only the remedy."
    )
    reason: Text


class CaseSettlementRecorded(CaseEvent):
    """A settlement agreed for the case (it closes as settled once paid), or its lapse."""

    event_type: ClassVar[str] = "collections.case.settlement_recorded"
    version: ClassVar[int] = 1

    settlement_id: Id
    status: Literal["agreed", "lapsed"]
    settlement_amount: Money
    due_on: IsoDate


class CaseDebtorUpdated(CaseEvent):
    """New contact details for the debtor from the creditor; absent (null) fields are unchanged."""

    event_type: ClassVar[str] = "collections.case.debtor_updated"
    version: ClassVar[int] = 1

    phones: list[PhoneNumber] | None = None
    emails: list[EmailAddress] | None = None
    address: PostalAddress | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> CaseDebtorUpdated:
        if self.phones is None and self.emails is None and self.address is None:
            raise ValueError("a debtor update must change at least one field")
        return self


class ErasureCompleted(CaseEvent):
    """The debtor's personal data on this case was erased: on request (the right to erasure) or when
    the retention period of the case's jurisdiction ran out after closure. Every service removes what
    it keeps of the debtor's personal data for the case (each README says what it must keep and why);
    the audit trail destroys the key its openings of the case are encrypted under, so the trail still
    verifies but can no longer show them. Carries no personal data itself."""

    event_type: ClassVar[str] = "collections.case.erasure_completed"
    version: ClassVar[int] = 1

    debtor_id: Id
    trigger: Literal["request", "retention"]
    reason: Text = Field(description="Why, as the requester or the retention rule put it.")
    legal_basis: Text = Field(description="e.g. UK GDPR Art. 17(1)(a); the retention rule's citation.")


class PersonalDataDisclosed(CaseEvent):
    """A role that sees debtors' personal data masked (an auditor) asked to see this case's unmasked,
    giving a reason: what was shown, and why (the envelope's actor and role say to whom). Recorded
    before the data is shown, so the audit trail holds every disclosure. Carries no personal data."""

    event_type: ClassVar[str] = "collections.case.personal_data_disclosed"
    version: ClassVar[int] = 1

    view: Id = Field(description="What was shown unmasked, e.g. `GET /cases/{case_id}/events`.")
    reason: Text = Field(description="Why, as the requester gave it (e.g. a complaint reference).")
