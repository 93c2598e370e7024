"""Consumed events: case facts from `collections.cases`, promise outcomes from `collections.payments`.

Case facts are folded with `dcp_compliance.apply_payload`, the same fold the audit-service uses.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from contact_service.adapters import projections as rm
from dcp_compliance import apply_payload
from dcp_events.catalogue.building import parse_data
from dcp_events.catalogue.cases import (
    CaseAssigned,
    CaseBalanceChanged,
    CaseClosed,
    CaseOpened,
    CaseStrategyAssigned,
)
from dcp_events.catalogue.payments import PromiseBroken, PromiseKept
from dcp_events.errors import EventError
from dcp_platform.eventsourcing.consumer import Delivery, PoisonMessage


def _payload(delivery: Delivery) -> Any:
    try:
        return parse_data(delivery.event)
    except EventError as exc:
        raise PoisonMessage(str(exc)) from exc


async def on_case_event(conn: AsyncConnection, delivery: Delivery) -> None:
    event = delivery.event
    payload = _payload(delivery)
    case_id = event.subject or ""
    if isinstance(payload, CaseOpened):
        facts = apply_payload(None, payload, case_id, event.time)
        assert facts is not None
        total = payload.amounts.total_balance
        await rm.insert_case(conn, facts, total.currency, total.amount_minor, payload.risk_score)
        return
    case = await rm.load_case(conn, case_id)
    if case is None:
        return  # a case opened before this service existed, or not ours: nothing to gate yet
    # The same per-debtor lock as the gate and debtor requests: facts are never folded from a stale read.
    await rm.lock_debtor(conn, case.debtor_id)
    case = await rm.load_case(conn, case_id, for_update=True)
    if case is None:
        return
    changes: dict[str, Any] = {}
    facts = apply_payload(case.facts, payload, case_id, event.time)
    if facts is not None and facts != case.facts:
        changes["facts"] = facts
    if isinstance(payload, CaseAssigned):
        changes.update(assignee_kind=payload.assignee.kind.value, assignee_id=payload.assignee.id)
    elif isinstance(payload, CaseClosed):
        changes.update(status="closed", balance_minor=payload.final_balance.amount_minor)
    elif isinstance(payload, CaseBalanceChanged):
        changes.update(balance_minor=payload.balance_after.amount_minor)
    elif isinstance(payload, CaseStrategyAssigned):
        steps = [s.model_dump(mode="json") for s in payload.treatment or []]
        changes.update(strategy_assigned_at=event.time, treatment=steps)
    if changes:
        await rm.update_case(conn, case_id, **changes)


async def on_payment_event(conn: AsyncConnection, delivery: Delivery) -> None:
    payload = _payload(delivery)
    if isinstance(payload, PromiseKept):
        await rm.set_promise_status(conn, payload.promise_id, "kept")
    elif isinstance(payload, PromiseBroken):
        await rm.set_promise_status(conn, payload.promise_id, "broken")
