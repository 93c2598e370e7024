"""Placements end to end, through Kafka, beside the broker's own perf tools on the same broker.

The four services run as processes (the e2e harness). N `AccountPlaced` records are produced onto
`integration.placements` (idempotent, acks=all); the figure is placements per second from the first
record sent until the audit trail holds every event the cases' opening wrote to `collections.cases`
(each case opened, relayed and chained). The anchors: `kafka-producer-perf-test` and
`kafka-consumer-perf-test` (the `kafka-tools` jar fetched with the broker) over records of the same
size on the same broker. Printed: each figure, its anchor and the ratio. No timed assertion.

Run: `make bench` (all benchmarks) or
`dcp-stack test -- tests/e2e/bench_pipeline.py -s -p no:cacheprovider`; `BENCH_PLACEMENTS=20000`
for a larger burst (default 2,000: a few minutes on two cores at today's rate).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from dcp_devstack.benchreport import record
from dcp_devstack.config import StackConfig
from dcp_devstack.kafka import create_topics_async

from .platform_under_test import Platform, start_platform, stop_platform

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 30, 13, 0, tzinfo=UTC)
PLACEMENTS = int(os.environ.get("BENCH_PLACEMENTS", "2000"))
TIMEOUT = float(os.environ.get("BENCH_PIPELINE_TIMEOUT", "1800"))


def placement(n: int, run: str) -> tuple[str, bytes]:
    """One `AccountPlaced` CloudEvent as an integrator writes it: (key = case id, value)."""
    reference = f"BENCH-{run}-{n:07d}"
    case_id = str(uuid.uuid5(uuid.UUID("6f1c7a52-3f0e-5d1b-9a51-0d0c0c0a5e11"), f"bench-bank\x1f{reference}"))
    balance = {"amount_minor": 150_000 + n % 1000, "currency": "USD"}
    zero = {"amount_minor": 0, "currency": "USD"}
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/bench/core-banking",
        "type": "integration.placement.placed.v1",
        "time": START.isoformat().replace("+00:00", "Z"),
        "subject": case_id,
        "datacontenttype": "application/json",
        "actor": "core-banking",
        "actorrole": "integration",
        "correlationid": f"bench-{run}-{n}",
        "data": {
            "placement_id": f"PL-{reference}",
            "debtor": {
                "debtor_id": f"D-{reference}",
                "full_name": "Bench Debtor",
                "phones": [
                    {
                        "number": "+12025550101",
                        "kind": "mobile",
                        "consent_to_call": True,
                        "consent_to_sms": False,
                    }
                ],
                "emails": [],
                "language": "en",
                "time_zone": "America/New_York",
                "time_zone_source": "address",
            },
            "account": {
                "creditor_id": "bench-bank",
                "account_reference": reference,
                "product": "credit_card",
            },
            "amounts": {"principal": balance, "interest": zero, "fees": zero, "total_balance": balance},
            "days_past_due": 20 + n % 100,
            "due_since": (date(2026, 11, 30) - timedelta(days=20 + n % 100)).isoformat(),
            "jurisdiction": "US",
            "risk_score": n % 1000,
        },
    }
    return case_id, json.dumps(event, separators=(",", ":")).encode()


async def produce(platform: Platform, records: list[tuple[str, bytes]]) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=platform.kafka_bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    started = time.perf_counter()
    try:
        sends = [
            await producer.send(
                platform.topic("integration.placements"),
                value=value,
                key=key.encode(),
                headers=[("content-type", b"application/cloudevents+json")],
            )
            for key, value in records
        ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def cases_opened(platform: Platform, expected: set[str], deadline: float) -> None:
    """Until a `CaseOpened` of every expected case is on `collections.cases`."""
    consumer = AIOKafkaConsumer(
        platform.topic("collections.cases"),
        bootstrap_servers=platform.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    missing = set(expected)
    try:
        while missing:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(missing)} of {len(expected)} cases not opened in time")
            for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                for record in records:
                    if b'"collections.case.opened.' in record.value:
                        missing.discard(record.key.decode())
    finally:
        await consumer.stop()


async def end_offsets(platform: Platform, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=platform.kafka_bootstrap)
    await consumer.start()
    try:
        parts = [
            TopicPartition(platform.topic(topic), p)
            for p in consumer.partitions_for_topic(platform.topic(topic)) or ()
        ]
        if not parts:
            await consumer.topics()
            parts = [
                TopicPartition(platform.topic(topic), p)
                for p in consumer.partitions_for_topic(platform.topic(topic)) or ()
            ]
        return {tp.partition: offset for tp, offset in (await consumer.end_offsets(parts)).items()}
    finally:
        await consumer.stop()


_HEAD = re.compile(r"^dcp_audit_chain_head_offset\{([^}]*)\} (\S+)$", re.M)


def chain_heads(metrics: str, topic: str) -> dict[int, int]:
    """partition -> the Kafka offset of the newest entry of the audit chain of `topic`."""
    heads: dict[int, int] = {}
    for labels, value in _HEAD.findall(metrics):
        found = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if found.get("topic") == topic:
            heads[int(found["partition"])] = int(float(value))
    return heads


async def audit_caught_up(platform: Platform, deadline: float) -> None:
    """Until the relay is quiet and the audit chain of every `collections.cases` partition reaches
    the topic's end."""
    previous: dict[int, int] | None = None
    async with httpx.AsyncClient(base_url=platform.url("audit"), timeout=10) as client:
        while time.monotonic() < deadline:
            ends = await end_offsets(platform, "collections.cases")
            heads = chain_heads((await client.get("/metrics")).text, platform.topic("collections.cases"))
            if ends == previous and all(heads.get(p, -1) >= end - 1 for p, end in ends.items() if end > 0):
                return
            previous = ends
            await asyncio.sleep(0.5)
    raise AssertionError("the audit trail did not catch up with collections.cases in time")


def perf_tool(main: str, *args: str) -> str:
    """Run one of the broker's perf tools from the fetched jars; its stdout."""
    cfg = StackConfig.from_env()
    quiet = cfg.kafka_dir / "log4j2-perf.yaml"
    quiet.write_text("Configuration:\n  Loggers:\n    Root:\n      level: error\n")
    result = subprocess.run(
        ["java", f"-Dlog4j2.configurationFile={quiet}", "-cp", f"{cfg.kafka_libs}/*", main, *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return result.stdout


async def anchors(platform: Platform, records: int, size: int) -> tuple[float, float]:
    """(records/s produced by kafka-producer-perf-test, records/s consumed by
    kafka-consumer-perf-test), acks=all and idempotent as the integrators' producer, same size."""
    topic = platform.topic(f"bench.anchor.{uuid.uuid4().hex[:6]}")
    await create_topics_async(platform.kafka_bootstrap, [topic], partitions=3)
    produced = await asyncio.to_thread(
        perf_tool,
        "org.apache.kafka.tools.ProducerPerformance",
        "--topic", topic,
        "--num-records", str(records),
        "--record-size", str(size),
        "--throughput", "-1",
        "--producer-props", f"bootstrap.servers={platform.kafka_bootstrap}",
        "acks=all", "enable.idempotence=true",
    )  # fmt: skip
    sent = re.findall(r"([0-9.]+) records/sec", produced)
    consumed = await asyncio.to_thread(
        perf_tool,
        "org.apache.kafka.tools.ConsumerPerformance",
        "--bootstrap-server", platform.kafka_bootstrap,
        "--topic", topic,
        "--messages", str(records),
    )  # fmt: skip
    header, line = [row for row in consumed.strip().splitlines() if "," in row][-2:]
    row = dict(zip([c.strip() for c in header.split(",")], [v.strip() for v in line.split(",")], strict=True))
    return float(sent[-1]), float(row["nMsg.sec"])


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process `pid` and its reaped children so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def cpu_by_process(platform: Platform) -> dict[str, float]:
    """CPU seconds so far of each service process, the PostgreSQL server and the Kafka broker."""
    usage: dict[str, float] = {}
    for service in platform.processes():  # every replica, summed per service
        usage[service.name] = usage.get(service.name, 0.0) + cpu_seconds(service.process.pid)
    for label, pattern in (("postgresql", "postgres"), ("kafka", "kafka.Kafka")):
        total = 0.0
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                    if pattern in command and "ProducerPerformance" not in command:
                        total += cpu_seconds(int(entry.name))
                except (OSError, ValueError):
                    continue
        usage[label] = total
    return usage


async def test_placements_end_to_end(kafka_bootstrap: str, database_server_url: str, tmp_path: Path) -> None:
    platform = await start_platform(kafka_bootstrap, database_server_url, START, tmp_path)
    try:
        run = uuid.uuid4().hex[:6]
        records = [placement(n, run) for n in range(PLACEMENTS)]
        size = sum(len(v) for _, v in records) // len(records)
        deadline = time.monotonic() + TIMEOUT
        cpu_before = cpu_by_process(platform)
        started = time.perf_counter()
        produce_seconds = await produce(platform, records)
        await cases_opened(platform, {key for key, _ in records}, deadline)
        opened_seconds = time.perf_counter() - started
        await audit_caught_up(platform, deadline)
        trail_seconds = time.perf_counter() - started
        cpu_after = cpu_by_process(platform)
        producer_anchor, consumer_anchor = await anchors(platform, max(PLACEMENTS * 5, 20_000), size)
    finally:
        stop_platform(platform)

    pipeline = PLACEMENTS / trail_seconds
    print(f"\n  pipeline: {PLACEMENTS:,} placements of {size} bytes, one process per service")
    produced_rate = PLACEMENTS / produce_seconds
    print(f"  produced onto integration.placements in {produce_seconds:.1f} s ({produced_rate:,.0f}/s)")
    opened_rate = PLACEMENTS / opened_seconds
    print(f"  every case opened (CaseOpened relayed) after {opened_seconds:.1f} s ({opened_rate:,.1f}/s)")
    print(f"  audit trail caught up after {trail_seconds:.1f} s")
    print(f"  placements end to end:    {pipeline:10,.1f}/s")
    print(f"  kafka-producer-perf-test: {producer_anchor:10,.0f}/s   ratio {pipeline / producer_anchor:.4f}x")
    print(f"  kafka-consumer-perf-test: {consumer_anchor:10,.0f}/s   ratio {pipeline / consumer_anchor:.4f}x")
    spent = {name: cpu_after[name] - cpu_before[name] for name in cpu_after}
    per_placement = "  ".join(f"{name} {1000 * cpu / PLACEMENTS:.2f}" for name, cpu in spent.items())
    total = sum(spent.values())
    print(f"  CPU ms per placement: {per_placement}  (total {1000 * total / PLACEMENTS:.2f})")
    cores = os.cpu_count() or 1
    bound = cores * PLACEMENTS / total
    print(f"  {cores} cores at that cost bound the pipeline at {bound:,.0f} placements/s")
    record(
        f"placements end to end ({PLACEMENTS:,}, one replica per service)",
        f"{pipeline:,.0f}/s",
        goal=">= 1,000/s",
        anchor=f"kafka-producer-perf-test {producer_anchor:,.0f}/s",
        ratio=pipeline / producer_anchor,
        met=pipeline >= 1000,
    )
    record(
        "placements end to end, beside the consumer tool",
        f"{pipeline:,.0f}/s",
        goal=">= 1,000/s",
        anchor=f"kafka-consumer-perf-test {consumer_anchor:,.0f}/s",
        ratio=pipeline / consumer_anchor,
        met=pipeline >= 1000,
    )
