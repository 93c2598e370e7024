"""Request and response bodies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from contact_service.application.commands import DebtorRequestKind
from dcp_compliance import ContactPurpose, Decision
from dcp_events.catalogue.base import DocumentReference, Money
from dcp_events.catalogue.contacts import ContactWindow
from dcp_events.catalogue.enums import Channel, ContactOutcome, ContactParty, HoldType


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactCheck(_Body):
    case_id: str = Field(min_length=1, max_length=128)
    channel: Channel
    party: ContactParty = ContactParty.DEBTOR
    purpose: ContactPurpose = ContactPurpose.COLLECTION
    contact_point: str | None = Field(default=None, min_length=1, max_length=254)
    recording_ref: str | None = Field(default=None, min_length=1, max_length=128)
    discloses_debt: bool = False
    at_workplace: bool = False
    collector_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Supervisors and dialers: the collector acting.",
    )


_THIRD_PARTY_OUTCOMES = {
    ContactOutcome.THIRD_PARTY_CONTACT,
    ContactOutcome.NO_ANSWER,
    ContactOutcome.VOICEMAIL,
    ContactOutcome.WRONG_NUMBER,
    ContactOutcome.REFUSED,
}


class ContactAttemptRequest(ContactCheck):
    attempt_id: str | None = Field(
        default=None, min_length=1, max_length=128, description="Idempotency key; generated if absent."
    )
    outcome: ContactOutcome
    duration_seconds: int = Field(default=0, ge=0, le=86_400)

    @model_validator(mode="after")
    def _consistent(self) -> ContactAttemptRequest:
        if self.party is ContactParty.THIRD_PARTY and self.outcome not in _THIRD_PARTY_OUTCOMES:
            raise ValueError(f"outcome {self.outcome.value} is not possible with a third party")
        if self.party is ContactParty.DEBTOR and self.outcome is ContactOutcome.THIRD_PARTY_CONTACT:
            raise ValueError("third_party_contact is the outcome of a contact with a third party")
        return self


class AttemptAccepted(BaseModel):
    attempt_id: str
    decision: Decision


class PromiseRequest(_Body):
    case_id: str = Field(min_length=1, max_length=128)
    amount: Money
    due_on: date
    channel: Channel
    attempt_id: str | None = Field(default=None, min_length=1, max_length=128)
    collector_id: str | None = Field(default=None, min_length=1, max_length=128)


class PromiseAccepted(BaseModel):
    promise_id: str


class DebtorRequest(_Body):
    case_id: str = Field(min_length=1, max_length=128)
    kind: DebtorRequestKind
    received_via: Channel
    reason: str | None = Field(default=None, min_length=1, max_length=2000)
    channel: Channel | None = Field(default=None, description="channel_opt_out: the channel.")
    contact_point: str | None = Field(default=None, min_length=1, max_length=254)
    windows: list[ContactWindow] | None = None
    preferred_channel: Channel | None = None
    disputed_amount: Money | None = None
    relation: str | None = Field(default=None, min_length=1, max_length=128)

    @model_validator(mode="after")
    def _complete(self) -> DebtorRequest:
        if self.kind == "channel_opt_out" and self.channel is None:
            raise ValueError("channel_opt_out needs `channel`")
        if self.kind == "preferred_contact_times" and not self.windows and self.preferred_channel is None:
            raise ValueError("preferred_contact_times needs `windows` or `preferred_channel`")
        if self.kind == "agreed_contact_person" and not self.contact_point:
            raise ValueError("agreed_contact_person needs `contact_point`")
        return self


class DebtorRequestAccepted(BaseModel):
    kind: str
    recorded_on_cases: list[str]


class ChannelOption(BaseModel):
    channel: Channel
    allowed: bool
    rule_id: str | None = None
    reason: str | None = None
    next_allowed_at: datetime | None = None
    note: str | None = None


class BestContact(BaseModel):
    channel: str
    hour_band: str = Field(description="The debtor's local hours, e.g. 17-21.")
    probability: float


class WorklistEntry(BaseModel):
    case_id: str
    debtor_id: str
    jurisdiction: str
    priority_reason: str
    expected_recovery: Money
    expected_recovery_compared: Money | None = Field(
        default=None,
        description="Expected recovery in the exchange-rate table's base currency, which the ranking "
        "compares; null when the table has no rate for the case's currency (ranked after, by currency).",
    )
    channels: list[ChannelOption]
    pay_probability: float | None = Field(
        default=None, description="The propensity model's chance of a payment within its horizon."
    )
    best_contact: BestContact | None = Field(
        default=None,
        description="The channel and local hour band most likely to reach the debtor, among those the "
        "gate allows (null: no model in force, or no call or visit allowed now).",
    )


class Worklist(BaseModel):
    collector: str
    generated_at: AwareDatetime
    fx_rates_as_of: date | None = Field(default=None, description="The exchange rates' date.")
    ranked_by: str = Field(
        default="rule-based", description="`rule-based`, or the `propensity-model` version in force."
    )
    items: list[WorklistEntry]


class ContactRecord(BaseModel):
    attempt_id: str
    at: datetime
    decision: Literal["allow", "deny"]
    channel: Channel
    party: ContactParty
    purpose: ContactPurpose
    outcome: ContactOutcome | None
    collector_id: str | None
    agency_id: str | None
    contact_point: str | None
    duration_seconds: int | None
    recording_ref: str | None
    rule_id: str | None
    citation: str | None
    reason: str | None
    next_allowed_at: datetime | None
    rule_pack_id: str
    rule_pack_version: str


class CaseContacts(BaseModel):
    case_id: str
    contacts: list[ContactRecord]


class CaseContactOptions(BaseModel):
    case_id: str
    channels: list[ChannelOption]


def channel_options(options: dict[Channel, Decision]) -> list[ChannelOption]:
    """The gate's decision per channel, as the worklist and contact options show it."""
    return [
        ChannelOption(
            channel=channel,
            allowed=d.allowed,
            rule_id=d.rule_id,
            reason=d.reason,
            next_allowed_at=d.next_allowed_at,
            note="must be recorded in full" if channel is Channel.FIELD_VISIT and d.allowed else None,
        )
        for channel, d in options.items()
    ]


class PermitRequest(ContactCheck):
    permit_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="Idempotency key; generated if absent. A repeat answers the same permit.",
    )


class Permit(BaseModel):
    """A contact permit: the signed fields (`permit_id`, `case_id`, `channel`, `contact_point_sha256`,
    `rule_pack_id`, `rule_pack_version`, `not_after`) can be checked offline with the public key of
    `key_id` (GET /contact-permit-keys; `python -m dcp_compliance.permits verify`)."""

    permit_id: str
    case_id: str
    channel: Channel
    party: ContactParty
    purpose: ContactPurpose
    contact_point: str | None
    contact_point_sha256: str | None
    collector_id: str | None
    agency_id: str | None
    issued_at: AwareDatetime
    not_after: AwareDatetime = Field(description="The contact must start by then.")
    expires_at: AwareDatetime = Field(description="The outcome is due by then; after it the permit is void.")
    rule_pack_id: str
    rule_pack_version: str
    key_id: str
    signature: str = Field(description="Ed25519 over the signed fields, unpadded base64url.")
    status: Literal["issued", "used", "expired"]
    attempt_id: str | None = None


class PermitOutcomeRequest(_Body):
    outcome: ContactOutcome
    duration_seconds: int = Field(default=0, ge=0, le=86_400)
    recording_ref: str | None = Field(default=None, min_length=1, max_length=128)
    attempt_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Idempotency key; default: one attempt per permit (att-<permit id>).",
    )


class PermitOutcomeAccepted(BaseModel):
    attempt_id: str
    permit_id: str
    contacted_at: AwareDatetime


class PermitKey(BaseModel):
    key_id: str
    algorithm: Literal["Ed25519"]
    public_key: str = Field(description="The raw 32-byte public key, unpadded base64url.")
    pem: str


class PermitKeys(BaseModel):
    keys: list[PermitKey]


class DialerPermitRequest(_Body):
    collector_id: str = Field(min_length=1, max_length=128, description="Whose worklist to dial.")
    channel: Literal["phone"] = "phone"
    limit: int = Field(default=20, ge=1, le=200, description="At most this many permits.")


class DialerSkip(BaseModel):
    case_id: str
    rule_id: str | None
    reason: str | None
    next_allowed_at: datetime | None


class DialerPermits(BaseModel):
    collector_id: str
    permits: list[Permit]
    skipped: list[DialerSkip] = Field(description="Worklist cases the gate refused a call to now.")


class MessageRequest(_Body):
    case_id: str = Field(min_length=1, max_length=128)
    channel: Literal["email", "sms", "letter"]
    contact_point: str | None = Field(
        default=None, min_length=1, max_length=254, description="Default: the debtor's first that consented."
    )
    template: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Letters: validation_notice (US), arrears_notice or breathing_space_acknowledgement "
        "(GB), repayment_reminder (CN); default per jurisdiction.",
    )
    breathing_space_reference: str | None = Field(default=None, min_length=1, max_length=64)
    breathing_space_start: date | None = None


class Message(BaseModel):
    attempt_id: str
    permit_id: str | None
    case_id: str
    channel: Channel
    template: str | None
    provider_reference: str | None
    content_sha256: str | None
    status: str
    detail: str | None
    sent_at: AwareDatetime
    updated_at: AwareDatetime


class CaseMessages(BaseModel):
    case_id: str
    messages: list[Message]


class MessageSummary(BaseModel):
    by_channel: dict[str, dict[str, int]] = Field(description="channel -> status -> messages")


class PrintFileMade(BaseModel):
    batch_id: str
    file: str
    sha256: str
    letters: int


class InboundHandled(BaseModel):
    action: Literal["opted_out", "delivery_reported", "none"]
    cases: list[str] = []


class VerificationRequest(_Body):
    channel: Literal["letter", "email"] = "letter"
    documents: list[DocumentReference] = Field(
        default_factory=list, max_length=20, description="The documents enclosed, by reference."
    )


class Dispute(BaseModel):
    dispute_id: str
    status: Literal["open", "verification_pending", "verified"]
    received_via: Channel
    reason: str
    raised_at: AwareDatetime | None
    hold_type: HoldType | None = Field(description="The hold it called for (None: recorded, no hold).")
    within_validation_period: bool | None
    validation_period_end: date | None
    rule_id: str | None
    verification_attempt_id: str | None
    verified_at: AwareDatetime | None


class CaseDisputes(BaseModel):
    case_id: str
    validation_period_end: date | None = Field(description="Of the last validation notice sent.")
    disputes: list[Dispute]
