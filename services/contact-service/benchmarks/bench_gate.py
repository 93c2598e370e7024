"""Gate decision latency with 1,000,000 contact history rows in the database.

Reports p50/p99 of: the pure decision (`dcp_compliance.decide`, history in memory); the decision
in-process with its history query (the CheckContact command through the bus); POST /contact-checks over
HTTP (ASGI); and the two phases of a contact on a permit over HTTP: POST /contact-permits (the decision
under the debtor's lock, the signed permit, its reservation and expiry timer) and POST
/contact-permits/{id}/outcome (the attempt recorded on it), each on another debtor's case.
Run with `make bench`. Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager

from contact_service.adapters import projections as rm
from contact_service.application.commands import CheckContact
from contact_service.main import MIGRATIONS, ContactServiceSettings, create_app
from dcp_compliance import Channel, ProposedContact, decide, load_pack
from dcp_devstack.benchreport import record
from dcp_devstack.testing import drop_database, new_database, new_topic_prefix
from dcp_events import encode_event
from dcp_events.catalogue import Assignee, CaseAmounts, CaseAssigned, CaseOpened, Money, new_event
from dcp_events.catalogue.debtor import Account, Debtor, PhoneNumber
from dcp_events.catalogue.enums import AssigneeKind, PhoneKind, TimeZoneSource
from dcp_platform import migrations
from dcp_platform.auth import Principal, Role
from dcp_platform.settings import DEV_HS256_SECRET
from dcp_platform.tokens import issue_token

pytestmark = pytest.mark.integration

ROWS = 1_000_000
DEBTORS = 100_000
SAMPLES = 500
PERMIT_CASES = 300  # one permit and its outcome per case, each another debtor's
NOW = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)  # 12:00 in New York

FILL = """
INSERT INTO contacts (attempt_id, case_id, debtor_id, at, decision, channel, party, purpose, outcome,
    collector_id, contact_point, duration_seconds, pack_id, pack_version)
SELECT 'b-' || g, 'bc-' || (g % $2), 'bd-' || (g % $2),
       $3::timestamptz - make_interval(secs => (g % 5184000)),
       CASE WHEN g % 17 = 0 THEN 'deny' ELSE 'allow' END, 'phone', 'debtor', 'collection',
       CASE WHEN g % 5 = 0 THEN 'right_party_contact' ELSE 'no_answer' END,
       'col-1', '+12025550101', 30, 'us-regf', '2026.1'
FROM generate_series(1, $1) AS g
"""


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def percentiles(samples: list[float]) -> str:
    qs = statistics.quantiles(samples, n=100, method="inclusive")
    return f"p50 {qs[49] * 1000:.3f} ms  p99 {qs[98] * 1000:.3f} ms  (n={len(samples)})"


async def test_gate_latency_with_a_million_history_rows(
    database_server_url: str, kafka_bootstrap: str
) -> None:
    url = await new_database(database_server_url, "bench")
    prefix = await new_topic_prefix(kafka_bootstrap, "b")
    settings = ContactServiceSettings(
        service_database_url=url,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=prefix,
        clock_mode="fixed",
        clock_fixed_at=NOW,
        log_level="WARNING",
    )
    try:
        await asyncio.to_thread(migrations.upgrade, MIGRATIONS, settings.sqlalchemy_url)
        db = await asyncpg.connect(url)
        started = time.perf_counter()
        await db.execute(FILL, ROWS, DEBTORS, NOW - timedelta(minutes=1))
        await db.execute("ANALYZE contacts")
        print(f"\n  filled {ROWS:,} contact rows in {time.perf_counter() - started:.1f} s")
        await db.close()

        app = create_app(settings)
        async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
            case_id = "bc-42"  # debtor bd-42 has 10 contacts in the last 60 days among the million rows
            # debtors whose history holds no conversation (FILL: every fifth debtor's calls were answered)
            debtors = [n for n in range(1000, 1000 + 2 * PERMIT_CASES) if n % 5][:PERMIT_CASES]
            permit_cases = [(f"bc-{n}", f"bd-{n}") for n in debtors]
            await publish_cases(kafka_bootstrap, prefix, [(case_id, "bd-42"), *permit_cases])
            api = app.state.contact_api
            principal = Principal(subject="col-1", role=Role.COLLECTOR)
            proposed = ProposedContact(channel=Channel.PHONE)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                async with api.runtime.engine.connect() as conn:
                    if await rm.load_case(conn, permit_cases[-1][0]) is not None:
                        break
                await asyncio.sleep(0.05)

            async with api.runtime.engine.connect() as conn:
                case = await rm.load_case(conn, case_id)
                assert case is not None
                pack = load_pack("US")
                history = await rm.history(conn, case.debtor_id, NOW - pack.lookback())
            pure = []
            for _ in range(SAMPLES * 4):
                t0 = time.perf_counter()
                decide(pack, case.facts, history, proposed, NOW)
                pure.append(time.perf_counter() - t0)

            in_process = []
            for _ in range(SAMPLES):
                t0 = time.perf_counter()
                decision = await api.handle(CheckContact(principal, case_id, proposed))
                in_process.append(time.perf_counter() - t0)

            jwt = issue_token(
                secret=DEV_HS256_SECRET,
                role=Role.COLLECTOR,
                subject="col-1",
                issuer="dcp",
                audience="dcp-api",
            )
            headers = {"Authorization": f"Bearer {jwt}"}
            body = {"case_id": case_id, "channel": "phone"}
            over_http = []
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://c"
            ) as client:
                for _ in range(SAMPLES):
                    t0 = time.perf_counter()
                    r = await client.post("/contact-checks", json=body, headers=headers)
                    over_http.append(time.perf_counter() - t0)
                    assert r.status_code == 200
                permits, outcomes = [], []
                for permit_case, _debtor in permit_cases:
                    t0 = time.perf_counter()
                    r = await client.post(
                        "/contact-permits", json={"case_id": permit_case, "channel": "phone"}, headers=headers
                    )
                    permits.append(time.perf_counter() - t0)
                    assert r.status_code == 201, r.text
                    t0 = time.perf_counter()
                    done = await client.post(
                        f"/contact-permits/{r.json()['permit_id']}/outcome",
                        json={"outcome": "no_answer", "duration_seconds": 20},
                        headers=headers,
                    )
                    outcomes.append(time.perf_counter() - t0)
                    assert done.status_code == 201, done.text
        print(
            f"  debtor history in the counting window: {len(history)} rows; decision: {decision.verdict.value}"
            f" {decision.rule_id or ''}"
        )
        print(f"  decide() pure, in memory:                 {percentiles(pure)}")
        print(f"  gate in-process (history query + decide): {percentiles(in_process)}")
        print(f"  POST /contact-checks over HTTP (ASGI):    {percentiles(over_http)}")
        print(f"  POST /contact-permits over HTTP (ASGI):   {percentiles(permits)}")
        print(f"  POST /contact-permits/{{id}}/outcome:       {percentiles(outcomes)}")
        gate_p99, pure_p99 = p99(in_process), p99(pure)
        record(
            f"gate in-process, {ROWS:,} history rows",
            f"p99 {gate_p99 * 1000:.2f} ms",
            goal="p99 < 3 ms",
            anchor=f"decide() alone p99 {pure_p99 * 1000:.3f} ms",
            ratio=pure_p99 / gate_p99,
            met=gate_p99 < 0.003,
        )
        check_p99, permit_p99 = p99(over_http), p99(permits)
        record(
            f"permit issued over HTTP, {ROWS:,} history rows",
            f"p99 {permit_p99 * 1000:.2f} ms",
            goal="p99 < 25 ms (a dialer asks before each call)",
            anchor=f"POST /contact-checks p99 {check_p99 * 1000:.2f} ms",
            ratio=check_p99 / permit_p99,
            met=permit_p99 < 0.025,
        )
    finally:
        await drop_database(database_server_url, url)


async def publish_cases(bootstrap: str, prefix: str, cases: list[tuple[str, str]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for case_id, debtor_id in cases:
            for payload in case_events(debtor_id):
                event = new_event(
                    payload,
                    subject=case_id,
                    source="/bench",
                    actor="bench",
                    actorrole="service",
                    correlationid="b",
                    time=NOW,
                )
                await producer.send(prefix + "collections.cases", encode_event(event), key=case_id.encode())
        await producer.flush()
    finally:
        await producer.stop()


def case_events(debtor_id: str) -> tuple[CaseOpened, CaseAssigned]:
    usd = Money(amount_minor=100_000, currency="USD")
    opened = CaseOpened(
        debtor=Debtor(
            debtor_id=debtor_id,
            full_name="Bench Mark",
            phones=[
                PhoneNumber(
                    number="+12025550101", kind=PhoneKind.MOBILE, consent_to_call=True, consent_to_sms=True
                )
            ],
            language="en",
            time_zone="America/New_York",
            time_zone_source=TimeZoneSource.ADDRESS,
        ),
        account=Account(creditor_id="bank", account_reference="b", product="card"),
        amounts=CaseAmounts(principal=usd, interest=usd, fees=usd, total_balance=usd),
        days_past_due=30,
        due_since=date(2026, 5, 1),
        jurisdiction="US",
    )
    assigned = CaseAssigned(assignee=Assignee(kind=AssigneeKind.COLLECTOR, id="col-1"), reason="bench")
    return opened, assigned
