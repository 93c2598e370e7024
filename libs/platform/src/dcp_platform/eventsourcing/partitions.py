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
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord
from prometheus_client import Counter, Gauge

log = logging.getLogger(__name__)

CONSUMER_LAG = Gauge(
    "dcp_consumer_lag", "Messages behind the partition's end", ["consumer_group", "topic", "partition"]
)


CONSUMER_RETRIES = Counter(
    "dcp_consumer_retries_total", "Consume-loop failures retried from the stored offsets", ["consumer_group"]
)
CONSUMER_STALLED = Gauge(
    "dcp_consumer_stalled",
    "1 while the group has lag and has made no progress for the stall threshold",
    ["consumer_group"],
)
RETRY_INITIAL_SECONDS = 0.5
RETRY_MAX_SECONDS = 30.0
STALLED_AFTER_SECONDS = float(os.environ.get("DCP_CONSUMER_STALLED_AFTER_SECONDS", "120"))
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
        self.failing: str | None = None
        self.lag = 0
        self.last_progress = time.monotonic()

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
            task, self._task = self._task, None
            # Wait for the batch in hand; a loop that already ended is collected, never re-raised here.
            await asyncio.wait([task])
            if not task.cancelled() and task.exception() is not None:
                log.error("consumer %s: consume loop had ended: %r", self.group_id, task.exception())
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def wait(self) -> None:
        """Until the consume loop ends: on stop(), or when the process is going down (errors are
        retried from the stored offsets, they do not end it)."""
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
        """Fetch and hand over batches until stopped. Any failure (the database or the broker gone,
        a handler's bug) is retried with backoff, from the stored resume points: the loop never ends
        on an error, and never reads past a batch that was not committed."""
        assert self._consumer is not None
        backoff = RETRY_INITIAL_SECONDS
        resume_first = False
        while not self._stopping.is_set():
            try:
                if resume_first:
                    await self.resume(list(self._consumer.assignment()))
                    resume_first = False
                await self._fetch_and_apply()
                backoff, self.failing = RETRY_INITIAL_SECONDS, None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failing = f"{type(exc).__name__}: {exc}"[:500]
                CONSUMER_RETRIES.labels(self.group_id).inc()
                log.warning(
                    "consumer %s: %s; retrying in %.1f s from the stored offsets",
                    self.group_id,
                    self.failing,
                    backoff,
                )
                resume_first = True
                await self.pause(backoff)
                backoff = min(backoff * 2, RETRY_MAX_SECONDS)

    async def _fetch_and_apply(self) -> None:
        assert self._consumer is not None
        batches = await self._consumer.getmany(timeout_ms=200, max_records=self._batch_size)
        for tp, records in batches.items():
            # Finish the batch in hand even when asked to stop: its offsets commit with it.
            committed = await self._on_batch(tp, records)
            self.last_progress = time.monotonic()
            if committed is not None:
                # Kafka's own committed offset is informational (lag tooling); the database is the truth.
                with contextlib.suppress(Exception):
                    await self._consumer.commit({tp: committed})
        await self._report_lag()
        if not batches and self.lag == 0:
            self.last_progress = time.monotonic()

    def health(self, stalled_after: float = STALLED_AFTER_SECONDS) -> str | None:
        """None when healthy; else why not: the loop ended, it keeps failing, or it has lag and has
        made no progress for `stalled_after` seconds."""
        if self._task is not None and self._task.done():
            return "the consume loop ended"
        if self.failing is not None:
            return f"failing: {self.failing}"
        idle = time.monotonic() - self.last_progress
        if self.lag > 0 and idle > stalled_after:
            return f"stalled: {self.lag} records behind and no progress for {idle:.0f} s"
        return None

    async def _report_lag(self) -> None:
        if self._consumer is None:
            return
        total = 0
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue
            with contextlib.suppress(Exception):
                position = await asyncio.wait_for(self._consumer.position(tp), timeout=1.0)
                lag = max(highwater - position, 0)
                total += lag
                CONSUMER_LAG.labels(self.group_id, tp.topic, str(tp.partition)).set(lag)
        self.lag = total
        CONSUMER_STALLED.labels(self.group_id).set(
            1 if total > 0 and time.monotonic() - self.last_progress > STALLED_AFTER_SECONDS else 0
        )
