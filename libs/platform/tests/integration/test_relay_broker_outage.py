"""With the broker stopped, appends still succeed and the outbox grows; after restart nothing is lost."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import pytest

from dcp_devstack import kafka as embedded_kafka
from dcp_devstack.config import StackConfig
from dcp_events.canonical import decode_event
from dcp_platform.eventsourcing.relay import OutboxRelay
from dcp_platform.eventsourcing.store import EventStore

from .conftest import case_event, eventually, read_topic
from .test_outbox_relay import backlog

pytestmark = pytest.mark.integration


async def test_broker_outage_delays_events_and_loses_none(
    database: Any, kafka_bootstrap: str, new_topic: Any
) -> None:
    cfg = StackConfig.from_env()
    if embedded_kafka.running_pid(cfg) is None or cfg.kafka_bootstrap != kafka_bootstrap:
        pytest.skip("this test stops and restarts the broker, so it needs the embedded one (make test)")
    topic = await new_topic("outage")
    store = EventStore(database.engine)
    relay = OutboxRelay(database.engine, database.url, kafka_bootstrap, poll_interval=0.1, retry_backoff=0.2)
    store.set_on_commit(relay.wake)
    await relay.start()
    await store.append("case-0", 0, [case_event("case-0", 1, topic=topic)])
    await eventually(lambda: _is(backlog(database), 0))

    await asyncio.to_thread(embedded_kafka.stop, cfg)
    try:
        versions = {"case-0": 1, "case-1": 0, "case-2": 0}
        for _ in range(10):
            for case, version in versions.items():
                await store.append(case, version, [case_event(case, version + 1, topic=topic)])
                versions[case] = version + 1
        await asyncio.sleep(1.0)
        assert await backlog(database) == 30  # accepted, waiting for the broker
    finally:
        await asyncio.to_thread(embedded_kafka.start, cfg)

    await eventually(lambda: _is(backlog(database), 0), timeout=60)
    await relay.stop()
    messages = await read_topic(kafka_bootstrap, topic, expect=31, timeout=30)
    per_case: dict[str, list[int]] = defaultdict(list)
    for _, value, _ in messages:
        event = decode_event(value)
        if event.sequence not in per_case[event.subject]:  # a retried batch may repeat; consumers dedup
            per_case[event.subject].append(event.sequence or 0)
    assert per_case == {
        "case-0": list(range(1, 12)),
        "case-1": list(range(1, 11)),
        "case-2": list(range(1, 11)),
    }


async def _is(value: Any, expected: int) -> bool:
    return bool(await value == expected)
