"""A steady stream of placements, as a bank's integration sends them through the day: `RATE` per
second for `SECONDS`, through Kafka to the four service processes. For each placement the time from
its publication to its `CaseOpened` on `collections.cases`; printed: p50 and p99, the median per 10 s
of publishing (flat when the platform keeps up, growing when it does not), and how many were still
not opened when the drain allowance ran out. No timed assertion.

Run: `make bench`, or `dcp-stack test -- tests/e2e/bench_steady.py -s -p no:cacheprovider`;
`BENCH_STEADY_RATE` (default 500/s), `BENCH_STEADY_SECONDS` (default 60; the goal is stated for 300),
`BENCH_STEADY_DRAIN` (seconds allowed after the last publication, default 60).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from dcp_devstack.benchreport import record

from .bench_pipeline import START, placement
from .platform_under_test import Platform, start_platform, stop_platform

pytestmark = pytest.mark.integration

RATE = int(os.environ.get("BENCH_STEADY_RATE", "500"))
SECONDS = int(os.environ.get("BENCH_STEADY_SECONDS", "60"))
DRAIN = float(os.environ.get("BENCH_STEADY_DRAIN", "60"))


async def publish_steadily(
    platform: Platform, records: list[tuple[str, bytes]], sent: dict[str, float]
) -> None:
    """`RATE` records a second, in ticks of 100 ms, each stamped with its send time."""
    producer = AIOKafkaProducer(
        bootstrap_servers=platform.kafka_bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        per_tick = max(RATE // 10, 1)
        started = time.perf_counter()
        for tick, start in enumerate(range(0, len(records), per_tick)):
            await asyncio.sleep(max(0.0, started + tick * 0.1 - time.perf_counter()))
            for key, value in records[start : start + per_tick]:
                sent[key] = time.perf_counter()
                await producer.send(
                    platform.topic("integration.placements"),
                    value=value,
                    key=key.encode(),
                    headers=[("content-type", b"application/cloudevents+json")],
                )
        await producer.flush()
    finally:
        await producer.stop()


async def watch_openings(
    platform: Platform, opened: dict[str, float], expected: int, stop: asyncio.Event
) -> None:
    consumer = AIOKafkaConsumer(
        platform.topic("collections.cases"),
        bootstrap_servers=platform.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        while len(opened) < expected and not stop.is_set():
            for records in (await consumer.getmany(timeout_ms=200, max_records=5000)).values():
                now = time.perf_counter()
                for record in records:
                    if b'"collections.case.opened.' in record.value:
                        opened.setdefault(record.key.decode(), now)
    finally:
        await consumer.stop()


def quantile(values: list[float], q: float) -> float:
    ranked = sorted(values)
    return ranked[min(len(ranked) - 1, max(0, round(q * len(ranked)) - 1))]


async def test_steady_placements(kafka_bootstrap: str, database_server_url: str, tmp_path: Path) -> None:
    platform = await start_platform(kafka_bootstrap, database_server_url, START, tmp_path)
    run = uuid.uuid4().hex[:6]
    records = [placement(n, run) for n in range(RATE * SECONDS)]
    sent: dict[str, float] = {}
    opened: dict[str, float] = {}
    stop = asyncio.Event()
    try:
        watcher = asyncio.create_task(watch_openings(platform, opened, len(records), stop))
        started = time.perf_counter()
        await publish_steadily(platform, records, sent)
        published_seconds = time.perf_counter() - started
        try:
            await asyncio.wait_for(asyncio.shield(watcher), timeout=DRAIN)
        except TimeoutError:
            stop.set()
            await watcher
    finally:
        stop_platform(platform)

    latencies = {key: opened[key] - sent[key] for key in sent if key in opened}
    missing = len(sent) - len(latencies)
    print(
        f"\n  steady: {len(sent):,} placements at {RATE}/s for {SECONDS} s"
        f" (published in {published_seconds:.1f} s)"
    )
    windows = []
    for w in range(0, SECONDS, 10):
        keys = [key for key, _ in records[w * RATE : (w + 10) * RATE]]
        # A placement not opened counts as still waiting: its latency is at least the drain's end.
        waits = [latencies.get(k, time.perf_counter() - sent[k]) for k in keys]
        windows.append(statistics.median(waits))
    print(
        "  publish -> CaseOpened, median per 10 s of publishing: " + ", ".join(f"{m:.1f} s" for m in windows)
    )
    every = [latencies.get(k, time.perf_counter() - sent[k]) for k in sent]
    p50, p99 = quantile(every, 0.5), quantile(every, 0.99)
    print(
        f"  p50 {p50:.2f} s, p99 {p99:.2f} s;"
        f" not opened {DRAIN:.0f} s after the last publication: {missing:,}"
    )
    flat = windows[-1] <= 2 * max(windows[0], 0.5)
    record(
        f"steady {RATE}/s for {SECONDS} s",
        f"p99 {p99:.1f} s, medians {windows[0]:.1f} -> {windows[-1]:.1f} s, {missing:,} behind",
        goal="p99 publish -> CaseOpened < 2 s, lag flat",
        met=p99 < 2 and flat and missing == 0,
    )
