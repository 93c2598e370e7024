"""Case facts and history built from catalogue events, and the audit's replay of recorded attempts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from dcp_compliance import (
    Channel,
    ComplianceReplay,
    ContactPurpose,
    HoldType,
    Verdict,
    apply_event,
    facts_from_events,
    history_entry,
)
from dcp_events import catalogue as ev
from dcp_events.catalogue.debtor import Account, Debtor, PhoneNumber
from dcp_events.catalogue.enums import ContactOutcome, ContactParty, PhoneKind, TimeZoneSource, Weekday
from dcp_events.envelope import CloudEvent

T0 = datetime(2026, 6, 1, 14, 0, tzinfo=UTC)  # 10:00 in New York


def wrap(payload: object, at: datetime, case_id: str = "case-1") -> CloudEvent:
    return ev.new_event(
        payload,  # type: ignore[arg-type]
        subject=case_id,
        source="/test",
        actor="t",
        actorrole="service",
        correlationid="c",
        time=at,
    )


def opened(case_id: str = "case-1") -> CloudEvent:
    usd = ev.Money(amount_minor=100_00, currency="USD")
    return wrap(
        ev.CaseOpened(
            debtor=Debtor(
                debtor_id="dbt-1",
                full_name="Pat Doe",
                phones=[
                    PhoneNumber(
                        number="+12025550101",
                        kind=PhoneKind.MOBILE,
                        consent_to_call=True,
                        consent_to_sms=False,
                    )
                ],
                language="en-US",
                time_zone="America/New_York",
                time_zone_source=TimeZoneSource.PHONE_AREA_CODE,
            ),
            account=Account(creditor_id="bank", account_reference="A-1", product="card"),
            amounts=ev.CaseAmounts(principal=usd, interest=usd, fees=usd, total_balance=usd),
            days_past_due=40,
            due_since=date(2026, 4, 22),
            jurisdiction="US",
        ),
        T0 - timedelta(days=30),
        case_id,
    )


def attempt(n: int, at: datetime, outcome: ContactOutcome = ContactOutcome.NO_ANSWER) -> CloudEvent:
    return wrap(
        ev.ContactAttempted(
            attempt_id=f"att-{n}",
            channel=Channel.PHONE,
            party=ContactParty.DEBTOR,
            agency_id=None,
            outcome=outcome,
            duration_seconds=0,
            recording_ref=None,
            debtor_id="dbt-1",
            rule_pack_id="us-regf",
            rule_pack_version="2026.1",
        ),
        at,
    )


def test_facts_follow_the_case_and_contact_events() -> None:
    events = [
        opened(),
        wrap(ev.ChannelOptedOut(channel=Channel.EMAIL, received_via=Channel.EMAIL), T0),
        wrap(ev.CeaseRequested(request_id="r-1", received_via=Channel.LETTER), T0),
        wrap(
            ev.ContactPreferencesSet(
                windows=[ev.ContactWindow(days=[Weekday.MON], start="18:00", end="20:00")]
            ),
            T0,
        ),
    ]
    facts = facts_from_events(events)
    assert facts is not None
    assert (facts.case_id, facts.debtor_id, facts.jurisdiction, facts.time_zone) == (
        "case-1",
        "dbt-1",
        "US",
        "America/New_York",
    )
    assert facts.time_zone_source is TimeZoneSource.PHONE_AREA_CODE
    assert facts.contact_points[0].consented == {Channel.PHONE}
    assert [(h.hold_type, h.pending) for h in facts.holds] == [(HoldType.CEASE_COMMUNICATION, True)]
    assert facts.opt_outs[0].channel is Channel.EMAIL
    assert facts.windows[0].start.hour == 18
    placed = apply_event(
        facts, wrap(ev.CaseHoldPlaced(hold_id="h-9", hold_type=HoldType.CEASE_COMMUNICATION), T0)
    )
    assert placed is not None
    assert [(h.hold_id, h.pending) for h in placed.holds] == [("h-9", False)]
    released = apply_event(
        placed,
        wrap(ev.CaseHoldReleased(hold_id="h-9", hold_type=HoldType.CEASE_COMMUNICATION, reason="x"), T0),
    )
    assert released is not None and released.holds == ()
    assert apply_event(None, wrap(ev.CaseHoldPlaced(hold_id="h", hold_type=HoldType.DISPUTE), T0)) is None


def test_history_entry_from_an_attempt() -> None:
    entry = history_entry(attempt(1, T0, ContactOutcome.RIGHT_PARTY_CONTACT))
    assert entry is not None
    assert (entry.case_id, entry.debtor_id, entry.at, entry.outcome) == (
        "case-1",
        "dbt-1",
        T0,
        ContactOutcome.RIGHT_PARTY_CONTACT,
    )
    assert entry.purpose is ContactPurpose.COLLECTION
    assert history_entry(opened()) is None


def test_replay_finds_the_eighth_call_and_the_call_during_a_hold() -> None:
    replay = ComplianceReplay()
    assert replay.apply(opened()) is None
    verdicts = [replay.apply(attempt(n, T0 + timedelta(hours=n))) for n in range(8)]
    assert [d.verdict for d in verdicts if d] == [Verdict.ALLOW] * 7 + [Verdict.DENY]
    assert verdicts[-1] is not None and verdicts[-1].rule_id == "US-REGF-7IN7"
    replay.apply(wrap(ev.CaseHoldPlaced(hold_id="h-1", hold_type=HoldType.ATTORNEY), T0 + timedelta(days=9)))
    during = replay.apply(attempt(99, T0 + timedelta(days=9, hours=1)))
    assert during is not None and during.rule_id == "US-REGF-ATTORNEY"


def test_replay_counts_an_attempt_delivered_twice_once() -> None:
    replay = ComplianceReplay()
    replay.apply(opened())
    calls = [attempt(n, T0 + timedelta(hours=n)) for n in range(7)]
    for call in calls:
        replay.apply(call)
    # At-least-once delivery: the seventh call arrives again; it is not an eighth call.
    assert replay.apply(calls[-1]) is None
    assert len(replay.history["dbt-1"]) == 7
    eighth = replay.apply(attempt(7, T0 + timedelta(hours=8)))
    assert eighth is not None and eighth.rule_id == "US-REGF-7IN7"
