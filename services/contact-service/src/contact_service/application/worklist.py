"""A collector's worklist: their open cases in priority order, each with the channels allowed now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from contact_service.adapters import projections as rm
from contact_service.domain import worklist as wl
from dcp_compliance import Channel, Decision, channel_options, decide_case, load_pack
from dcp_compliance.model import ProposedContact
from dcp_platform.auth import Principal


@dataclass(frozen=True)
class WorklistItem:
    case: rm.CaseRow
    reason: str
    expected_recovery_minor: int
    options: dict[Channel, Decision]
    sort_key: tuple[int, int]


async def case_options(engine: AsyncEngine, case: rm.CaseRow, now: datetime) -> dict[Channel, Decision]:
    async with engine.connect() as conn:
        try:
            pack = load_pack(case.jurisdiction, at=now)
        except LookupError:
            return {c: decide_case(case.facts, [], ProposedContact(channel=c), now) for c in Channel}
        history = await rm.history(conn, case.debtor_id, now - pack.lookback())
    return channel_options(pack, case.facts, history, now)


async def worklist(
    engine: AsyncEngine, assignee: str, principal: Principal | None, now: datetime
) -> list[WorklistItem]:
    keys = [("collector", assignee)]
    if principal is not None and principal.subject == assignee:
        if principal.agency_id:
            keys.append(("agency", principal.agency_id))
        if principal.team:
            keys.append(("team", principal.team))
    async with engine.connect() as conn:
        cases = await rm.cases_assigned_to(conn, keys)
        items: list[WorklistItem] = []
        for case in cases:
            try:
                today = now.astimezone(ZoneInfo(case.facts.time_zone)).date()
            except Exception:  # an unknown zone: the gate refuses every channel anyway
                today = now.date()
            promises = [
                wl.PromiseState(due_on=d, status=s) for d, s in await rm.promises_of_case(conn, case.case_id)
            ]
            steps = [
                wl.TreatmentStepDue(day_offset=int(s["day_offset"]), channel=Channel(s["channel"]))
                for s in case.treatment
            ]
            since = case.strategy_assigned_at or now - timedelta(days=1)
            contacts = await rm.recent_contacts_of_case(conn, case.case_id, since)
            due = wl.steps_due(steps, case.strategy_assigned_at, contacts, now)
            promise_reason = wl.promise_needs_attention(promises, today)
            recovery = wl.expected_recovery_minor(case.balance_minor, case.risk_score)
            reason = promise_reason or (
                f"strategy step due: {', '.join(s.channel.value for s in due)}"
                if due
                else "expected recovery"
            )
            items.append(
                WorklistItem(
                    case=case,
                    reason=reason,
                    expected_recovery_minor=recovery,
                    options={},
                    sort_key=wl.priority(promise_reason, due, recovery),
                )
            )
    items.sort(key=lambda i: (i.sort_key, i.case.case_id))
    return [
        WorklistItem(
            case=i.case,
            reason=i.reason,
            expected_recovery_minor=i.expected_recovery_minor,
            options=await case_options(engine, i.case, now),
            sort_key=i.sort_key,
        )
        for i in items
    ]
