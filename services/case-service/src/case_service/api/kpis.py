"""/kpis: portfolio, collector and strategy measures. Definitions: services/case-service/README.md."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from case_service.adapters import experiments as experiment_book
from case_service.adapters import queries
from case_service.api.deps import Analyst, CaseApiDep
from case_service.domain.experiments import Comparison, Estimate, ExperimentReport, evaluate
from case_service.domain.segmentation import Experiment
from dcp_platform.auth import creditor_scope
from dcp_platform.problems import BadRequest

router = APIRouter(prefix="/kpis", tags=["kpis"])

COLLECTOR_MEASURES_NOTE = (
    "Collectors are never assessed on recovery alone (CN-CBRC-NO-PURE-RECOVERY-KPI): amount recovered is"
    " reported only next to contact quality (right-party-contact rate) and promise measures."
)


def _period(
    service: CaseApiDep,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
) -> tuple[datetime, datetime]:
    # Periods are half-open [from, to); by default they run the 30 days through the present moment.
    end = end or service.clock.now() + timedelta(microseconds=1)
    start = start or end - timedelta(days=30)
    if start >= end:
        raise BadRequest("`from` must be before `to`")
    return start, end


Period = Annotated[tuple[datetime, datetime], Depends(_period)]


@router.get("/portfolio")
async def portfolio(
    principal: Analyst,
    service: CaseApiDep,
    period: Period,
) -> dict[str, Any]:
    """Open cases and balance per bucket and stage; roll and cure rates over [from, to) (default 30 days)."""
    start, end = period
    async with service.engine.connect() as conn:
        return await queries.portfolio(conn, start, end, creditor_scope(principal))


@router.get("/collectors")
async def collectors(
    principal: Analyst,
    service: CaseApiDep,
    period: Period,
) -> dict[str, Any]:
    start, end = period
    async with service.engine.connect() as conn:
        items = await queries.collectors(conn, start, end, creditor_scope(principal))
    return {"period": {"from": start, "to": end}, "note": COLLECTOR_MEASURES_NOTE, "collectors": items}


@router.get("/legal")
async def legal(principal: Analyst, service: CaseApiDep) -> dict[str, Any]:
    """The legal stage per currency: referred, claims, judgments (and their sum), enforcement, the
    costs added and the amount recovered through legal (paid since referral) over what was placed."""
    async with service.engine.connect() as conn:
        return {"legal": await queries.legal(conn, creditor_scope(principal))}


@router.get("/strategies")
async def strategies(principal: Analyst, service: CaseApiDep) -> dict[str, Any]:
    """Recovery rate (net amount recovered / amount placed) per strategy and arm the cases are on now,
    per currency: an operational view. Experiments are judged in /kpis/experiments (by the arm first
    given), since a case re-segmented away takes its money out of the arm it was in here."""
    async with service.engine.connect() as conn:
        return {"strategies": await queries.strategies(conn, creditor_scope(principal))}


def _estimate(e: Estimate) -> dict[str, Any]:
    return {"rate": _round(e.value), "low": _round(e.low), "high": _round(e.high), "n": e.n}


def _comparison(cmp: Comparison) -> dict[str, Any]:
    return {
        "difference": _round(cmp.difference),
        "low": _round(cmp.low),
        "high": _round(cmp.high),
        "p_value": _round(cmp.p_value),
        "verdict": cmp.verdict,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def experiment_view(
    experiment: Experiment,
    report: ExperimentReport,
    stops: dict[tuple[str, str], dict[str, Any]],
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    arm_specs = {a.name: a for a in experiment.arms}
    test = experiment.test
    return {
        "experiment_id": experiment.id,
        "period": {"from": start, "to": end},
        "counted_by": "intention to treat: each case in the arm it was first given, enrolled in the period",
        "test": {
            "method": "mixture sequential probability ratio test (normal mixture), always valid",
            "alpha": test.alpha,
            "tau": test.tau,
            "guard_alpha": test.guard_alpha,
            "min_cases": test.min_cases,
        },
        "champion": report.champion_arm,
        "arms": [
            {
                "arm": figures.arm,
                "strategy_id": arm_specs[figures.arm].strategy_id if figures.arm in arm_specs else None,
                "percent": arm_specs[figures.arm].basis_points / 100 if figures.arm in arm_specs else None,
                "status": "stopped" if (experiment.id, figures.arm) in stops else "running",
                "stopped": stops.get((experiment.id, figures.arm)),
                "cases": figures.cases,
                "recovery": [{"currency": cur, **_estimate(e)} for cur, e in figures.recovery.items()],
                "right_party_contact": _estimate(figures.right_party_contact),
                "cure": _estimate(figures.cure),
                "promise_kept": _estimate(figures.promise_kept),
                "harms": {g: _estimate(e) for g, e in figures.harms.items()},
            }
            for figures in report.arms
        ],
        "challengers": [
            {
                "arm": ch.arm,
                "against": report.champion_arm,
                "recovery": [{"currency": cur, **_comparison(cmp)} for cur, cmp in ch.recovery.items()],
                "right_party_contact": _comparison(ch.right_party_contact),
                "cure": _comparison(ch.cure),
                "promise_kept": _comparison(ch.promise_kept),
                "guards": [
                    {
                        "guard": g.guard,
                        "max_increase": g.max_increase,
                        "champion": _estimate(g.champion),
                        "challenger": _estimate(g.challenger),
                        **_comparison(g.comparison),
                        "status": "breached" if g.breached else "ok",
                    }
                    for g in ch.guards
                ],
            }
            for ch in report.challengers
        ],
    }


@router.get("/experiments")
async def experiments(
    principal: Analyst,
    service: CaseApiDep,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    """Each experiment by intention to treat: cases enrolled in [from, to) (default: since its first
    enrolment) in the arm they were first given, their outcomes to `to` per arm with 95 % intervals,
    each challenger against the champion with an always-valid interval, p-value and verdict, and the
    harm guards' status (an arm stopped by one says when and why)."""
    end = end or service.clock.now() + timedelta(microseconds=1)
    if start is not None and start >= end:
        raise BadRequest("`from` must be before `to`")
    scope = creditor_scope(principal)
    out = []
    async with service.engine.connect() as conn:
        stops = await experiment_book.stops(conn)
        for experiment in service.env.policy.segmentation.experiments:
            since = start or await experiment_book.first_enrolment(conn, experiment.id) or end
            cases = await experiment_book.enrolled_cases(conn, experiment.id, since, end, scope)
            report = evaluate(experiment.id, [a.name for a in experiment.arms], cases, experiment.test)
            out.append(experiment_view(experiment, report, stops, since, end))
    return {"experiments": out}
