"""The supervisors' pages: the portfolio by stage and bucket with roll, cure and recovery per
currency; collectors' right-party-contact, promise and kept rates; strategy arms and experiments; the
gate's refusals by rule over time. Each is a chart with the numbers beside it, read from the KPIs
(case-service's `/kpis/*`, the audit API's `/audit/refusals`) as the signed-in caller."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, date, datetime, time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from audit_service.console import charts, i18n
from audit_service.console.numbers import Numbers
from audit_service.console.pages import Unreachable, audit_api, case_api, page, refused
from dcp_platform.auth import Principal, Role, require_roles

Supervision = Depends(require_roles(Role.SUPERVISOR, Role.ADMIN, Role.AUDITOR))
router = APIRouter(prefix="/console", include_in_schema=False)

CHART_SERIES = 7  # rules or collectors beyond these are summed as "other" in the chart (never in the table)


class BadPeriod(ValueError):
    """A period field that is not a date."""


def _period(request: Request) -> tuple[dict[str, str], dict[str, str]]:
    """The page's period as the form shows it (dates) and as the KPIs take it ([from, to) in UTC: the
    `to` day is included)."""
    shown: dict[str, str] = {}
    params: dict[str, str] = {}
    for key in ("from", "to"):
        raw = (request.query_params.get(key) or "").strip()
        if not raw:
            continue
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            raise BadPeriod(f"{key}: {raw[:40]!r}") from None
        shown[key] = day.isoformat()
        moment = datetime.combine(day, time(), UTC)
        params[key] = (moment if key == "from" else _next_day(day)).isoformat()
    return shown, params


def _next_day(day: date) -> datetime:
    return datetime.combine(date.fromordinal(day.toordinal() + 1), time(), UTC)


async def bad_period(request: Request, exc: Exception) -> Response:
    """A period field that is not a date: a page that says which (never a 500)."""
    words = i18n.words(i18n.language(request))
    return page(request, "error.html", 400, status=400, message=f"{exc} {words['bad_date']}")


async def _kpis(request: Request, path: str, params: dict[str, str]) -> dict[str, Any] | Response:
    try:
        answer = await case_api(request, path, params)
    except Unreachable as exc:
        return page(request, "error.html", 503, status=503, message=str(exc))
    if answer.status_code != 200:
        return refused(request, answer)
    body: dict[str, Any] = answer.json()
    return body


_BUCKET_START = re.compile(r"(\d+)")


def _bucket_order(bucket: str) -> tuple[int, str]:
    if bucket == "current":
        return (-1, bucket)
    found = _BUCKET_START.search(bucket)
    return (int(found.group(1)) if found else 10**6, bucket)


@router.get("/portfolio")
async def portfolio(request: Request, _: Principal = Supervision) -> Response:
    """Open cases and balance by bucket and stage, recovery per currency, roll and cure rates."""
    shown, params = _period(request)
    body = await _kpis(request, "/kpis/portfolio", params)
    if isinstance(body, Response):
        return body
    t = i18n.words(i18n.language(request))
    rows = body["distribution"]
    buckets = sorted({r["bucket"] for r in rows}, key=_bucket_order)
    stages = sorted({r["stage"] for r in rows})
    cases: dict[tuple[str, str], int] = defaultdict(int)
    for r in rows:
        cases[r["bucket"], r["stage"]] += int(r["cases"])
    lang = i18n.language(request)
    by_bucket = charts.bar(
        t["chart_cases_by_bucket"],
        [i18n.term(lang, b) for b in buckets],
        [(i18n.term(lang, stage), [cases.get((b, stage)) or None for b in buckets]) for stage in stages],
        stacked=True,
    )
    recovery = body["recovery"]
    recovery_chart = charts.bar(
        t["chart_recovery"],
        [r["currency"] for r in recovery],
        [(t["recovery_rate"], [round((r["recovery_rate"] or 0) * 100, 1) for r in recovery])],
        formatter=lambda v: f"{v:.1f}%",
        height=300,
    )
    roll = body["roll_rates"]
    sources = sorted({r["from_bucket"] for r in roll}, key=_bucket_order)
    targets = sorted(
        {r["to_bucket"] for r in roll}, key=lambda b: (b.startswith("closed:"), _bucket_order(b))
    )
    share = {(r["from_bucket"], r["to_bucket"]): r["rate"] for r in roll}
    roll_chart = charts.bar(
        t["chart_roll"],
        [i18n.term(lang, b) for b in sources],
        [
            (
                i18n.term(lang, to),
                [round(share[s, to] * 100, 1) if (s, to) in share else None for s in sources],
            )
            for to in targets
        ],
        stacked=True,
        horizontal=True,
        formatter=lambda v: f"{v:.0f}%",
        height=max(240, 60 + 40 * len(sources)),
    )
    balances: dict[str, int] = defaultdict(int)
    for r in rows:
        balances[r["currency"]] += int(r["balance_minor"] or 0)
    return page(
        request,
        "portfolio.html",
        period=shown,
        body=body,
        charts={"by_bucket": by_bucket, "recovery": recovery_chart, "roll": roll_chart},
        roll_matrix={"sources": sources, "targets": targets, "share": share},
        balances=sorted(balances.items()),
        n=Numbers(i18n.language(request)),
    )


@router.get("/collectors")
async def collectors(request: Request, _: Principal = Supervision) -> Response:
    """Each collector's right-party-contact, promise and promise-kept rates, beside what they recovered
    (never recovery alone)."""
    shown, params = _period(request)
    body = await _kpis(request, "/kpis/collectors", params)
    if isinstance(body, Response):
        return body
    t = i18n.words(i18n.language(request))
    items = body["collectors"]
    busiest = sorted(items, key=lambda c: (-int(c["attempts"]), c["collector_id"]))[: CHART_SERIES * 2]

    def pct(c: dict[str, Any], key: str) -> float | None:
        return None if c[key] is None else round(c[key] * 100, 1)

    chart = charts.bar(
        t["chart_collectors"],
        [c["collector_id"] for c in busiest],
        [
            (t["rpc_rate"], [pct(c, "right_party_contact_rate") for c in busiest]),
            (t["promise_rate"], [pct(c, "promise_rate") for c in busiest]),
            (t["kept_rate"], [pct(c, "promise_kept_rate") for c in busiest]),
        ],
        formatter=lambda v: f"{v:.0f}%",
    )
    return page(
        request,
        "collectors.html",
        period=shown,
        body=body,
        chart=chart,
        n=Numbers(i18n.language(request)),
    )


@router.get("/strategies")
async def strategies(request: Request, _: Principal = Supervision) -> Response:
    """Recovery per strategy and arm per currency, and each experiment's arms with their intervals,
    the challengers' verdicts and the harm guards."""
    shown, params = _period(request)
    body = await _kpis(request, "/kpis/strategies", {})
    if isinstance(body, Response):
        return body
    experiments = await _kpis(request, "/kpis/experiments", params)
    if isinstance(experiments, Response):
        return experiments
    t = i18n.words(i18n.language(request))
    rows = body["strategies"]
    currencies = sorted({r["currency"] for r in rows})
    arms = sorted({_arm_label(r) for r in rows})
    rate = {(_arm_label(r), r["currency"]): r["recovery_rate"] for r in rows}
    chart = charts.bar(
        t["chart_strategies"],
        arms,
        [
            (cur, [None if rate.get((a, cur)) is None else round(rate[a, cur] * 100, 1) for a in arms])
            for cur in currencies
        ],
        horizontal=True,
        formatter=lambda v: f"{v:.1f}%",
        height=max(260, 60 + 34 * len(arms) * max(1, len(currencies))),
    )
    return page(
        request,
        "strategies.html",
        period=shown,
        rows=rows,
        arm_label=_arm_label,
        chart=chart,
        experiments=experiments["experiments"],
        n=Numbers(i18n.language(request)),
    )


def _arm_label(row: dict[str, Any]) -> str:
    strategy = str(row.get("strategy_id") or "-")
    if row.get("experiment_id"):
        return f"{strategy} ({row['experiment_id']}: {row.get('experiment_arm') or '-'})"
    return strategy


@router.get("/refusals")
async def refusals(request: Request, _: Principal = Supervision) -> Response:
    """The gate's refusals per rule and day: which rules stop the floor, and when."""
    shown, params = _period(request)
    answer = await audit_api(request, "/audit/refusals", params)
    if answer.status_code != 200:
        return refused(request, answer)
    body = answer.json()
    t = i18n.words(i18n.language(request))
    rules = body["rules"]
    drawn = rules[:CHART_SERIES]
    series = [(r["rule_id"], [n or None for n in r["per_day"]]) for r in drawn]
    if len(rules) > CHART_SERIES:
        rest = [sum(r["per_day"][i] for r in rules[CHART_SERIES:]) for i in range(len(body["days"]))]
        series.append((t["other_rules"], [n or None for n in rest]))
    chart = charts.bar(
        t["chart_refusals"],
        [d[5:] for d in body["days"]],  # MM-DD under each day's bar; the table has the full dates
        series,
        stacked=True,
    )
    channels = sorted({ch for r in rules for ch in r["per_channel"]})
    return page(
        request,
        "refusals.html",
        period=shown,
        body=body,
        chart=chart,
        channels=channels,
        n=Numbers(i18n.language(request)),
    )
