"""The audit's replay with contact permits: live permits counted as the gate counted them, each permit
re-decided at its issue, attempts matched to their permits, reported contacts re-decided."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from dcp_compliance import Channel, ComplianceReplay, HoldType, Verdict
from dcp_compliance.stream import (
    NO_PERMIT_FINDING,
    NO_PERMIT_RULE,
    PERMIT_CHANNEL_RULE,
    PERMIT_EXPIRED_RULE,
    PERMIT_FINDING,
    PERMIT_REUSED_RULE,
    PERMIT_UNKNOWN_RULE,
    Judgement,
)
from dcp_events import catalogue as ev
from dcp_events.catalogue.contacts import ContactPermitExpired, ContactPermitIssued
from dcp_events.catalogue.debtor import Account, Debtor, PhoneNumber
from dcp_events.catalogue.enums import ContactOutcome, ContactParty, PhoneKind, TimeZoneSource
from dcp_events.envelope import CloudEvent

T0 = datetime(2026, 6, 1, 14, 0, tzinfo=UTC)  # 10:00 in New York
TTL = timedelta(minutes=15)
SOURCE = "agency-dialer-acme"


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


def opened(jurisdiction: str = "US", zone: str = "America/New_York", case_id: str = "case-1") -> CloudEvent:
    money = ev.Money(amount_minor=100_00, currency="USD")
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
                time_zone=zone,
                time_zone_source=TimeZoneSource.PHONE_AREA_CODE,
            ),
            account=Account(creditor_id="bank", account_reference="A-1", product="card"),
            amounts=ev.CaseAmounts(principal=money, interest=money, fees=money, total_balance=money),
            days_past_due=40,
            due_since=date(2026, 4, 22),
            jurisdiction=jurisdiction,
        ),
        T0 - timedelta(days=30),
        case_id,
    )


def permit(name: str, at: datetime, case_id: str = "case-1", **changes: Any) -> CloudEvent:
    fields: dict[str, Any] = {
        "permit_id": name,
        "channel": Channel.PHONE,
        "party": ContactParty.DEBTOR,
        "debtor_id": "dbt-1",
        "not_after": at + TTL,
        "expires_at": at + 2 * TTL,
        "rule_pack_id": "us-regf",
        "rule_pack_version": "2026.1",
        "key_id": "k-1",
        "signature": "A" * 86,
    }
    return wrap(ContactPermitIssued(**{**fields, **changes}), at, case_id)


def expired(name: str, at: datetime) -> CloudEvent:
    return wrap(ContactPermitExpired(permit_id=name, channel=Channel.PHONE, debtor_id="dbt-1"), at)


def attempt(name: str, at: datetime, case_id: str = "case-1", **changes: Any) -> CloudEvent:
    fields: dict[str, Any] = {
        "attempt_id": name,
        "channel": Channel.PHONE,
        "party": ContactParty.DEBTOR,
        "agency_id": None,
        "outcome": ContactOutcome.NO_ANSWER,
        "duration_seconds": 0,
        "recording_ref": None,
        "debtor_id": "dbt-1",
        "rule_pack_id": "us-regf",
        "rule_pack_version": "2026.1",
    }
    return wrap(ev.ContactAttempted(**{**fields, **changes}), at, case_id)


def one_shot(replay: ComplianceReplay, n: int, at: datetime) -> tuple[Judgement, Judgement]:
    """What contact-service's /contact-attempts emits: the permit, then the attempt on it."""
    issued = replay.judge(permit(f"pmt-{n}", at))
    made = replay.judge(attempt(f"att-{n}", at, permit_id=f"pmt-{n}", contacted_at=at))
    return issued, made


def reported(replay: ComplianceReplay, n: int, at: datetime) -> Judgement:
    # recorded a little after it took place, as contact-service records a report
    event = attempt(f"ext-{n}", at + timedelta(minutes=5), reported_by=SOURCE, contacted_at=at)
    return replay.judge(event)


def replay_of(*events: CloudEvent) -> ComplianceReplay:
    replay = ComplianceReplay()
    replay.judge(opened())
    for event in events:
        replay.judge(event)
    return replay


def rules(judgement: Judgement) -> list[str]:
    return [f.rule_id for f in judgement.permit_findings]


def test_the_one_shot_pair_has_no_finding_and_the_attempt_replaces_the_reservation() -> None:
    replay = replay_of()
    issued, made = one_shot(replay, 1, T0)
    assert issued.decision is not None and issued.decision.verdict is Verdict.ALLOW
    assert issued.permit_findings == ()
    assert made == Judgement()  # decided at the permit's issue: not re-decided, no finding
    assert [e.attempt_id for e in replay.counted("dbt-1")] == ["att-1"]
    assert replay.counted("dbt-1")[0].at == T0


def test_an_attempt_on_its_open_permit_is_not_re_decided() -> None:
    replay = replay_of(permit("pmt-1", T0))
    # a hold placed after the permit's issue: the contact made on it was allowed when it was decided
    replay.judge(
        wrap(ev.CaseHoldPlaced(hold_id="h-1", hold_type=HoldType.ATTORNEY), T0 + timedelta(minutes=1))
    )
    made = replay.judge(attempt("att-1", T0 + timedelta(minutes=10), permit_id="pmt-1", contacted_at=T0))
    assert made == Judgement()


def test_an_attempt_on_an_expired_permit_is_a_permit_finding() -> None:
    replay = replay_of(permit("pmt-1", T0), expired("pmt-1", T0 + 2 * TTL))
    assert replay.counted("dbt-1") == []  # the expiry released the reservation
    late = T0 + 3 * TTL
    made = replay.judge(attempt("att-1", late, permit_id="pmt-1", contacted_at=late))
    [found] = made.permit_findings
    assert (found.kind, found.rule_id, found.attempt_id, found.permit_id) == (
        PERMIT_FINDING,
        PERMIT_EXPIRED_RULE,
        "att-1",
        "pmt-1",
    )
    assert "att-1" in found.reason and "pmt-1" in found.reason and "expired" in found.reason
    # the gate decided no permit for this contact: the contact itself is decided (and counts)
    assert made.decision is not None and made.decision.allowed
    assert [e.attempt_id for e in replay.counted("dbt-1")] == ["att-1"]


def test_an_attempt_recorded_after_the_permits_expiry_is_a_permit_finding() -> None:
    replay = replay_of(permit("pmt-1", T0))  # no expiry event (yet): the time alone decides
    made = replay.judge(attempt("att-1", T0 + 3 * TTL, permit_id="pmt-1"))
    assert rules(made) == [PERMIT_EXPIRED_RULE]
    assert "after the permit expired" in made.permit_findings[0].reason


def test_a_second_attempt_on_a_used_permit_is_a_permit_finding() -> None:
    replay = replay_of()
    one_shot(replay, 1, T0)
    again = replay.judge(attempt("att-2", T0 + timedelta(minutes=5), permit_id="pmt-1"))
    [found] = again.permit_findings
    assert found.rule_id == PERMIT_REUSED_RULE
    assert "att-2" in found.reason and "pmt-1" in found.reason and "att-1" in found.reason
    assert again.decision is not None  # re-decided: nothing decided it
    assert len(replay.counted("dbt-1")) == 2  # both contacts took place and count


def test_an_attempt_on_an_unknown_permit_is_a_permit_finding() -> None:
    replay = replay_of(permit("pmt-other-case", T0 - timedelta(hours=1)))
    made = replay.judge(attempt("att-1", T0, permit_id="pmt-nowhere"))
    [found] = made.permit_findings
    assert found.rule_id == PERMIT_UNKNOWN_RULE and found.kind == PERMIT_FINDING
    assert "unknown permit" in found.reason and "pmt-nowhere" in found.reason and "att-1" in found.reason
    # a permit issued on another case (of the same debtor) is unknown on this one
    replay.judge(opened(case_id="case-2"))
    made = replay.judge(attempt("att-2", T0, "case-2", permit_id="pmt-other-case"))
    assert rules(made) == [PERMIT_UNKNOWN_RULE]


def test_an_attempt_on_another_channels_permit_is_a_permit_finding() -> None:
    replay = replay_of(permit("pmt-1", T0, channel=Channel.EMAIL))
    made = replay.judge(attempt("att-1", T0, permit_id="pmt-1", contacted_at=T0))
    assert rules(made) == [PERMIT_CHANNEL_RULE]
    assert "phone" in made.permit_findings[0].reason and "email" in made.permit_findings[0].reason


def test_an_attempt_without_permit_is_re_decided_and_a_finding() -> None:
    replay = replay_of()
    made = replay.judge(attempt("att-1", T0 - timedelta(hours=11)))  # 23:00 in New York
    [found] = made.permit_findings
    assert (found.kind, found.rule_id) == (NO_PERMIT_FINDING, NO_PERMIT_RULE)
    assert "att-1" in found.reason and "without a permit" in found.reason
    assert made.decision is not None and made.decision.rule_id == "US-REGF-TIME"


def test_a_reported_contact_over_the_cap_is_a_finding_naming_its_source() -> None:
    replay = replay_of()
    judged = [reported(replay, n, T0 + timedelta(hours=n)) for n in range(8)]
    assert all(j.permit_findings == () for j in judged)  # another system's contact needs no permit
    decisions = [j.decision for j in judged]
    assert [d.verdict for d in decisions if d] == [Verdict.ALLOW] * 7 + [Verdict.DENY]
    eighth = decisions[-1]
    assert eighth is not None and eighth.rule_id == "US-REGF-7IN7"
    assert eighth.reason is not None
    assert eighth.reason.startswith(f"reported by {SOURCE}: the gate would have refused US-REGF-7IN7")
    # decided when the contact took place, not when it was recorded
    assert eighth.decided_at == T0 + timedelta(hours=7)
    assert [e.at for e in replay.counted("dbt-1")] == [T0 + timedelta(hours=n) for n in range(8)]


def test_a_permit_issued_with_the_history_at_the_cap_is_a_finding() -> None:
    replay = replay_of()
    for n in range(4):
        issued, made = one_shot(replay, n, T0 + timedelta(hours=n))
        assert issued.decision is not None and issued.decision.allowed and made == Judgement()
    for n in range(4, 6):
        assert reported(replay, n, T0 + timedelta(hours=n)).decision is not None
    live = replay.judge(permit("pmt-live", T0 + timedelta(hours=6)))
    assert live.decision is not None and live.decision.allowed  # the seventh call
    over = replay.judge(permit("pmt-over", T0 + timedelta(hours=7)))
    assert over.decision is not None and over.decision.rule_id == "US-REGF-7IN7"


def test_live_reservations_count_until_they_expire() -> None:
    def six_calls_and_a_live_permit() -> ComplianceReplay:
        replay = replay_of()
        for n in range(6):
            one_shot(replay, n, T0 + timedelta(hours=n))
        first = replay.judge(permit("pmt-a", T0 + timedelta(hours=6)))
        # its own reservation does not count against it: the seventh call is allowed
        assert first.decision is not None and first.decision.allowed
        return replay

    replay = six_calls_and_a_live_permit()
    second = replay.judge(permit("pmt-b", T0 + timedelta(hours=6, minutes=1)))
    assert second.decision is not None and second.decision.rule_id == "US-REGF-7IN7"
    assert second.permit_findings == ()

    replay = six_calls_and_a_live_permit()
    replay.judge(expired("pmt-a", T0 + timedelta(hours=6, minutes=30)))
    third = replay.judge(permit("pmt-c", T0 + timedelta(hours=7)))
    assert third.decision is not None and third.decision.allowed


def test_a_redelivered_permit_reserves_once() -> None:
    replay = replay_of()
    for n in range(6):
        one_shot(replay, n, T0 + timedelta(hours=n))
    live = permit("pmt-a", T0 + timedelta(hours=6))
    replay.judge(live)
    assert replay.judge(live) == Judgement()
    assert len(replay.counted("dbt-1")) == 7


def test_a_field_visit_permit_is_decided_at_issue_and_its_recording_on_the_outcome() -> None:
    replay = ComplianceReplay()
    replay.judge(opened("CN", "Asia/Shanghai"))
    noon = T0 - timedelta(hours=10)  # 12:00 in Shanghai
    cn = {"channel": Channel.FIELD_VISIT, "rule_pack_id": "cn-nifa", "rule_pack_version": "2026.1"}
    for name, recording in (("a", "rec-1"), ("b", None)):
        at = noon + timedelta(hours=1 if name == "b" else 0)
        issued = replay.judge(permit(f"pmt-{name}", at, **cn))
        # the recording is made during the visit: the permit cannot be refused for lacking it
        assert issued.decision is not None and issued.decision.allowed, issued.decision
        made = replay.judge(
            attempt(
                f"att-{name}", at, permit_id=f"pmt-{name}", contacted_at=at, recording_ref=recording, **cn
            )
        )
        assert made.permit_findings == ()
        assert made.decision is not None
        if recording is None:
            assert made.decision.rule_id == "CN-NIFA-RECORD"
        else:
            assert made.decision.allowed
