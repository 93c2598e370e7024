"""Who owes and what account they owe on: carried by placements and by CaseOpened."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StringConstraints

from dcp_events.catalogue.base import Id, Jurisdiction, PayloadModel, TimeZoneName
from dcp_events.catalogue.enums import PhoneKind, TimeZoneSource

E164 = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]
EmailText = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
LanguageTag = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]
Line = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class PhoneNumber(PayloadModel):
    number: E164 = Field(description="E.164, e.g. +447700900123.")
    kind: PhoneKind
    consent_to_call: StrictBool
    consent_to_sms: StrictBool


class EmailAddress(PayloadModel):
    address: EmailText
    consent_to_email: StrictBool


class PostalAddress(PayloadModel):
    lines: list[Line] = Field(min_length=1, max_length=5)
    city: Line
    region: Line | None = None
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=20)] | None = None
    country: Jurisdiction = Field(description="ISO 3166-1 alpha-2.")


class Debtor(PayloadModel):
    debtor_id: Id
    full_name: Line
    national_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    phones: list[PhoneNumber] = Field(default_factory=list)
    emails: list[EmailAddress] = Field(default_factory=list)
    address: PostalAddress | None = None
    language: LanguageTag = Field(description="BCP 47 language tag, e.g. en-GB.")
    time_zone: TimeZoneName
    time_zone_source: TimeZoneSource


class Account(PayloadModel):
    creditor_id: Id
    account_reference: Id = Field(description="The creditor's own reference of the account.")
    product: Id = Field(description="Product name or code, e.g. credit_card, personal_loan.")
