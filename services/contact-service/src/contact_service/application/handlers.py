"""The contact service's use cases, one handler per command, and the table the command bus runs them from.

Every contact passes the gate inside a per-debtor lock: for one debtor, the case read again once the
lock is held, the gate's reading of the history, the decision and the record of the attempt (event
on the case's contact stream plus read-model row) happen in one unit of work, so two collectors
placing the call that would exceed a cap at the same moment get one allow and one deny. Dry-run
checks read without the lock.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contact_service.application import commands as c
from contact_service.application.permits import PERMIT_HANDLERS, record_parked_reports, staff_checked
from contact_service.application.ports import (
    CaseRow,
    ContactEnvironment,
    ContactUnitOfWork,
    PromiseRecord,
)
from contact_service.application.queries import gate_decision, known_case
from contact_service.application.steps import case_locked, count_decision, record
from contact_service.domain.contacts import CaseDisputes, RecordedDispute
from contact_service.domain.errors import DisputeNotFound, InvalidPromise, PromiseRefused
from contact_service.domain.profile import profile_after, profile_erased, profile_of
from dcp_compliance import Decision, apply_payload, check_promise, load_pack
from dcp_compliance.validation import DisputeTreatment, classify_dispute
from dcp_events.catalogue.base import EventPayload
from dcp_events.catalogue.cases import (
    CaseAssigned,
    CaseBalanceChanged,
    CaseClosed,
    CaseOpened,
    CaseReopened,
    CaseStrategyAssigned,
    ErasureCompleted,
)
from dcp_events.catalogue.contacts import (
    CeaseRequested,
    ChannelOptedOut,
    ContactPersonAgreed,
    ContactPreferencesSet,
    DisputeRaised,
    PromiseMade,
    WorkplaceContactProhibited,
)
from dcp_events.catalogue.enums import Channel, HoldType
from dcp_platform.application import Handler

# --- the gate ------------------------------------------------------------------------------------


async def check_contact(command: c.CheckContact, uow: ContactUnitOfWork, env: ContactEnvironment) -> Decision:
    now = env.now()
    case = await known_case(uow, command.case_id, command.principal)
    decision = await staff_checked(
        uow, case, command.proposed, await gate_decision(uow, case, command.proposed, now), now
    )
    count_decision(case, decision, "check")  # nothing to commit: a dry run records nothing
    return decision


# --- promises and debtor requests ------------------------------------------------------------------


async def make_promise(command: c.MakePromise, uow: ContactUnitOfWork, env: ContactEnvironment) -> str:
    amount = command.amount
    if amount.amount_minor <= 0:
        raise InvalidPromise("a promise is for an amount greater than zero")
    case = await case_locked(uow, command.case_id, command.principal)
    if amount.currency != case.currency:
        raise InvalidPromise(f"the case is in {case.currency}, not {amount.currency}")
    now = env.now()
    try:
        pack = load_pack(case.jurisdiction, at=now)
    except LookupError as exc:
        raise InvalidPromise(f"no rule pack for jurisdiction {case.jurisdiction}") from exc
    decision = check_promise(pack, case.facts, command.due_on, now)
    if not decision.allowed:
        raise PromiseRefused(decision)
    promise_id = f"prm-{uuid.uuid4().hex[:16]}"
    payload = PromiseMade(
        promise_id=promise_id,
        amount=amount,
        due_on=command.due_on,
        channel=command.channel,
        collector_id=command.collector_id,
        attempt_id=command.attempt_id,
    )
    await record(uow, env, case, [payload])
    await uow.insert_promise(
        PromiseRecord(
            promise_id,
            case.case_id,
            amount.amount_minor,
            amount.currency,
            command.due_on,
            now,
            command.collector_id,
        )
    )
    return promise_id


async def record_debtor_request(
    command: c.RecordDebtorRequest, uow: ContactUnitOfWork, env: ContactEnvironment
) -> list[str]:
    """Channel opt-outs, preferred times, workplace bans and agreed contacts concern the debtor: they
    are recorded on each of the debtor's open cases. Disputes and cease requests concern this debt.
    Answers the ids of the cases recorded on."""
    case = await case_locked(uow, command.case_id, command.principal)
    targets = [case.case_id]
    if command.whole_debtor:
        targets = await uow.open_cases_of_debtor(case.debtor_id) or [case.case_id]
    for target_id in targets:
        target = case if target_id == case.case_id else await uow.case(target_id)
        if target is None:
            continue
        treatment = None
        if command.kind == "dispute":
            treatment = await dispute_treatment(uow, env, target, command.received_via)
        payloads = request_events(command, treatment)
        await record(uow, env, target, payloads)
        facts = target.facts
        for payload in payloads:
            # Applied here at once (the gate must honour it from this moment), with the same fold the
            # audit-service uses on the published events.
            facts = apply_payload(facts, payload, target.case_id, env.now()) or facts
        await uow.update_case(target.case_id, {"facts": facts})
    return targets


async def dispute_treatment(
    uow: ContactUnitOfWork, env: ContactEnvironment, case: CaseRow, received_via: Channel
) -> DisputeTreatment:
    """How the case's pack treats a dispute received now: within the validation period of the last
    validation notice sent (judged on the debtor's calendar) or not, in writing or not."""
    contacts = await uow.contacts.find(case.case_id, uow.tx)
    period_end = contacts.validation_period_end if contacts is not None else None
    now = env.now()
    try:
        received_on = now.astimezone(ZoneInfo(case.facts.time_zone)).date()
    except (ZoneInfoNotFoundError, ValueError):
        received_on = now.date()
    return classify_dispute(case.jurisdiction, received_via, received_on, period_end, at=now)


def request_events(
    command: c.RecordDebtorRequest, treatment: DisputeTreatment | None = None
) -> list[EventPayload]:
    """The events of one debtor request on one case (each with a new id)."""
    ref = uuid.uuid4().hex[:16]
    via = command.received_via
    if command.kind == "dispute":
        held = treatment.hold_type if treatment is not None else HoldType.DISPUTE
        return [
            DisputeRaised(
                dispute_id=f"dsp-{ref}",
                received_via=via,
                reason=command.reason or "disputed by the debtor",
                disputed_amount=command.disputed_amount,
                hold_type=held,
                within_validation_period=treatment.within_validation_period if treatment else None,
                validation_period_end=treatment.validation_period_end if treatment else None,
                rule_id=treatment.rule_id if treatment else None,
            )
        ]
    if command.kind == "cease_communication":
        return [CeaseRequested(request_id=f"cease-{ref}", received_via=via, note=command.reason)]
    if command.kind == "channel_opt_out":
        assert command.channel is not None
        return [
            ChannelOptedOut(channel=command.channel, received_via=via, contact_point=command.contact_point)
        ]
    if command.kind == "preferred_contact_times":
        return [
            ContactPreferencesSet(
                preferred_channel=command.preferred_channel, windows=list(command.windows or [])
            )
        ]
    if command.kind == "workplace_contact_prohibited":
        return [WorkplaceContactProhibited(received_via=via, note=command.reason)]
    if command.kind == "agreed_contact_person":
        assert command.contact_point is not None
        return [
            ContactPersonAgreed(
                contact_point=command.contact_point, relation=command.relation or "other", received_via=via
            )
        ]
    raise ValueError(f"unknown debtor request {command.kind!r}")


async def find_dispute(
    command: c.FindDispute, uow: ContactUnitOfWork, env: ContactEnvironment
) -> RecordedDispute | CaseDisputes:
    """One dispute of the case (DisputeNotFound when it has none with that id), or all of them, newest
    first, with the end of the last validation period."""
    case = await known_case(uow, command.case_id, command.principal, command.access)
    contacts = await uow.contacts.find(case.case_id, uow.tx)
    disputes = contacts.disputes if contacts is not None else {}
    if command.dispute_id is None:
        newest_first = sorted(disputes.values(), key=lambda d: d.raised_at or env.now(), reverse=True)
        return CaseDisputes(contacts.validation_period_end if contacts else None, newest_first)
    dispute = disputes.get(command.dispute_id)
    if dispute is None:
        raise DisputeNotFound(f"case {case.case_id} has no dispute {command.dispute_id}")
    return dispute


# --- consumed events -----------------------------------------------------------------------------


async def fold_case_event(command: c.FoldCaseEvent, uow: ContactUnitOfWork, env: ContactEnvironment) -> None:
    await fold_case_events(c.FoldCaseEvents([command]), uow, env)


async def fold_case_events(
    command: c.FoldCaseEvents, uow: ContactUnitOfWork, env: ContactEnvironment
) -> None:
    """Case facts folded with `dcp_compliance.apply_payload`, the same fold the audit-service uses: the
    batch's cases read in one statement, their debtors locked together (the same per-debtor lock as
    the gate and debtor requests, so facts are never folded from a stale read), written in one."""
    events = command.events
    ids = list(dict.fromkeys(e.case_id for e in events))
    known = await uow.cases(ids)
    opened = {e.case_id: e for e in events if isinstance(e.payload, CaseOpened)}
    debtors = [case.debtor_id for case in known.values()]
    debtors += [e.payload.debtor.debtor_id for e in opened.values() if isinstance(e.payload, CaseOpened)]
    await uow.lock_debtors(debtors)
    rows = await uow.cases(list(known), for_update=True) if known else {}
    new: set[str] = set()
    changed: set[str] = set()
    for event in events:
        row = rows.get(event.case_id)
        if isinstance(event.payload, CaseOpened):
            if row is None:
                rows[event.case_id] = opened_case(event.case_id, event.payload, event.at)
                new.add(event.case_id)
            continue  # a repeat of a known case changes nothing
        if row is None:
            continue  # a case opened before this service existed, or not ours: nothing to gate yet
        folded = fold_case(row, event.payload, event.at)
        if folded is not row:
            rows[event.case_id] = folded
            if event.case_id not in new:
                changed.add(event.case_id)
    await uow.save_cases([rows[i] for i in ids if i in new], [rows[i] for i in ids if i in changed])
    if new:
        await record_parked_reports(uow, env, sorted(new))
    for event in events:
        if isinstance(event.payload, ErasureCompleted) and event.case_id in rows:
            await uow.erase_contact_points(event.case_id)


def opened_case(case_id: str, payload: CaseOpened, at: datetime) -> CaseRow:
    facts = apply_payload(None, payload, case_id, at)
    assert facts is not None
    total = payload.amounts.total_balance
    return CaseRow(
        case_id=case_id,
        debtor_id=facts.debtor_id,
        jurisdiction=facts.jurisdiction,
        status="open",
        assignee_kind=None,
        assignee_id=None,
        currency=total.currency,
        balance_minor=total.amount_minor,
        risk_score=payload.risk_score,
        strategy_assigned_at=None,
        treatment=[],
        facts=facts,
        creditor_id=payload.account.creditor_id,
        profile=profile_of(payload, at),
    )


def fold_case(case: CaseRow, payload: EventPayload, at: datetime) -> CaseRow:
    """The case after one of its events (the same row when the event changes nothing here)."""
    changes: dict[str, Any] = {}
    facts = apply_payload(case.facts, payload, case.case_id, at)
    if facts is not None and facts != case.facts:
        changes["facts"] = facts
    if isinstance(payload, CaseAssigned):
        changes.update(assignee_kind=payload.assignee.kind.value, assignee_id=payload.assignee.id)
    elif isinstance(payload, CaseClosed):
        changes.update(status="closed", balance_minor=payload.final_balance.amount_minor)
    elif isinstance(payload, CaseReopened):
        changes.update(status="open")
    elif isinstance(payload, CaseBalanceChanged):
        changes.update(
            balance_minor=payload.balance_after.amount_minor, profile=profile_after(case.profile, payload)
        )
    elif isinstance(payload, ErasureCompleted):
        changes.update(profile=profile_erased(case.profile))
    elif isinstance(payload, CaseStrategyAssigned):
        steps = [s.model_dump(mode="json") for s in payload.treatment or []]
        order = payload.worklist_order or "policy"
        changes.update(
            strategy_assigned_at=at,
            treatment=steps,
            profile={**case.profile, "worklist_order": order, "segment": payload.segment},
        )
    return dataclasses.replace(case, **changes) if changes else case


async def record_promise_outcome(
    command: c.RecordPromiseOutcome, uow: ContactUnitOfWork, env: ContactEnvironment
) -> None:
    await uow.set_promise_status(command.promise_id, command.status)


async def record_staff_member(
    command: c.RecordStaffMember, uow: ContactUnitOfWork, env: ContactEnvironment
) -> None:
    await uow.record_staff_member(command.entry, env.now())


COMMAND_HANDLERS: dict[type, Handler[ContactUnitOfWork, ContactEnvironment]] = {
    **PERMIT_HANDLERS,
    c.RecordStaffMember: record_staff_member,
    c.CheckContact: check_contact,
    c.MakePromise: make_promise,
    c.RecordDebtorRequest: record_debtor_request,
    c.FindDispute: find_dispute,
    c.FoldCaseEvent: fold_case_event,
    c.FoldCaseEvents: fold_case_events,
    c.RecordPromiseOutcome: record_promise_outcome,
}
