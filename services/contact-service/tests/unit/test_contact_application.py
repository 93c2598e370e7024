"""The contact service's use cases through its command bus and handler table, on the in-memory store
and read models, with the real rule packs: the same handlers the routes and consumers run, without
the stack."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import REGISTRY

from contact_service.adapters.memory import InMemoryContactService
from contact_service.adapters.unit_of_work_contract import ZONES, case_opened
from contact_service.application import commands as c
from contact_service.application import messaging, queries
from contact_service.application.handlers import COMMAND_HANDLERS
from contact_service.application.permits import PERMIT_EXPIRY
from contact_service.application.ports import ContactEnvironment, MessageRecord
from contact_service.domain.errors import CaseNotAssigned, CaseUnknown, ContactRefused, PromiseRefused
from dcp_compliance import ProposedContact
from dcp_events.catalogue import Assignee, CaseAmounts, CaseAssigned, Money
from dcp_events.catalogue.cases import CaseClosed, CaseHoldPlaced, CaseHoldReleased
from dcp_events.catalogue.contacts import DeliveryStatus
from dcp_events.catalogue.enums import (
    AssigneeKind,
    Channel,
    CloseReason,
    ContactOutcome,
    HoldType,
)
from dcp_platform.application import UnknownCommand
from dcp_platform.auth import Principal, Role
from dcp_platform.clock import ManualClock
from dcp_platform.eventsourcing.timers import DueTimer
from dcp_platform.testing.handler_table import assert_every_command_has_a_handler

START = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)  # 12:00 in New York, 17:00 in London, 00:00 in Shanghai
COLLECTOR = Principal(subject="col-1", role=Role.COLLECTOR)
ATTEMPTED, BLOCKED = "collections.contact.attempted.v2", "collections.contact.blocked.v1"
PERMITTED = "collections.contact.permit_issued.v1"
ONE_SHOT = [PERMITTED, ATTEMPTED]  # /contact-attempts: the permit and its outcome in one unit of work


@pytest.fixture
def service() -> InMemoryContactService:
    return InMemoryContactService(ContactEnvironment(ManualClock(START)))


def at_local(service: InMemoryContactService, zone: str, hour: int, minute: int = 0) -> datetime:
    """Move the clock to the next `hour:minute` wall time in `zone`."""
    clock = service.env.clock
    assert isinstance(clock, ManualClock)
    now = clock.now()
    target = now.astimezone(ZoneInfo(zone)).replace(hour=hour, minute=minute, second=0, microsecond=0)
    while target.astimezone(UTC) <= now:
        target = (target + timedelta(days=1)).replace(hour=hour, minute=minute)
    clock.set(target.astimezone(UTC))
    return clock.now()


async def open_case(
    service: InMemoryContactService,
    jurisdiction: str = "US",
    *,
    debtor_id: str | None = None,
    collector: str = "col-1",
) -> str:
    """CaseOpened and CaseAssigned from collections.cases, folded as the consumer folds them."""
    case_id = f"case-{uuid4().hex[:10]}"
    opened = case_opened(case_id, jurisdiction, debtor_id=debtor_id)
    now = service.env.now()
    await service.handle(c.FoldCaseEvent(case_id, opened, now))
    assigned = CaseAssigned(assignee=Assignee(kind=AssigneeKind.COLLECTOR, id=collector), reason="test")
    await service.handle(c.FoldCaseEvent(case_id, assigned, now))
    return case_id


def call(
    case_id: str,
    outcome: ContactOutcome = ContactOutcome.NO_ANSWER,
    *,
    attempt_id: str | None = None,
    channel: Channel = Channel.PHONE,
) -> c.RecordAttempt:
    return c.RecordAttempt(
        principal=COLLECTOR,
        case_id=case_id,
        proposed=ProposedContact(channel=channel, collector_id=COLLECTOR.subject),
        attempt_id=attempt_id or f"att-{uuid4().hex}",
        outcome=outcome,
        duration_seconds=30,
    )


async def stream_types(service: InMemoryContactService, case_id: str) -> list[str]:
    return [e.event_type for e in await service.store.load(case_id)]


async def refusal(service: InMemoryContactService, command: c.RecordAttempt) -> ContactRefused:
    answer: c.AttemptAnswer = await service.handle(command)
    with pytest.raises(ContactRefused) as refused:
        answer.raise_if_refused()
    return refused.value


async def test_an_allowed_attempt_is_recorded_as_contact_attempted(service: InMemoryContactService) -> None:
    at_local(service, ZONES["US"], 12)
    case_id = await open_case(service)
    answer: c.AttemptAnswer = await service.handle(call(case_id, attempt_id="att-ok"))
    answer.raise_if_refused()
    assert answer.created and answer.decision.allowed
    assert answer.decision.pack_id == "us-regf" and answer.decision.pack_version == "2026.1"
    assert await stream_types(service, case_id) == ONE_SHOT
    [permitted, recorded] = await service.store.load(case_id)
    assert recorded.payload["permit_id"] == permitted.payload["permit_id"]
    assert recorded.metadata["jurisdiction"] == "US"
    assert recorded.payload["debtor_time_zone"] == "America/New_York"
    assert service.books.contacts["att-ok"]["decision"] == "allow"


async def test_a_refused_attempt_is_recorded_as_contact_blocked_and_raises_contact_refused(
    service: InMemoryContactService,
) -> None:
    case_id = await open_case(service)
    late = at_local(service, ZONES["US"], 22)
    refused = await refusal(service, call(case_id, attempt_id="att-late"))
    assert refused.decision.rule_id == "US-REGF-TIME"
    assert refused.attempt_id == "att-late"
    opening = (late + timedelta(hours=10)).astimezone(ZoneInfo(ZONES["US"])).replace(hour=8, minute=0)
    assert refused.decision.next_allowed_at == opening
    # Committed although the request answers 409: the refusal is part of the record.
    assert await stream_types(service, case_id) == [BLOCKED]
    [blocked] = await service.store.load(case_id)
    assert blocked.payload["rule_id"] == "US-REGF-TIME"
    row = service.books.contacts["att-late"]
    assert (row["decision"], row["rule_id"], row["outcome"]) == ("deny", "US-REGF-TIME", None)


async def test_a_repeated_attempt_id_answers_the_first_decision_and_records_nothing(
    service: InMemoryContactService,
) -> None:
    at_local(service, ZONES["US"], 12)
    case_id = await open_case(service)
    first: c.AttemptAnswer = await service.handle(call(case_id, attempt_id="att-1"))
    at_local(service, ZONES["US"], 22)  # the same call now would be refused
    again: c.AttemptAnswer = await service.handle(call(case_id, attempt_id="att-1"))
    assert first.created and not again.created
    assert again.decision.allowed and again.decision.pack_version == first.decision.pack_version
    again.raise_if_refused()
    assert await stream_types(service, case_id) == ONE_SHOT
    assert list(service.books.contacts) == ["att-1"]


async def test_a_refused_attempt_repeated_is_refused_again(service: InMemoryContactService) -> None:
    case_id = await open_case(service)
    at_local(service, ZONES["US"], 22)
    await refusal(service, call(case_id, attempt_id="att-2"))
    at_local(service, ZONES["US"], 12)  # allowed now, but the attempt was decided
    again = await refusal(service, call(case_id, attempt_id="att-2"))
    assert again.decision.rule_id == "US-REGF-TIME"
    assert await stream_types(service, case_id) == [BLOCKED]


async def test_the_eighth_call_in_seven_days_is_refused(service: InMemoryContactService) -> None:
    at_local(service, ZONES["US"], 10)
    case_id = await open_case(service)
    for _ in range(7):
        answer: c.AttemptAnswer = await service.handle(call(case_id))
        assert answer.decision.allowed, answer.decision
    refused = await refusal(service, call(case_id))
    assert refused.decision.rule_id == "US-REGF-7IN7"
    assert await stream_types(service, case_id) == ONE_SHOT * 7 + [BLOCKED]


async def test_cn_counts_connected_calls_per_debtor_across_cases(service: InMemoryContactService) -> None:
    at_local(service, ZONES["CN"], 10)
    debtor = "dbt-cn"
    first = await open_case(service, "CN", debtor_id=debtor)
    second = await open_case(service, "CN", debtor_id=debtor)
    for case_id in (first, second, first):
        answer: c.AttemptAnswer = await service.handle(call(case_id, ContactOutcome.RIGHT_PARTY_CONTACT))
        assert answer.decision.allowed, answer.decision
    assert (await refusal(service, call(second, ContactOutcome.REFUSED))).decision.rule_id == "CN-NIFA-3CALLS"


async def test_quiet_hours_are_the_debtors_local_hours(service: InMemoryContactService) -> None:
    us, gb, cn = [await open_case(service, j) for j in ("US", "GB", "CN")]
    at_local(service, ZONES["CN"], 10)  # 22:00 the evening before in New York, 03:00 in London
    assert ((await service.handle(call(cn))).decision).allowed
    for case_id, rule, zone in ((us, "US-REGF-TIME", ZONES["US"]), (gb, "GB-CONC-TIME", ZONES["GB"])):
        refused = await refusal(service, call(case_id))
        assert (refused.decision.rule_id, refused.decision.time_zone) == (rule, zone)
        opening = refused.decision.next_allowed_at
        assert opening is not None and opening.astimezone(ZoneInfo(zone)).hour == 8  # 08:00 local


async def test_a_promise_is_refused_during_a_hold(service: InMemoryContactService) -> None:
    at_local(service, ZONES["GB"], 11)
    case_id = await open_case(service, "GB")
    promise = c.MakePromise(
        principal=COLLECTOR,
        case_id=case_id,
        amount=Money(amount_minor=5000, currency="GBP"),
        due_on=service.env.now().date() + timedelta(days=7),
        channel=Channel.PHONE,
    )
    first = await service.handle(promise)
    assert first in service.books.promises
    hold = CaseHoldPlaced(hold_id="h-1", hold_type=HoldType.BREATHING_SPACE)
    await service.handle(c.FoldCaseEvent(case_id, hold, service.env.now()))
    with pytest.raises(PromiseRefused) as refused:
        await service.handle(promise)
    assert refused.value.decision.rule_id == "GB-BS-STANDARD"
    assert list(service.books.promises) == [first]
    assert await stream_types(service, case_id) == ["collections.contact.promise_made.v1"]


async def test_an_opt_out_is_recorded_on_every_open_case_of_the_debtor(
    service: InMemoryContactService,
) -> None:
    at_local(service, ZONES["US"], 12)
    debtor = "dbt-optout"
    asked, other, closed = [await open_case(service, debtor_id=debtor) for _ in range(3)]
    unrelated = await open_case(service)
    gone = CaseClosed(reason=CloseReason.RECALLED, final_balance=Money(amount_minor=0, currency="USD"))
    await service.handle(c.FoldCaseEvent(closed, gone, service.env.now()))
    request = c.RecordDebtorRequest(
        principal=COLLECTOR,
        case_id=asked,
        kind="channel_opt_out",
        received_via=Channel.SMS,
        channel=Channel.SMS,
    )
    recorded_on = await service.handle(request)
    assert recorded_on == sorted([asked, other])
    opted_out = "collections.contact.channel_opted_out.v1"
    for case_id in (asked, other):
        assert await stream_types(service, case_id) == [opted_out]
        check = c.CheckContact(COLLECTOR, case_id, ProposedContact(channel=Channel.SMS))
        assert (await service.handle(check)).rule_id == "US-REGF-OPTOUT"
    assert await stream_types(service, closed) == []
    assert await stream_types(service, unrelated) == []
    assert (
        await service.handle(c.CheckContact(COLLECTOR, unrelated, ProposedContact(channel=Channel.SMS)))
    ).allowed


async def test_a_cease_request_concerns_this_debt_only(service: InMemoryContactService) -> None:
    at_local(service, ZONES["US"], 12)
    asked, other = [await open_case(service, debtor_id="dbt-cease") for _ in range(2)]
    cease = c.RecordDebtorRequest(
        principal=COLLECTOR, case_id=asked, kind="cease_communication", received_via=Channel.LETTER
    )
    assert await service.handle(cease) == [asked]
    refused = await refusal(service, call(asked))
    assert refused.decision.rule_id == "US-REGF-CEASE"
    assert ((await service.handle(call(other))).decision).allowed


async def test_a_hold_from_the_case_topic_blocks_the_gate_until_released(
    service: InMemoryContactService,
) -> None:
    at_local(service, ZONES["GB"], 11)
    case_id = await open_case(service, "GB")
    placed = CaseHoldPlaced(hold_id="h-1", hold_type=HoldType.BREATHING_SPACE)
    await service.handle(c.FoldCaseEvent(case_id, placed, service.env.now()))
    assert (await refusal(service, call(case_id))).decision.rule_id == "GB-BS-STANDARD"
    released = CaseHoldReleased(hold_id="h-1", hold_type=HoldType.BREATHING_SPACE, reason="ended")
    await service.handle(c.FoldCaseEvent(case_id, released, service.env.now()))
    assert ((await service.handle(call(case_id))).decision).allowed
    assert await stream_types(service, case_id) == [BLOCKED, *ONE_SHOT]


async def test_events_of_a_case_never_opened_here_change_nothing(service: InMemoryContactService) -> None:
    placed = CaseHoldPlaced(hold_id="h-1", hold_type=HoldType.DISPUTE)
    await service.handle(c.FoldCaseEvent("case-unknown", placed, service.env.now()))
    assert service.books.cases == {}
    with pytest.raises(CaseUnknown):
        await service.handle(call("case-unknown"))


async def test_a_collector_acts_only_on_their_cases(service: InMemoryContactService) -> None:
    case_id = await open_case(service, collector="col-2")
    with pytest.raises(CaseNotAssigned):
        await service.handle(call(case_id))
    assert service.books.contacts == {}
    supervisor = Principal(subject="sup-1", role=Role.SUPERVISOR)
    check = c.CheckContact(supervisor, case_id, ProposedContact(channel=Channel.LETTER))
    assert (await service.handle(check)).allowed


async def test_a_broken_promise_puts_the_case_first_on_the_worklist(service: InMemoryContactService) -> None:
    at_local(service, ZONES["US"], 12)
    quiet, promised = await open_case(service, collector="col-w"), await open_case(service, collector="col-w")
    worker = Principal(subject="col-w", role=Role.COLLECTOR)
    today = service.env.now().date()
    promise_id = await service.handle(
        c.MakePromise(
            worker,
            promised,
            Money(amount_minor=5000, currency="USD"),
            today + timedelta(days=3),
            Channel.PHONE,
        )
    )
    await service.handle(c.RecordPromiseOutcome(promise_id, "broken"))
    async with service.reading() as reads:
        items = await queries.worklist(reads, "col-w", worker, service.env.now())
    assert [i.case.case_id for i in items] == [promised, quiet]
    assert items[0].reason == "promise broken"
    assert set(items[1].options) == set(Channel)


async def test_gate_decisions_are_counted_once_per_decision(service: InMemoryContactService) -> None:
    def counted(kind: str) -> float:
        labels = {"jurisdiction": "US", "verdict": "deny", "rule_id": "US-REGF-TIME", "kind": kind}
        return REGISTRY.get_sample_value("dcp_gate_decisions_total", labels) or 0.0

    case_id = await open_case(service)
    at_local(service, ZONES["US"], 22)
    attempts, checks = counted("attempt"), counted("check")
    await refusal(service, call(case_id, attempt_id="att-counted"))
    await refusal(service, call(case_id, attempt_id="att-counted"))  # a repeat: no new decision
    await service.handle(c.CheckContact(COLLECTOR, case_id, ProposedContact(channel=Channel.PHONE)))
    assert (counted("attempt") - attempts, counted("check") - checks) == (1.0, 1.0)


def test_the_handler_table_covers_every_command() -> None:
    assert_every_command_has_a_handler(
        c, COMMAND_HANDLERS, not_commands={c.AttemptAnswer, c.PermitAnswer, c.OutcomeAnswer}
    )


async def test_a_command_without_a_handler_is_refused(service: InMemoryContactService) -> None:
    with pytest.raises(UnknownCommand):
        await service.handle(object())


async def test_the_worklist_compares_expected_recovery_across_currencies_through_exchange_rates(
    service: InMemoryContactService,
) -> None:
    """USD 5,000 before JPY 100,000 (~USD 670) before IDR 1,000,000 (~USD 63), though the IDR case has
    the most minor units; a currency without a rate (XAF) after all of them."""
    at_local(service, ZONES["US"], 12)
    worker = Principal(subject="col-fx", role=Role.COLLECTOR)
    amounts = {
        "usd": (500_000, "USD"),
        "jpy": (100_000, "JPY"),
        "idr": (100_000_000, "IDR"),
        "xaf": (10**9, "XAF"),
    }
    ids = {}
    for name, (minor, currency) in amounts.items():
        case_id = f"case-fx-{name}"
        money = Money(amount_minor=minor, currency=currency)
        zero = Money(amount_minor=0, currency=currency)
        opened = case_opened(case_id, "US").model_copy(
            update={"amounts": CaseAmounts(principal=money, interest=zero, fees=zero, total_balance=money)}
        )
        now = service.env.now()
        await service.handle(c.FoldCaseEvent(case_id, opened, now))
        assigned = CaseAssigned(assignee=Assignee(kind=AssigneeKind.COLLECTOR, id="col-fx"), reason="test")
        await service.handle(c.FoldCaseEvent(case_id, assigned, now))
        ids[name] = case_id
    async with service.reading() as reads:
        items = await queries.worklist(reads, "col-fx", worker, service.env.now(), service.env.fx)
    assert [i.case.case_id for i in items] == [ids["usd"], ids["jpy"], ids["idr"], ids["xaf"]]
    compared = {i.case.currency: i.expected_recovery_in_base_minor for i in items}
    assert compared["XAF"] is None
    assert compared["USD"] > compared["JPY"] > compared["IDR"] > 0


def expire_with(service: InMemoryContactService):  # type: ignore[no-untyped-def]
    async def expire(tx: object, timer: DueTimer) -> None:
        await service.bus.handle(c.ExpirePermit(timer.key), tx=tx)

    return expire


async def test_a_permit_ends_where_the_gate_would_refuse_the_same_contact(
    service: InMemoryContactService,
) -> None:
    # 20:50 in New York: Regulation F's inconvenient hours begin at 21:00, so the call must start by then,
    # not 15 minutes on.
    now = at_local(service, ZONES["US"], 20, 50)
    case_id = await open_case(service)
    proposed = ProposedContact(channel=Channel.PHONE, collector_id=COLLECTOR.subject)
    answer: c.PermitAnswer = await service.handle(c.IssuePermit(COLLECTOR, case_id, proposed, "pmt-late"))
    assert answer.permit is not None
    assert now + timedelta(minutes=9) <= answer.permit.not_after <= now + timedelta(minutes=10)
    early = at_local(service, ZONES["US"], 12)
    # Unused, it expired overnight (its reservation, presumed a conversation, would hold the next calls).
    fired = await service.fire_due_timers({PERMIT_EXPIRY: expire_with(service)})
    assert fired == [(PERMIT_EXPIRY, "pmt-late")]
    assert service.books.permits["pmt-late"].status == "expired"
    other = await service.handle(c.IssuePermit(COLLECTOR, case_id, proposed, "pmt-noon"))
    assert other.permit is not None
    assert other.permit.not_after == early + service.env.permit_ttl


async def test_a_receipt_before_the_message_is_recorded_sent_records_the_contact_once(
    service: InMemoryContactService,
) -> None:
    now = at_local(service, ZONES["US"], 12)
    case_id = await open_case(service)
    text = ProposedContact(channel=Channel.SMS, contact_point="+12025550101", collector_id="col-1")
    issued: c.PermitAnswer = await service.handle(c.IssuePermit(COLLECTOR, case_id, text, "pmt-sms"))
    assert issued.permit is not None
    sending = MessageRecord(
        "att-pmt-sms", "pmt-sms", case_id, Channel.SMS, None, None, None, "sending", None, now, now
    )
    await service.handle(c.RecordMessage(sending))
    # The gateway's receipt comes first (or this process stopped after the hand-over).
    found = await messaging.report_delivery(
        service.bus,
        service.reading,
        service.env,
        Channel.SMS,
        DeliveryStatus.DELIVERED,
        provider_reference="SM1",
        attempt_id="att-pmt-sms",
    )
    assert found
    assert service.books.permits["pmt-sms"].status == "used"
    # Then the record of the hand-over: it downgrades nothing and records no second contact.
    sent = dataclasses.replace(sending, status="sent", provider_reference="SM1")
    outcome = c.RecordPermitOutcome(None, "pmt-sms", "att-pmt-sms", ContactOutcome.MESSAGE_SENT)
    await service.handle(c.RecordMessage(sent, outcome=outcome))
    assert service.books.messages["att-pmt-sms"].status == "delivered"
    assert await stream_types(service, case_id) == [
        PERMITTED,
        ATTEMPTED,
        "collections.contact.delivery_reported.v1",
    ]
    unknown = await messaging.report_delivery(
        service.bus, service.reading, service.env, Channel.SMS, DeliveryStatus.FAILED, attempt_id="att-nope"
    )
    assert not unknown
