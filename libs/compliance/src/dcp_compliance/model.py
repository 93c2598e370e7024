"""The gate's inputs and output: case facts, contact history entries, a proposed contact, the decision.

All are immutable pydantic models (plain data, JSON round-trip with `model_dump(mode="json")` /
`model_validate`), so a service can keep case facts in its read model and an auditor can rebuild
them from the event stream (see `dcp_compliance.stream`). Times are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from dcp_events.catalogue.contacts import ContactPurpose
from dcp_events.catalogue.enums import (
    Channel,
    ContactOutcome,
    ContactParty,
    HoldType,
    PhoneKind,
    TimeZoneSource,
    VulnerabilityType,
    Weekday,
)

__all__ = [
    "CaseFacts",
    "CaseStatus",
    "Channel",
    "ContactHistoryEntry",
    "ContactOutcome",
    "ContactParty",
    "ContactPoint",
    "ContactPurpose",
    "Decision",
    "Hold",
    "HoldType",
    "LocalWindow",
    "OptOut",
    "ProposedContact",
    "TimeZoneSource",
    "Verdict",
    "VulnerabilityFlag",
    "VulnerabilityType",
    "Weekday",
]


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetimes are refused: give a timezone-aware (UTC) time")
    return value.astimezone(UTC)


UtcTime = Annotated[datetime, AfterValidator(_utc)]


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Hold(_Data):
    """A hold on the case (or a debtor request not yet turned into one: `pending=True`)."""

    hold_id: str
    hold_type: HoldType
    placed_at: UtcTime
    expires_at: UtcTime | None = None
    pending: bool = False

    def active_at(self, moment: datetime, default_days: int | None = None) -> bool:
        """Whether the hold blocks at `moment` (a known hold blocks from now on, whatever its recorded
        start); without its own expiry, the pack may give a default length from `placed_at`."""
        end = self.ends_at(default_days)
        return end is None or moment < end

    def ends_at(self, default_days: int | None = None) -> datetime | None:
        if self.expires_at is not None:
            return self.expires_at
        if default_days is not None:
            return self.placed_at + timedelta(days=default_days)
        return None


class ContactPoint(_Data):
    """One way to reach the debtor, with the channels it serves and those the debtor consented to."""

    value: str = Field(description="E.164 number, e-mail address or postal address label.")
    usable_for: frozenset[Channel]
    consented: frozenset[Channel]
    phone_kind: PhoneKind | None = None


class OptOut(_Data):
    """The debtor opted out of `channel` (on one contact point, or on the whole channel when None)."""

    channel: Channel
    contact_point: str | None = None
    at: UtcTime


class LocalWindow(_Data):
    """A preferred contact window in the debtor's own time zone (end inclusive, like the pack hours)."""

    days: frozenset[Weekday]
    start: time
    end: time


class VulnerabilityFlag(_Data):
    """An active vulnerability flag on the debtor (only its type and when it was placed: the details are
    personal data the gate never needs)."""

    flag_id: str
    vulnerability_type: VulnerabilityType
    flagged_at: UtcTime


class CaseFacts(_Data):
    """What the gate needs to know about one case (= one debt) and its debtor."""

    case_id: str
    debtor_id: str
    jurisdiction: str
    time_zone: str = Field(description="IANA name; an unknown zone makes every decision a refusal.")
    time_zone_source: TimeZoneSource | None = None
    status: CaseStatus = CaseStatus.OPEN
    holds: tuple[Hold, ...] = ()
    contact_points: tuple[ContactPoint, ...] = ()
    opt_outs: tuple[OptOut, ...] = ()
    windows: tuple[LocalWindow, ...] = ()
    workplace_contact_prohibited: bool = False
    agreed_contacts: frozenset[str] = Field(
        default=frozenset(), description="Contact points of people the debtor agreed may be asked."
    )
    due_since: date | None = None
    time_barred_at: date | None = Field(
        default=None,
        description="The first day the debt is time-barred by its jurisdiction's limitation rule (from "
        "the case's CaseLimitationDated); None: not known, the pack's flat period applies.",
    )
    limitation_rule_id: str | None = None
    limitation_citation: str | None = None
    limitation_extinguishes: bool = Field(
        default=False, description="Expiry extinguishes the debt (e.g. Scottish prescription): no collection."
    )
    vulnerabilities: tuple[VulnerabilityFlag, ...] = ()


class ContactHistoryEntry(_Data):
    """One contact that took place (an allowed attempt), as counted by the frequency rules."""

    attempt_id: str
    case_id: str
    debtor_id: str
    at: UtcTime
    channel: Channel
    party: ContactParty
    outcome: ContactOutcome
    collector_id: str | None = None
    agency_id: str | None = None
    contact_point: str | None = None
    purpose: ContactPurpose = ContactPurpose.COLLECTION


class ProposedContact(_Data):
    """The contact a collector (or dialer, or letter run) is about to make."""

    channel: Channel
    party: ContactParty = ContactParty.DEBTOR
    purpose: ContactPurpose = ContactPurpose.COLLECTION
    contact_point: str | None = Field(
        default=None, description="None: any of the debtor's contact points for the channel."
    )
    attempt_id: str | None = Field(
        default=None, description="When re-checking a recorded attempt: its own history entry is ignored."
    )
    recording_ref: str | None = None
    discloses_debt: bool = Field(
        default=False, description="Third parties only: the contact would reveal the debt."
    )
    at_workplace: bool = Field(default=False, description="A field visit at the debtor's workplace.")
    collector_id: str | None = None
    agency_id: str | None = None


class Verdict(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class Decision(_Data):
    """The gate's answer. A denial names the rule, its citation, a reason a collector understands and
    the earliest time the same contact would be allowed (None: not until something changes)."""

    verdict: Verdict
    rule_id: str | None = None
    citation: str | None = None
    reason: str | None = None
    next_allowed_at: UtcTime | None = None
    pack_id: str
    pack_version: str
    jurisdiction: str
    time_zone: str | None = None
    time_zone_source: TimeZoneSource | None = None
    local_time: str | None = Field(default=None, description="ISO local time at the debtor when decided.")
    decided_at: UtcTime
    rules_checked: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOW
