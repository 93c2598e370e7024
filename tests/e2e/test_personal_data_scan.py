"""A scan for the personal data a test sent: one placement the platform opens, one it refuses. Neither
debtor's name, phone number nor national id is anywhere in clear in what the platform wrote: its
topics, the refused placement's dead letter, or any service's log."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from .bench_pipeline import cases_opened, placement, produce
from .platform_under_test import Platform

pytestmark = pytest.mark.integration


def with_debtor(n: int, run: str, name: str, phone: str, national_id: str) -> tuple[str, dict[str, Any]]:
    key, value = placement(n, run)
    event = json.loads(value)
    debtor = event["data"]["debtor"]
    debtor.update(full_name=name, national_id=national_id)
    debtor["phones"][0]["number"] = phone
    return key, event


async def records(platform: Platform, topic: str) -> list[tuple[bytes | None, bytes, dict[str, bytes]]]:
    consumer = AIOKafkaConsumer(
        platform.topic(topic),
        bootstrap_servers=platform.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        found: list[tuple[bytes | None, bytes, dict[str, bytes]]] = []
        idle = 0
        while idle < 3:
            batches = await consumer.getmany(timeout_ms=400)
            idle = 0 if batches else idle + 1
            for batch in batches.values():
                found += [(r.key, r.value or b"", dict(r.headers or ())) for r in batch]
        return found
    finally:
        await consumer.stop()


async def test_no_personal_data_a_test_sent_is_in_clear_in_topics_dead_letters_or_logs(
    platform: Platform,
) -> None:
    run = uuid.uuid4().hex[:8]
    digits = str(int(run, 16) % 10_000).zfill(4)
    opened_key, opened = with_debtor(
        0, f"scan-{run}", f"Zebulon Quartermaine {run}", f"+1202555{digits}", f"QZ{run}A"
    )
    refused_key, refused = with_debtor(
        1, f"scan-{run}", f"Philippa Vandersloot {run}", f"+1303555{digits}", f"PV{run}B"
    )
    del refused["data"]["account"]  # not a placement any more: refused, dead-lettered
    personal = [
        value
        for event in (opened, refused)
        for value in (
            event["data"]["debtor"]["full_name"],
            event["data"]["debtor"]["phones"][0]["number"],
            event["data"]["debtor"]["national_id"],
        )
    ]
    await produce(
        platform, [(opened_key, json.dumps(opened).encode()), (refused_key, json.dumps(refused).encode())]
    )
    await cases_opened(platform, {opened_key}, time.monotonic() + 60)

    letters: list[tuple[bytes | None, bytes, dict[str, bytes]]] = []
    deadline = time.monotonic() + 60
    while not letters and time.monotonic() < deadline:
        letters = [
            r for r in await records(platform, "integration.placements.dlq") if r[0] == refused_key.encode()
        ]
    assert letters, "the refused placement was dead-lettered"
    [(_, letter, headers)] = letters
    assert headers.get("dlq.sealed") == b"v1"
    written = {"the dead letter": letter}
    for topic in ("collections.cases", "collections.contacts", "collections.payments"):
        written[topic] = b"\n".join(value for _, value, _ in await records(platform, topic))
    assert platform.logs is not None
    for log in sorted(platform.logs.glob("*.log")):
        written[log.name] = log.read_bytes()
    for where, content in written.items():
        for value in personal:
            assert value.encode() not in content, f"{value} in clear in {where}"
