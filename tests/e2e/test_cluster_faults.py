"""Faults on a three-broker cluster under load, with two replicas of case-service and audit-service:
a broker killed and restarted, a replica killed mid-batch (the relay's leader among them) and started
again. Each test counts what was published, seen, lost and doubled, by event id on the topic and by
effect in the services' own stores, and prints the counts.

They need the embedded cluster (`make test-cluster`, or `DCP_KAFKA_BROKERS=3 make test`): on one
broker there is nothing to fail over to, so they are skipped there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from dcp_devstack import kafka as embedded_kafka
from dcp_devstack.config import StackConfig
from dcp_devstack.postgres import _asyncpg_dsn

from .bench_pipeline import START, placement
from .platform_under_test import Platform, launch, start_platform, stop_platform, token, wait_ready

pytestmark = pytest.mark.integration

PLACEMENTS = 1200
PACE = 120  # placements per second from the integrator while the fault happens
SETTLE_WITHIN = 240.0  # seconds after the last placement for every case to be opened and audited
REPLICAS = {"case": 2, "audit": 2}
PARTITIONS = 6


def cluster() -> StackConfig:
    cfg = StackConfig.from_env()
    if cfg.kafka_brokers < 3 or embedded_kafka.running_pid(cfg) is None:
        pytest.skip("needs the embedded three-broker cluster (make test-cluster)")
    return cfg


async def integrator(platform: Platform, records: list[tuple[str, bytes]], progress: list[int]) -> int:
    """Publish at `PACE` per second (acks=all, idempotent, as an integrator's producer); how many the
    cluster acknowledged."""
    producer = AIOKafkaProducer(
        bootstrap_servers=platform.kafka_bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    acknowledged = 0
    try:
        chunk = max(PACE // 10, 1)
        for start in range(0, len(records), chunk):
            began = time.monotonic()
            sends = [
                await producer.send(platform.topic("integration.placements"), value=value, key=key.encode())
                for key, value in records[start : start + chunk]
            ]
            await asyncio.gather(*sends)
            acknowledged += len(sends)
            progress[0] = acknowledged
            await asyncio.sleep(max(0.0, 0.1 - (time.monotonic() - began)))
    finally:
        await producer.stop()
    return acknowledged


async def opened_on_topic(platform: Platform) -> list[tuple[str, str]]:
    """(case id, event id) of every CaseOpened record on collections.cases, copies included."""
    consumer = AIOKafkaConsumer(
        platform.topic("collections.cases"),
        bootstrap_servers=platform.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[tuple[str, str]] = []
    try:
        quiet = 0
        while quiet < 4:
            batch = await consumer.getmany(timeout_ms=400, max_records=5000)
            quiet = 0 if batch else quiet + 1
            for records in batch.values():
                for r in records:
                    if b'"collections.case.opened.' in r.value:
                        found.append((r.key.decode(), json.loads(r.value)["id"]))
    finally:
        await consumer.stop()
    return found


async def fetch_one(database_url: str, query: str) -> asyncpg.Record:
    conn = await asyncpg.connect(_asyncpg_dsn(database_url))
    try:
        row = await conn.fetchrow(query)
        assert row is not None
        return row
    finally:
        await conn.close()


async def settled(platform: Platform, expected: int, deadline: float, interval: float = 1.0) -> None:
    """Until case-service opened `expected` cases and the audit trail holds all of their CaseOpened."""
    while True:
        cases = await fetch_one(
            platform.databases["case"],
            "SELECT count(*) AS n FROM events WHERE event_type LIKE 'collections.case.opened.%'",
        )
        audited = await fetch_one(
            platform.databases["audit"],
            "SELECT count(DISTINCT event_id) AS n FROM audit_entries "
            "WHERE event_type LIKE 'collections.case.opened.%'",
        )
        if cases["n"] >= expected and audited["n"] >= expected:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{cases['n']} cases opened and {audited['n']} audited of {expected} in time"
            )
        await asyncio.sleep(1.0)


@dataclass
class Counts:
    published: int
    seen: int  # distinct cases with a CaseOpened on the topic
    lost: int
    doubled: int  # cases opened twice (two CaseOpened event ids), on the topic or in the event store
    topic_copies: int  # records repeating an event id already on the topic (a relay re-send)
    audit_redeliveries: int  # the copies the audit trail marked as redeliveries
    audit_events: int  # distinct CaseOpened event ids in the trail

    def line(self, what: str) -> str:
        return (
            f"\n  {what}: published {self.published}, seen {self.seen}, lost {self.lost}, "
            f"doubled {self.doubled} (topic copies {self.topic_copies}, marked as redeliveries by the "
            f"audit trail {self.audit_redeliveries}, audited {self.audit_events})"
        )


async def count(platform: Platform, keys: set[str], published: int) -> Counts:
    on_topic = await opened_on_topic(platform)
    ids_by_case: dict[str, set[str]] = {}
    for case_id, event_id in on_topic:
        ids_by_case.setdefault(case_id, set()).add(event_id)
    stored = await fetch_one(
        platform.databases["case"],
        "SELECT count(*) AS n, count(DISTINCT stream_id) AS cases FROM events "
        "WHERE event_type LIKE 'collections.case.opened.%'",
    )
    audit = await fetch_one(
        platform.databases["audit"],
        "SELECT count(DISTINCT event_id) AS events, count(*) FILTER (WHERE redelivery_of IS NOT NULL) "
        "AS redeliveries, count(*) AS entries FROM audit_entries "
        "WHERE event_type LIKE 'collections.case.opened.%'",
    )
    seen = len(keys & ids_by_case.keys())
    distinct_ids = sum(len(ids) for ids in ids_by_case.values())
    return Counts(
        published=published,
        seen=seen,
        lost=len(keys) - seen,
        doubled=sum(len(ids) > 1 for ids in ids_by_case.values()) + (stored["n"] - stored["cases"]),
        topic_copies=len(on_topic) - distinct_ids,
        audit_redeliveries=audit["redeliveries"],
        audit_events=audit["events"],
    )


async def verify(platform: Platform) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=platform.url("audit"), timeout=120) as client:
        signer = {"Authorization": f"Bearer {token('admin', 'adm-cluster')}"}
        signed = await client.post("/audit/checkpoints", headers=signer)
        assert signed.status_code in (200, 201), signed.text
        headers = {"Authorization": f"Bearer {token('auditor', 'aud-cluster')}"}
        response = await client.get("/audit/verify", headers=headers)
        response.raise_for_status()
        report: dict[str, object] = response.json()
        return report


async def leaders_of(bootstrap: str, topic: str) -> dict[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
        return {int(p["partition"]): int(p["leader"]) for p in described["partitions"]}
    finally:
        await admin.close()


_LEADER = re.compile(r'^dcp_relay_leader\{relay="[^"]*"\} ([0-9.]+)$', re.MULTILINE)


async def is_relay_leader(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            found = _LEADER.search((await client.get(f"{url}/metrics")).text)
    except httpx.HTTPError:
        return False
    return found is not None and float(found.group(1)) == 1.0


async def wait_for(progress: list[int], reached: int) -> None:
    while progress[0] < reached:
        await asyncio.sleep(0.05)


def check(counts: Counts, report: dict[str, object], keys: set[str]) -> None:
    assert counts.published == len(keys)
    assert counts.lost == 0
    assert counts.doubled == 0
    assert counts.audit_events == len(keys)
    assert counts.audit_redeliveries == counts.topic_copies  # every relay re-send marked, nothing else
    assert report["ok"] is True, report


async def test_a_broker_killed_and_restarted_under_load_loses_and_doubles_nothing(
    kafka_bootstrap: str, database_server_url: str, tmp_path: Path
) -> None:
    cfg = cluster()
    platform = await start_platform(
        kafka_bootstrap, database_server_url, START, tmp_path, replicas=REPLICAS, partitions=PARTITIONS
    )
    try:
        records = [placement(n, "broker") for n in range(PLACEMENTS)]
        progress = [0]
        producing = asyncio.create_task(integrator(platform, records, progress))
        await wait_for(progress, PLACEMENTS // 3)
        # the broker leading the first partition of the integrators' topic: producers, consumers and
        # the relays all lose a leader at once
        victim = (await leaders_of(kafka_bootstrap, platform.topic("integration.placements")))[0]
        killed_at = time.monotonic()
        await asyncio.to_thread(embedded_kafka.kill_node, cfg, victim)
        try:
            await asyncio.sleep(8)
        finally:
            await asyncio.to_thread(embedded_kafka.restart_node, cfg, victim)
        back_after = time.monotonic() - killed_at
        published = await producing
        await settled(platform, PLACEMENTS, time.monotonic() + SETTLE_WITHIN)
        counts = await count(platform, {key for key, _ in records}, published)
        report = await verify(platform)
    finally:
        stop_platform(platform)
    print(counts.line(f"broker {victim} killed for {back_after:.1f} s"))
    check(counts, report, {key for key, _ in records})


async def test_a_replica_killed_mid_batch_and_a_rebalance_lose_and_double_nothing(
    kafka_bootstrap: str, database_server_url: str, tmp_path: Path
) -> None:
    cluster()
    platform = await start_platform(
        kafka_bootstrap, database_server_url, START, tmp_path, replicas=REPLICAS, partitions=PARTITIONS
    )
    try:
        records = [placement(n, "replica") for n in range(PLACEMENTS)]
        progress = [0]
        producing = asyncio.create_task(integrator(platform, records, progress))
        await wait_for(progress, PLACEMENTS // 3)
        cases = platform.replicas["case"]
        leaders = [await is_relay_leader(c.url) for c in cases]
        assert leaders.count(True) == 1, leaders  # one relay publishes per database
        leader = cases[leaders.index(True)]
        standby = cases[1 - leaders.index(True)]
        auditor = platform.replicas["audit"][1]
        killed_at = time.monotonic()
        leader.process.kill()  # SIGKILL: mid-batch, no clean leave of the group
        auditor.process.kill()
        while not await is_relay_leader(standby.url):
            assert time.monotonic() - killed_at < 60, "the standby relay never took over"
            await asyncio.sleep(0.05)
        failover = time.monotonic() - killed_at
        await wait_for(progress, 2 * PLACEMENTS // 3)
        # both come back (a second rebalance of each group)
        launch(platform, "case", 3)
        launch(platform, "audit", 3)
        platform.replicas["case"].remove(leader)
        platform.replicas["audit"].remove(auditor)
        await wait_ready(platform)
        published = await producing
        await settled(platform, PLACEMENTS, time.monotonic() + SETTLE_WITHIN)
        counts = await count(platform, {key for key, _ in records}, published)
        report = await verify(platform)
    finally:
        with contextlib.suppress(Exception):
            stop_platform(platform)
    print(counts.line(f"relay leader and an audit replica killed; relay failover {failover:.2f} s"))
    check(counts, report, {key for key, _ in records})
