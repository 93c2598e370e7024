"""Inbound events from creditors' and agencies' systems: integration.placements, integration.payments and
integration.contacts.

Their `subject` (and Kafka key) is the case id the account maps to: `case_id_for_account(...)`.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from pydantic import Field, model_validator

from dcp_events.catalogue.base import (
    CaseAmounts,
    Count,
    EventPayload,
    Id,
    IsoDate,
    Jurisdiction,
    Money,
    Text,
    UtcDateTime,
)
from dcp_events.catalogue.contacts import ContactPoint, ContactPurpose
from dcp_events.catalogue.debtor import Account, Debtor, EmailAddress, PhoneNumber, PostalAddress
from dcp_events.catalogue.enums import Channel, ContactOutcome, ContactParty, PaymentMethod

PLACEMENTS_TOPIC = "integration.placements"
PAYMENTS_TOPIC = "integration.payments"
CONTACTS_TOPIC = "integration.contacts"

# Fixed namespace: the same creditor account always maps to the same case id, on every machine.
CASE_ID_NAMESPACE = uuid.UUID("6f1c7a52-3f0e-5d1b-9a51-0d0c0c0a5e11")


def case_id_for_account(creditor_id: str, account_reference: str) -> str:
    """The case id of a creditor's account (UUIDv5), used as subject and key of integration events."""
    return str(uuid.uuid5(CASE_ID_NAMESPACE, f"{creditor_id}\x1f{account_reference}"))


class AccountPlaced(EventPayload):
    """A creditor places a new delinquent account for collection."""

    topic: ClassVar[str] = PLACEMENTS_TOPIC
    event_type: ClassVar[str] = "integration.placement.placed"
    version: ClassVar[int] = 1

    placement_id: Id
    debtor: Debtor
    account: Account
    amounts: CaseAmounts
    days_past_due: Count
    due_since: IsoDate
    jurisdiction: Jurisdiction
    risk_score: int | None = Field(default=None, ge=0, le=1000, strict=True)


class PlacementUpdated(EventPayload):
    """New figures or contact details for a placed account; absent (null) fields are unchanged."""

    topic: ClassVar[str] = PLACEMENTS_TOPIC
    event_type: ClassVar[str] = "integration.placement.updated"
    version: ClassVar[int] = 1

    placement_id: Id
    account: Account
    amounts: CaseAmounts | None = None
    days_past_due: Count | None = None
    phones: list[PhoneNumber] | None = None
    emails: list[EmailAddress] | None = None
    address: PostalAddress | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> PlacementUpdated:
        fields = (self.amounts, self.days_past_due, self.phones, self.emails, self.address)
        if all(f is None for f in fields):
            raise ValueError("a placement update must change at least one field")
        return self


class PlacementRecalled(EventPayload):
    """The creditor takes the account back; the case closes as recalled."""

    topic: ClassVar[str] = PLACEMENTS_TOPIC
    event_type: ClassVar[str] = "integration.placement.recalled"
    version: ClassVar[int] = 1

    placement_id: Id
    account: Account
    reason: Text


class PaymentPosted(EventPayload):
    """A payment the core banking system took directly, to be applied to the case."""

    topic: ClassVar[str] = PAYMENTS_TOPIC
    event_type: ClassVar[str] = "integration.payment.posted"
    version: ClassVar[int] = 1

    posting_id: Id
    account: Account
    amount: Money
    method: PaymentMethod
    external_reference: Id = Field(description="Core banking's reference; the idempotency key.")
    posted_at: UtcDateTime
    value_date: IsoDate

    @model_validator(mode="after")
    def _positive_amount(self) -> PaymentPosted:
        if self.amount.amount_minor == 0:
            raise ValueError("amount must be more than zero")
        return self


class ContactReported(EventPayload):
    """A contact made outside the platform (an agency's own dialer, a letter house) and reported to it:
    the gate counts it in the debtor's history from then on, with the source named."""

    topic: ClassVar[str] = CONTACTS_TOPIC
    event_type: ClassVar[str] = "integration.contact.reported"
    version: ClassVar[int] = 1

    report_id: Id = Field(description="The reporting system's id of the contact; the idempotency key.")
    source: Id = Field(description="The system that made the contact, e.g. agency-dialer-acme.")
    account: Account
    channel: Channel
    party: ContactParty = ContactParty.DEBTOR
    purpose: ContactPurpose | None = Field(default=None, description="None: collection.")
    outcome: ContactOutcome
    contacted_at: UtcDateTime
    duration_seconds: Count = 0
    contact_point: ContactPoint | None = None
    collector_id: Id | None = None
    agency_id: Id | None = None
    recording_ref: Id | None = None
