"""What the case service does with the events it consumes and the timers it set: each becomes a
command for the bus, run in the consumer's (or timer's) transaction.

A payment, a reversal, a dispute, a contact that happened is a fact: the case books what it means
for its own state (an over-payment is a credit, a reversal after closure reopens the case, a payment
after write-off is a recovery) and never refuses it. A fact it has no way to book (a payment in
another currency than the case's, on a case it never opened) is counted in
`dcp_case_facts_not_booked_total` and logged; the reconciliation (`GET /audit/reconciliation`) shows
the divergence with its evidence. Only a record that cannot be decoded goes to the DLQ. A placement is
a request, not a fact: one the rules refuse (nothing owed, not past due) is dead-lettered with the
reason, for the integrator to correct.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncConnection

from case_service.application import commands as c
from case_service.application.ports import CaseBus
from case_service.domain.errors import CaseNotFound, CaseRuleViolation
from dcp_compliance.limitation import RestartKind
from dcp_events.catalogue import contacts, integration, payments
from dcp_events.catalogue.building import parse_data
from dcp_events.catalogue.enums import ContactOutcome, ContactParty, HoldType
from dcp_events.errors import EventError
from dcp_platform.context import bind_context
from dcp_platform.eventsourcing.consumer import Delivery, PoisonMessage, delivery_context
from dcp_platform.eventsourcing.timers import DueTimer

log = logging.getLogger(__name__)

FACTS_NOT_BOOKED = Counter(
    "dcp_case_facts_not_booked_total",
    "Facts (payments, reversals, disputes) the case service had no way to book: see the reconciliation",
    ["event_type", "reason"],
)

# The events of each topic these handlers act on (the consumer skips the topic's others).
PAYMENT_EVENTS = (
    payments.PaymentReceived,
    payments.PaymentReversed,
    payments.SettlementAgreed,
    payments.SettlementLapsed,
    payments.SettlementPaid,
    payments.PromiseKept,
    payments.PromiseBroken,
    payments.PaymentPlanAgreed,
    payments.PaymentPlanCompleted,
    payments.PaymentPlanBroken,
)
CONTACT_EVENTS = (
    contacts.ContactBlocked,
    contacts.DisputeRaised,
    contacts.VerificationSent,
    contacts.CeaseRequested,
    contacts.ContactAttempted,
    contacts.PromiseMade,
)

_RIGHT_PARTY_OUTCOMES = frozenset(
    {ContactOutcome.RIGHT_PARTY_CONTACT, ContactOutcome.PROMISE_MADE, ContactOutcome.DISPUTE_RAISED}
)


def _a_demand(attempt: contacts.ContactAttempted) -> bool:
    """A collection contact that reached the debtor: a claim for performance where the law counts one
    as restarting the limitation period (CN Civil Code art. 195); elsewhere the case's law ignores it."""
    return (
        attempt.party is ContactParty.DEBTOR
        and attempt.outcome in _RIGHT_PARTY_OUTCOMES
        and attempt.purpose in (None, contacts.ContactPurpose.COLLECTION)
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
        """A placement's command: a refusal dead-letters it, with the reason."""
        try:
            await self.bus.handle(command, tx=conn)
        except CaseNotFound as exc:
            raise PoisonMessage(str(exc)) from exc
        except CaseRuleViolation as exc:
            raise PoisonMessage(f"{type(exc).__name__}: {exc}") from exc

    async def _book(self, conn: AsyncConnection, command: object, delivery: Delivery) -> None:
        """A fact's command: booked; what cannot be booked is counted and logged, never refused.
        Run under a savepoint, so a fact that cannot be booked leaves nothing half-done."""
        try:
            async with conn.begin_nested():
                await self.bus.handle(command, tx=conn)
        except (CaseNotFound, CaseRuleViolation) as exc:
            reason = "unknown-case" if isinstance(exc, CaseNotFound) else exc.code
            FACTS_NOT_BOOKED.labels(delivery.event.type, reason).inc()
            log.warning(
                "case %s: %s %s not booked (%s: %s)",
                delivery.event.subject,
                delivery.event.type,
                delivery.event.id,
                type(exc).__name__,
                exc,
            )

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
            command = c.ApplyPayment(
                case_id, payload.payment_id, payload.amount, paid_on=payload.received_at.date()
            )
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
            await self._book(
                conn, c.RecordArrangement(case_id, "promise", payload.promise_id, status), delivery
            )
            command = c.RecordPromiseSettled(payload.promise_id, case_id, status, delivery.event.time)
        elif isinstance(payload, payments.PaymentPlanAgreed):
            command = c.RecordArrangement(case_id, "plan", payload.plan_id, "active")
        elif isinstance(payload, payments.PaymentPlanCompleted):
            command = c.RecordArrangement(case_id, "plan", payload.plan_id, "completed")
        elif isinstance(payload, payments.PaymentPlanBroken):
            command = c.RecordArrangement(case_id, "plan", payload.plan_id, "broken")
        if command is not None:
            await self._book(conn, command, delivery)

    # --- collections.contacts ------------------------------------------------------------------

    async def on_contact(self, conn: AsyncConnection, delivery: Delivery) -> None:
        payload = _payload(delivery)
        event = delivery.event
        case_id, at, event_id = str(event.subject), event.time, str(event.id)
        command: object | None = None
        if isinstance(payload, contacts.ContactBlocked):
            # a refusal by the gate: one of the harms an experiment's guards watch
            command = c.RecordCaseSignal(case_id, "gate_refusals", at)
        elif isinstance(payload, contacts.DisputeRaised):
            await self._book(conn, c.RecordCaseSignal(case_id, "disputes", at), delivery)
        elif isinstance(payload, contacts.ContactAttempted):
            # every attempt, by channel: the outcome history the propensity model learns from
            right_party = payload.outcome in _RIGHT_PARTY_OUTCOMES
            when = payload.contacted_at or at
            outcome = c.RecordContactOutcome(event_id, case_id, payload.channel.value, right_party, when)
            await self._book(conn, outcome, delivery)
        if isinstance(payload, contacts.DisputeRaised) and payload.hold_type is not None:
            reason = f"dispute raised via {payload.received_via.value}: {payload.reason}"
            if payload.within_validation_period:
                reason += f" (within the validation period ending {payload.validation_period_end or 'later'})"
            command = c.HoldForDebtorRequest(case_id, payload.dispute_id, payload.hold_type, reason, at)
        elif isinstance(payload, contacts.VerificationSent):
            command = c.ReleaseHoldOnVerification(
                case_id,
                payload.dispute_id,
                f"verification sent by {payload.channel.value} ({payload.attempt_id})",
            )
        elif isinstance(payload, contacts.CeaseRequested):
            reason = payload.note or f"cease requested via {payload.received_via.value}"
            command = c.HoldForDebtorRequest(
                case_id, payload.request_id, HoldType.CEASE_COMMUNICATION, reason, at
            )
        elif isinstance(payload, contacts.ContactAttempted) and payload.collector_id is not None:
            if _a_demand(payload):
                await self._book(
                    conn, c.RestartLimitation(case_id, RestartKind.CREDITOR_DEMAND, at.date()), delivery
                )
            kinds = (
                ("attempt", "right_party_contact")
                if payload.outcome in _RIGHT_PARTY_OUTCOMES
                else ("attempt",)
            )
            command = c.RecordContactActivity(event_id, case_id, payload.collector_id, kinds, at)
        elif isinstance(payload, contacts.PromiseMade):
            # the case's stream first, then the KPI rows: the order every consumer takes (no deadlock)
            await self._book(
                conn,
                c.RecordArrangement(case_id, "promise", payload.promise_id, "active", payload.due_on),
                delivery,
            )
            await self._book(
                conn, c.RecordPromiseMade(payload.promise_id, case_id, payload.collector_id, at), delivery
            )
            if payload.collector_id is not None:
                command = c.RecordContactActivity(
                    event_id, case_id, payload.collector_id, ("promise_made",), at
                )
        if command is not None:
            await self._book(conn, command, delivery)

    # --- timers --------------------------------------------------------------------------------

    async def on_hold_expiry(self, conn: AsyncConnection, timer: DueTimer) -> None:
        with bind_context(causation_id=f"timer:{timer.kind}:{timer.key}"):
            await self.bus.handle(
                c.ExpireHold(str(timer.payload["case_id"]), str(timer.payload["hold_id"])), tx=conn
            )

    async def on_vulnerability_review(self, conn: AsyncConnection, timer: DueTimer) -> None:
        with bind_context(causation_id=f"timer:{timer.kind}:{timer.key}"):
            await self.bus.handle(
                c.MarkVulnerabilityReviewDue(str(timer.payload["case_id"]), str(timer.payload["flag_id"])),
                tx=conn,
            )

    async def on_retention(self, conn: AsyncConnection, timer: DueTimer) -> None:
        with bind_context(causation_id=f"timer:{timer.kind}:{timer.key}"):
            payload = timer.payload or {}
            await self.bus.handle(
                c.EraseAfterRetention(
                    str(payload["case_id"]), int(payload["years"]), str(payload["citation"])
                ),
                tx=conn,
            )

    async def on_interest(self, conn: AsyncConnection, timer: DueTimer) -> None:
        """The monthly interest run, in batches (a continuation names the last case done)."""
        with bind_context(causation_id=f"timer:{timer.kind}:{timer.key}"):
            after = timer.payload.get("after") if timer.payload else None
            await self.bus.handle(c.AccrueInterest(after=str(after) if after else None), tx=conn)

    async def on_experiment_review(self, conn: AsyncConnection, timer: DueTimer) -> None:
        """The hourly experiment review: guards read, breaching challengers stopped, cases moved."""
        with bind_context(causation_id=f"timer:{timer.kind}:{timer.key}"):
            await self.bus.handle(c.ReviewExperiments(), tx=conn)

    async def on_ageing(self, conn: AsyncConnection, timer: DueTimer) -> None:
        """The daily ageing: cases whose bucket or stage changes today, in batches; then tomorrow's run."""
        with bind_context(causation_id=f"timer:{timer.kind}:{timer.key}"):
            await self.bus.handle(c.AgeCases(), tx=conn)
