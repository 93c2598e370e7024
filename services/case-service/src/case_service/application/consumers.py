"""What the case service does with the events it consumes and the timers it set: each becomes a
command for the bus, run in the consumer's (or timer's) transaction.

A domain rule that refuses an inbound event (a payment on a closed case, an overpayment, a currency
mismatch) makes the message a poison message: it goes to the topic's DLQ with the reason, for a
person to resolve, and the consumer moves on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from case_service.application import commands as c
from case_service.application.ports import CaseBus
from case_service.domain.errors import CaseNotFound, CaseRuleViolation
from dcp_events.catalogue import contacts, integration, payments
from dcp_events.catalogue.building import parse_data
from dcp_events.catalogue.enums import ContactOutcome, HoldType
from dcp_events.errors import EventError
from dcp_platform.context import bind_context
from dcp_platform.eventsourcing.consumer import Delivery, PoisonMessage, delivery_context
from dcp_platform.eventsourcing.timers import DueTimer

# The events of each topic these handlers act on (the consumer skips the topic's others).
PAYMENT_EVENTS = (
    payments.PaymentReceived,
    payments.PaymentReversed,
    payments.SettlementAgreed,
    payments.SettlementLapsed,
    payments.SettlementPaid,
    payments.PromiseKept,
    payments.PromiseBroken,
)
CONTACT_EVENTS = (
    contacts.DisputeRaised,
    contacts.CeaseRequested,
    contacts.ContactAttempted,
    contacts.PromiseMade,
)

_RIGHT_PARTY_OUTCOMES = frozenset(
    {ContactOutcome.RIGHT_PARTY_CONTACT, ContactOutcome.PROMISE_MADE, ContactOutcome.DISPUTE_RAISED}
)


def _payload(delivery: Delivery) -> Any:
    try:
        return parse_data(delivery.event)
    except EventError as exc:
        raise PoisonMessage(str(exc)) from exc


def _placement(payload: integration.AccountPlaced) -> c.Placement:
    return c.Placement(
        debtor=payload.debtor,
        account=payload.account,
        amounts=payload.amounts,
        due_since=payload.due_since,
        jurisdiction=payload.jurisdiction,
        risk_score=payload.risk_score,
        placement_id=payload.placement_id,
    )


class CaseConsumers:
    """The Kafka and timer handlers of the case service."""

    def __init__(self, bus: CaseBus) -> None:
        self.bus = bus

    async def _run(self, conn: AsyncConnection, command: object) -> None:
        try:
            await self.bus.handle(command, tx=conn)
        except CaseNotFound as exc:
            raise PoisonMessage(str(exc)) from exc
        except CaseRuleViolation as exc:
            raise PoisonMessage(f"{type(exc).__name__}: {exc}") from exc

    # --- integration.placements ----------------------------------------------------------------

    async def on_placements(self, conn: AsyncConnection, deliveries: Sequence[Delivery]) -> None:
        """A partition batch of placements, in offset order: each run of `AccountPlaced` opens its
        cases together (one multi-row append and projection, each case's events caused by its own
        placement); updates and recalls between them one by one. A placement a rule refuses fails
        the batch, which the consumer then applies record by record to dead-letter only that one."""
        run: list[tuple[Delivery, integration.AccountPlaced]] = []
        for delivery in deliveries:
            payload = _payload(delivery)
            if isinstance(payload, integration.AccountPlaced):
                run.append((delivery, payload))
                continue
            await self._open_together(conn, run)
            run = []
            with delivery_context(delivery.event):
                await self.on_placement(conn, delivery)
        await self._open_together(conn, run)

    async def _open_together(
        self, conn: AsyncConnection, run: Sequence[tuple[Delivery, integration.AccountPlaced]]
    ) -> None:
        if not run:
            return
        command = c.OpenCases(
            [(n, _placement(payload)) for n, (_, payload) in enumerate(run)],
            cause=lambda n: delivery_context(run[n][0].event),
        )
        opened = await self.bus.handle(command, tx=conn)
        if opened["rejections"]:
            number, reason = opened["rejections"][0]
            raise PoisonMessage(f"placement at offset {run[number][0].offset} refused: {reason}")

    async def on_placement(self, conn: AsyncConnection, delivery: Delivery) -> None:
        payload = _payload(delivery)
        if isinstance(payload, integration.AccountPlaced):
            await self._run(conn, c.OpenCase(_placement(payload)))
        elif isinstance(payload, integration.PlacementUpdated):
            account = payload.account
            await self._run(
                conn,
                c.UpdatePlacement(
                    case_id=integration.case_id_for_account(account.creditor_id, account.account_reference),
                    placement_id=payload.placement_id,
                    amounts=payload.amounts,
                    days_past_due=payload.days_past_due,
                    phones=payload.phones,
                    emails=payload.emails,
                    address=payload.address,
                ),
            )
        elif isinstance(payload, integration.PlacementRecalled):
            account = payload.account
            case_id = integration.case_id_for_account(account.creditor_id, account.account_reference)
            await self._run(conn, c.RecallPlacement(case_id, payload.reason))

    # --- collections.payments ------------------------------------------------------------------

    async def on_payment(self, conn: AsyncConnection, delivery: Delivery) -> None:
        payload = _payload(delivery)
        case_id = str(delivery.event.subject)
        command: object | None = None
        if isinstance(payload, payments.PaymentReceived):
            command = c.ApplyPayment(case_id, payload.payment_id, payload.amount)
        elif isinstance(payload, payments.PaymentReversed):
            if payload.applied:
                command = c.ReversePayment(case_id, payload.payment_id, payload.amount)
        elif isinstance(payload, payments.SettlementAgreed):
            command = c.RecordSettlement(
                case_id, payload.settlement_id, payload.settlement_amount, payload.due_on
            )
        elif isinstance(payload, payments.SettlementLapsed):
            command = c.LapseSettlement(case_id, payload.settlement_id)
        elif isinstance(payload, payments.SettlementPaid):
            command = c.PaySettlement(
                case_id, payload.settlement_id, payload.settlement_amount, payload.due_on
            )
        elif isinstance(payload, payments.PromiseKept | payments.PromiseBroken):
            status = "kept" if isinstance(payload, payments.PromiseKept) else "broken"
            command = c.RecordPromiseSettled(payload.promise_id, case_id, status, delivery.event.time)
        if command is not None:
            await self._run(conn, command)

    # --- collections.contacts ------------------------------------------------------------------

    async def on_contact(self, conn: AsyncConnection, delivery: Delivery) -> None:
        payload = _payload(delivery)
        event = delivery.event
        case_id, at, event_id = str(event.subject), event.time, str(event.id)
        command: object | None = None
        if isinstance(payload, contacts.DisputeRaised):
            reason = f"dispute raised via {payload.received_via.value}: {payload.reason}"
            command = c.HoldForDebtorRequest(case_id, payload.dispute_id, HoldType.DISPUTE, reason, at)
        elif isinstance(payload, contacts.CeaseRequested):
            reason = payload.note or f"cease requested via {payload.received_via.value}"
            command = c.HoldForDebtorRequest(
                case_id, payload.request_id, HoldType.CEASE_COMMUNICATION, reason, at
            )
        elif isinstance(payload, contacts.ContactAttempted) and payload.collector_id is not None:
            kinds = (
                ("attempt", "right_party_contact")
                if payload.outcome in _RIGHT_PARTY_OUTCOMES
                else ("attempt",)
            )
            command = c.RecordContactActivity(event_id, case_id, payload.collector_id, kinds, at)
        elif isinstance(payload, contacts.PromiseMade):
            await self._run(conn, c.RecordPromiseMade(payload.promise_id, case_id, payload.collector_id, at))
            if payload.collector_id is not None:
                command = c.RecordContactActivity(
                    event_id, case_id, payload.collector_id, ("promise_made",), at
                )
        if command is not None:
            await self._run(conn, command)

    # --- timers --------------------------------------------------------------------------------

    async def on_hold_expiry(self, conn: AsyncConnection, timer: DueTimer) -> None:
        with bind_context(causation_id=f"timer:{timer.kind}:{timer.key}"):
            await self.bus.handle(
                c.ExpireHold(str(timer.payload["case_id"]), str(timer.payload["hold_id"])), tx=conn
            )

    async def on_ageing(self, conn: AsyncConnection, timer: DueTimer) -> None:
        """The daily ageing: cases whose bucket or stage changes today, in batches; then tomorrow's run."""
        with bind_context(causation_id=f"timer:{timer.kind}:{timer.key}"):
            await self.bus.handle(c.AgeCases(), tx=conn)
