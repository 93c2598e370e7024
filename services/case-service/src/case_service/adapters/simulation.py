"""A candidate collection policy against the one in force, over the open portfolio as it stands: the
cases that would change bucket, stage, segment, strategy or experiment arm, and the treatment each
policy gives them from today (a changed strategy restarts its treatment), as contacts per channel and
the calls and visits per collector per day. The report is stored; an activation names it."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from case_service.adapters import tables
from case_service.application.ports import CaseEnvironment
from case_service.domain.ageing import days_past_due
from case_service.domain.policy import PERSON_CHANNELS, CollectionPolicy
from case_service.domain.segmentation import SegmentationProfile, StrategyDecision

BATCH = 2000


def _decide(policy: CollectionPolicy, row: Any, today: date) -> tuple[str, str, StrategyDecision]:
    dpd = days_past_due(row.due_since, today)
    bucket = policy.ageing.bucket_for(dpd)
    stage = row.stage if row.stage == "written_off" else policy.ageing.stage_for(dpd).value
    decision = policy.segmentation.decide(
        SegmentationProfile(
            case_id=row.case_id,
            bucket=bucket,
            balance_minor=int(row.balance_minor),
            currency=row.currency,
            product=row.product,
            jurisdiction=row.jurisdiction,
            risk_score=row.risk_score,
        )
    )
    return bucket, stage, decision


def _label(decision: StrategyDecision) -> str:
    arm = f" / {decision.experiment_id}:{decision.arm}" if decision.arm else ""
    return f"{decision.segment} -> {decision.strategy.id}{arm}"


async def simulate_collection_policy(
    conn: AsyncConnection, env: CaseEnvironment, candidate_row: dict[str, Any], active: int, days: int
) -> dict[str, Any]:
    now, today = env.now(), env.today()
    stopped = env.policy.segmentation.stopped_arms
    in_force = env.policy
    candidate = CollectionPolicy.from_mapping(candidate_row["document"]).with_stopped_arms(stopped)
    counts: Counter[str] = Counter()
    moves: Counter[tuple[str, str]] = Counter()
    stage_moves: Counter[tuple[str, str]] = Counter()
    contacts: dict[str, Counter[tuple[int, str]]] = {"in_force": Counter(), "candidate": Counter()}
    person: dict[str, Counter[tuple[int, str]]] = {"in_force": Counter(), "candidate": Counter()}
    c = tables.cases.c
    after = ""
    cases = 0
    while True:
        rows = (
            await conn.execute(
                select(
                    c.case_id,
                    c.due_since,
                    c.stage,
                    c.balance_minor,
                    c.currency,
                    c.product,
                    c.jurisdiction,
                    c.risk_score,
                    c.assignee_kind,
                    c.assignee_id,
                )
                .where(c.status == "open", c.case_id > after)
                .order_by(c.case_id)
                .limit(BATCH)
            )
        ).all()
        if not rows:
            break
        after = rows[-1].case_id
        for row in rows:
            cases += 1
            decided = {"in_force": _decide(in_force, row, today), "candidate": _decide(candidate, row, today)}
            (b0, s0, d0), (b1, s1, d1) = decided["in_force"], decided["candidate"]
            counts["bucket"] += b0 != b1
            counts["stage"] += s0 != s1
            counts["segment"] += d0.segment != d1.segment
            counts["strategy"] += d0.strategy.id != d1.strategy.id
            counts["arm"] += (d0.experiment_id, d0.arm) != (d1.experiment_id, d1.arm)
            if _label(d0) != _label(d1):
                moves[(_label(d0), _label(d1))] += 1
            if s0 != s1:
                stage_moves[(s0, s1)] += 1
            collector = row.assignee_id if row.assignee_kind == "collector" else "(not with a collector)"
            for side, (_, _, decision) in decided.items():
                for step in decision.strategy.steps:
                    if step.day_offset < days:
                        contacts[side][(step.day_offset, step.channel.value)] += 1
                        if step.channel.value in PERSON_CHANNELS:
                            person[side][(step.day_offset, collector)] += 1
    report = {
        "simulation_id": f"sim-{uuid.uuid4()}",
        "policy": candidate_row["name"],
        "candidate_version": candidate_row["version"],
        "against_version": active,
        "as_of": now,
        "days": days,
        "open_cases": cases,
        "cases_changing": dict(counts),
        "moves": [
            {"from": a, "to": b, "cases": n}
            for (a, b), n in sorted(moves.items(), key=lambda kv: -kv[1])[:50]
        ],
        "stage_moves": [{"from": a, "to": b, "cases": n} for (a, b), n in sorted(stage_moves.items())],
        "contacts_per_day": [
            {
                "day": (today + timedelta(days=d)).isoformat(),
                "channel": channel,
                "in_force": contacts["in_force"][(d, channel)],
                "candidate": contacts["candidate"][(d, channel)],
            }
            for d in range(days)
            for channel in sorted(
                {ch for (dd, ch) in contacts["in_force"] | contacts["candidate"] if dd == d}
            )
        ],
        "worklists": _worklists(person, days, today),
        "capacity": {
            "person_contacts_in_force": sum(person["in_force"].values()),
            "person_contacts_candidate": sum(person["candidate"].values()),
            "change": sum(person["candidate"].values()) - sum(person["in_force"].values()),
        },
    }
    await conn.execute(
        insert(tables.policy_simulations).values(
            simulation_id=report["simulation_id"],
            name=candidate_row["name"],
            version=candidate_row["version"],
            created_at=now,
            report=_jsonable(report),
        )
    )
    await conn.commit()
    return report


def _worklists(person: dict[str, Counter[tuple[int, str]]], days: int, today: date) -> list[dict[str, Any]]:
    """Calls and visits each collector would make, per day, under each policy."""
    collectors = sorted({who for side in person.values() for (_, who) in side})
    return [
        {
            "collector_id": who,
            "per_day": [
                {
                    "day": (today + timedelta(days=d)).isoformat(),
                    "in_force": person["in_force"][(d, who)],
                    "candidate": person["candidate"][(d, who)],
                }
                for d in range(days)
                if person["in_force"][(d, who)] or person["candidate"][(d, who)]
            ],
        }
        for who in collectors
    ]


def _jsonable(report: dict[str, Any]) -> dict[str, Any]:
    return {**report, "as_of": report["as_of"].isoformat()}


async def simulation(conn: AsyncConnection, simulation_id: str) -> dict[str, Any] | None:
    t = tables.policy_simulations.c
    row = (await conn.execute(select(t.report).where(t.simulation_id == simulation_id))).first()
    return None if row is None else dict(row.report)
