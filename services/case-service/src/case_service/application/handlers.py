"""What the case service does with the events it consumes and the timers it set.

A domain rule that refuses an inbound event (a payment on a closed case, an overpayment, a currency
mismatch) makes the message a poison message: it goes to the topic's DLQ with the reason, for a
person to resolve, and the consumer moves on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from case_service.adapters import projections
from case_service.adapters.timers import AGEING_TIMER, next_midnight
from case_service.application.cases import CaseService
from case_service.domain.case import Case
from case_service.domain.errors import CaseNotFound, CaseRuleViolation
from dcp_events.catalogue import contacts, integration, payments
from dcp_events.catalogue.building import parse_data
from dcp_events.catalogue.enums import CloseReason, ContactOutcome, HoldType
from dcp_events.envelope import CloudEvent
from dcp_events.errors import EventError
from dcp_platform.context import bind_context
from dcp_platform.eventsourcing import timers
from dcp_platform.eventsourcing.consumer import Delivery, PoisonMessage
from dcp_platform.eventsourcing.timers import DueTimer

log = logging.getLogger(__name__)

AGEING_BATCH = 500


@contextmanager
def _caused_by(event: CloudEvent) -> Iterator[None]:
    """Events we append because of `event` carry its correlation and trace, and name it as the cause."""
    with bind_context(
        correlation_id=event.correlationid,
        causation_id=str(event.id),
        traceparent=event.traceparent,
        actor_id=event.actor,
        actor_role=event.actorrole.value if event.actorrole is not None else None,
    ):
        yield


def _payload(delivery: Delivery) -> Any:
    try:
        return parse_data(delivery.event)
    except EventError as exc:
        raise PoisonMessage(str(exc)) from exc


@dataclass
class InboundHandlers:
    """Kafka handlers and timer handlers: each turns what it received into a call on the service."""

    service: CaseService

    async def _run(self, conn: AsyncConnection, case_id: str, command: Callable[[Case], object]) -> None:
        try:
            await self.service.execute(case_id, command, conn=conn)
        except CaseNotFound as exc:
            raise PoisonMessage(f"no case {case_id}") from exc
        except CaseRuleViolation as exc:
            raise PoisonMessage(f"{type(exc).__name__}: {exc}") from exc

    # --- integration.placements ----------------------------------------------------------

    async def on_placement(self, conn: AsyncConnection, delivery: Delivery) -> None:
        payload = _payload(delivery)
        service = self.service
        today = service.today()
        with _caused_by(delivery.event):
            if isinstance(payload, integration.AccountPlaced):
                case_id = integration.case_id_for_account(
                    payload.account.creditor_id, payload.account.account_reference
                )
                if await service.exists(conn, case_id):
                    return  # a placement of an account already placed: nothing to open twice
                try:
                    case = Case.open(
                        case_id,
                        debtor=payload.debtor,
                        account=payload.account,
                        amounts=payload.amounts,
                        due_since=payload.due_since,
                        jurisdiction=payload.jurisdiction,
                        risk_score=payload.risk_score,
                        placement_id=payload.placement_id,
                        today=today,
                        policy=service.policy,
                    )
                except CaseRuleViolation as exc:
                    raise PoisonMessage(f"{type(exc).__name__}: {exc}") from exc
                await service.open(case, conn=conn)
            elif isinstance(payload, integration.PlacementUpdated):
                update = payload
                case_id = integration.case_id_for_account(
                    update.account.creditor_id, update.account.account_reference
                )

                def apply_update(case: Case) -> None:
                    if update.amounts is not None:
                        case.restate_balance(update.amounts.total_balance, update.placement_id)
                    if case.is_open and update.days_past_due is not None:
                        due = today - timedelta(days=update.days_past_due) if update.days_past_due else None
                        case.redate(due, today, service.policy, "placement update from the creditor")
                    if case.is_open:
                        case.update_debtor(update.phones, update.emails, update.address)

                await self._run(conn, case_id, apply_update)
            elif isinstance(payload, integration.PlacementRecalled):
                recall = payload
                case_id = integration.case_id_for_account(
                    recall.account.creditor_id, recall.account.account_reference
                )

                def close(case: Case) -> None:
                    if case.is_open:
                        case.close(CloseReason.RECALLED, recall.reason, today)

                await self._run(conn, case_id, close)

    # --- collections.payments --------------------------------------------------------------

    async def on_payment(self, conn: AsyncConnection, delivery: Delivery) -> None:
        payload = _payload(delivery)
        case_id = str(delivery.event.subject)
        at = delivery.event.time
        with _caused_by(delivery.event):
            if isinstance(payload, payments.PaymentReceived):
                received = payload
                await self._run(
                    conn, case_id, lambda c: c.apply_payment(received.payment_id, received.amount)
                )
            elif isinstance(payload, payments.PaymentReversed):
                reversal = payload
                if reversal.applied:
                    await self._run(
                        conn, case_id, lambda c: c.reverse_payment(reversal.payment_id, reversal.amount)
                    )
            elif isinstance(payload, payments.SettlementAgreed):
                agreed = payload
                await self._run(
                    conn,
                    case_id,
                    lambda c: c.record_settlement(
                        agreed.settlement_id, agreed.settlement_amount, agreed.due_on
                    ),
                )
            elif isinstance(payload, payments.SettlementLapsed):
                lapsed = payload

                def lapse(case: Case) -> None:
                    if case.is_open and case.settlement is not None:
                        s = case.settlement
                        case.record_settlement(lapsed.settlement_id, s.amount, s.due_on, lapsed=True)

                await self._run(conn, case_id, lapse)
            elif isinstance(payload, payments.SettlementPaid):
                paid = payload
                await self._run(
                    conn,
                    case_id,
                    lambda c: c.settlement_paid(paid.settlement_id, paid.settlement_amount, paid.due_on),
                )
            elif isinstance(payload, payments.PromiseKept | payments.PromiseBroken):
                status = "kept" if isinstance(payload, payments.PromiseKept) else "broken"
                await self._promise_settled(conn, payload.promise_id, case_id, status, at)

    async def _promise_settled(
        self, conn: AsyncConnection, promise_id: str, case_id: str, status: str, at: datetime
    ) -> None:
        await projections.promise_settled(conn, promise_id, case_id, status, at)

    # --- collections.contacts --------------------------------------------------------------

    async def on_contact(self, conn: AsyncConnection, delivery: Delivery) -> None:
        payload = _payload(delivery)
        case_id = str(delivery.event.subject)
        at = delivery.event.time
        event_id = str(delivery.event.id)
        with _caused_by(delivery.event):
            if isinstance(payload, contacts.DisputeRaised):
                dispute = payload

                def hold_dispute(case: Case) -> None:
                    if case.is_open:
                        case.place_hold(
                            dispute.dispute_id,
                            HoldType.DISPUTE,
                            reason=f"dispute raised via {dispute.received_via.value}: {dispute.reason}",
                            expires_at=None,
                            now=at,
                        )

                await self._run(conn, case_id, hold_dispute)
            elif isinstance(payload, contacts.CeaseRequested):
                cease = payload

                def hold_cease(case: Case) -> None:
                    if case.is_open:
                        case.place_hold(
                            cease.request_id,
                            HoldType.CEASE_COMMUNICATION,
                            reason=cease.note or f"cease requested via {cease.received_via.value}",
                            expires_at=None,
                            now=at,
                        )

                await self._run(conn, case_id, hold_cease)
            elif isinstance(payload, contacts.ContactAttempted) and payload.collector_id is not None:
                collector = payload.collector_id
                await self._activity(conn, event_id, collector, case_id, "attempt", at)
                if payload.outcome in _RIGHT_PARTY_OUTCOMES:
                    await self._activity(
                        conn, event_id + ":rpc", collector, case_id, "right_party_contact", at
                    )
            elif isinstance(payload, contacts.PromiseMade):
                await projections.promise_made(conn, payload.promise_id, case_id, payload.collector_id, at)
                if payload.collector_id is not None:
                    await self._activity(conn, event_id, payload.collector_id, case_id, "promise_made", at)

    async def _activity(
        self, conn: AsyncConnection, event_id: str, collector_id: str, case_id: str, kind: str, at: datetime
    ) -> None:
        await projections.collector_activity(conn, event_id, collector_id, case_id, kind, at)

    # --- timers ----------------------------------------------------------------------------

    async def on_hold_expiry(self, conn: AsyncConnection, timer: DueTimer) -> None:
        service = self.service
        hold_id = str(timer.payload["hold_id"])

        def expire(case: Case) -> None:
            if case.is_open and hold_id in case.holds:
                case.release_hold(hold_id, "hold expired", service.today(), service.policy)

        with bind_context(causation_id=f"timer:{timer.kind}:{timer.key}"):
            await service.execute(str(timer.payload["case_id"]), expire, conn=conn)

    async def on_ageing(self, conn: AsyncConnection, timer: DueTimer) -> None:
        """The daily ageing: cases whose bucket or stage changes today, in batches; then tomorrow's run."""
        service = self.service
        now = service.clock.now()
        today = service.today()
        policy = service.policy
        with bind_context(causation_id=f"timer:{timer.kind}:{timer.key}"):
            case_ids = await service.case_ids_needing_ageing(conn, today, AGEING_BATCH)
            for case_id in case_ids:
                await service.execute(case_id, lambda c: c.age(today, policy), conn=conn)
        if len(case_ids) == AGEING_BATCH:  # more to do: continue at once, in a new transaction
            await timers.schedule(conn, AGEING_TIMER, f"{today.isoformat()}:after:{case_ids[-1]}", now)
        else:
            tomorrow = next_midnight(now)
            await timers.schedule(conn, AGEING_TIMER, tomorrow.date().isoformat(), tomorrow)


_RIGHT_PARTY_OUTCOMES = frozenset(
    {ContactOutcome.RIGHT_PARTY_CONTACT, ContactOutcome.PROMISE_MADE, ContactOutcome.DISPUTE_RAISED}
)
