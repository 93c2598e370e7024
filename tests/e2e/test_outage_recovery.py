"""PostgreSQL restarted under load: every service resumes by itself, nothing is dead-lettered,
nothing lost or applied twice. Readiness is false while the database is down and true after."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from dcp_devstack import postgres as embedded_postgres
from dcp_devstack.config import StackConfig

from .bench_pipeline import START, cases_opened, placement, produce
from .platform_under_test import Platform, start_platform, stop_platform

pytestmark = pytest.mark.integration

PLACEMENTS = 300
OUTAGE_SECONDS = 6.0
RESUME_WITHIN = 120.0  # the watchdog: processing resumes without a manual step within this bound


async def ready(platform: Platform) -> dict[str, int]:
    codes = {}
    async with httpx.AsyncClient(timeout=10) as client:
        for name in platform.services:
            try:
                codes[name] = (await client.get(f"{platform.url(name)}/readyz")).status_code
            except httpx.HTTPError:
                codes[name] = 0
    return codes


async def letters(platform: Platform, topic: str) -> int:
    consumer = AIOKafkaConsumer(
        platform.topic(topic) + ".dlq",
        bootstrap_servers=platform.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        count = 0
        for _ in range(5):
            count += sum(len(r) for r in (await consumer.getmany(timeout_ms=300)).values())
        return count
    finally:
        await consumer.stop()


async def opened_events(platform: Platform) -> list[tuple[bytes, str]]:
    consumer = AIOKafkaConsumer(
        platform.topic("collections.cases"),
        bootstrap_servers=platform.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        opened: list[tuple[bytes, str]] = []  # (case key, event id) of each CaseOpened record
        quiet = 0
        while quiet < 4:
            batch = await consumer.getmany(timeout_ms=300, max_records=5000)
            quiet = 0 if batch else quiet + 1
            for records in batch.values():
                opened += [
                    (r.key, json.loads(r.value)["id"])
                    for r in records
                    if b'"collections.case.opened.' in r.value
                ]
        return opened
    finally:
        await consumer.stop()


async def test_services_resume_by_themselves_after_a_database_restart(
    kafka_bootstrap: str, database_server_url: str, tmp_path: Path
) -> None:
    cfg = StackConfig.from_env()
    if embedded_postgres.running_pid(cfg) is None or cfg.database_url != database_server_url:
        pytest.skip("stops and restarts PostgreSQL, so it needs the embedded stack (make test)")
    platform = await start_platform(kafka_bootstrap, database_server_url, START, tmp_path)
    try:
        records = [placement(n, "outage") for n in range(PLACEMENTS)]
        await produce(platform, records[: PLACEMENTS // 3])
        await asyncio.to_thread(embedded_postgres.stop, cfg)
        try:
            await produce(platform, records[PLACEMENTS // 3 :])  # placed while the database is down
            await asyncio.sleep(OUTAGE_SECONDS)
            down = await ready(platform)
        finally:
            await asyncio.to_thread(embedded_postgres.start, cfg)
        assert all(code == 503 for code in down.values()), down

        deadline = time.monotonic() + RESUME_WITHIN
        await cases_opened(platform, {key for key, _ in records}, deadline)
        while time.monotonic() < deadline and set((await ready(platform)).values()) != {200}:
            await asyncio.sleep(0.5)
        assert set((await ready(platform)).values()) == {200}
        opened = await opened_events(platform)
        assert await letters(platform, "integration.placements") == 0  # no good placement dead-lettered
    finally:
        stop_platform(platform)
    events_per_case: dict[bytes, set[str]] = {}
    for key, event_id in opened:
        events_per_case.setdefault(key, set()).add(event_id)
    copies = len(opened) - len(set(opened))
    print(f"\n  published {PLACEMENTS}, opened {len(events_per_case)}, re-sent copies {copies}")
    assert len(events_per_case) == PLACEMENTS
    # none opened twice: one CaseOpened event per case. The relay may send an event again when the
    # database went away between its send and its note of it (at least once; consumers and the audit
    # trail take each event id once), never a second event.
    assert all(len(ids) == 1 for ids in events_per_case.values()), {
        k: v for k, v in events_per_case.items() if len(v) > 1
    }


async def test_poison_records_of_every_kind_are_dead_lettered_and_the_next_placement_opens(
    platform: Platform,
) -> None:
    """Bad JSON, bad UTF-8, a wrong schema, an unknown type, no key, a record larger than the
    dead-letter topic accepts (gzip on the wire) and an event of another topic, then a good placement:
    each poison record is one dead letter with its reason, and the placement after them opens."""
    import json
    import uuid

    from aiokafka import AIOKafkaProducer

    good_key, good = placement(0, "poison")

    def variant(**change: object) -> dict[str, object]:  # another event (its own id) of the same shape
        return {**json.loads(good), "id": str(uuid.uuid4()), **change}

    schema = variant()
    del schema["data"]["debtor"]  # type: ignore[attr-defined]
    unknown = variant(type="integration.placement.teleported.v1")
    other_topic = variant(type="integration.payment.posted.v1")
    poison: list[tuple[bytes | None, bytes]] = [
        (b"k-json", b"{not json"),
        (b"k-utf8", b"\xff\xfe\x00"),
        (b"k-schema", json.dumps(schema).encode()),
        (b"k-unknown", json.dumps(unknown).encode()),
        (None, b"{}"),
        (b"k-huge", b"{" + b"x" * (3 * 2**20)),
        (b"k-topic", json.dumps(other_topic).encode()),
    ]
    producer = AIOKafkaProducer(
        bootstrap_servers=platform.kafka_bootstrap, compression_type="gzip", max_request_size=8 * 2**20
    )
    await producer.start()
    try:
        topic = platform.topic("integration.placements")
        for key, value in poison:
            await producer.send_and_wait(topic, value=value, key=key, partition=0)
        await producer.send_and_wait(topic, value=good, key=good_key.encode(), partition=0)
    finally:
        await producer.stop()

    await cases_opened(platform, {good_key}, time.monotonic() + 60)
    dead = AIOKafkaConsumer(
        topic + ".dlq", bootstrap_servers=platform.kafka_bootstrap, auto_offset_reset="earliest"
    )
    await dead.start()
    reasons: dict[bytes | None, bytes] = {}
    try:
        deadline = time.monotonic() + 30
        while len(reasons) < len(poison) and time.monotonic() < deadline:
            for records in (await dead.getmany(timeout_ms=300)).values():
                for r in records:
                    reasons[r.key] = dict(r.headers)["dlq.error"]
    finally:
        await dead.stop()
    assert set(reasons) == {key for key, _ in poison}
    assert b"belongs on integration.payments" in reasons[b"k-topic"]
    assert b"cannot decode" in reasons[b"k-huge"]
