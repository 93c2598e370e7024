"""`GET /audit/refusals`: the gate's refusals per rule and per day, counted from the trail."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime

from audit_service.adapters import trail
from audit_service.api.deps import PoolDep
from audit_service.domain.entries import parse_entry
from dcp_platform.auth import Principal, Role, require_roles
from dcp_platform.problems import BadRequest

BLOCKED = "collections.contact.blocked"
MAX_DAYS = 366

router = APIRouter(prefix="/audit", tags=["gate refusals"])
Reader = Annotated[Principal, Depends(require_roles(Role.AUDITOR, Role.ADMIN, Role.SUPERVISOR))]


@router.get("/refusals")
async def refusals(
    request: Request,
    pool: PoolDep,
    principal: Reader,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    """Contacts the gate refused in [from, to) (default the 30 days through now), per rule and per UTC
    day of the decision, and per channel: what a supervisor watches to see which rules stop the floor.
    Each refusal is counted once (a redelivered copy is not); a caller scoped to some creditors counts
    their cases only. Supervisors, auditors and admins."""
    end = end or request.app.state.clock.now() + timedelta(microseconds=1)
    start = start or end - timedelta(days=30)
    if start >= end:
        raise BadRequest("`from` must be before `to`")
    if end - start > timedelta(days=MAX_DAYS):
        raise BadRequest(f"A period of at most {MAX_DAYS} days.")
    flt = trail.EntryFilter(
        event_type=BLOCKED,
        time_from=start,
        time_to=end,
        creditors=None if principal.creditors is None else tuple(sorted(principal.creditors)),
    )
    per_day: Counter[tuple[str, date]] = Counter()
    per_channel: Counter[tuple[str, str]] = Counter()
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        async for row in trail.stream_entries(conn, flt, with_keys=False):
            if row.redelivery_of is not None or row.index.event_time is None:
                continue
            data = (parse_entry(row.entry).get("event") or {}).get("data") or {}
            rule = str(data.get("rule_id") or "unknown")
            per_day[rule, _utc_day(row.index.event_time)] += 1
            per_channel[rule, str(data.get("channel") or "unknown")] += 1
    days = [start.astimezone(UTC).date() + timedelta(days=i) for i in range(_day_count(start, end))]
    rules = sorted({rule for rule, _ in per_day}, key=lambda r: (-_total(per_day, r), r))
    return {
        "period": {"from": start, "to": end},
        "days": [d.isoformat() for d in days],
        "total": sum(per_day.values()),
        "rules": [
            {
                "rule_id": rule,
                "total": _total(per_day, rule),
                "per_day": [per_day[rule, d] for d in days],
                "per_channel": {ch: n for (r, ch), n in sorted(per_channel.items()) if r == rule},
            }
            for rule in rules
        ],
    }


def _utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _day_count(start: datetime, end: datetime) -> int:
    first = start.astimezone(UTC).date()
    last = (end - timedelta(microseconds=1)).astimezone(UTC).date()
    return (last - first).days + 1


def _total(per_day: Counter[tuple[str, date]], rule: str) -> int:
    return sum(n for (r, _), n in per_day.items() if r == rule)
