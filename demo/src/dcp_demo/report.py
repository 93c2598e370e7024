"""The summary at the end: what the services say now (cases, money, KPIs, audit), and how to go on."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from dcp_demo.api import Api
from dcp_demo.simulation import Operation

DECIMALS = {"USD": 2, "GBP": 2, "CNY": 2, "JPY": 0}
SYMBOLS = {"USD": "$", "GBP": "£", "CNY": "¥"}


def money(minor: int, currency: str) -> str:
    places = DECIMALS.get(currency, 2)
    value = minor / 10**places
    return f"{currency} {SYMBOLS.get(currency, '')}{value:,.{places}f}"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


@dataclass
class Summary:
    """The facts a user (and the demo's test) relies on."""

    placed_import: int = 0
    placed_kafka: int = 0
    cases: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_stage_bucket: Counter[tuple[str, str]] = field(default_factory=Counter)
    recovered: Counter[str] = field(default_factory=Counter)
    payments: Counter[str] = field(default_factory=Counter)
    allowed: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    promises: Counter[str] = field(default_factory=Counter)
    portfolio: dict[str, Any] = field(default_factory=dict)
    strategies: list[dict[str, Any]] = field(default_factory=list)
    legal: list[dict[str, Any]] = field(default_factory=list)
    experiments: list[dict[str, Any]] = field(default_factory=list)
    policy_log: dict[str, Any] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    attempts_checked: int = 0
    checkpoint: dict[str, Any] = field(default_factory=dict)
    verified_at: datetime | None = None  # the platform's clock when the trail was verified
    verification: dict[str, Any] = field(default_factory=dict)
    divergences: list[dict[str, Any]] = field(default_factory=list)
    payments_compared: int = 0
    anomalies: dict[str, int] = field(default_factory=dict)
    anomaly_samples: dict[str, str] = field(default_factory=dict)
    messages: dict[str, dict[str, int]] = field(default_factory=dict)  # channel -> delivery status -> count
    print_file: dict[str, Any] = field(default_factory=dict)
    permits: int = 0

    @property
    def verified(self) -> bool:
        v = self.verification
        return bool(v.get("ok", v.get("valid", v.get("verified", False))))


async def _all(api: Api, service: str, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = await api.ok(service, "GET", path, params={**params, **({"cursor": cursor} if cursor else {})})
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return items


async def collect(api: Api, op: Operation) -> Summary:
    s = Summary(placed_import=op.stats.placed_import, placed_kafka=op.stats.placed_kafka)
    s.allowed, s.refused = op.stats.allowed, op.stats.refused
    s.policy_log = dict(op.policy_log)
    s.anomalies = dict(op.stats.anomalies)
    s.anomaly_samples = dict(op.stats.anomaly_samples)
    # Let the events settle: payments reach the case-service, everything reaches the audit trail.
    await asyncio.sleep(2)
    cases = [c for c in await _all(api, "case", "/cases", {"limit": 500}) if c["case_id"] in op.accounts]
    s.cases = len(cases)
    for case in cases:
        s.by_status[case["close_reason"] or case["status"]] += 1
        if case["status"] == "open":
            s.by_stage_bucket[(case["stage"], case["bucket"])] += 1
    for payment in await _all(api, "payment", "/payments", {"limit": 500}):
        if payment["case_id"] in op.accounts and payment["status"] == "applied":
            s.recovered[payment["amount"]["currency"]] += int(payment["amount"]["amount_minor"])
            s.payments[payment["method"]] += 1
    for status in ("open", "kept", "broken"):
        for promise in await api.ok("payment", "GET", "/promises", params={"status": status, "limit": 500}):
            if promise["case_id"] in op.accounts:
                s.promises[status] += 1
    start = (op.start + timedelta(minutes=30)).isoformat()  # after the placements
    end = (op.now + timedelta(microseconds=1)).isoformat()
    s.portfolio = await api.ok("case", "GET", "/kpis/portfolio", params={"from": start, "to": end})
    s.strategies = (await api.ok("case", "GET", "/kpis/strategies"))["strategies"]
    s.legal = (await api.ok("case", "GET", "/kpis/legal"))["legal"]
    # the run's own enrolments, by the arm each case was first given (intention to treat)
    s.experiments = (
        await api.ok("case", "GET", "/kpis/experiments", params={"from": op.start.isoformat(), "to": end})
    )["experiments"]
    # The letters of the run go to the letter house in one print file; the channels' reports come back.
    printed = await api.call("contact", "POST", "/letters/print-files", role="admin", subject="demo-operator")
    s.print_file = printed.json() if printed.status_code == 201 else {}
    s.permits = op.stats.permits
    sent = sum(op.stats.messages.values())
    deadline = time.monotonic() + 30
    while True:  # SMS receipts arrive from the gateway a moment after each message
        summary = await api.ok("contact", "GET", "/messages/summary", role="auditor", subject="demo-auditor")
        s.messages = summary["by_channel"]
        pending = sum(n for by in s.messages.values() for st, n in by.items() if st in ("sending", "sent"))
        if (
            pending == 0 and sum(sum(b.values()) for b in s.messages.values()) >= sent
        ) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    # The auditor: wait until the trail has every allowed attempt, then findings, a checkpoint, verification.
    auditor: dict[str, Any] = {"role": "auditor", "subject": "demo-auditor"}
    deadline = time.monotonic() + 60
    while True:
        answer = await api.ok("audit", "GET", "/audit/findings", **auditor)
        if answer["attempts_checked"] >= sum(s.allowed.values()) or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    s.findings = [f for f in answer["findings"] if f.get("case_id") in op.accounts or "case_id" not in f]
    s.attempts_checked = int(answer["attempts_checked"])
    # Signing a checkpoint is an operator's act (admin); auditors only read and verify.
    created = await api.call("audit", "POST", "/audit/checkpoints", role="admin", subject="demo-operator")
    s.checkpoint = created.json() if created.status_code in (200, 201) else {"error": created.text[:300]}
    s.verified_at = op.now
    s.verification = await api.ok("audit", "GET", "/audit/verify", **auditor)
    # Payment-service's payments against case-service's bookings, once what is in flight has arrived.
    deadline = time.monotonic() + 60
    while True:
        answer = await api.ok(
            "audit", "GET", "/audit/reconciliation", params={"settle_seconds": 0}, **auditor
        )
        s.divergences = [d for d in answer["divergences"] if d.get("case_id") in op.accounts]
        s.payments_compared = int(answer["payments_compared"])
        if not s.divergences or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    return s


def _rate_rows(portfolio: dict[str, Any]) -> tuple[list[tuple[str, str, str, str]], str]:
    rows = [
        (str(r["from_bucket"]), str(r["to_bucket"]), str(r["cases"]), pct(r.get("rate")))
        for r in portfolio.get("roll_rates", [])
    ]
    cure = portfolio.get("cure") or {}
    text = f"{pct(cure.get('rate'))} ({cure.get('cured', 0)} of {cure.get('delinquent_at_start', 0)} cured)"
    return rows, text


def render(console: Console, op: Operation, s: Summary, urls: dict[str, str], wall: float) -> None:
    st = op.stats
    console.rule("[bold]Demo collection operation: summary")
    console.print(
        f"simulated {op.start:%a %Y-%m-%d %H:%M} → {op.now:%a %Y-%m-%d %H:%M} UTC ({op.s.days} days, "
        f"seed {op.s.seed}) in {wall:.0f}s wall time"
    )
    console.print(
        f"placed {s.placed_import + s.placed_kafka} accounts: {s.placed_import} by bulk import "
        "(POST /imports), "
        f"{s.placed_kafka} by AccountPlaced on integration.placements; {s.cases} cases known to case-service"
    )
    staff = ", ".join(f"{v} {k}" for k, v in sorted(st.assigned.items()))
    console.print(f"assignment: {staff}; {len(op.collectors)} collectors, {st.worklists} worklists pulled")

    t = Table(title="open cases by stage and bucket")
    buckets = sorted(
        {b for _, b in s.by_stage_bucket},
        key=lambda b: (b != "current", int(b.split("-")[0].rstrip("+")) if b[0].isdigit() else 0),
    )
    t.add_column("stage")
    for b in buckets:
        t.add_column(b, justify="right")
    t.add_column("total", justify="right")
    for stage in ("early", "late", "legal", "written_off"):
        counts = [s.by_stage_bucket[(stage, b)] for b in buckets]
        if any(counts):
            t.add_row(stage, *map(str, counts), str(sum(counts)))
    console.print(t)
    console.print("cases by status: " + ", ".join(f"{k} {v}" for k, v in sorted(s.by_status.items())))

    t = Table(title="amount recovered (payments applied)")
    t.add_column("currency")
    t.add_column("recovered", justify="right")
    t.add_column("via REST", justify="right")
    t.add_column("via integration.payments", justify="right")
    for currency in sorted(s.recovered):
        t.add_row(
            currency,
            money(s.recovered[currency], currency),
            money(st.paid_http[currency], currency),
            money(st.paid_kafka[currency], currency),
        )
    console.print(t)

    rolls, cure = _rate_rows(s.portfolio)
    t = Table(title=f"roll rates over the run; cure rate {cure}")
    for column in ("bucket at start", "at end", "cases", "roll rate"):
        t.add_column(column)
    for row in rolls:
        t.add_row(*row)
    console.print(t)
    kept, broken = s.promises["kept"], s.promises["broken"]
    rate = kept / (kept + broken) if kept + broken else None
    console.print(
        f"promises: {sum(s.promises.values())} made, {kept} kept, {broken} broken, {s.promises['open']} open "
        f"→ promise-kept rate {pct(rate)}"
    )
    console.print("debtor actions: " + ", ".join(f"{k} {v}" for k, v in sorted(st.actions.items())))

    for lrow in s.legal:
        console.print(
            f"legal ({lrow['currency']}, /kpis/legal): {lrow['referred']} referred, {lrow['claims']} claims, "
            f"{lrow['judgments']} judgments for {money(int(lrow['judgments_minor']), lrow['currency'])}, "
            f"costs {money(int(lrow['costs_minor']), lrow['currency'])}, "
            f"recovered through legal {money(int(lrow['recovered_minor']), lrow['currency'])}"
        )

    t = Table(title="KPIs by strategy arm (case-service /kpis/strategies): recovered / placed")
    for column in ("strategy", "experiment", "arm", "cases", "recovery rate per currency"):
        t.add_column(column)
    arms: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for srow in s.strategies:
        key = (
            str(srow.get("strategy_id")),
            str(srow.get("experiment_id") or "-"),
            str(srow.get("experiment_arm") or "-"),
        )
        arms.setdefault(key, []).append(srow)
    for (strategy, experiment, arm), arm_rows in sorted(arms.items()):
        rates = "  ".join(
            f"{r['currency']} {pct(r.get('recovery_rate'))} "
            f"({money(int(r['recovered_minor']), r['currency'])})"
            for r in arm_rows
        )
        t.add_row(strategy, experiment, arm, str(sum(int(r["cases"]) for r in arm_rows)), rates)
    console.print(t)

    for tested in s.experiments:
        _experiment_tables(console, tested)
    _policy_changes(console, s.policy_log)

    t = Table(title="contacts through the gate")
    t.add_column("decision")
    t.add_column("channel / rule")
    t.add_column("count", justify="right")
    for channel, count in sorted(s.allowed.items()):
        t.add_row("allowed", channel, str(count))
    for rule, count in sorted(s.refused.items(), key=lambda kv: -kv[1]):
        t.add_row("refused", rule, str(count))
    console.print(t)
    console.print(
        "outcomes of allowed contacts: " + ", ".join(f"{k} {v}" for k, v in sorted(st.outcomes.items()))
    )
    console.print(f"calls and visits made on a permit (POST /contact-permits, then its outcome): {s.permits}")

    t = Table(title="messages through the channels (each on a permit; GET /messages/summary)")
    t.add_column("channel")
    t.add_column("delivered", justify="right")
    t.add_column("bounced / failed", justify="right")
    t.add_column("awaiting a report", justify="right")
    for channel, by_status in sorted(s.messages.items()):
        t.add_row(
            channel,
            str(by_status.get("delivered", 0) + by_status.get("opened", 0)),
            str(by_status.get("bounced", 0) + by_status.get("failed", 0) + by_status.get("returned", 0)),
            str(by_status.get("sent", 0) + by_status.get("sending", 0)),
        )
    console.print(t)
    if s.print_file:
        console.print(
            f"letters for the letter house: {s.print_file['letters']} in {s.print_file['file']} "
            f"(sha256 {s.print_file['sha256'][:16]}…)"
        )

    colour = "green" if not s.findings else "red"
    console.print(
        f"[{colour}]audit findings: {len(s.findings)}[/] ({s.attempts_checked} attempts checked "
        "by audit-service "
        "GET /audit/findings; expected: none)"
    )
    for finding in s.findings[:10]:
        console.print(f"  {finding}")
    signed = s.checkpoint.get("signed") or {}
    console.print(
        f"signed checkpoint (POST /audit/checkpoints): seq {s.checkpoint.get('seq')}, Ed25519 key "
        f"{s.checkpoint.get('key_id')}, tree size {signed.get('tree_size')}, "
        f"root {str(signed.get('root'))[:16]}…"
    )
    colour = "green" if s.verified else "red"
    v: dict[str, Any] = s.verification
    chains = v.get("chains", [])
    broken_links = [c for c in chains if c.get("first_broken_link") is not None]
    checks: dict[str, Any] = v.get("checkpoints") or {}
    console.print(
        f"[{colour}]trail verification (GET /audit/verify): {'passed' if s.verified else 'FAILED'}[/]: "
        f"{v.get('entries')} entries in {len(chains)} hash chains, {len(broken_links)} broken links, "
        f"{checks.get('checked')} signed checkpoints checked "
        f"(latest tree size {checks.get('latest_tree_size')}), "
        f"problems: {checks.get('problems') or 'none'}"
    )
    published: dict[str, Any] = checks.get("published") or {}
    created_at = signed.get("created_at")
    age = (
        f"{(s.verified_at - datetime.fromisoformat(created_at)).total_seconds():.0f} s old at verification"
        if created_at and s.verified_at is not None
        else "age unknown"
    )
    console.print(
        f"newest checkpoint: seq {checks.get('latest')}, {age}; in the checkpoint topic "
        f"audit.checkpoints: seq {published.get('latest') if published.get('compared') else 'not read'}"
    )
    kafka: dict[str, Any] = v.get("kafka") or {}
    colour = "green" if kafka.get("compared") and not kafka.get("problems") else "red"
    console.print(
        f"[{colour}]completeness against Kafka: "
        f"{'compared' if kafka.get('compared') else 'NOT compared (Kafka unreachable)'}[/], "
        f"problems: {kafka.get('problems') or 'none'}, records not recorded yet (lag): {kafka.get('behind')}"
    )
    colour = "green" if not s.divergences else "red"
    console.print(
        f"[{colour}]reconciliation (GET /audit/reconciliation): {len(s.divergences)} divergences[/] "
        f"between payment-service's payments and case-service's bookings ({s.payments_compared} payments "
        "compared; expected: none)"
    )
    for divergence in s.divergences[:10]:
        console.print(f"  {divergence}")
    if s.anomalies:
        console.print("[yellow]unexpected answers from the services:[/]")
        for what, count in s.anomalies.items():
            console.print(f"  {count} x {what}: {s.anomaly_samples.get(what, '')}")

    console.rule("[bold]The services keep running")
    t = Table()
    for column in ("service", "URL", "OpenAPI docs"):
        t.add_column(column)
    for name, url in urls.items():
        t.add_row(f"{name}-service", url, f"{url}/docs")
    console.print(t)
    console.print(
        "a token per role: "
        + "  ".join(
            f"make token ROLE={r}" for r in ("collector", "supervisor", "admin", "auditor", "integration")
        )
    )
    console.print(
        'e.g. curl -H "Authorization: Bearer $(make -s token ROLE=supervisor)" '
        + f"{urls['case']}/kpis/portfolio"
    )
    late = op.stats.late_call
    if late:
        console.print(
            f"a call asked for at {late['local_time']} by {late['collector_id']}: "
            + (
                f"refused ({late['rule_id']}, {late['citation']})"
                if late["rule_id"]
                else f"HTTP {late['status']}"
            )
            + f"; its case in the console: {urls['audit']}/console/cases/{late['case_id']}"
        )
    console.print(f"the console: {urls['audit']}/console (development sign-in, one link per role):")
    for role, what in (
        ("auditor", "the trail, a case's timeline, proofs, findings, verification"),
        ("supervisor", "portfolio, collectors, strategies and experiments, gate refusals"),
        ("admin", "everything above"),
        ("collector", "no console page: 403"),
    ):
        console.print(f"  {role:<10} {urls['audit']}/console/login?as={role}  ({what})")
    console.print("stop everything: make down")


def _interval(e: dict[str, Any]) -> str:
    if e.get("rate") is None:
        return "-"
    bounds = f" [{pct(e['low'])}, {pct(e['high'])}]" if e.get("low") is not None else ""
    return f"{pct(e['rate'])}{bounds} n={e['n']}"


def _difference(c: dict[str, Any]) -> str:
    if c.get("difference") is None:
        return str(c["verdict"]).replace("_", " ")
    return (
        f"{c['difference'] * 100:+.1f} pt [{c['low'] * 100:+.1f}, {c['high'] * 100:+.1f}] "
        f"p={c['p_value']:.2f} {c['verdict'].replace('_', ' ')}"
    )


def _experiment_tables(console: Console, experiment: dict[str, Any]) -> None:
    """An experiment by intention to treat: each arm's outcomes with 95 % intervals, then each
    challenger against the champion with always-valid intervals, and its harm guards."""
    t = Table(
        title=f"experiment {experiment['experiment_id']} (/kpis/experiments): by the arm first given, "
        f"always-valid test at alpha {experiment['test']['alpha']}"
    )
    for column in (
        "arm",
        "status",
        "cases",
        "recovery rate",
        "right-party contact",
        "cured",
        "promises kept",
    ):
        t.add_column(column)
    for arm in experiment["arms"]:
        t.add_row(
            f"{arm['arm']} ({arm['strategy_id']}, {arm['percent']:g} %)",
            arm["status"],
            str(arm["cases"]),
            "  ".join(f"{r['currency']} {_interval(r)}" for r in arm["recovery"]) or "-",
            _interval(arm["right_party_contact"]),
            _interval(arm["cure"]),
            _interval(arm["promise_kept"]),
        )
    console.print(t)
    for challenger in experiment["challengers"]:
        t = Table(
            title=f"{challenger['arm']} against {challenger['against']}: difference, always-valid interval"
        )
        t.add_column("measure")
        t.add_column("challenger - champion")
        for r in challenger["recovery"]:
            t.add_row(f"recovery rate {r['currency']}", _difference(r))
        for measure in ("right_party_contact", "cure", "promise_kept"):
            t.add_row(measure.replace("_", " "), _difference(challenger[measure]))
        for g in challenger["guards"]:
            t.add_row(
                f"guard {g['guard']} (max +{g['max_increase'] * 100:.0f} pt)",
                f"{g['status'].upper()}: {_interval(g['challenger'])} vs {_interval(g['champion'])}",
            )
        console.print(t)


def _policy_changes(console: Console, log: dict[str, Any]) -> None:
    """The managers' policy work of the run: what was simulated, approved, activated or held back."""
    change = log.get("collection_policy")
    if change:
        sim = change["simulation"]
        moving = ", ".join(f"{k} {v}" for k, v in sorted(sim["cases_changing"].items()) if v) or "none"
        console.print(
            f"collection policy v{change['previous_version']} -> v{change['version']} mid-run "
            f"({', '.join(change['changes'])}): simulated on {sim['open_cases']} open cases "
            f"(changing: {moving}; calls and visits {sim['person_contacts_change']:+d} over the projection), "
            f"approved by {change['approved_by']}, activated by {change['activated_by']} "
            f"(report {sim['id']})"
        )
    pack = log.get("rule_pack")
    if pack:
        by_rule = ", ".join(f"{k} {v}" for k, v in pack["would_refuse_by_rule"].items()) or "none"
        console.print(
            f"rule pack GB {pack['pack_version']} (no calls before 09:00) replayed over "
            f"{pack['contacts_rechecked']} of the run's GB contacts: "
            f"would have refused {pack['would_refuse']} "
            f"({by_rule}); {pack['decision']}"
        )
    model = log.get("model")
    if model and model.get("trained"):
        pay = model["metrics"]["pay"]
        contact = model["metrics"].get("contact") or {}
        horizon = model["horizon_days"]
        t = Table(title=f"propensity model v{model['version']} (a payment within {horizon} days), held out")
        for column in ("measure", "model", "rule-based order", "random order"):
            t.add_column(column)
        t.add_row("AUC", f"{pay['auc']:.3f}", f"{pay.get('rule_based_auc', 0):.3f}", "0.500")
        t.add_row(
            "payers in the top fifth",
            pct(pay["top_fifth_rate"]),
            pct(pay.get("rule_based_top_fifth_rate")),
            pct(pay["held_out_positive_rate"]),
        )
        t.add_row(
            "lift of the top fifth",
            f"{pay['lift_over_random']}x random, {pay.get('lift_over_rule_based')}x rule-based",
            "",
            "1x",
        )
        if contact:
            t.add_row("right-party contact model AUC", f"{contact['auc']:.3f}", "", "0.500")
        console.print(t)
        example = model.get("example")
        console.print(
            f"worklists now ranked by: {model['ranked_by']}"
            + (
                f"; e.g. case {example['case_id']}: pay {pct(example['pay_probability'])}, best contact "
                f"{example['best_contact']['channel']} at {example['best_contact']['hour_band']} local"
                if example
                else ""
            )
        )
    elif model:
        console.print(f"propensity model not trained: {model.get('why')}")
