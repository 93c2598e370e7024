"""Event and timer handlers: what the payment service does with other services' events, with
payments posted by core banking, and when a due date passes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from dcp_events.catalogue.base import EventPayload
from dcp_events.catalogue.building import parse_data_as
from dcp_events.catalogue.cases import CaseAssigned, CaseBalanceChanged, CaseClosed, CaseOpened
from dcp_events.catalogue.contacts import PromiseMade
from dcp_events.catalogue.integration import PaymentPosted, case_id_for_account
from dcp_events.envelope import CloudEvent
from dcp_events.errors import EventError
from dcp_platform.context import bind_context
from dcp_platform.eventsourcing.consumer import Delivery, PoisonMessage
from dcp_platform.eventsourcing.runtime import Subscription
from dcp_platform.eventsourcing.timers import DueTimer, TimerHandler
from payment_service.application.commands import (
    INSTALLMENT_DUE,
    PROMISE_DUE,
    SETTLEMENT_DUE,
    PaymentCommands,
    RecordPayment,
)
from payment_service.domain.errors import PaymentDomainError
from payment_service.domain.ledger import CaseFacts

P = TypeVar("P", bound=EventPayload)
Handler = Callable[[AsyncConnection, Delivery], Awaitable[None]]

CASE_EVENTS = {m.type_name() for m in (CaseOpened, CaseBalanceChanged, CaseClosed, CaseAssigned)}


def _event(delivery: Delivery) -> CloudEvent:
    event = delivery.event
    if not isinstance(event, CloudEvent):
        raise PoisonMessage("not a CloudEvent")
    return event


def case_events_handler(commands: PaymentCommands) -> Handler:
    """collections.cases: which cases exist, their currency, time zone, balance, closure, and who
    they are assigned to (collectors act only on the cases assigned to them, their team or agency)."""

    async def handle(conn: AsyncConnection, delivery: Delivery) -> None:
        event = _event(delivery)
        if event.type not in CASE_EVENTS:
            return
        with bind_context(
            correlation_id=event.correlationid, causation_id=event.id, traceparent=event.traceparent
        ):
            if event.type == CaseOpened.type_name():
                opened = _parse(event, CaseOpened)
                balance = opened.amounts.total_balance
                facts = CaseFacts(
                    case_id=event.subject,
                    currency=balance.currency,
                    balance_minor=balance.amount_minor,
                    time_zone=opened.debtor.time_zone,
                    jurisdiction=opened.jurisdiction,
                    closed=False,
                )
                await commands.case_opened(conn, facts)
            elif event.type == CaseAssigned.type_name():
                assigned = _parse(event, CaseAssigned)
                await commands.case_assigned(
                    conn, event.subject, assigned.assignee.kind.value, assigned.assignee.id
                )
            elif event.type == CaseBalanceChanged.type_name():
                changed = _parse(event, CaseBalanceChanged)
                await commands.case_balance_changed(conn, event.subject, changed.balance_after.amount_minor)
            else:
                closed = _parse(event, CaseClosed)
                await commands.case_closed(conn, event.subject, closed.final_balance.amount_minor)

    return handle


def contact_events_handler(commands: PaymentCommands) -> Handler:
    """collections.contacts: promises to pay made during contacts are tracked to their due date."""

    async def handle(conn: AsyncConnection, delivery: Delivery) -> None:
        event = _event(delivery)
        if event.type != PromiseMade.type_name():
            return
        promise = _parse(event, PromiseMade)
        with bind_context(
            correlation_id=event.correlationid, causation_id=event.id, traceparent=event.traceparent
        ):
            await commands.track_promise(
                conn, event.subject, promise.promise_id, promise.amount, promise.due_on, event.time
            )

    return handle


def integration_payments_handler(commands: PaymentCommands) -> Handler:
    """integration.payments: payments core banking took, applied like REST ones (same idempotency).

    A payment that contradicts an earlier one with its reference, or is in the wrong currency, can
    never be applied as sent: it goes to the dead-letter topic for a person to look at."""

    async def handle(conn: AsyncConnection, delivery: Delivery) -> None:
        event = _event(delivery)
        if event.type != PaymentPosted.type_name():
            raise PoisonMessage(f"{event.type} is not a payment posting")
        posted = _parse(event, PaymentPosted)
        case_id = case_id_for_account(posted.account.creditor_id, posted.account.account_reference)
        if event.subject != case_id:
            raise PoisonMessage(
                f"subject {event.subject} is not the case of account {posted.account.account_reference}"
            )
        with bind_context(
            correlation_id=event.correlationid, causation_id=event.id, traceparent=event.traceparent
        ):
            try:
                await commands.record_payment_in(
                    conn,
                    RecordPayment(
                        case_id=case_id,
                        amount=posted.amount,
                        method=posted.method,
                        external_reference=posted.external_reference,
                        received_at=posted.posted_at,
                    ),
                )
            except PaymentDomainError as exc:
                raise PoisonMessage(f"{type(exc).__name__}: {exc}") from exc

    return handle


def _parse(event: CloudEvent, model: type[P]) -> P:
    """The event's payload as `model`; data that does not fit can never be handled (dead letter)."""
    try:
        return parse_data_as(event, model)
    except EventError as exc:
        raise PoisonMessage(str(exc)) from exc


def subscriptions(commands: PaymentCommands) -> list[Subscription]:
    return [
        Subscription("payment-service.cases", ["collections.cases"], case_events_handler(commands)),
        Subscription("payment-service.contacts", ["collections.contacts"], contact_events_handler(commands)),
        Subscription(
            "payment-service.integration-payments",
            ["integration.payments"],
            integration_payments_handler(commands),
        ),
    ]


def timer_handlers(commands: PaymentCommands) -> dict[str, TimerHandler]:
    """Promise, installment and settlement due dates (plus grace) are durable timers."""

    async def promise_due(conn: AsyncConnection, timer: DueTimer) -> None:
        with bind_context(causation_id=f"timer:{timer.kind}:{timer.key}"):
            await commands.promise_due(conn, timer.payload["case_id"], timer.key)

    async def installment_due(conn: AsyncConnection, timer: DueTimer) -> None:
        with bind_context(causation_id=f"timer:{timer.kind}:{timer.key}"):
            await commands.installment_due(
                conn, timer.payload["case_id"], timer.payload["plan_id"], int(timer.payload["number"])
            )

    async def settlement_due(conn: AsyncConnection, timer: DueTimer) -> None:
        with bind_context(causation_id=f"timer:{timer.kind}:{timer.key}"):
            await commands.settlement_due(conn, timer.payload["case_id"], timer.key)

    return {PROMISE_DUE: promise_due, INSTALLMENT_DUE: installment_due, SETTLEMENT_DUE: settlement_due}
