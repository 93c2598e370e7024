"""Builders for the rule tests: cases, history entries and local times in a named zone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from dcp_compliance import (
    CaseFacts,
    Channel,
    ContactHistoryEntry,
    ContactOutcome,
    ContactParty,
    ContactPoint,
    Decision,
    ProposedContact,
    TimeZoneSource,
    decide,
    load_pack,
)
from dcp_events.catalogue.enums import PhoneKind

ZONES = {"US": "America/New_York", "GB": "Europe/London", "CN": "Asia/Shanghai"}
MOBILE = "+12025550101"
WORK = "+12025550199"
EMAIL = "debtor@example.org"


def local(zone: str, text: str) -> datetime:
    """`text` ('2026-03-08 07:59[:59]') as wall time in `zone`, returned in UTC (first fold if repeated)."""
    naive = datetime.fromisoformat(text)
    return naive.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def phone(
    value: str = MOBILE, *, call: bool = True, sms: bool = True, kind: PhoneKind = PhoneKind.MOBILE
) -> ContactPoint:
    consented = {c for c, ok in ((Channel.PHONE, call), (Channel.SMS, sms)) if ok}
    return ContactPoint(
        value=value,
        usable_for=frozenset({Channel.PHONE, Channel.SMS}),
        consented=frozenset(consented),
        phone_kind=kind,
    )


def email(value: str = EMAIL, *, consent: bool = True) -> ContactPoint:
    return ContactPoint(
        value=value,
        usable_for=frozenset({Channel.EMAIL}),
        consented=frozenset({Channel.EMAIL} if consent else set()),
    )


def facts(jurisdiction: str = "US", zone: str | None = None, **overrides: Any) -> CaseFacts:
    values: dict[str, Any] = {
        "case_id": "case-1",
        "debtor_id": "dbt-1",
        "jurisdiction": jurisdiction,
        "time_zone": zone or ZONES.get(jurisdiction, "UTC"),
        "time_zone_source": TimeZoneSource.ADDRESS,
        "contact_points": (phone(), email()),
    }
    values.update(overrides)
    return CaseFacts(**values)


_counter = iter(range(1, 10**9))


def entry(
    at: datetime,
    outcome: ContactOutcome = ContactOutcome.NO_ANSWER,
    *,
    channel: Channel = Channel.PHONE,
    party: ContactParty = ContactParty.DEBTOR,
    case_id: str = "case-1",
    debtor_id: str = "dbt-1",
    agency_id: str | None = None,
    contact_point: str | None = MOBILE,
) -> ContactHistoryEntry:
    return ContactHistoryEntry(
        attempt_id=f"att-{next(_counter)}",
        case_id=case_id,
        debtor_id=debtor_id,
        at=at,
        channel=channel,
        party=party,
        outcome=outcome,
        agency_id=agency_id,
        contact_point=contact_point,
    )


def run(
    jurisdiction: str,
    now: datetime,
    *,
    case: CaseFacts | None = None,
    history: list[ContactHistoryEntry] | None = None,
    **proposed: Any,
) -> Decision:
    proposed.setdefault("channel", Channel.PHONE)
    return decide(
        load_pack(jurisdiction), case or facts(jurisdiction), history or [], ProposedContact(**proposed), now
    )
