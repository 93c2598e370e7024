"""Command handlers of the payment service: each loads a case ledger, lets it decide, and appends its
events, writes the read models and schedules the due-date timers in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dcp_events.catalogue.base import EventPayload, Money
from dcp_events.catalogue.enums import Channel, PaymentMethod, ReversalReason
from dcp_events.catalogue.payments import PaymentPlanAgreed, PromiseTracked, SettlementAgreed, SettlementPaid
from dcp_platform.clock import Clock
from dcp_platform.eventsourcing import timers
from dcp_platform.eventsourcing.store import ConcurrencyConflict, EventStore
from payment_service.adapters import case_facts, ledgers, projections, references
from payment_service.adapters.references import PaymentReference
from payment_service.domain.calendar import deadline
from payment_service.domain.errors import PaymentReferenceConflict, PaymentUnknown, ReceivedInTheFuture
from payment_service.domain.ledger import UTC_ZONE, ArrangementPolicy, CaseFacts, CaseLedger

T = TypeVar("T")

PROMISE_DUE = "promise-due"
INSTALLMENT_DUE = "installment-due"
SETTLEMENT_DUE = "settlement-due"

# Clocks of payment providers drift; a payment stamped slightly ahead of ours is still believable.
CLOCK_SKEW = timedelta(minutes=5)
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class RecordPayment:
    case_id: str
    amount: Money
    method: PaymentMethod
    external_reference: str
    received_at: datetime | None = None


@dataclass(frozen=True)
class PaymentOutcome:
    payment_id: str
    created: bool


@dataclass(frozen=True)
class AgreePlan:
    case_id: str
    total: Money
    installments: Sequence[tuple[date, Money]]
    by_supervisor: bool
    channel: Channel | None = None
    collector_id: str | None = None


@dataclass(frozen=True)
class AgreeSettlement:
    case_id: str
    amount: Money
    due_on: date
    by_supervisor: bool
    collector_id: str | None = None


class PaymentCommands:
    """The write side. HTTP commands run in their own transaction (retried when another writer of
    the same case got there first); consumers and timers pass the transaction they run in."""

    def __init__(self, policy: ArrangementPolicy) -> None:
        self.policy = policy
        self._engine: AsyncEngine | None = None
        self._store: EventStore | None = None
        self._clock: Clock | None = None
        self._on_commit: Callable[[], None] = lambda: None

    def bind(
        self, engine: AsyncEngine, store: EventStore, clock: Clock, on_commit: Callable[[], None]
    ) -> None:
        """Attach the runtime (built by the app factory after the handlers that use this object)."""
        self._engine, self._store, self._clock, self._on_commit = engine, store, clock, on_commit

    @property
    def engine(self) -> AsyncEngine:
        assert self._engine is not None, "PaymentCommands used before bind()"
        return self._engine

    @property
    def store(self) -> EventStore:
        assert self._store is not None, "PaymentCommands used before bind()"
        return self._store

    @property
    def clock(self) -> Clock:
        assert self._clock is not None, "PaymentCommands used before bind()"
        return self._clock

    async def transaction(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                async with self.engine.begin() as conn:
                    result = await work(conn)
            except ConcurrencyConflict:
                if attempt == MAX_ATTEMPTS:
                    raise
                continue
            self._on_commit()
            return result
        raise AssertionError("unreachable")

    async def _commit(self, conn: AsyncConnection, ledger: CaseLedger, facts: CaseFacts | None) -> None:
        new_events = list(ledger.pending)
        time_zone = facts.time_zone if facts is not None else UTC_ZONE
        await ledgers.append(self.store, conn, ledger, self.clock, facts.jurisdiction if facts else None)
        await projections.save(conn, ledger, self.policy, time_zone)
        await self._schedule(conn, ledger.case_id, new_events, time_zone)

    async def _schedule(
        self, conn: AsyncConnection, case_id: str, events: Sequence[EventPayload], time_zone: str
    ) -> None:
        """Due dates become durable timers in the same transaction as the events that set them."""
        for event in events:
            if isinstance(event, PromiseTracked):
                await timers.schedule(
                    conn, PROMISE_DUE, event.promise_id, event.settles_at, {"case_id": case_id}
                )
            elif isinstance(event, PaymentPlanAgreed):
                for installment in event.installments:
                    due_at = deadline(installment.due_on, self.policy.installment_grace_days, time_zone)
                    await timers.schedule(
                        conn,
                        INSTALLMENT_DUE,
                        f"{event.plan_id}#{installment.number}",
                        due_at,
                        {"case_id": case_id, "plan_id": event.plan_id, "number": installment.number},
                    )
            elif isinstance(event, SettlementAgreed):
                due_at = deadline(event.due_on, self.policy.settlement_grace_days, time_zone)
                await timers.schedule(conn, SETTLEMENT_DUE, event.settlement_id, due_at, {"case_id": case_id})
            elif isinstance(event, SettlementPaid):
                await timers.cancel(conn, SETTLEMENT_DUE, event.settlement_id)

    # ---- payments ------------------------------------------------------------------------------

    async def record_payment(self, command: RecordPayment) -> PaymentOutcome:
        return await self.transaction(lambda conn: self.record_payment_in(conn, command))

    async def record_payment_in(self, conn: AsyncConnection, command: RecordPayment) -> PaymentOutcome:
        """Idempotent by external reference: the same reference returns the first payment; the same
        reference with another case, amount or currency is a PaymentReferenceConflict."""
        now = self.clock.now()
        received_at = command.received_at or now
        if received_at > now + CLOCK_SKEW:
            raise ReceivedInTheFuture(f"received_at {received_at.isoformat()} is in the future")
        claim = PaymentReference(
            external_reference=command.external_reference,
            payment_id=str(uuid.uuid4()),
            case_id=command.case_id,
            amount_minor=command.amount.amount_minor,
            currency=command.amount.currency,
        )
        earlier = await references.claim(conn, claim)
        if earlier is not None:
            if earlier.case_id != claim.case_id:
                raise PaymentReferenceConflict(claim.external_reference, earlier.payment_id, "case")
            if (earlier.amount_minor, earlier.currency) != (claim.amount_minor, claim.currency):
                raise PaymentReferenceConflict(claim.external_reference, earlier.payment_id, "amount")
            return PaymentOutcome(earlier.payment_id, created=False)
        facts = await case_facts.get(conn, command.case_id)
        ledger = await ledgers.load(self.store, conn, command.case_id)
        ledger.receive_payment(
            payment_id=claim.payment_id,
            amount=command.amount,
            method=command.method,
            external_reference=command.external_reference,
            received_at=received_at,
            case=facts,
            now=now,
            policy=self.policy,
        )
        await self._commit(conn, ledger, facts)
        return PaymentOutcome(claim.payment_id, created=True)

    async def reverse_payment(
        self, payment_id: str, reason: ReversalReason, reference: str | None, reversed_at: datetime | None
    ) -> None:
        async def work(conn: AsyncConnection) -> None:
            now = self.clock.now()
            when = reversed_at or now
            if when > now + CLOCK_SKEW:
                raise ReceivedInTheFuture(f"reversed_at {when.isoformat()} is in the future")
            known = await references.find_by_payment(conn, payment_id)
            if known is None:
                raise PaymentUnknown(f"no payment {payment_id}")
            facts = await case_facts.get(conn, known.case_id)
            ledger = await ledgers.load(self.store, conn, known.case_id)
            ledger.reverse_payment(
                payment_id=payment_id,
                reason=reason,
                reversal_reference=reference,
                reversed_at=when,
                case=facts,
                now=now,
                policy=self.policy,
            )
            await self._commit(conn, ledger, facts)

        await self.transaction(work)

    # ---- plans and settlements -----------------------------------------------------------------

    async def agree_plan(self, command: AgreePlan) -> str:
        plan_id = str(uuid.uuid4())

        async def work(conn: AsyncConnection) -> str:
            facts = await case_facts.get(conn, command.case_id)
            ledger = await ledgers.load(self.store, conn, command.case_id)
            ledger.agree_plan(
                plan_id=plan_id,
                total=command.total,
                installments=command.installments,
                case=facts,
                now=self.clock.now(),
                policy=self.policy,
                by_supervisor=command.by_supervisor,
                channel=command.channel,
                collector_id=command.collector_id,
            )
            await self._commit(conn, ledger, facts)
            return plan_id

        return await self.transaction(work)

    async def agree_settlement(self, command: AgreeSettlement) -> str:
        settlement_id = str(uuid.uuid4())

        async def work(conn: AsyncConnection) -> str:
            facts = await case_facts.get(conn, command.case_id)
            ledger = await ledgers.load(self.store, conn, command.case_id)
            ledger.agree_settlement(
                settlement_id=settlement_id,
                amount=command.amount,
                due_on=command.due_on,
                case=facts,
                now=self.clock.now(),
                policy=self.policy,
                by_supervisor=command.by_supervisor,
                collector_id=command.collector_id,
            )
            await self._commit(conn, ledger, facts)
            return settlement_id

        return await self.transaction(work)

    # ---- facts from other services (consumers) -------------------------------------------------

    async def track_promise(
        self,
        conn: AsyncConnection,
        case_id: str,
        promise_id: str,
        amount: Money,
        due_on: date,
        made_at: datetime,
    ) -> None:
        facts = await case_facts.get(conn, case_id)
        ledger = await ledgers.load(self.store, conn, case_id)
        ledger.track_promise(
            promise_id=promise_id,
            amount=amount,
            due_on=due_on,
            made_at=made_at,
            case=facts,
            now=self.clock.now(),
            policy=self.policy,
        )
        await self._commit(conn, ledger, facts)

    async def case_opened(self, conn: AsyncConnection, facts: CaseFacts) -> None:
        """Remember the case, and apply the payments that were held waiting for it."""
        now = self.clock.now()
        await case_facts.record_opened(conn, facts, now)
        ledger = await ledgers.load(self.store, conn, facts.case_id)
        ledger.apply_held_payments(facts, now, self.policy)
        await self._commit(conn, ledger, facts)

    async def case_balance_changed(self, conn: AsyncConnection, case_id: str, balance_minor: int) -> None:
        await case_facts.record_balance(conn, case_id, balance_minor, self.clock.now())

    async def case_closed(self, conn: AsyncConnection, case_id: str, final_balance_minor: int) -> None:
        await case_facts.record_closed(conn, case_id, final_balance_minor, self.clock.now())

    async def case_assigned(self, conn: AsyncConnection, case_id: str, kind: str, assignee_id: str) -> None:
        await case_facts.record_assigned(conn, case_id, kind, assignee_id, self.clock.now())

    # ---- due dates (timers) --------------------------------------------------------------------

    async def promise_due(self, conn: AsyncConnection, case_id: str, promise_id: str) -> None:
        facts = await case_facts.get(conn, case_id)
        ledger = await ledgers.load(self.store, conn, case_id)
        ledger.settle_promise(promise_id, self.clock.now())
        await self._commit(conn, ledger, facts)

    async def installment_due(self, conn: AsyncConnection, case_id: str, plan_id: str, number: int) -> None:
        facts = await case_facts.get(conn, case_id)
        ledger = await ledgers.load(self.store, conn, case_id)
        time_zone = facts.time_zone if facts is not None else UTC_ZONE
        ledger.installment_due(plan_id, number, self.clock.now(), time_zone, self.policy)
        await self._commit(conn, ledger, facts)

    async def settlement_due(self, conn: AsyncConnection, case_id: str, settlement_id: str) -> None:
        facts = await case_facts.get(conn, case_id)
        ledger = await ledgers.load(self.store, conn, case_id)
        time_zone = facts.time_zone if facts is not None else UTC_ZONE
        ledger.settlement_due(settlement_id, self.clock.now(), time_zone, self.policy)
        await self._commit(conn, ledger, facts)
