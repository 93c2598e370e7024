"""The Kafka side of every consumer group: where each partition resumes, the fetch loop, a clean stop, lag.

The application's own database, not Kafka, knows how far a partition was applied: on assignment the
consumer asks its `ResumePoints` for each partition's next offset and seeks there (the beginning where
none is stored). Batches are handed over one partition at a time; the handler commits its effects with
the new position and says which offset it committed, which Kafka is then told for lag tooling only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord
from prometheus_client import Gauge

log = logging.getLogger(__name__)

CONSUMER_LAG = Gauge(
    "dcp_consumer_lag", "Messages behind the partition's end", ["consumer_group", "topic", "partition"]
)


FETCH_MIN_BYTES = 32 * 1024
FETCH_MAX_WAIT_MS = 100


class ResumePoints(Protocol):
    """Where the application left each partition."""

    async def next_offsets(self, partitions: Sequence[TopicPartition]) -> Mapping[TopicPartition, int | None]:
        """The next offset to read of each of `partitions`; None (or left out) when nothing is stored."""
        ...


PartitionBatch = Sequence[ConsumerRecord[bytes, bytes]]
BatchHandler = Callable[[TopicPartition, PartitionBatch], Awaitable[int | None]]
"""Applies one partition's records (offset order); returns the next offset it committed, None if none."""


async def seek_to_resume_points(
    consumer: AIOKafkaConsumer, resume: ResumePoints, partitions: Sequence[TopicPartition]
) -> dict[TopicPartition, int]:
    """Seek each of `partitions` to its resume point or, where none is stored, its beginning."""
    stored = await resume.next_offsets(partitions)
    unknown = [tp for tp in partitions if stored.get(tp) is None]
    # Explicit offsets only: mixing seek() with seek_to_beginning() in one assignment lets
    # aiokafka's pending reset override the stored position.
    beginnings = await consumer.beginning_offsets(unknown) if unknown else {}
    positions: dict[TopicPartition, int] = {}
    for tp in partitions:
        offset = stored.get(tp)
        positions[tp] = offset if offset is not None else beginnings.get(tp, 0)
        consumer.seek(tp, positions[tp])
    return positions


class _SeekToResumePoints(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: PartitionConsumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        await self._consumer.resume(assigned)
        if assigned:
            self._consumer.assigned.set()


class PartitionConsumer:
    """One consumer group's aiokafka life cycle: subscribe, resume, fetch by partition batch, stop, lag."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        group_id: str,
        topics: Sequence[str],
        resume: ResumePoints,
        on_batch: BatchHandler,
        batch_size: int = 500,
        topic_prefix: str = "",
    ) -> None:
        self._bootstrap = bootstrap_servers
        self.group_id = group_id
        # Topics are named without the prefix; the prefix isolates deployments (and tests) on one broker.
        self.topics = tuple(topics)
        self.topic_prefix = topic_prefix
        self._resume = resume
        self._on_batch = on_batch
        self._batch_size = batch_size
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.assigned = asyncio.Event()

    @property
    def subscribed_topics(self) -> list[str]:
        """The topics' names on the broker (with the deployment's prefix)."""
        return [self.topic_prefix + t for t in self.topics]

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=self._batch_size,
            # Under load the broker answers a fetch once 32 KiB are there (a few dozen events), so
            # that a busy group makes one request per batch, not one per record; idle, within 100 ms.
            fetch_min_bytes=FETCH_MIN_BYTES,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            client_id=f"dcp-{self.group_id}",
        )
        await self._consumer.start()
        self._consumer.subscribe(self.subscribed_topics, listener=_SeekToResumePoints(self))
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.group_id}")

    async def stop(self) -> None:
        """Stop fetching, finish and commit the batch in hand, then leave the group."""
        self._stopping.set()
        if self._task is not None:
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("consumer %s: consume loop ended with an error", self.group_id)
            self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def wait(self) -> None:
        """Until the consume loop ends (it ends on stop() or on an unrecoverable error)."""
        if self._task is not None:
            await self._task

    async def resume(self, partitions: Sequence[TopicPartition]) -> None:
        """Read `partitions` on from their resume points (as on assignment)."""
        assert self._consumer is not None
        await seek_to_resume_points(self._consumer, self._resume, partitions)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Read `tp` on from `offset` (the records fetched beyond it are dropped)."""
        assert self._consumer is not None
        self._consumer.seek(tp, offset)

    async def pause(self, seconds: float) -> None:
        """Wait `seconds`, or less when asked to stop."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _run(self) -> None:
        assert self._consumer is not None
        while not self._stopping.is_set():
            batches = await self._consumer.getmany(timeout_ms=200, max_records=self._batch_size)
            for tp, records in batches.items():
                # Finish the batch in hand even when asked to stop: its offsets commit with it.
                committed = await self._on_batch(tp, records)
                if committed is not None:
                    # Kafka's own committed offset is informational (lag tooling); the database is the truth.
                    with contextlib.suppress(Exception):
                        await self._consumer.commit({tp: committed})
            await self._report_lag()

    async def _report_lag(self) -> None:
        if self._consumer is None:
            return
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue
            with contextlib.suppress(Exception):
                position = await asyncio.wait_for(self._consumer.position(tp), timeout=1.0)
                CONSUMER_LAG.labels(self.group_id, tp.topic, str(tp.partition)).set(
                    max(highwater - position, 0)
                )
