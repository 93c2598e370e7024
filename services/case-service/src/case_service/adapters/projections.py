"""Keeps the case read models in step with the events, inside the appending transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from case_service.adapters import tables
from case_service.domain.case import Case
from case_service.domain.policy import CollectionPolicy
from dcp_events.catalogue.cases import (
    CaseBalanceChanged,
    CaseBucketChanged,
    CaseEvent,
    CaseHoldPlaced,
    CaseStrategyAssigned,
    CaseVulnerabilityFlagged,
)
from dcp_events.catalogue.enums import BalanceChangeReason, HoldType


def legal_view(case: Case) -> dict[str, Any] | None:
    """The case's legal matter (None: never referred), amounts in the case currency's minor units."""
    matter = case.legal
    if matter is None:
        return None
    return {
        "referral_id": matter.referral_id,
        "status": matter.status,
        "handler": matter.handler.value,
        "handler_id": matter.handler_id,
        "requested_by": matter.requested_by,
        "referred_at": matter.referred_at.isoformat() if matter.referred_at else None,
        "referred_by": matter.referred_by,
        "approved_by": matter.approved_by,
        "claim_reference": matter.claim_reference,
        "court": matter.court,
        "hearings": [d.isoformat() for d in matter.hearings],
        "judgment_on": matter.judgment_on.isoformat() if matter.judgment_on else None,
        "judgment_minor": matter.judgment_minor,
        "enforcement": list(matter.enforcement),
        "costs_minor": matter.costs_minor,
        "recovered_minor": matter.recovered_minor,
        "currency": case.currency,
    }


def case_detail(case: Case) -> dict[str, Any]:
    """The detail document of GET /cases/{id} (JSON-ready)."""
    assert case.debtor is not None and case.account is not None and case.balance is not None
    assert case.amounts_at_placement is not None
    return {
        "debtor": case.debtor.model_dump(mode="json"),
        "account": case.account.model_dump(mode="json"),
        "amounts_at_placement": case.amounts_at_placement.model_dump(mode="json"),
        "balance": case.balance.model_dump(mode="json"),
        # what is owed by part, and the credit due back to the debtor (an over-payment)
        "balance_parts": case.parts.to_event().model_dump(mode="json") if case.parts else None,
        "recovered": {"amount_minor": case.recovered_minor, "currency": case.currency},
        "recovered_after_write_off": {
            "amount_minor": case.recovered_after_write_off_minor,
            "currency": case.currency,
        },
        "placement_id": case.placement_id,
        # when the debt becomes time-barred under its jurisdiction's limitation rule, and why
        "limitation": case.limitation.model_dump(mode="json") if case.limitation else None,
        "legal": legal_view(case),
        "holds": [
            {
                "hold_id": h.hold_id,
                "hold_type": h.hold_type.value,
                "reason": h.reason,
                "expires_at": h.expires_at.isoformat() if h.expires_at else None,
            }
            for h in case.holds.values()
        ],
        "strategy": case.strategy.model_dump(mode="json") if case.strategy else None,
        "assignee": case.assignee.model_dump(mode="json") if case.assignee else None,
        "settlement": (
            {
                "settlement_id": case.settlement.settlement_id,
                "amount": case.settlement.amount.model_dump(mode="json"),
                "due_on": case.settlement.due_on.isoformat(),
            }
            if case.settlement
            else None
        ),
    }


def case_row(case: Case, *, now: datetime, today: date, policy: CollectionPolicy) -> dict[str, Any]:
    assert case.account is not None and case.balance is not None and case.debtor is not None
    assert case.amounts_at_placement is not None
    strategy = case.strategy
    return {
        "case_id": case.case_id,
        "version": case.version,
        "status": case.status,
        "stage": case.stage.value,
        "bucket": case.bucket,
        "due_since": case.due_since,
        "next_ageing_on": case.next_ageing_on(today, policy),
        "balance_minor": case.balance.amount_minor,
        "currency": case.balance.currency,
        "placed_minor": case.amounts_at_placement.total_balance.amount_minor,
        "recovered_minor": case.recovered_minor,
        "jurisdiction": case.jurisdiction,
        "product": case.account.product,
        "creditor_id": case.account.creditor_id,
        "account_reference": case.account.account_reference,
        "language": case.debtor.language,
        "risk_score": case.risk_score,
        "assignee_kind": case.assignee.kind.value if case.assignee else None,
        "assignee_id": case.assignee.id if case.assignee else None,
        "segment": strategy.segment if strategy else None,
        "strategy_id": strategy.strategy_id if strategy else None,
        "strategy_version": strategy.strategy_version if strategy else None,
        "experiment_id": strategy.experiment_id if strategy else None,
        "experiment_arm": strategy.experiment_arm if strategy else None,
        "active_holds": len(case.holds),
        "close_reason": case.close_reason.value if case.close_reason else None,
        "opened_at": now,
        "updated_at": now,
        "closed_at": now if case.status == "closed" else None,
        "detail": case_detail(case),
    }


_KEEP_ON_UPDATE = {"case_id", "opened_at", "closed_at"}


def _upsert_cases_statement() -> Any:
    """Insert or refresh case rows (opened_at kept from the first write, closed_at from the closing
    one); built once, executed with a list of rows."""
    stmt = pg_insert(tables.cases)
    update: dict[str, Any] = {
        c.name: stmt.excluded[c.name] for c in tables.cases.columns if c.name not in _KEEP_ON_UPDATE
    }
    update["closed_at"] = func.coalesce(tables.cases.c.closed_at, stmt.excluded.closed_at)
    return stmt.on_conflict_do_update(index_elements=[tables.cases.c.case_id], set_=update)


_UPSERT_CASES = _upsert_cases_statement()

# The date of a case the ageing run left unchanged, unless the case was saved meanwhile.
KEEP_AGEING_DATE = (
    update(tables.cases)
    .where(tables.cases.c.case_id == bindparam("case"), tables.cases.c.version == bindparam("seen_version"))
    .values(next_ageing_on=bindparam("due_on"))
)


async def upsert_cases(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(_UPSERT_CASES, list(rows))


def kpi_rows(
    case: Case, changes: Sequence[CaseEvent], now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Bucket transitions and recoveries caused by `changes` (for roll, cure and recovery KPIs)."""
    transitions: list[dict[str, Any]] = []
    recoveries: list[dict[str, Any]] = []
    for event in changes:
        if isinstance(event, CaseBucketChanged):
            transitions.append(
                {
                    "case_id": case.case_id,
                    "from_bucket": event.from_bucket,
                    "to_bucket": event.to_bucket,
                    "at": now,
                }
            )
        elif isinstance(event, CaseBalanceChanged) and event.reason in (
            BalanceChangeReason.PAYMENT,
            BalanceChangeReason.REVERSAL,
        ):
            recoveries.append(
                {
                    "case_id": case.case_id,
                    "at": now,
                    "amount_minor": -event.change.delta_minor,
                    "currency": event.change.currency,
                    "assignee_kind": case.assignee.kind.value if case.assignee else None,
                    "assignee_id": case.assignee.id if case.assignee else None,
                }
            )
    return transitions, recoveries


async def write_kpis(
    conn: AsyncConnection, transitions: Sequence[dict[str, Any]], recoveries: Sequence[dict[str, Any]]
) -> None:
    if transitions:
        await conn.execute(insert(tables.kpi_bucket_transitions), list(transitions))
    if recoveries:
        await conn.execute(insert(tables.kpi_recoveries), list(recoveries))


# --- experiments: the arm first given (intention to treat) and the harms the guards watch -----------

_HOLD_SIGNALS = {HoldType.COMPLAINT: "complaints", HoldType.DISPUTE: "disputes"}


def experiment_rows(
    case: Case, changes: Sequence[CaseEvent], now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Enrolments (the first time the case is given an experiment's arm: later ones are ignored by
    the insert), the harm signals and the segments given by `changes`."""
    assert case.account is not None and case.balance is not None
    enrolments: list[dict[str, Any]] = []
    signals: list[dict[str, Any]] = []
    segments: list[dict[str, Any]] = []
    for event in changes:
        if isinstance(event, CaseStrategyAssigned):
            segments.append({"case_id": case.case_id, "segment": event.segment, "at": now})
        if isinstance(event, CaseStrategyAssigned) and event.experiment_id and event.experiment_arm:
            enrolments.append(
                {
                    "experiment_id": event.experiment_id,
                    "case_id": case.case_id,
                    "arm": event.experiment_arm,
                    "strategy_id": event.strategy_id,
                    "creditor_id": case.account.creditor_id,
                    "currency": case.balance.currency,
                    "placed_minor": case.balance.amount_minor,
                    "enrolled_at": now,
                }
            )
        elif isinstance(event, CaseHoldPlaced):
            signals.append({"case_id": case.case_id, "kind": "holds", "at": now})
            if kind := _HOLD_SIGNALS.get(event.hold_type):
                signals.append({"case_id": case.case_id, "kind": kind, "at": now})
        elif isinstance(event, CaseVulnerabilityFlagged):
            signals.append({"case_id": case.case_id, "kind": "vulnerability_flagged", "at": now})
    return enrolments, signals, segments


async def write_experiment_rows(
    conn: AsyncConnection,
    enrolments: Sequence[dict[str, Any]],
    signals: Sequence[dict[str, Any]],
    segments: Sequence[dict[str, Any]] = (),
) -> None:
    if enrolments:
        await conn.execute(pg_insert(tables.experiment_enrolments).on_conflict_do_nothing(), list(enrolments))
    if signals:
        await conn.execute(insert(tables.kpi_case_signals), list(signals))
    if segments:
        await conn.execute(insert(tables.kpi_segments), list(segments))


async def case_signal(conn: AsyncConnection, case_id: str, kind: str, at: datetime) -> None:
    await conn.execute(insert(tables.kpi_case_signals).values(case_id=case_id, kind=kind, at=at))


# --- KPI read models fed by the contact and payment topics ------------------------------------


async def promise_made(
    conn: AsyncConnection, promise_id: str, case_id: str, collector_id: str | None, at: datetime
) -> None:
    stmt = pg_insert(tables.kpi_promises).values(
        promise_id=promise_id, case_id=case_id, collector_id=collector_id, made_at=at, status="open"
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[tables.kpi_promises.c.promise_id],
            set_={"collector_id": stmt.excluded.collector_id, "made_at": stmt.excluded.made_at},
        )
    )


async def promise_settled(
    conn: AsyncConnection, promise_id: str, case_id: str, status: str, at: datetime
) -> None:
    # The promise may not be known yet: contacts and payments are different topics.
    stmt = pg_insert(tables.kpi_promises).values(
        promise_id=promise_id, case_id=case_id, collector_id=None, made_at=at, status=status, settled_at=at
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[tables.kpi_promises.c.promise_id], set_={"status": status, "settled_at": at}
        )
    )


async def collector_activity(
    conn: AsyncConnection, event_id: str, collector_id: str, case_id: str, kind: str, at: datetime
) -> None:
    await conn.execute(
        pg_insert(tables.kpi_collector_activity)
        .values(event_id=event_id, collector_id=collector_id, case_id=case_id, kind=kind, at=at)
        .on_conflict_do_nothing()
    )


async def contact_outcome(
    conn: AsyncConnection, event_id: str, case_id: str, channel: str, right_party: bool, at: datetime
) -> None:
    await conn.execute(
        pg_insert(tables.kpi_contacts)
        .values(event_id=event_id, case_id=case_id, channel=channel, right_party=right_party, at=at)
        .on_conflict_do_nothing()
    )
