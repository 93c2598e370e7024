"""The consumer life cycle every consumer group shares: resume where the application says, clean stop, lag."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import REGISTRY

from dcp_platform.eventsourcing.partitions import PartitionBatch, PartitionConsumer

from .conftest import eventually

pytestmark = pytest.mark.integration


class FixedResumePoints:
    """Resume points held in memory: partition -> next offset."""

    def __init__(self, points: Mapping[int, int]) -> None:
        self.points = dict(points)
        self.asked: list[list[TopicPartition]] = []

    async def next_offsets(self, partitions: Sequence[TopicPartition]) -> Mapping[TopicPartition, int | None]:
        self.asked.append(list(partitions))
        return {tp: self.points.get(tp.partition) for tp in partitions}


async def produce(bootstrap: str, topic: str, partition: int, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for n in range(count):
            await producer.send_and_wait(topic, value=f"{partition}-{n}".encode(), partition=partition)
    finally:
        await producer.stop()


async def kafka_committed(bootstrap: str, group_id: str, tp: TopicPartition) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False)
    await consumer.start()
    try:
        committed: int | None = await consumer.committed(tp)
        return committed
    finally:
        await consumer.stop()


async def test_each_partition_resumes_at_its_resume_point_or_its_beginning(
    kafka_bootstrap: str, new_topic: Any
) -> None:
    topic = await new_topic("resume", partitions=2)
    await produce(kafka_bootstrap, topic, 0, 5)
    await produce(kafka_bootstrap, topic, 1, 3)
    seen: dict[int, list[int]] = {0: [], 1: []}

    async def record(tp: TopicPartition, records: PartitionBatch) -> int | None:
        seen[tp.partition] += [r.offset for r in records]
        return int(records[-1].offset) + 1

    resume = FixedResumePoints({0: 3})  # partition 1 has none stored: it is read from its beginning
    consumer = PartitionConsumer(
        kafka_bootstrap, group_id=f"g-{topic}", topics=[topic], resume=resume, on_batch=record
    )
    await consumer.start()
    try:
        await asyncio.wait_for(consumer.assigned.wait(), 60)

        async def all_read() -> bool:
            return len(seen[0]) >= 2 and len(seen[1]) >= 3

        await eventually(all_read)
        await asyncio.sleep(0.3)  # anything read twice would show up now
    finally:
        await consumer.stop()
    assert seen == {0: [3, 4], 1: [0, 1, 2]}
    assert sorted(tp.partition for tp in resume.asked[0]) == [0, 1]
    # Kafka is told what the handler committed (for lag tooling), and the lag is reported per partition.
    assert await kafka_committed(kafka_bootstrap, f"g-{topic}", TopicPartition(topic, 0)) == 5
    for partition in ("0", "1"):
        labels = {"consumer_group": f"g-{topic}", "topic": topic, "partition": partition}
        assert REGISTRY.get_sample_value("dcp_consumer_lag", labels) == 0


async def test_the_prefix_names_the_topics_on_the_broker_and_nothing_is_committed_when_told_so(
    kafka_bootstrap: str, new_topic: Any
) -> None:
    topic = await new_topic("prefixed", partitions=1)
    prefix, name = topic.split(".", 1)
    await produce(kafka_bootstrap, topic, 0, 2)
    batches: list[tuple[str, list[int]]] = []

    async def refuse(tp: TopicPartition, records: PartitionBatch) -> int | None:
        batches.append((tp.topic, [r.offset for r in records]))
        return None  # nothing committed: Kafka is not told either

    consumer = PartitionConsumer(
        kafka_bootstrap,
        group_id=f"g-{topic}",
        topics=[name],
        topic_prefix=f"{prefix}.",
        resume=FixedResumePoints({}),
        on_batch=refuse,
    )
    assert consumer.topics == (name,) and consumer.subscribed_topics == [topic]
    await consumer.start()
    try:

        async def read() -> bool:
            return sum(len(offsets) for _, offsets in batches) >= 2

        await eventually(read)
    finally:
        await consumer.stop()
    assert batches[0][0] == topic
    assert await kafka_committed(kafka_bootstrap, f"g-{topic}", TopicPartition(topic, 0)) is None


async def test_stop_finishes_the_batch_in_hand(kafka_bootstrap: str, new_topic: Any) -> None:
    topic = await new_topic("stop", partitions=1)
    await produce(kafka_bootstrap, topic, 0, 3)
    in_batch = asyncio.Event()
    finished: list[int] = []

    async def slow(tp: TopicPartition, records: PartitionBatch) -> int | None:
        in_batch.set()
        await asyncio.sleep(0.5)
        finished.extend(r.offset for r in records)
        return int(records[-1].offset) + 1

    consumer = PartitionConsumer(
        kafka_bootstrap, group_id=f"g-{topic}", topics=[topic], resume=FixedResumePoints({}), on_batch=slow
    )
    await consumer.start()
    await asyncio.wait_for(in_batch.wait(), 60)
    await consumer.stop()
    assert finished and finished == list(range(len(finished)))
    tp = TopicPartition(topic, 0)
    assert await kafka_committed(kafka_bootstrap, f"g-{topic}", tp) == finished[-1] + 1
