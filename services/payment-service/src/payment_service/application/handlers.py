"""The payment service's use cases, one handler per command, and the table the command bus runs them from.

A handler loads the case's ledger through the unit of work's repository, lets it decide, and saves
what it recorded; the save writes the read models and schedules the due-date timers in the same
transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import replace
from datetime import datetime, timedelta

from dcp_events.catalogue.base import EventPayload
from dcp_events.catalogue.payments import PaymentPlanAgreed, PromiseTracked, SettlementAgreed, SettlementPaid
from dcp_platform.application import Handler
from payment_service.application import commands as c
from payment_service.application.ports import (
    CaseRecord,
    PaymentEnvironment,
    PaymentReference,
    PaymentUnitOfWork,
)
from payment_service.domain.calendar import deadline
from payment_service.domain.errors import PaymentReferenceConflict, PaymentUnknown, ReceivedInTheFuture
from payment_service.domain.ledger import UTC_ZONE, CaseFacts, CaseLedger

PROMISE_DUE = "promise-due"
INSTALLMENT_DUE = "installment-due"
SETTLEMENT_DUE = "settlement-due"

# Clocks of payment providers drift; a payment stamped slightly ahead of ours is still believable.
CLOCK_SKEW = timedelta(minutes=5)


# --- the shared steps ---------------------------------------------------------------------------


async def load(uow: PaymentUnitOfWork, case_id: str) -> CaseLedger:
    """The case's ledger (a new, empty one before its first event)."""
    return await uow.ledgers.find(case_id, uow.tx) or CaseLedger.new(case_id)


def time_zone_of(facts: CaseFacts | None) -> str:
    """Deadlines fall in the debtor's time zone; in UTC while the case is unknown."""
    return facts.time_zone if facts is not None else UTC_ZONE


async def save(
    uow: PaymentUnitOfWork, env: PaymentEnvironment, ledger: CaseLedger, facts: CaseFacts | None
) -> None:
    """Append what the ledger recorded, write its read models and schedule its due dates."""
    new_events = list(ledger.pending)
    time_zone = time_zone_of(facts)
    await uow.ledgers.save(ledger, uow.tx, jurisdiction=facts.jurisdiction if facts is not None else None)
    await uow.project(ledger, time_zone)
    await _schedule(uow, env, ledger.case_id, new_events, time_zone)


async def _schedule(
    uow: PaymentUnitOfWork,
    env: PaymentEnvironment,
    case_id: str,
    events: Sequence[EventPayload],
    time_zone: str,
) -> None:
    """Due dates become durable timers in the same transaction as the events that set them."""
    for event in events:
        if isinstance(event, PromiseTracked):
            await uow.schedule_timer(PROMISE_DUE, event.promise_id, event.settles_at, {"case_id": case_id})
        elif isinstance(event, PaymentPlanAgreed):
            for installment in event.installments:
                due_at = deadline(installment.due_on, env.policy.installment_grace_days, time_zone)
                await uow.schedule_timer(
                    INSTALLMENT_DUE,
                    f"{event.plan_id}#{installment.number}",
                    due_at,
                    {"case_id": case_id, "plan_id": event.plan_id, "number": installment.number},
                )
        elif isinstance(event, SettlementAgreed):
            due_at = deadline(event.due_on, env.policy.settlement_grace_days, time_zone)
            await uow.schedule_timer(SETTLEMENT_DUE, event.settlement_id, due_at, {"case_id": case_id})
        elif isinstance(event, SettlementPaid):
            await uow.cancel_timer(SETTLEMENT_DUE, event.settlement_id)


def _not_in_the_future(what: str, when: datetime, now: datetime) -> None:
    if when > now + CLOCK_SKEW:
        raise ReceivedInTheFuture(f"{what} {when.isoformat()} is in the future")


# --- payments -------------------------------------------------------------------------------------


async def record_payment(
    command: c.RecordPayment, uow: PaymentUnitOfWork, env: PaymentEnvironment
) -> c.PaymentOutcome:
    """Idempotent by external reference: the same reference returns the first payment; the same
    reference with another case, amount or currency is a PaymentReferenceConflict. A payment for a
    case not known yet, or closed, is held unapplied (the ledger decides)."""
    now = env.now()
    received_at = command.received_at or now
    _not_in_the_future("received_at", received_at, now)
    claim = PaymentReference(
        external_reference=command.external_reference,
        payment_id=str(uuid.uuid4()),
        case_id=command.case_id,
        amount_minor=command.amount.amount_minor,
        currency=command.amount.currency,
    )
    earlier = await uow.claim_reference(claim)
    if earlier is not None:
        if earlier.case_id != claim.case_id:
            raise PaymentReferenceConflict(claim.external_reference, earlier.payment_id, "case")
        if (earlier.amount_minor, earlier.currency) != (claim.amount_minor, claim.currency):
            raise PaymentReferenceConflict(claim.external_reference, earlier.payment_id, "amount")
        return c.PaymentOutcome(earlier.payment_id, created=False)
    await uow.lock_cases([command.case_id])  # against the case's opening being folded at this moment
    facts = await uow.case_facts(command.case_id)
    ledger = await load(uow, command.case_id)
    ledger.receive_payment(
        payment_id=claim.payment_id,
        amount=command.amount,
        method=command.method,
        external_reference=command.external_reference,
        received_at=received_at,
        case=facts,
        now=now,
        policy=env.policy,
        hold_foreign_currency=command.hold_foreign_currency,
    )
    await save(uow, env, ledger, facts)
    return c.PaymentOutcome(claim.payment_id, created=True)


async def reverse_payment(command: c.ReversePayment, uow: PaymentUnitOfWork, env: PaymentEnvironment) -> None:
    """A chargeback or returned payment: the ledger restores the balance and breaks what it kept."""
    now = env.now()
    when = command.reversed_at or now
    _not_in_the_future("reversed_at", when, now)
    known = await uow.reference_of_payment(command.payment_id)
    if known is None:
        raise PaymentUnknown(f"no payment {command.payment_id}")
    facts = await uow.case_facts(known.case_id)
    ledger = await load(uow, known.case_id)
    ledger.reverse_payment(
        payment_id=command.payment_id,
        reason=command.reason,
        reversal_reference=command.reference,
        reversed_at=when,
        case=facts,
        now=now,
        policy=env.policy,
    )
    await save(uow, env, ledger, facts)


# --- plans, settlements and promises --------------------------------------------------------------


async def agree_plan(command: c.AgreePlan, uow: PaymentUnitOfWork, env: PaymentEnvironment) -> str:
    """The new plan's id."""
    plan_id = str(uuid.uuid4())
    facts = await uow.case_facts(command.case_id)
    ledger = await load(uow, command.case_id)
    ledger.agree_plan(
        plan_id=plan_id,
        total=command.total,
        installments=command.installments,
        case=facts,
        now=env.now(),
        policy=env.policy,
        by_supervisor=command.by_supervisor,
        channel=command.channel,
        collector_id=command.collector_id,
    )
    await save(uow, env, ledger, facts)
    return plan_id


async def record_financial_statement(
    command: c.RecordFinancialStatement, uow: PaymentUnitOfWork, env: PaymentEnvironment
) -> str:
    """The new statement's id."""
    statement_id = str(uuid.uuid4())
    facts = await uow.case_facts(command.case_id)
    ledger = await load(uow, command.case_id)
    ledger.record_financial_statement(
        statement_id=statement_id,
        statement_date=command.statement_date,
        source=command.source,
        household=command.household,
        lines=command.lines,
        savings=command.savings,
        recorded_by=command.recorded_by,
        case=facts,
        now=env.now(),
    )
    await save(uow, env, ledger, facts)
    return statement_id


async def agree_settlement(
    command: c.AgreeSettlement, uow: PaymentUnitOfWork, env: PaymentEnvironment
) -> str:
    """The new settlement's id."""
    settlement_id = str(uuid.uuid4())
    facts = await uow.case_facts(command.case_id)
    ledger = await load(uow, command.case_id)
    ledger.agree_settlement(
        settlement_id=settlement_id,
        amount=command.amount,
        due_on=command.due_on,
        case=facts,
        now=env.now(),
        policy=env.policy,
        by_supervisor=command.by_supervisor,
        collector_id=command.collector_id,
    )
    await save(uow, env, ledger, facts)
    return settlement_id


async def track_promise(command: c.TrackPromise, uow: PaymentUnitOfWork, env: PaymentEnvironment) -> None:
    facts = await uow.case_facts(command.case_id)
    ledger = await load(uow, command.case_id)
    ledger.track_promise(
        promise_id=command.promise_id,
        amount=command.amount,
        due_on=command.due_on,
        made_at=command.made_at,
        case=facts,
        now=env.now(),
        policy=env.policy,
    )
    await save(uow, env, ledger, facts)


# --- what case-service reports --------------------------------------------------------------------


async def record_case_opened(
    command: c.RecordCaseOpened, uow: PaymentUnitOfWork, env: PaymentEnvironment
) -> None:
    """Remember the case, and apply the payments that were held waiting for it."""
    now = env.now()
    facts = command.facts
    await uow.lock_cases([facts.case_id])
    await uow.record_case_opened(facts, now)
    ledger = await load(uow, facts.case_id)
    ledger.apply_held_payments(facts, now, env.policy)
    await save(uow, env, ledger, facts)


async def record_case_balance(
    command: c.RecordCaseBalance, uow: PaymentUnitOfWork, env: PaymentEnvironment
) -> None:
    await uow.record_case_balance(command.case_id, command.balance_minor, env.now())


async def record_case_closed(
    command: c.RecordCaseClosed, uow: PaymentUnitOfWork, env: PaymentEnvironment
) -> None:
    await uow.record_case_closed(command.case_id, command.final_balance_minor, env.now())


async def record_case_reopened(
    command: c.RecordCaseReopened, uow: PaymentUnitOfWork, env: PaymentEnvironment
) -> None:
    known = (await uow.case_records([command.case_id])).get(command.case_id)
    if known is not None:
        await uow.save_case_records([replace(known, facts=replace(known.facts, closed=False))], env.now())


async def record_case_assignment(
    command: c.RecordCaseAssignment, uow: PaymentUnitOfWork, env: PaymentEnvironment
) -> None:
    await uow.record_case_assignment(command.case_id, command.assignee_kind, command.assignee_id, env.now())


async def record_case_events(
    command: c.RecordCaseEvents, uow: PaymentUnitOfWork, env: PaymentEnvironment
) -> None:
    """A batch of case events as the commands above one by one would record them: the batch's cases
    read in one statement and written in one; the payments held for a case opened in it applied."""
    now = env.now()
    ids = list(dict.fromkeys(cmd.case_id for cmd in command.commands))
    # a payment held for a case opened here, committed as this batch runs, is then seen below
    await uow.lock_cases([cmd.case_id for cmd in command.commands if isinstance(cmd, c.RecordCaseOpened)])
    records = await uow.case_records(ids)
    touched: dict[str, None] = {}
    opened: dict[str, CaseFacts] = {}
    erased: dict[str, None] = {}
    for cmd in command.commands:
        case_id = cmd.case_id
        known = records.get(case_id)
        if isinstance(cmd, c.EraseStatementLines):
            erased[case_id] = None
            continue
        if isinstance(cmd, c.RecordCaseOpened):
            records[case_id] = CaseRecord(cmd.facts, None if known is None else known.assignee)
            opened.setdefault(case_id, cmd.facts)
        elif known is None:
            continue  # a case never opened here stays unknown
        elif isinstance(cmd, c.RecordCaseBalance):
            records[case_id] = replace(known, facts=replace(known.facts, balance_minor=cmd.balance_minor))
        elif isinstance(cmd, c.RecordCaseClosed):
            facts = replace(known.facts, balance_minor=cmd.final_balance_minor, closed=True)
            records[case_id] = replace(known, facts=facts)
        elif isinstance(cmd, c.RecordCaseReopened):
            records[case_id] = replace(known, facts=replace(known.facts, closed=False))
        else:
            records[case_id] = replace(known, assignee=(cmd.assignee_kind, cmd.assignee_id))
        touched[case_id] = None
    await uow.save_case_records([records[i] for i in touched], now)
    for case_id in erased:
        await uow.erase_statement_lines(case_id)
    # Payments that arrived before their case: held on a ledger that exists already.
    for case_id in await uow.ledgers.existing(list(opened), uow.tx):
        with nullcontext() if command.cause is None else command.cause(case_id):
            ledger = await load(uow, case_id)
            ledger.apply_held_payments(opened[case_id], now, env.policy)
            await save(uow, env, ledger, opened[case_id])


async def erase_statement_lines(
    command: c.EraseStatementLines, uow: PaymentUnitOfWork, env: PaymentEnvironment
) -> None:
    await uow.erase_statement_lines(command.case_id)


# --- due dates (timers) ---------------------------------------------------------------------------


async def promise_due(command: c.PromiseDue, uow: PaymentUnitOfWork, env: PaymentEnvironment) -> None:
    facts = await uow.case_facts(command.case_id)
    ledger = await load(uow, command.case_id)
    ledger.settle_promise(command.promise_id, env.now())
    await save(uow, env, ledger, facts)


async def installment_due(command: c.InstallmentDue, uow: PaymentUnitOfWork, env: PaymentEnvironment) -> None:
    facts = await uow.case_facts(command.case_id)
    ledger = await load(uow, command.case_id)
    ledger.installment_due(command.plan_id, command.number, env.now(), time_zone_of(facts), env.policy)
    await save(uow, env, ledger, facts)


async def settlement_due(command: c.SettlementDue, uow: PaymentUnitOfWork, env: PaymentEnvironment) -> None:
    facts = await uow.case_facts(command.case_id)
    ledger = await load(uow, command.case_id)
    ledger.settlement_due(command.settlement_id, env.now(), time_zone_of(facts), env.policy)
    await save(uow, env, ledger, facts)


COMMAND_HANDLERS: dict[type, Handler[PaymentUnitOfWork, PaymentEnvironment]] = {
    c.RecordPayment: record_payment,
    c.ReversePayment: reverse_payment,
    c.AgreePlan: agree_plan,
    c.AgreeSettlement: agree_settlement,
    c.RecordFinancialStatement: record_financial_statement,
    c.TrackPromise: track_promise,
    c.RecordCaseOpened: record_case_opened,
    c.RecordCaseBalance: record_case_balance,
    c.RecordCaseClosed: record_case_closed,
    c.RecordCaseReopened: record_case_reopened,
    c.RecordCaseAssignment: record_case_assignment,
    c.RecordCaseEvents: record_case_events,
    c.EraseStatementLines: erase_statement_lines,
    c.PromiseDue: promise_due,
    c.InstallmentDue: installment_due,
    c.SettlementDue: settlement_due,
}
