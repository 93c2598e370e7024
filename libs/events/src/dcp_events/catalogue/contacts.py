"""Contact handling and compliance gate events, published by contact-service on collections.contacts."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field, StringConstraints, model_validator

from dcp_events.catalogue.base import (
    Count,
    DocumentReference,
    EventPayload,
    Id,
    IsoDate,
    Money,
    PayloadModel,
    Text,
    TimeZoneName,
    UtcDateTime,
)
from dcp_events.catalogue.enums import (
    Channel,
    ContactOutcome,
    ContactParty,
    HoldType,
    TimeZoneSource,
    Weekday,
)

TOPIC = "collections.contacts"

ContactPoint = Annotated[str, StringConstraints(min_length=1, max_length=254)]
"""A phone number, an e-mail address (up to RFC 5321's 254 characters) or a person's reference."""
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class ContactPurpose(StrEnum):
    """Why a contact is made: the compliance gate allows some purposes where collection is barred."""

    COLLECTION = "collection"
    LOCATION_INFORMATION = "location_information"
    """Asking a third party only where the debtor can be reached, never disclosing the debt."""
    VERIFICATION = "verification"
    """Sending verification of a disputed debt."""
    TERMINATION_NOTICE = "termination_notice"
    """Telling the debtor that collection efforts end or that a specific remedy is invoked."""
    LEGAL_NOTICE = "legal_notice"
    """Suit or notice of legal action (never on time-barred debt)."""


class ContactEvent(EventPayload):
    topic: ClassVar[str] = TOPIC


class ContactAttemptedV1(ContactEvent):
    """Superseded by v2; kept so v1 events on the topic stay readable and their schema stays published."""

    event_type: ClassVar[str] = "collections.contact.attempted"
    version: ClassVar[int] = 1

    attempt_id: Id
    channel: Channel
    party: ContactParty
    collector_id: Id | None = None
    outcome: ContactOutcome
    duration_seconds: Count


class ContactAttempted(ContactEvent):
    """An attempt the gate allowed, with its outcome.

    v2: `recording_ref` (call recording) and `agency_id` (attempts made by an external agency) are
    required keys (null when not applicable), so a v1 body is not a valid v2 body: it is upcast on read.
    """

    event_type: ClassVar[str] = "collections.contact.attempted"
    version: ClassVar[int] = 2

    attempt_id: Id
    channel: Channel
    party: ContactParty
    collector_id: Id | None = None
    agency_id: Id | None
    outcome: ContactOutcome
    duration_seconds: Count
    recording_ref: Id | None
    # Optional additions (same version: absent on older events) so the audit-service can re-run the gate.
    purpose: ContactPurpose | None = Field(default=None, description="None: collection.")
    contact_point: ContactPoint | None = Field(
        default=None, description="Number, address or person contacted."
    )
    debtor_id: Id | None = None
    rule_pack_id: Id | None = Field(default=None, description="The rule pack that allowed the attempt.")
    rule_pack_version: Id | None = None
    debtor_time_zone: TimeZoneName | None = Field(default=None, description="Zone the gate evaluated in.")
    time_zone_source: TimeZoneSource | None = None
    permit_id: Id | None = Field(
        default=None,
        description="The contact permit the attempt was made on (None: reported by another system, or "
        "recorded before permits).",
    )
    reported_by: Id | None = Field(
        default=None,
        description="The system outside the platform that made the contact and reported it on "
        "integration.contacts (None: made through the platform).",
    )
    contacted_at: UtcDateTime | None = Field(
        default=None,
        description="When the contact took place: the permit's issue for a permitted contact, the "
        "report's time for a reported one (None: the event's time).",
    )


PERMIT_SIGNATURE_PATTERN = r"^[A-Za-z0-9_-]{86}$"
"""An Ed25519 signature (64 bytes) in unpadded base64url."""
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class ContactPermitIssued(ContactEvent):
    """The gate allowed a contact before it is made: a single-use permit that reserves the contact's
    place in every cap and cool-down until its outcome is recorded or it expires.

    The permit is signed (Ed25519, key `key_id`) over its id, the case, the channel, the contact point's
    SHA-256, the rule pack and `not_after`, so a dialer or gateway can check it offline
    (`dcp_compliance.permits`)."""

    event_type: ClassVar[str] = "collections.contact.permit_issued"
    version: ClassVar[int] = 1

    permit_id: Id
    channel: Channel
    party: ContactParty
    purpose: ContactPurpose | None = Field(default=None, description="None: collection.")
    collector_id: Id | None = None
    agency_id: Id | None = None
    contact_point: ContactPoint | None = Field(default=None, description="None: any of the channel's.")
    contact_point_sha256: Sha256Hex | None = None
    debtor_id: Id
    not_after: UtcDateTime = Field(description="The contact must start by then.")
    expires_at: UtcDateTime = Field(
        description="The outcome is due by then; an unused permit expires and frees its reservation."
    )
    rule_pack_id: Id
    rule_pack_version: Id
    debtor_time_zone: TimeZoneName | None = None
    time_zone_source: TimeZoneSource | None = None
    key_id: Id = Field(description="The signing key (its public key is served by contact-service).")
    signature: Annotated[str, StringConstraints(pattern=PERMIT_SIGNATURE_PATTERN)]

    @model_validator(mode="after")
    def _expires_after_start(self) -> ContactPermitIssued:
        if self.expires_at < self.not_after:
            raise ValueError("expires_at is before not_after")
        return self


class ContactPermitExpired(ContactEvent):
    """A permit whose outcome never came: its reservation is released."""

    event_type: ClassVar[str] = "collections.contact.permit_expired"
    version: ClassVar[int] = 1

    permit_id: Id
    channel: Channel
    debtor_id: Id


class DeliveryStatus(StrEnum):
    """What a channel reports about a message after it was handed over."""

    DELIVERED = "delivered"
    BOUNCED = "bounced"
    FAILED = "failed"
    OPENED = "opened"
    RETURNED = "returned"  # a letter sent back by the post


class MessageDeliveryReported(ContactEvent):
    """A channel's report on a message the platform sent (an e-mail, an SMS, a letter)."""

    event_type: ClassVar[str] = "collections.contact.delivery_reported"
    version: ClassVar[int] = 1

    attempt_id: Id
    permit_id: Id | None = None
    channel: Channel
    status: DeliveryStatus
    provider_reference: Id | None = Field(default=None, description="The gateway's or letter house's id.")
    detail: Text | None = None


class ContactBlocked(ContactEvent):
    """The compliance gate refused an attempt; the refusal is itself part of the record."""

    event_type: ClassVar[str] = "collections.contact.blocked"
    version: ClassVar[int] = 1

    attempt_id: Id
    channel: Channel
    party: ContactParty
    collector_id: Id | None = None
    rule_id: Id
    citation: Text = Field(description="The law or regulation the rule enforces, e.g. 'Reg F 1006.14(b)'.")
    reason: Text
    rule_pack_id: Id
    rule_pack_version: Id
    next_allowed_at: UtcDateTime | None = Field(default=None, description="None: not allowed until a change.")
    agency_id: Id | None = None
    purpose: ContactPurpose | None = Field(default=None, description="None: collection.")
    contact_point: ContactPoint | None = None
    debtor_id: Id | None = None
    debtor_time_zone: TimeZoneName | None = None
    time_zone_source: TimeZoneSource | None = None


class ContactWindow(PayloadModel):
    """A time window in the debtor's own time zone."""

    days: list[Weekday] = Field(min_length=1, max_length=7)
    start: ClockTime
    end: ClockTime

    @model_validator(mode="after")
    def _ordered(self) -> ContactWindow:
        if self.start >= self.end:
            raise ValueError(f"window start {self.start} is not before end {self.end}")
        if len(set(self.days)) != len(self.days):
            raise ValueError("window repeats a day")
        return self


class ContactPreferencesSet(ContactEvent):
    """The debtor's preferred contact times and channel (replaces earlier preferences)."""

    event_type: ClassVar[str] = "collections.contact.preferences_set"
    version: ClassVar[int] = 1

    preferred_channel: Channel | None = None
    windows: list[ContactWindow] = Field(default_factory=list)


class PromiseMade(ContactEvent):
    event_type: ClassVar[str] = "collections.contact.promise_made"
    version: ClassVar[int] = 1

    promise_id: Id
    amount: Money
    due_on: IsoDate
    channel: Channel
    collector_id: Id | None = None
    attempt_id: Id | None = None


class DisputeRaised(ContactEvent):
    event_type: ClassVar[str] = "collections.contact.dispute_raised"
    version: ClassVar[int] = 1

    dispute_id: Id
    received_via: Channel
    reason: Text
    disputed_amount: Money | None = Field(default=None, description="None: the whole debt.")
    hold_type: HoldType | None = Field(
        default=HoldType.DISPUTE,
        description="The hold the dispute calls for under the case's rule pack (None: recorded, no hold): "
        "verification_pending for a written dispute within the US validation period.",
    )
    within_validation_period: bool | None = Field(
        default=None, description="None: the jurisdiction has no validation period."
    )
    validation_period_end: IsoDate | None = Field(
        default=None, description="The end of the last validation period (None: no validation notice sent)."
    )
    rule_id: Id | None = Field(default=None, description="The pack rule that classified the dispute.")


class VerificationSent(ContactEvent):
    """Verification of a disputed debt went to the debtor (US Regulation F 12 CFR 1006.38(d)(2)): what
    was sent, on which permit, with the documents enclosed by reference and the letter's SHA-256. It
    releases the dispute's verification_pending hold; collection may resume."""

    event_type: ClassVar[str] = "collections.contact.verification_sent"
    version: ClassVar[int] = 1

    dispute_id: Id
    attempt_id: Id
    permit_id: Id | None = None
    channel: Channel
    template: Id
    current_amount: Money
    documents: list[DocumentReference] = Field(default_factory=list, max_length=20)
    content_sha256: Sha256Hex


class CeaseRequested(ContactEvent):
    event_type: ClassVar[str] = "collections.contact.cease_requested"
    version: ClassVar[int] = 1

    request_id: Id
    received_via: Channel
    note: Text | None = None


class ChannelOptedOut(ContactEvent):
    event_type: ClassVar[str] = "collections.contact.channel_opted_out"
    version: ClassVar[int] = 1

    channel: Channel
    received_via: Channel
    contact_point: ContactPoint | None = Field(
        default=None, description="Number or address; None: whole channel."
    )


class WorkplaceContactProhibited(ContactEvent):
    """The debtor's employer prohibits contact at the workplace (Reg F 1006.6(b)(3)).

    No calls to work numbers and no field visits there from now on.
    """

    event_type: ClassVar[str] = "collections.contact.workplace_contact_prohibited"
    version: ClassVar[int] = 1

    received_via: Channel
    note: Text | None = None


class ContactPersonAgreed(ContactEvent):
    """A person the debtor agreed may be asked where the debtor can be reached (never told of the debt)."""

    event_type: ClassVar[str] = "collections.contact.contact_person_agreed"
    version: ClassVar[int] = 1

    contact_point: ContactPoint = Field(description="The person's number or address.")
    relation: Id = Field(description="e.g. spouse, parent, guarantor.")
    received_via: Channel


class ValidationNoticeSent(ContactEvent):
    """The validation notice (US Regulation F 12 CFR 1006.34) went to the debtor: the itemization it
    gave and the end of the validation period it named, with the letter's SHA-256."""

    event_type: ClassVar[str] = "collections.contact.validation_notice_sent"
    version: ClassVar[int] = 1

    attempt_id: Id
    permit_id: Id | None = None
    template: Id
    itemization_date: IsoDate
    amount_at_itemization: Money
    interest: Money
    fees: Money
    payments_and_credits: Money
    current_amount: Money
    validation_period_end: IsoDate
    content_sha256: Sha256Hex
