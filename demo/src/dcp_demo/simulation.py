"""The collection operation: staff, placement, assignment, then days of collectors working their worklists."""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from rich.progress import Progress

from dcp_demo import policies
from dcp_demo.api import Api
from dcp_demo.portfolio import CREDITOR, Account, generate, write_jsonl
from dcp_events.catalogue.base import CaseAmounts, Money
from dcp_events.catalogue.debtor import Account as AccountRef
from dcp_events.catalogue.debtor import Debtor, EmailAddress, PhoneNumber, PostalAddress
from dcp_events.catalogue.enums import PaymentMethod, PhoneKind, TimeZoneSource
from dcp_events.catalogue.integration import AccountPlaced, PaymentPosted, PlacementUpdated

T = TypeVar("T")

#: Local hours at which a collector opens their worklist (Mon-Fri).
SESSION_HOURS = (9, 11, 14, 16)
CORE_BANKING = "core-banking-feed"


@dataclass(frozen=True)
class Settings:
    accounts: int = 2000
    days: int = 10
    seed: int = 7
    #: worklist items a collector works per session
    per_session: int = 6
    #: the chance a collector tries a channel the worklist shows as refused (the gate refuses it)
    careless: float = 0.07
    kafka_share: float = 0.15
    concurrency: int = 8
    workdir: Path = Path(".local/demo")


@dataclass(frozen=True)
class Collector:
    id: str
    team: str
    zone: str
    jurisdictions: tuple[str, ...]
    languages: tuple[str, ...]
    agency_id: str | None = None


@dataclass(order=True)
class Pending:
    """A payment the debtor will make at `at` (for a promise, an installment, a settlement, or unprompted)."""

    at: datetime
    case_id: str = field(compare=True)
    amount_minor: int = field(compare=False, default=0)
    via_kafka: bool = field(compare=False, default=False)
    why: str = field(compare=False, default="")
    collector: Collector | None = field(compare=False, default=None)


@dataclass
class Stats:
    placed_import: int = 0
    placed_kafka: int = 0
    import_rejected: int = 0
    assigned: Counter[str] = field(default_factory=Counter)
    worklists: int = 0
    allowed: Counter[str] = field(default_factory=Counter)  # by channel
    messages: Counter[str] = field(default_factory=Counter)  # handed to their channel, by channel
    permits: int = 0  # calls and visits made on a permit
    delivered: dict[str, dict[str, int]] = field(default_factory=dict)  # channel -> status -> messages
    print_file: str | None = None
    refused: Counter[str] = field(default_factory=Counter)  # by rule id
    outcomes: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    paid_http: Counter[str] = field(default_factory=Counter)  # minor units by currency
    paid_kafka: Counter[str] = field(default_factory=Counter)
    anomalies: Counter[str] = field(default_factory=Counter)
    anomaly_samples: dict[str, str] = field(default_factory=dict)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    wall_seconds: float = 0.0
    # the collector who stayed late: the call asked for at 21:30 in the debtor's zone, and the answer
    late_call: dict[str, Any] = field(default_factory=dict)

    def anomaly(self, key: str, sample: str) -> None:
        self.anomalies[key] += 1
        self.anomaly_samples.setdefault(key, sample[:400])


async def bounded(concurrency: int, jobs: Iterable[Callable[[], Awaitable[T]]]) -> list[T]:
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await job()

    return await asyncio.gather(*(one(j) for j in jobs))


def staff_for(accounts: list[Account]) -> tuple[list[Collector], dict[str, dict[str, Any]]]:
    """Collectors per region (sized to the portfolio), two agencies and their agents; the staff bodies."""
    per_region = Counter(a.jurisdiction for a in accounts)
    plan = {
        "US": ("team-us", ("America/New_York", "America/Chicago", "America/Los_Angeles"), ("en",)),
        "GB": ("team-gb", ("Europe/London",), ("en",)),
        "CN": ("team-cn", ("Asia/Shanghai",), ("zh",)),
    }
    collectors: list[Collector] = []
    bodies: dict[str, dict[str, Any]] = {}
    for jurisdiction, (team, zones, languages) in plan.items():
        count = max(1, min(8, math.ceil(per_region[jurisdiction] / 170)))
        capacity = math.ceil(per_region[jurisdiction] * 1.5 / count) + 10
        for n in range(count):
            cid = f"{team.removeprefix('team-')}-collector-{n + 1}"
            collectors.append(Collector(cid, team, zones[n % len(zones)], (jurisdiction,), languages))
            channels = ["phone", "sms", "email", "letter"] + (["field_visit"] if jurisdiction == "CN" else [])
            bodies[cid] = {
                "kind": "collector",
                "team": team,
                "capacity": capacity,
                "qualifications": [
                    {"jurisdictions": [jurisdiction], "languages": list(languages), "channels": channels}
                ],
            }
    agencies = {
        "agency-northwind": (("US", "GB"), ("en",), "America/New_York"),
        "agency-huaxia": (("CN",), ("zh",), "Asia/Shanghai"),
    }
    for agency, (jurisdictions, languages, zone) in agencies.items():
        bodies[agency] = {
            "kind": "agency",
            "capacity": len(accounts) + 100,
            "qualifications": [
                {
                    "jurisdictions": list(jurisdictions),
                    "languages": list(languages),
                    "channels": ["phone", "field_visit"],
                }
            ],
        }
        collectors.append(
            Collector(f"{agency}-agent-1", agency, zone, jurisdictions, languages, agency_id=agency)
        )
    return collectors, bodies


class Operation:
    def __init__(self, api: Api, settings: Settings, progress: Progress) -> None:
        self.api = api
        self.s = settings
        self.progress = progress
        self.stats = Stats()
        self.accounts: dict[str, Account] = {}
        self.collectors: list[Collector] = []
        self.pending: list[Pending] = []
        self.handled: set[str] = set()  # cases whose debtor already acted on their persona
        self.vulnerable: set[str] = set()  # cases whose debtor told a collector of a vulnerability
        self.closed: set[str] = set()
        self.paying_off: set[str] = set()
        self.worklists: dict[str, tuple[date | None, list[dict[str, Any]]]] = {}
        self.policy_log: dict[str, Any] = {}  # the managers' policy changes of the run
        self.now: datetime = datetime.min.replace(tzinfo=UTC)
        self.start: datetime = datetime.min.replace(tzinfo=UTC)
        self.batch = ""

    # --- helpers -----------------------------------------------------------------------------------------
    def local_today(self, account: Account) -> date:
        return self.now.astimezone(ZoneInfo(account.row["time_zone"])).date()

    async def move_clock(self, moment: datetime) -> None:
        self.now = moment
        await self.api.set_clock(moment)

    def _record_error(self, what: str, response: Any) -> None:
        self.stats.anomaly(f"{what} -> {response.status_code}", response.text)

    # --- set-up ------------------------------------------------------------------------------------------
    async def setup(self) -> None:
        self.now = await self.api.clock()
        self.start = self.now
        self.stats.started_at = self.now
        # Unique per run: a second `make run` on the same stack (the manual clock starts again at the same
        # Monday) places other accounts, so the runs' cases and trails never mix.
        self.batch = f"{self.now:%Y%m%d%H}-s{self.s.seed}-{uuid.uuid4().hex[:4]}"
        accounts = generate(self.s.accounts, self.s.seed, self.batch, self.now.date(), self.s.kafka_share)
        self.accounts = {a.case_id: a for a in accounts}
        self.collectors, bodies = staff_for(accounts)
        for staff_id, body in bodies.items():
            await self.api.ok(
                "case", "PUT", f"/staff/{staff_id}", json=body, role="supervisor", subject="sup-1"
            )

    async def place(self) -> None:
        accounts = list(self.accounts.values())
        by_file = [a for a in accounts if not a.via_kafka]
        by_topic = [a for a in accounts if a.via_kafka]
        task = self.progress.add_task("placing the portfolio", total=len(accounts))
        path = write_jsonl(by_file, self.s.workdir / f"portfolio-{self.batch}.jsonl")
        started = await self.api.ok(
            "case",
            "POST",
            "/imports",
            params={"format": "jsonl", "filename": path.name},
            content=path.read_bytes(),
            headers={"Content-Type": "application/x-ndjson"},
            role="integration",
            subject="portfolio-upload",
        )
        for account in by_topic:
            await self.api.publish(
                self._placement(account),
                case_id=account.case_id,
                now=self.now,
                actor="creditor-placement-feed",
                jurisdiction=account.jurisdiction,
            )
        self.stats.placed_kafka = len(by_topic)
        while True:
            status = await self.api.ok(
                "case",
                "GET",
                f"/imports/{started['import_id']}",
                role="integration",
                subject="portfolio-upload",
            )
            self.progress.update(task, completed=int(status.get("rows_read", 0)))
            if status.get("status") in ("completed", "done", "failed", "finished"):
                break
            await asyncio.sleep(0.5)
        self.stats.placed_import = int(status.get("accepted", 0))
        self.stats.import_rejected = int(status.get("rejected", 0))
        if status.get("status") == "failed" or self.stats.import_rejected:
            self.stats.anomaly("import", str(status)[:400])
        # The placements from the topic: wait until the case-service has opened them.
        deadline = time.monotonic() + 120
        missing = {a.case_id for a in by_topic}
        while missing and time.monotonic() < deadline:
            found = await self._known_cases()
            missing -= found
            self.progress.update(task, completed=len(accounts) - len(missing))
            if missing:
                await asyncio.sleep(1)
        if missing:
            self.stats.anomaly("placements not opened from integration.placements", f"{len(missing)} missing")
        self.progress.update(task, completed=len(accounts))

    def _placement(self, account: Account) -> AccountPlaced:
        r = account.row
        money = account.currency

        def m(minor: int) -> Money:
            return Money(amount_minor=minor, currency=money)

        return AccountPlaced(
            placement_id=r["placement_id"],
            debtor=Debtor(
                debtor_id=r["debtor_id"],
                full_name=r["full_name"],
                phones=[
                    PhoneNumber(
                        number=r["phone"],
                        kind=PhoneKind(r["phone_kind"]),
                        consent_to_call=r["consent_to_call"],
                        consent_to_sms=r["consent_to_sms"],
                    )
                ],
                emails=[EmailAddress(address=r["email"], consent_to_email=r["consent_to_email"])],
                address=PostalAddress(
                    lines=[r["address_line1"]],
                    city=r["city"],
                    region=r["region"],
                    postal_code=r["postal_code"],
                    country=r["country"],
                ),
                language=r["language"],
                time_zone=r["time_zone"],
                time_zone_source=TimeZoneSource(r["time_zone_source"]),
            ),
            account=AccountRef(
                creditor_id=CREDITOR, account_reference=r["account_reference"], product=r["product"]
            ),
            amounts=CaseAmounts(
                principal=m(r["principal_minor"]),
                interest=m(r["interest_minor"]),
                fees=m(r["fees_minor"]),
                total_balance=m(r["total_balance_minor"]),
            ),
            days_past_due=(self.now.date() - date.fromisoformat(r["due_since"])).days,
            due_since=date.fromisoformat(r["due_since"]),
            jurisdiction=r["jurisdiction"],
            risk_score=r["risk_score"],
        )

    async def _cases(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 500}
            if cursor:
                params["cursor"] = cursor
            page = await self.api.ok(
                "case", "GET", "/cases", params=params, role="supervisor", subject="sup-1"
            )
            items.extend(i for i in page["items"] if i["case_id"] in self.accounts)
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    async def _known_cases(self) -> set[str]:
        return {c["case_id"] for c in await self._cases()}

    async def assign(self) -> None:
        cases = await self._cases()
        task = self.progress.add_task("assigning cases", total=len(cases))
        team = {"US": "team-us", "GB": "team-gb", "CN": "team-cn"}
        round_robin: Counter[str | None] = Counter()

        def job(case: dict[str, Any]) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                if case["assignee"] is not None:
                    self.stats.assigned[f"{case['assignee']['kind']} (at placement)"] += 1
                else:
                    legal = case["stage"] == "legal"
                    body: dict[str, Any] = (
                        {"policy": "agency_at_stage", "reason": "legal stage"}
                        if legal
                        else {"policy": "round_robin", "team": team[case["jurisdiction"]]}
                    )
                    response = await self.api.call(
                        "case",
                        "POST",
                        f"/cases/{case['case_id']}/assignment",
                        json=body,
                        role="supervisor",
                        subject="sup-1",
                    )
                    if response.status_code == 200:
                        self.stats.assigned[body["policy"]] += 1
                        round_robin[body.get("team")] += 1
                    else:
                        self._record_error("POST /cases/{id}/assignment", response)
                self.progress.advance(task)

            return run

        await bounded(self.s.concurrency, [job(c) for c in cases])
        # The contact-service learns assignments from collections.cases: wait until the last ones arrived.
        sample = [c for c in self.collectors if c.agency_id is None]
        deadline = time.monotonic() + 90
        while sample and time.monotonic() < deadline:
            sizes = await bounded(self.s.concurrency, [self._worklist_size(c) for c in sample[-1:]])
            team_size = sum(1 for c in sample if c.team == sample[-1].team)
            if sizes[0] >= 0.9 * round_robin[sample[-1].team] / team_size:
                break
            await asyncio.sleep(1)

    def _worklist_size(self, collector: Collector) -> Callable[[], Awaitable[int]]:
        async def run() -> int:
            body = await self.api.ok(
                "contact",
                "GET",
                "/worklist",
                role="collector",
                subject=collector.id,
                agency_id=collector.agency_id,
            )
            return len(body["items"])

        return run

    # --- the days ----------------------------------------------------------------------------------------
    async def simulate(self) -> None:
        hours = self.s.days * 24
        task = self.progress.add_task("simulating days", total=hours)
        self.schedule_self_cures()
        late = self._late_call_moment()
        for h in range(1, hours + 1):
            if late is not None and late[1] <= self.start + timedelta(hours=h):
                await self.move_clock(max(self.now, late[1]))
                await self.call_late(late[0])
                late = None
            await self.move_clock(max(self.now, self.start + timedelta(hours=h)))
            await self.pay_due()
            working = [c for c in self.collectors if self._on_shift(c)]
            if working:
                await asyncio.gather(*(self.session(c, h) for c in working))
            if any(p.at < self.now + timedelta(hours=1) for p in self.pending):
                await self.move_clock(self.now + timedelta(minutes=30))
                await self.pay_due()
            if h == max(1, self.s.days // 2) * 24:
                await self.change_policies()
            day = h // 24 + 1
            self.progress.update(
                task,
                advance=1,
                description=(
                    f"day {min(day, self.s.days)}/{self.s.days} {self.now:%a %H:%M} UTC · "
                    f"{sum(self.stats.allowed.values())} allowed, {sum(self.stats.refused.values())} refused"
                ),
            )
        self.stats.ended_at = self.now

    def _late_call_moment(self) -> tuple[str, datetime] | None:
        """A US debtor's zone and the first 21:30 there on a weekday after the first working day."""
        for account in self.accounts.values():
            if account.jurisdiction != "US":
                continue
            zone = account.row["time_zone"]
            local = (self.start + timedelta(days=1)).astimezone(ZoneInfo(zone))
            moment = local.replace(hour=21, minute=30, second=0, microsecond=0)
            while moment.weekday() >= 5 or moment.astimezone(UTC) <= self.start:
                moment += timedelta(days=1)
            if moment.astimezone(UTC) < self.start + timedelta(days=self.s.days):
                return zone, moment.astimezone(UTC)
        return None

    async def call_late(self, zone: str) -> None:
        """A collector working late asks to call a debtor of theirs at 21:30 in the debtor's zone: the
        gate refuses (calling hours, Reg F 1006.6(b)(1)(i)) and the refusal is in the trail (the
        console shows it on the case's page)."""
        in_house = {c.id: c for c in self.collectors if c.agency_id is None}
        for account in self.accounts.values():
            if account.row["time_zone"] != zone or account.case_id in self.closed:
                continue
            case = await self.api.call(
                "case", "GET", f"/cases/{account.case_id}", role="supervisor", subject="sup-1"
            )
            view = case.json() if case.status_code == 200 else {}
            assignee = view.get("assignee") or {}
            collector = in_house.get(assignee.get("id", ""))
            if view.get("status") == "open" and view.get("stage") == "early" and collector is not None:
                break
        else:
            return
        response = await self.api.call(
            "contact",
            "POST",
            "/contact-permits",
            json={"case_id": account.case_id, "channel": "phone"},
            role="collector",
            subject=collector.id,
        )
        local = self.now.astimezone(ZoneInfo(zone))
        refused = response.status_code == 409 and "contact-refused" in response.text
        self.stats.late_call = {
            "case_id": account.case_id,
            "collector_id": collector.id,
            "local_time": f"{local:%Y-%m-%d %H:%M} {zone}",
            "status": response.status_code,
            "rule_id": response.json().get("rule_id") if refused else None,
            "citation": response.json().get("citation") if refused else None,
        }
        if refused:
            self.stats.refused[str(response.json().get("rule_id"))] += 1
        else:
            self.stats.anomaly("call at 21:30 not refused", response.text)

    async def change_policies(self) -> None:
        """Mid-run: the collection policy changed (simulated, approved, activated), a stricter GB pack
        replayed over the run's contacts and held back."""
        try:
            self.policy_log["collection_policy"] = await policies.change_collection_policy(self.api)
            tag = int(self.now.timestamp()) % 1_000_000
            self.policy_log["rule_pack"] = await policies.replay_stricter_pack(
                self.api, self.start, self.now, tag
            )
        except RuntimeError as exc:
            self.stats.anomaly("policy change", str(exc))

    async def train_model(self) -> None:
        """After the run: the propensity model learnt from it, activated, the worklists ranked by it."""
        collector = next((c.id for c in self.collectors if c.agency_id is None), None)
        if collector is None:
            return
        try:
            self.policy_log["model"] = await policies.train_and_activate_model(
                self.api, self.s.seed, horizon_days=2, collector=collector
            )
        except RuntimeError as exc:
            self.stats.anomaly("propensity model", str(exc))

    def _on_shift(self, collector: Collector) -> bool:
        local = self.now.astimezone(ZoneInfo(collector.zone))
        return local.weekday() < 5 and local.hour in SESSION_HOURS

    def schedule_self_cures(self) -> None:
        rng = random.Random(f"{self.s.seed}-self-cure")
        for account in sorted(self.accounts.values(), key=lambda a: a.case_id):
            if account.persona == "self_cures":
                at = self.start + timedelta(hours=rng.randint(6, max(7, self.s.days * 24 - 2)))
                # The debtor pays the arrears at the bank; the creditor then reports the account current.
                arrears = account.balance_minor * rng.randint(25, 45) // 100
                self.pending.append(Pending(at, account.case_id, arrears, True, "self-cure"))

    async def pay_due(self) -> None:
        due = sorted(p for p in self.pending if p.at <= self.now)
        self.pending = [p for p in self.pending if p.at > self.now]
        for payment in due:
            await self.pay(
                payment.case_id, payment.amount_minor, via_kafka=payment.via_kafka, why=payment.why
            )

    async def pay(
        self,
        case_id: str,
        amount_minor: int,
        *,
        via_kafka: bool,
        why: str,
        collector: Collector | None = None,
    ) -> None:
        account = self.accounts[case_id]
        amount = min(amount_minor, account.balance_minor)
        if amount <= 0 or case_id in self.closed:
            return
        reference = f"{self.batch}-{why}-{uuid.uuid4().hex[:12]}"
        if via_kafka:
            await self.api.publish(
                PaymentPosted(
                    posting_id=f"pst-{reference}",
                    account=AccountRef(
                        creditor_id=CREDITOR,
                        account_reference=account.row["account_reference"],
                        product=account.row["product"],
                    ),
                    amount=Money(amount_minor=amount, currency=account.currency),
                    method=PaymentMethod.BANK_TRANSFER,
                    external_reference=reference,
                    posted_at=self.now,
                    value_date=self.local_today(account),
                ),
                case_id=case_id,
                now=self.now,
                actor=CORE_BANKING,
                jurisdiction=account.jurisdiction,
            )
            self.stats.paid_kafka[account.currency] += amount
        else:
            role, subject = ("collector", collector.id) if collector else ("integration", "payment-gateway")
            response = await self.api.call(
                "payment",
                "POST",
                "/payments",
                json={
                    "case_id": case_id,
                    "amount": {"amount_minor": amount, "currency": account.currency},
                    "method": "card" if collector else "direct_debit",
                    "external_reference": reference,
                },
                role=role,
                subject=subject,
                agency_id=collector.agency_id if collector else None,
            )
            if response.status_code not in (200, 201):
                self._record_error("POST /payments", response)
                return
            self.stats.paid_http[account.currency] += amount
        self.stats.actions[f"payment ({why})"] += 1
        if why == "self-cure":
            await self.api.publish(
                PlacementUpdated(
                    placement_id=account.row["placement_id"],
                    account=AccountRef(
                        creditor_id=CREDITOR,
                        account_reference=account.row["account_reference"],
                        product=account.row["product"],
                    ),
                    days_past_due=0,
                ),
                case_id=case_id,
                now=self.now,
                actor="creditor-placement-feed",
                jurisdiction=account.jurisdiction,
            )
            self.stats.actions["account brought current (PlacementUpdated)"] += 1
        account.balance_minor -= amount
        if account.balance_minor == 0:
            self.closed.add(case_id)

    async def session(self, collector: Collector, hour: int) -> None:
        """A work session: the day's worklist (pulled at the first session of the collector's day), then
        the next cases on it, each with its channels as the gate sees them now."""
        rng = random.Random(f"{self.s.seed}-{collector.id}-{hour}")
        local_day = self.now.astimezone(ZoneInfo(collector.zone)).date()
        day, items = self.worklists.get(collector.id, (None, []))
        if day != local_day:
            response = await self.api.call(
                "contact",
                "GET",
                "/worklist",
                role="collector",
                subject=collector.id,
                agency_id=collector.agency_id,
            )
            if response.status_code != 200:
                self._record_error("GET /worklist", response)
                return
            self.stats.worklists += 1
            items = [i for i in response.json()["items"] if i["case_id"] in self.accounts]
            self.worklists[collector.id] = (local_day, items)
        worked = 0
        while items and worked < self.s.per_session:
            item = items.pop(0)
            if item["case_id"] in self.closed or item["case_id"] in self.paying_off:
                continue
            response = await self.api.call(
                "contact",
                "GET",
                f"/cases/{item['case_id']}/contact-options",
                role="collector",
                subject=collector.id,
                agency_id=collector.agency_id,
            )
            if response.status_code == 403:  # escalated to an agency since the morning's worklist
                self.stats.actions["case moved to an agency since the worklist was pulled"] += 1
                continue
            if response.status_code != 200:
                self._record_error("GET /cases/{id}/contact-options", response)
                continue
            options = {o["channel"]: o for o in response.json()["channels"]}
            allowed = [c for c in ("phone", "sms", "email") if options.get(c, {}).get("allowed")]
            refused = [c for c in ("phone", "sms", "email") if c in options and not options[c]["allowed"]]
            account = self.accounts[item["case_id"]]
            attempt_id = f"att-{self.batch}-{collector.id}-{hour}-{worked}"
            field_visit = options.get("field_visit", {}).get("allowed")
            if account.jurisdiction == "CN" and field_visit and rng.random() < 0.03:
                # A field visit: recorded in full (allowed), or now and then without a recording (refused).
                recorded = rng.random() < 0.6
                await self.attempt(collector, account, "field_visit", attempt_id, rng, recorded=recorded)
            elif refused and rng.random() < self.s.careless:
                await self.attempt(collector, account, rng.choice(refused), attempt_id, rng)
            elif allowed:
                await self.attempt(collector, account, allowed[0], attempt_id, rng)
            elif "letter" in item["priority_reason"] and options.get("letter", {}).get("allowed"):
                await self.attempt(collector, account, "letter", attempt_id, rng)
            else:
                continue
            worked += 1

    async def attempt(
        self,
        collector: Collector,
        account: Account,
        channel: str,
        attempt_id: str,
        rng: random.Random,
        *,
        recorded: bool = False,
    ) -> None:
        reached = channel in ("phone", "field_visit") and rng.random() < (
            0.08 if account.persona == "unresponsive" else 0.45
        )
        if channel in ("phone", "field_visit") and not reached:
            outcome = rng.choices(("no_answer", "voicemail", "wrong_number"), weights=(55, 40, 5))[0]
        elif not reached:
            outcome = "no_answer"  # a message or letter went out
        elif account.case_id in self.handled or account.persona in ("unresponsive", "self_cures"):
            outcome = "refused" if account.persona == "unresponsive" else "right_party_contact"
        elif account.persona == "promise_keeper" or account.persona == "promise_breaker":
            outcome = "promise_made"
        elif account.persona == "disputes":
            outcome = "dispute_raised"
        else:
            outcome = "right_party_contact"
        who: dict[str, Any] = {"role": "collector", "subject": collector.id, "agency_id": collector.agency_id}
        if channel in ("sms", "email", "letter"):
            # The platform sends it itself: a permit, the channel's adapter (SMTP, the SMS gateway, the
            # letter store), the contact recorded on its permit.
            response = await self.api.call(
                "contact", "POST", "/messages", json={"case_id": account.case_id, "channel": channel}, **who
            )
            if not self._contact_answered(response, "POST /messages"):
                return
            attempt_id = response.json()["attempt_id"]
            outcome = "message_sent"
            self.stats.messages[channel] += 1
        else:
            # A call or visit: the gate is asked first (a permit reserving its place), the outcome is
            # recorded on the permit after.
            check: dict[str, Any] = {"case_id": account.case_id, "channel": channel}
            if channel == "field_visit" and recorded:
                check["recording_ref"] = f"rec-{attempt_id}"
            response = await self.api.call("contact", "POST", "/contact-permits", json=check, **who)
            if not self._contact_answered(response, "POST /contact-permits"):
                return
            permit = response.json()["permit_id"]
            self.stats.permits += 1
            duration = rng.randint(40, 600) if reached else (rng.randint(5, 40) if channel == "phone" else 0)
            body: dict[str, Any] = {
                "attempt_id": attempt_id,
                "outcome": outcome,
                "duration_seconds": duration,
            }
            if "recording_ref" in check:
                body["recording_ref"] = check["recording_ref"]
            response = await self.api.call(
                "contact", "POST", f"/contact-permits/{permit}/outcome", json=body, **who
            )
            if response.status_code not in (200, 201):
                self._record_error("POST /contact-permits/{id}/outcome", response)
                return
        self.stats.allowed[channel] += 1
        self.stats.outcomes[outcome] += 1
        if reached and account.case_id not in self.handled:
            await self.debtor_acts(collector, account, channel, attempt_id, outcome, rng)

    async def flag_vulnerability(self, account: Account, collector: Collector, rng: random.Random) -> None:
        """The debtor tells the collector of a health condition, a life event, low resilience or
        capability; the collector flags it (the details only with the debtor's consent), and the
        jurisdiction's pack decides what changes: a breathing period, fewer contacts, no texts, a
        specialist team."""
        kind, detail = rng.choice(
            (
                ("health", "Receiving treatment; asks for calls after 14:00 only."),
                ("life_event", "Recently bereaved; the household income has fallen."),
                ("resilience", "Lost overtime; struggling to cover the essentials."),
                ("capability", "Finds long letters hard to follow; prefers short messages."),
            )
        )
        consent = rng.random() < 0.7
        body: dict[str, Any] = {
            "type": kind,
            "consent": {"given": consent, "method": "verbal"} if consent else {"given": False},
            "source": "call",
        }
        if consent:
            body["description"] = detail
        response = await self.api.call(
            "case",
            "POST",
            f"/cases/{account.case_id}/vulnerabilities",
            json=body,
            role="collector",
            subject=collector.id,
            agency_id=collector.agency_id,
        )
        if response.status_code != 201:
            self._record_error("POST /cases/{id}/vulnerabilities", response)
            return
        self.vulnerable.add(account.case_id)
        self.stats.actions[f"vulnerability flagged ({kind})"] += 1
        if response.json().get("referred_to"):
            self.stats.actions["referred to a specialist team"] += 1

    async def record_statement(
        self, account: Account, today: date, available: float, who: dict[str, Any], rng: random.Random
    ) -> bool:
        """The debtor's income and expenditure as the collector takes it in the call: costs of living,
        a priority debt (council tax in Great Britain), perhaps another creditor, and an income that
        leaves about `available` a month for this debt."""

        def line(category: str, item: str, minor: int, frequency: str = "monthly") -> dict[str, Any]:
            amount = {"currency": account.currency, "amount_minor": int(minor)}
            return {"category": category, "line_item": item, "amount": amount, "frequency": frequency}

        lines = [
            line("fixed_costs", "rent_or_mortgage", rng.randint(60_000, 140_000)),
            line("fixed_costs", "utilities", rng.randint(9_000, 20_000)),
            line("flexible_costs", "food_and_housekeeping", rng.randint(6_000, 14_000), "weekly"),
            line("flexible_costs", "transport", rng.randint(4_000, 15_000)),
        ]
        if account.jurisdiction == "GB":
            lines.append(line("priority_debts", "council_tax", rng.randint(9_000, 18_000)))
        if rng.random() < 0.4:
            lines.append(line("non_priority_debts", "credit_card", rng.randint(2_000, 10_000)))
        per_month = {"monthly": 1.0, "weekly": 52 / 12}
        outgoings = sum(li["amount"]["amount_minor"] * per_month[li["frequency"]] for li in lines)
        lines.insert(0, line("income", "salary", outgoings + available))
        response = await self.api.call(
            "payment",
            "POST",
            f"/cases/{account.case_id}/financial-statements",
            json={
                "statement_date": today.isoformat(),
                "source": rng.choice(("debtor_stated", "debtor_stated", "debt_adviser", "open_banking")),
                "household": {"adults": rng.randint(1, 2), "children": rng.randint(0, 3)},
                "lines": lines,
            },
            **who,
        )
        if response.status_code != 201:
            self._record_error("POST /cases/{id}/financial-statements", response)
            return False
        self.stats.actions["income and expenditure taken"] += 1
        return True

    def _contact_answered(self, response: Any, what: str) -> bool:
        """Whether the gate allowed the contact (a refusal, a case moved away, a channel down counted)."""
        if response.status_code == 409 and "contact-refused" in response.text:
            self.stats.refused[str(response.json().get("rule_id"))] += 1
            return False
        if response.status_code == 403:
            self.stats.actions["case moved to an agency since the worklist was pulled"] += 1
            return False
        if response.status_code == 503:
            self.stats.actions["channel unavailable (nothing sent)"] += 1
            return False
        if response.status_code not in (200, 201):
            self._record_error(what, response)
            return False
        return True

    async def debtor_acts(
        self,
        collector: Collector,
        account: Account,
        channel: str,
        attempt_id: str,
        outcome: str,
        rng: random.Random,
    ) -> None:
        """What the debtor does once reached, by persona."""
        persona = account.persona
        case_id = account.case_id
        today = self.local_today(account)
        money = {"currency": account.currency}
        who: dict[str, Any] = {"role": "collector", "subject": collector.id, "agency_id": collector.agency_id}
        if persona in ("unresponsive", "self_cures"):
            return
        if case_id not in self.vulnerable and rng.random() < 0.05:
            await self.flag_vulnerability(account, collector, rng)
            return  # no arrangement pressed in this call: the pack's treatment applies from now
        self.handled.add(case_id)
        # A card payment agreed in the call is taken by the gateway half an hour later.
        later = self.now + timedelta(minutes=30)
        if persona == "pays_in_full":
            self.pending.append(Pending(later, case_id, account.balance_minor, False, "in-full", collector))
            self.paying_off.add(case_id)  # nobody calls again about a case being paid off
        elif persona == "pays_in_part":
            part = max(100, account.balance_minor * rng.randint(20, 60) // 100)
            self.pending.append(Pending(later, case_id, part, False, "in-part", collector))
            self.handled.discard(case_id)
            account.persona = rng.choice(("promise_keeper", "promise_breaker", "unresponsive"))
        elif persona in ("promise_keeper", "promise_breaker"):
            amount = account.balance_minor if account.balance_minor < 300_000 else account.balance_minor // 2
            due_on = today + timedelta(days=rng.randint(1, 6))
            response = await self.api.call(
                "contact",
                "POST",
                "/promises",
                json={
                    "case_id": case_id,
                    "amount": {**money, "amount_minor": amount},
                    "due_on": due_on.isoformat(),
                    "channel": channel,
                    "attempt_id": attempt_id,
                },
                **who,
            )
            if response.status_code == 409:
                self.stats.actions["promise refused by rule"] += 1
                return
            if response.status_code != 201:
                self._record_error("POST /promises", response)
                return
            self.stats.actions["promise made"] += 1
            if persona == "promise_keeper":
                zone = ZoneInfo(account.row["time_zone"])
                pay_day = due_on - timedelta(days=rng.randint(0, 1))
                at = datetime.combine(max(pay_day, today), datetime.min.time(), zone) + timedelta(
                    hours=rng.randint(9, 17)
                )
                self.pending.append(
                    Pending(
                        max(at, self.now + timedelta(hours=1)), case_id, amount, rng.random() < 0.4, "promise"
                    )
                )
            elif rng.random() < 0.3:  # a token payment that does not keep the promise
                at = self.now + timedelta(days=rng.randint(1, 3))
                self.pending.append(Pending(at, case_id, max(100, amount // 10), False, "token"))
        elif persona == "plan":
            count = rng.choice((4, 6, 8))
            first = today + timedelta(days=rng.randint(2, 5))
            # The collector takes the debtor's income and expenditure first; a weekly plan asks up to
            # five installments in a calendar month, and the statement leaves that or less.
            weekly = -(-account.balance_minor // count)
            if not await self.record_statement(account, today, 5 * weekly * rng.uniform(0.6, 1.7), who, rng):
                return

            async def propose(installments: int, by: dict[str, Any]) -> Any:
                return await self.api.call(
                    "payment",
                    "POST",
                    "/payment-plans",
                    json={
                        "case_id": case_id,
                        "total": {**money, "amount_minor": account.balance_minor},
                        "schedule": {
                            "first_due_on": first.isoformat(),
                            "count": installments,
                            "frequency": "weekly",
                        },
                        "channel": channel,
                    },
                    **by,
                )

            response = await propose(count, who)
            how = "plan agreed within the statement"
            if response.status_code == 403 and "supervisor-approval-required" in response.text:
                count *= 2  # smaller installments over longer, as the statement supports
                response = await propose(count, who)
                how = "plan lengthened to fit the statement"
            if response.status_code == 403 and "supervisor-approval-required" in response.text:
                response = await propose(count, {"role": "supervisor", "subject": "sup-1"})
                how = "plan above the statement agreed by a supervisor"
            if response.status_code != 201:
                self._record_error("POST /payment-plans", response)
                return
            self.stats.actions["plan agreed"] += 1
            self.stats.actions[how] += 1
            zone = ZoneInfo(account.row["time_zone"])
            keeps = rng.random() < 0.75
            for n, installment in enumerate(response.json()["installments"][:3]):
                if not keeps and n >= 1:
                    break
                due = date.fromisoformat(installment["due_on"])
                at = datetime.combine(due, datetime.min.time(), zone) + timedelta(hours=rng.randint(8, 18))
                self.pending.append(
                    Pending(
                        at,
                        case_id,
                        int(installment["amount"]["amount_minor"]),
                        rng.random() < 0.5,
                        "installment",
                    )
                )
        elif persona == "settlement":
            amount = account.balance_minor * rng.randint(82, 92) // 100
            due_on = today + timedelta(days=rng.randint(3, 10))
            response = await self.api.call(
                "payment",
                "POST",
                "/settlements",
                json={
                    "case_id": case_id,
                    "amount": {**money, "amount_minor": amount},
                    "due_on": due_on.isoformat(),
                },
                **who,
            )
            if response.status_code != 201:
                self._record_error("POST /settlements", response)
                return
            self.stats.actions["settlement agreed"] += 1
            at = self.now + timedelta(days=rng.randint(1, 3), hours=rng.randint(0, 6))
            self.pending.append(Pending(at, case_id, amount, rng.random() < 0.5, "settlement"))
            account.balance_minor = amount  # the rest is waived once the settlement is paid
        elif persona in ("disputes", "ceases"):
            kind = "dispute" if persona == "disputes" else "cease_communication"
            body: dict[str, Any] = {
                "case_id": case_id,
                "kind": kind,
                # half the disputes are followed up in writing (within the US validation period that
                # holds the case for verification), the others stay oral (held for review)
                "received_via": (channel if rng.random() < 0.5 else "letter")
                if kind == "dispute"
                else "letter",
                "reason": "the debtor says the amount is wrong"
                if kind == "dispute"
                else "written request to stop",
            }
            response = await self.api.call("contact", "POST", "/debtor-requests", json=body, **who)
            if response.status_code != 201:
                self._record_error("POST /debtor-requests", response)
                return
            self.stats.actions[f"{kind} request"] += 1

    async def verify_and_litigate(self) -> None:
        """The back office after the days: verification goes out for every dispute awaiting it (with
        the statement it rests on), and a supervisor refers the legal-stage cases that may be sued on
        to a solicitor, records the claim, a judgment for the balance with costs, and enforcement."""
        cases = await self._cases()
        task = self.progress.add_task("verifying disputes, referring to legal", total=len(cases))

        def job(case: dict[str, Any]) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                try:
                    await self._verify(case)
                    if case["stage"] == "legal" and case["status"] == "open":
                        await self._litigate(case)
                finally:
                    self.progress.advance(task)

            return run

        await bounded(self.s.concurrency, [job(c) for c in cases])

    async def _verify(self, case: dict[str, Any]) -> None:
        case_id = case["case_id"]
        response = await self.api.call(
            "contact", "GET", f"/cases/{case_id}/disputes", role="supervisor", subject="sup-1"
        )
        if response.status_code != 200:
            return
        for dispute in response.json()["disputes"]:
            if dispute["status"] != "verification_pending":
                continue
            document = {
                "document_id": f"stmt-{case_id[:8]}",
                "kind": "statement",
                "description": "last statement",
            }
            sent = await self.api.call(
                "contact",
                "POST",
                f"/cases/{case_id}/disputes/{dispute['dispute_id']}/verification",
                json={"channel": "letter", "documents": [document]},
                role="supervisor",
                subject="sup-1",
            )
            if sent.status_code == 201:
                self.stats.actions["dispute verified (VerificationSent)"] += 1
            else:
                self._record_error("POST /cases/{id}/disputes/{id}/verification", sent)

    async def _litigate(self, case: dict[str, Any]) -> None:
        case_id = case["case_id"]
        who: dict[str, Any] = {"role": "supervisor", "subject": "sup-1"}
        referral = await self.api.call(
            "case",
            "POST",
            f"/cases/{case_id}/legal/referral",
            json={
                "handler": "solicitor",
                "handler_id": "firm-demo-legal",
                "reason": "no arrangement at 91+ days",
            },
            **who,
        )
        if referral.status_code == 409:
            problem = referral.json()["type"].rsplit("/", 1)[-1]
            self.stats.actions[f"legal referral refused ({problem})"] += 1
            return
        if referral.status_code != 201:
            self._record_error("POST /cases/{id}/legal/referral", referral)
            return
        self.stats.actions["referred to legal"] += 1
        referral_id = referral.json()["referral_id"]
        currency, balance = case["balance"]["currency"], int(case["balance"]["amount_minor"])
        today = self.now.date()
        costs = {"amount_minor": max(1, balance // 50), "currency": currency}
        steps: list[dict[str, Any]] = [
            {
                "step": "claim_filed",
                "on": today.isoformat(),
                "court": "demo court",
                "reference": f"CL-{case_id[:8]}",
                "costs": costs,
            },
            {
                "step": "judgment",
                "on": today.isoformat(),
                "judgment_amount": {"amount_minor": balance, "currency": currency},
                "costs": costs,
            },
            {"step": "enforcement", "on": today.isoformat(), "enforcement": "attachment_of_earnings"},
        ]
        for step in steps:
            response = await self.api.call(
                "case",
                "POST",
                f"/cases/{case_id}/legal/steps",
                json={"referral_id": referral_id, **step},
                **who,
            )
            if response.status_code == 409 and response.json()["type"].endswith("/case-closed"):
                # Paid in full (a plan instalment or the debtor's own payment) while the claim was
                # being prepared: the proceedings stop there.
                self.stats.actions["legal stopped: case closed while in legal"] += 1
                return
            if response.status_code != 201:
                self._record_error("POST /cases/{id}/legal/steps", response)
                return
        self.stats.actions["judgment and enforcement recorded"] += 1

    async def settle(self, settle_hours: int) -> None:
        """After the last working day: time moves on (no contacts) so due payments and deadlines happen."""
        for _ in range(0, settle_hours, 6):
            await self.move_clock(self.now + timedelta(hours=6))
            await self.pay_due()
