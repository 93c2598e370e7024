"""What Kafka transactions would cost the outbox relay, beside the relay's idempotent sends.

The relay sends a batch of the outbox (idempotent producer, acks=all), then deletes the rows and stores
its progress in PostgreSQL. A crash between the two re-sends the batch: consumers drop the copies by
event id and the audit trail marks them as redeliveries. Kafka transactions could make the sends atomic
with a progress marker kept on the broker (the relay's batch and its last position committed together;
on start the relay reads the marker and skips what was committed), removing the copies for
`read_committed` readers. This measures the price of that on the relay's own path: the same batches of
1 KB records, idempotent as today versus one transaction per batch, on the same broker in the same run.

Run with `make bench`. Prints figures and ratios; asserts nothing about speed.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from dcp_devstack.benchreport import record
from dcp_devstack.kafka import create_topics_async

pytestmark = pytest.mark.integration

RECORDS = 20_000
BATCH = 500  # the relay's batch size
VALUE = b"x" * 1024


async def send_batches(
    producer: AIOKafkaProducer, topic: str, *, transactional: bool
) -> tuple[float, list[float]]:
    """(records/s, seconds per batch) of RECORDS sent in batches of BATCH."""
    per_batch: list[float] = []
    started = time.perf_counter()
    for first in range(0, RECORDS, BATCH):
        began = time.perf_counter()
        if transactional:
            async with producer.transaction():
                sends = [
                    await producer.send(topic, VALUE, key=str(n % 97).encode())
                    for n in range(first, first + BATCH)
                ]
            await asyncio.gather(*sends)
        else:
            sends = [
                await producer.send(topic, VALUE, key=str(n % 97).encode())
                for n in range(first, first + BATCH)
            ]
            await asyncio.gather(*sends)
        per_batch.append(time.perf_counter() - began)
    return RECORDS / (time.perf_counter() - started), per_batch


async def test_relay_batches_idempotent_and_in_transactions(kafka_bootstrap: str) -> None:
    topic = f"bench.relay.{uuid.uuid4().hex[:8]}"
    await create_topics_async(kafka_bootstrap, [topic], partitions=3)
    idempotent = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all", linger_ms=2
    )
    transactional = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap,
        transactional_id=f"bench-relay-{uuid.uuid4().hex[:6]}",
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
    )
    await idempotent.start()
    await transactional.start()
    try:
        await send_batches(idempotent, topic, transactional=False)  # warm-up of both connections
        await send_batches(transactional, topic, transactional=True)
        plain_rate, plain_batches = await send_batches(idempotent, topic, transactional=False)
        tx_rate, tx_batches = await send_batches(transactional, topic, transactional=True)
    finally:
        await idempotent.stop()
        await transactional.stop()
    plain_ms = 1000 * statistics.median(plain_batches)
    tx_ms = 1000 * statistics.median(tx_batches)
    print(f"\n  relay batches of {BATCH} x 1 KB records, {RECORDS:,} records")
    print(f"  idempotent (today):        {plain_rate:9,.0f} records/s, median batch {plain_ms:6.1f} ms")
    print(f"  one transaction per batch: {tx_rate:9,.0f} records/s, median batch {tx_ms:6.1f} ms")
    print(f"  ratio {tx_rate / plain_rate:.2f}x, +{tx_ms - plain_ms:.1f} ms per batch")
    record(
        "relay sends in Kafka transactions (one per batch of 500)",
        f"{tx_rate:,.0f} records/s",
        goal="decide: atomic sends vs re-sends marked",
        anchor=f"idempotent sends {plain_rate:,.0f} records/s",
        ratio=tx_rate / plain_rate,
    )
