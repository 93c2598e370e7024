"""Building blocks of event payloads: the payload base class, money, and the constrained scalar types."""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import date
from typing import Annotated, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from dcp_events.currencies import ISO_4217_CODES
from dcp_events.envelope import JURISDICTION_PATTERN, UtcDateTime, make_type

__all__ = [
    "CaseAmounts",
    "Count",
    "Currency",
    "EventPayload",
    "Id",
    "IsoDate",
    "Jurisdiction",
    "Money",
    "MoneyDelta",
    "PayloadModel",
    "StrictBool",
    "Text",
    "TimeZoneName",
    "UtcDateTime",
]


class PayloadModel(BaseModel):
    """Strict, immutable model for event data and its parts: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class EventPayload(PayloadModel):
    """The `data` of one event type at one version."""

    event_type: ClassVar[str]
    """Base type, e.g. "collections.case.opened"."""
    version: ClassVar[int]
    topic: ClassVar[str]

    @classmethod
    def type_name(cls) -> str:
        """Full CloudEvents `type`, e.g. "collections.case.opened.v1"."""
        return make_type(cls.event_type, cls.version)


def _check_currency(value: str) -> str:
    if value not in ISO_4217_CODES:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code (3 upper-case letters, e.g. GBP)")
    return value


Currency = Annotated[
    str,
    AfterValidator(_check_currency),
    WithJsonSchema(
        {"type": "string", "enum": sorted(ISO_4217_CODES), "description": "ISO 4217 currency code."}
    ),
]


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _check_time_zone(value: str) -> str:
    if value not in _time_zones():
        raise ValueError(f"{value!r} is not an IANA time zone name (e.g. Europe/London)")
    return value


TimeZoneName = Annotated[
    str,
    AfterValidator(_check_time_zone),
    WithJsonSchema({"type": "string", "description": "IANA time zone name, e.g. Europe/London."}),
]


_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _only_text_or_date(value: object) -> object:
    # A date on the wire is YYYY-MM-DD text; numbers and datetimes are mistakes, not dates.
    if (isinstance(value, str) and _DATE_RE.match(value)) or type(value) is date:
        return value
    raise ValueError("a date must be a YYYY-MM-DD string or a date")


IsoDate = Annotated[date, BeforeValidator(_only_text_or_date)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
Jurisdiction = Annotated[str, StringConstraints(pattern=JURISDICTION_PATTERN)]
Count = Annotated[StrictInt, Field(ge=0, le=2**31 - 1)]

# Largest amount in minor units: 10^15 (ten trillion in a two-decimal currency). Sums of such
# amounts still fit PostgreSQL's bigint, so no ledger or read model can overflow.
MAX_MINOR = 10**15


class DocumentReference(PayloadModel):
    """A document kept outside the event (a document store, the court's file): the event names it by
    reference and, where known, by its SHA-256, never carries its content."""

    document_id: Id
    kind: Id = Field(description="e.g. statement, agreement, claim_form, judgment, verification.")
    description: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    uri: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None


class Money(PayloadModel):
    """An amount in minor units (pence, cents) of one currency; never a float, never negative."""

    amount_minor: StrictInt = Field(ge=0, le=MAX_MINOR)
    currency: Currency


class MoneyDelta(PayloadModel):
    """A signed change of an amount, in minor units."""

    delta_minor: StrictInt = Field(ge=-MAX_MINOR, le=MAX_MINOR)
    currency: Currency


class CaseAmounts(PayloadModel):
    """What the debtor owes, by component; all in one currency."""

    principal: Money
    interest: Money
    fees: Money
    total_balance: Money

    @model_validator(mode="after")
    def _one_currency(self) -> CaseAmounts:
        currencies = {m.currency for m in (self.principal, self.interest, self.fees, self.total_balance)}
        if len(currencies) != 1:
            raise ValueError(f"case amounts mix currencies: {sorted(currencies)}")
        return self
