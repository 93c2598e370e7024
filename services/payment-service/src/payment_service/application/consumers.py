"""What the payment service does with the events it consumes and the timers it set: each becomes a
command for the bus, run in the consumer's (or timer's) transaction (`Tx`: a PostgreSQL connection,
or a memory transaction in the application tests).

A payment posted by core banking that the payment rules refuse (a reference reused for another
payment, a currency other than the case's) can never be applied as sent: it is a poison message and
goes to the topic's DLQ with the reason, for a person to resolve, and the consumer moves on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from dcp_events.catalogue.base import EventPayload
from dcp_events.catalogue.building import parse_data_as
from dcp_events.catalogue.cases import (
    CaseAssigned,
    CaseBalanceChanged,
    CaseClosed,
    CaseOpened,
    CaseReopened,
    ErasureCompleted,
)
from dcp_events.catalogue.contacts import PromiseMade
from dcp_events.catalogue.integration import PaymentPosted, case_id_for_account
from dcp_events.envelope import CloudEvent
from dcp_events.errors import EventError
from dcp_platform.context import bind_context
from dcp_platform.eventsourcing.consumer import Delivery, PoisonMessage, delivery_context
from dcp_platform.eventsourcing.repository import Tx
from dcp_platform.eventsourcing.timers import DueTimer
from payment_service.application import commands as c
from payment_service.application.ports import PaymentBus
from payment_service.domain.errors import PaymentDomainError
from payment_service.domain.ledger import CaseFacts

P = TypeVar("P", bound=EventPayload)

# The events of each topic these handlers act on (the consumer skips the topic's others).
CASE_EVENT_TYPES = (CaseOpened, CaseBalanceChanged, CaseClosed, CaseReopened, CaseAssigned, ErasureCompleted)
CONTACT_EVENT_TYPES = (PromiseMade,)
POSTED_EVENT_TYPES = (PaymentPosted,)
CASE_EVENTS = {m.type_name() for m in CASE_EVENT_TYPES}


def _event(delivery: Delivery) -> CloudEvent:
    event = delivery.event
    if not isinstance(event, CloudEvent):
        raise PoisonMessage("not a CloudEvent")
    return event


def _parse(event: CloudEvent, model: type[P]) -> P:
    """The event's payload as `model`; data that does not fit can never be handled (dead letter)."""
    try:
        return parse_data_as(event, model)
    except EventError as exc:
        raise PoisonMessage(str(exc)) from exc


def case_event_command(event: CloudEvent) -> object | None:
    """The command for a collections.cases event; None for the types this service does not follow."""
    if event.type not in CASE_EVENTS:
        return None
    case_id = event.subject
    if event.type == CaseOpened.type_name():
        opened = _parse(event, CaseOpened)
        balance = opened.amounts.total_balance
        return c.RecordCaseOpened(
            CaseFacts(
                case_id=case_id,
                currency=balance.currency,
                balance_minor=balance.amount_minor,
                time_zone=opened.debtor.time_zone,
                jurisdiction=opened.jurisdiction,
                closed=False,
                creditor_id=opened.account.creditor_id,
            )
        )
    if event.type == CaseAssigned.type_name():
        assigned = _parse(event, CaseAssigned)
        return c.RecordCaseAssignment(case_id, assigned.assignee.kind.value, assigned.assignee.id)
    if event.type == CaseBalanceChanged.type_name():
        changed = _parse(event, CaseBalanceChanged)
        return c.RecordCaseBalance(case_id, changed.balance_after.amount_minor)
    if event.type == CaseReopened.type_name():
        _parse(event, CaseReopened)
        return c.RecordCaseReopened(case_id)
    if event.type == ErasureCompleted.type_name():
        _parse(event, ErasureCompleted)
        return c.EraseStatementLines(case_id)
    closed = _parse(event, CaseClosed)
    return c.RecordCaseClosed(case_id, closed.final_balance.amount_minor)


class PaymentConsumers:
    """The Kafka and timer handlers of the payment service."""

    def __init__(self, bus: PaymentBus) -> None:
        self.bus = bus

    # --- collections.cases ---------------------------------------------------------------------

    async def on_case_events(self, conn: Tx, deliveries: Sequence[Delivery]) -> None:
        """A partition batch of case events recorded together. They change read models only, but for
        the payments held for a case opened in the batch: those are applied in the context of its
        opening."""
        commands: list[Any] = []
        openings: dict[str, CloudEvent] = {}
        for delivery in deliveries:
            event = _event(delivery)
            command = case_event_command(event)
            if command is not None:
                commands.append(command)
                if isinstance(command, c.RecordCaseOpened):
                    openings.setdefault(command.case_id, event)
        await self.bus.handle(
            c.RecordCaseEvents(commands, cause=lambda case_id: delivery_context(openings[case_id])), tx=conn
        )

    async def on_case_event(self, conn: Tx, delivery: Delivery) -> None:
        """Which cases exist, their currency, time zone, balance, closure, and who they are assigned
        to (collectors act only on the cases assigned to them, their team or agency)."""
        event = _event(delivery)
        if event.type not in CASE_EVENTS:
            return
        command = case_event_command(event)
        if command is not None:
            await self.bus.handle(command, tx=conn)

    # --- collections.contacts ------------------------------------------------------------------

    async def on_contact_event(self, conn: Tx, delivery: Delivery) -> None:
        """Promises to pay made during contacts are tracked to their due date."""
        event = _event(delivery)
        if event.type != PromiseMade.type_name():
            return
        promise = _parse(event, PromiseMade)
        await self.bus.handle(
            c.TrackPromise(event.subject, promise.promise_id, promise.amount, promise.due_on, event.time),
            tx=conn,
        )

    # --- integration.payments ------------------------------------------------------------------

    async def on_payment_posted(self, conn: Tx, delivery: Delivery) -> None:
        """Payments core banking took, applied like REST ones (same idempotency)."""
        event = _event(delivery)
        if event.type != PaymentPosted.type_name():
            raise PoisonMessage(f"{event.type} is not a payment posting")
        posted = _parse(event, PaymentPosted)
        case_id = case_id_for_account(posted.account.creditor_id, posted.account.account_reference)
        if event.subject != case_id:
            raise PoisonMessage(
                f"subject {event.subject} is not the case of account {posted.account.account_reference}"
            )
        command = c.RecordPayment(
            case_id=case_id,
            amount=posted.amount,
            method=posted.method,
            external_reference=posted.external_reference,
            received_at=posted.posted_at,
            hold_foreign_currency=True,
        )
        try:
            await self.bus.handle(command, tx=conn)
        except PaymentDomainError as exc:
            raise PoisonMessage(f"{type(exc).__name__}: {exc}") from exc

    # --- timers: promise, installment and settlement due dates (plus grace) --------------------

    async def on_promise_due(self, conn: Tx, timer: DueTimer) -> None:
        with bind_context(causation_id=f"timer:{timer.kind}:{timer.key}"):
            await self.bus.handle(c.PromiseDue(timer.payload["case_id"], timer.key), tx=conn)

    async def on_installment_due(self, conn: Tx, timer: DueTimer) -> None:
        with bind_context(causation_id=f"timer:{timer.kind}:{timer.key}"):
            command = c.InstallmentDue(
                timer.payload["case_id"], timer.payload["plan_id"], int(timer.payload["number"])
            )
            await self.bus.handle(command, tx=conn)

    async def on_settlement_due(self, conn: Tx, timer: DueTimer) -> None:
        with bind_context(causation_id=f"timer:{timer.kind}:{timer.key}"):
            await self.bus.handle(c.SettlementDue(timer.payload["case_id"], timer.key), tx=conn)
