"""Kafka consumer runtime with application-owned offsets and exactly-once effects.

For every message, the handler's effects, the processed event id and the next offset to
consume commit in one PostgreSQL transaction. On partition assignment the consumer seeks to
the offsets stored there, so a crash at any point leads neither to a lost message nor to a
second effect; a duplicated message (same event id at another offset) is recognised and
skipped. A message that cannot be decoded, fails validation, or keeps failing its handler
after bounded retries is published to `<topic>.dlq` with the reason and its original
coordinates in headers, and the consumer moves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord
from prometheus_client import Counter, Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dcp_events.envelope import CloudEvent
from dcp_platform.context import bind_context

log = logging.getLogger(__name__)

EVENTS_CONSUMED = Counter(
    "dcp_events_consumed_total", "Messages consumed and committed", ["consumer_group", "topic", "outcome"]
)
DLQ_PUBLISHED = Counter(
    "dcp_dlq_published_total", "Messages sent to a dead-letter topic", ["consumer_group", "topic"]
)
CONSUMER_LAG = Gauge(
    "dcp_consumer_lag", "Messages behind the partition's end", ["consumer_group", "topic", "partition"]
)


class PoisonMessage(Exception):
    """The message can never be handled (bad bytes, bad schema): it goes to the DLQ at once."""


@dataclass(frozen=True)
class Delivery:
    """What a handler is given: the decoded message and where it came from."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    event_id: str
    event: Any


class Decoder(Protocol):
    def __call__(self, record: ConsumerRecord[bytes, bytes]) -> tuple[str, Any]:
        """Return (event id, decoded event) or raise PoisonMessage."""


Handler = Callable[[AsyncConnection, Delivery], Awaitable[None]]


def cloudevent_decoder(record: ConsumerRecord[bytes, bytes]) -> tuple[str, Any]:
    """Decode a structured-mode CloudEvent and validate its data against the catalogue."""
    from dcp_events.canonical import decode_event

    if record.value is None:
        raise PoisonMessage("empty message value")
    try:
        event = decode_event(record.value)
    except Exception as exc:
        raise PoisonMessage(f"cannot decode CloudEvent: {exc}") from exc
    return str(event.id), event


def _context_of(event: Any) -> AbstractContextManager[object]:
    """Events a handler appends are caused by the consumed event and share its correlation and trace."""
    if isinstance(event, CloudEvent):
        return bind_context(
            correlation_id=event.correlationid,
            causation_id=event.id,
            traceparent=event.traceparent,
            span_name=f"consume {event.type}",
        )
    return contextlib.nullcontext()


_LOAD_OFFSETS = text(
    "SELECT topic, partition, next_offset FROM consumer_offsets WHERE consumer_group = :group"
)
_LOCK_OFFSET = text(
    """
    SELECT next_offset FROM consumer_offsets
    WHERE consumer_group = :group AND topic = :topic AND partition = :partition
    FOR UPDATE
    """
)
_SAVE_OFFSET = text(
    """
    INSERT INTO consumer_offsets (consumer_group, topic, partition, next_offset, updated_at)
    VALUES (:group, :topic, :partition, :offset, now())
    ON CONFLICT (consumer_group, topic, partition)
    DO UPDATE SET next_offset = excluded.next_offset, updated_at = excluded.updated_at
    """
)
_MARK_PROCESSED = text(
    """
    INSERT INTO processed_events (consumer_group, event_id) VALUES (:group, :event_id)
    ON CONFLICT DO NOTHING RETURNING 1
    """
)


class _SeekToStoredOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runtime: EventConsumer) -> None:
        self._runtime = runtime

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        await self._runtime._seek_to_stored(assigned)


class EventConsumer:
    """Consumes topics into one database with exactly-once effects; one instance per consumer group."""

    def __init__(
        self,
        engine: AsyncEngine,
        bootstrap_servers: str,
        *,
        group_id: str,
        topics: Sequence[str],
        handler: Handler,
        decoder: Decoder = cloudevent_decoder,
        max_attempts: int = 3,
        retry_backoff: float = 0.2,
        batch_size: int = 500,
        dedup: bool = True,
        after_commit: Callable[[], Awaitable[None]] | None = None,
        topic_prefix: str = "",
    ) -> None:
        self._engine = engine
        self._bootstrap = bootstrap_servers
        self.group_id = group_id
        # Topics are named without the prefix; the prefix isolates deployments (and tests) on one broker.
        self._topic_prefix = topic_prefix
        self._topics = [topic_prefix + t for t in topics]
        self._handler = handler
        self._decoder = decoder
        self._max_attempts = max_attempts
        self._retry_backoff = retry_backoff
        self._batch_size = batch_size
        self._dedup = dedup
        self._after_commit = after_commit
        self._consumer: AIOKafkaConsumer | None = None
        self._dlq: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.assigned = asyncio.Event()

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=self._batch_size,
            client_id=f"dcp-{self.group_id}",
        )
        await self._consumer.start()
        self._consumer.subscribe(self._topics, listener=_SeekToStoredOffsets(self))
        self._dlq = AIOKafkaProducer(bootstrap_servers=self._bootstrap, enable_idempotence=True, acks="all")
        await self._dlq.start()
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
        if self._dlq is not None:
            await self._dlq.stop()
            self._dlq = None

    async def wait(self) -> None:
        """Until the consume loop ends (it ends on stop() or on an unrecoverable error)."""
        if self._task is not None:
            await self._task

    async def _seek_to_stored(self, assigned: Sequence[TopicPartition]) -> None:
        assert self._consumer is not None
        async with self._engine.connect() as conn:
            rows = (await conn.execute(_LOAD_OFFSETS, {"group": self.group_id})).all()
        stored = {(r.topic, r.partition): r.next_offset for r in rows}
        unknown = [tp for tp in assigned if (tp.topic, tp.partition) not in stored]
        # Explicit offsets only: mixing seek() with seek_to_beginning() in one assignment lets
        # aiokafka's pending reset override the stored position.
        beginnings = await self._consumer.beginning_offsets(unknown) if unknown else {}
        for tp in assigned:
            self._consumer.seek(tp, stored.get((tp.topic, tp.partition), beginnings.get(tp, 0)))
        if assigned:
            self.assigned.set()

    async def _run(self) -> None:
        assert self._consumer is not None
        while not self._stopping.is_set():
            batches = await self._consumer.getmany(timeout_ms=200, max_records=self._batch_size)
            for tp, records in batches.items():
                # Finish the batch in hand even when asked to stop: its offsets commit with it.
                await self._process_partition_batch(tp, records)
            await self._report_lag()

    async def _process_partition_batch(
        self, tp: TopicPartition, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> None:
        assert self._consumer is not None
        outcomes: list[str] = []
        async with self._engine.begin() as conn:
            # The stored offset, locked: records below it were applied already (a fetch that raced
            # the seek on assignment, or another member that held the partition a moment ago).
            stored = (
                await conn.execute(
                    _LOCK_OFFSET, {"group": self.group_id, "topic": tp.topic, "partition": tp.partition}
                )
            ).scalar_one_or_none()
            fresh = [r for r in records if stored is None or r.offset >= stored]
            if not fresh:
                self._consumer.seek(tp, stored)
                return
            records = fresh
            for record in records:
                outcomes.append(await self._process(conn, record))
            await conn.execute(
                _SAVE_OFFSET,
                {
                    "group": self.group_id,
                    "topic": tp.topic,
                    "partition": tp.partition,
                    "offset": records[-1].offset + 1,
                },
            )
        if self._after_commit is not None:
            await self._after_commit()
        for outcome in outcomes:
            EVENTS_CONSUMED.labels(self.group_id, tp.topic, outcome).inc()
        # Kafka's own committed offset is informational (lag tooling); the database is the truth.
        with contextlib.suppress(Exception):
            await self._consumer.commit({tp: records[-1].offset + 1})

    async def _process(self, conn: AsyncConnection, record: ConsumerRecord[bytes, bytes]) -> str:
        try:
            event_id, event = self._decoder(record)
        except PoisonMessage as exc:
            await self._dead_letter(record, str(exc))
            return "dead_lettered"
        delivery = Delivery(
            topic=record.topic.removeprefix(self._topic_prefix),
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            event_id=event_id,
            event=event,
        )
        last_error = ""
        for attempt in range(1, self._max_attempts + 1):
            try:
                async with conn.begin_nested():
                    if self._dedup:
                        fresh = (
                            await conn.execute(
                                _MARK_PROCESSED, {"group": self.group_id, "event_id": event_id}
                            )
                        ).first()
                        if fresh is None:
                            return "duplicate"
                    with _context_of(event):
                        await self._handler(conn, delivery)
                return "processed"
            except PoisonMessage as exc:
                last_error = str(exc)
                break
            except Exception as exc:
                last_error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "consumer %s: handler failed on %s[%d]@%d (attempt %d/%d): %s",
                    self.group_id,
                    record.topic,
                    record.partition,
                    record.offset,
                    attempt,
                    self._max_attempts,
                    last_error,
                )
                log.debug("%s", traceback.format_exc())
                if attempt < self._max_attempts:
                    await asyncio.sleep(self._retry_backoff * attempt)
        await self._dead_letter(record, last_error)
        return "dead_lettered"

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], reason: str) -> None:
        assert self._dlq is not None
        headers = [
            ("dlq.error", reason.encode("utf-8")[:4000]),
            ("dlq.original.topic", record.topic.encode()),
            ("dlq.original.partition", str(record.partition).encode()),
            ("dlq.original.offset", str(record.offset).encode()),
            ("dlq.consumer", self.group_id.encode()),
            *[(k, v) for k, v in (record.headers or ()) if not k.startswith("dlq.")],
        ]
        await self._dlq.send_and_wait(
            f"{record.topic}.dlq", value=record.value, key=record.key, headers=headers
        )
        DLQ_PUBLISHED.labels(self.group_id, record.topic).inc()
        log.error(
            "consumer %s: %s[%d]@%d sent to %s.dlq: %s",
            self.group_id,
            record.topic,
            record.partition,
            record.offset,
            record.topic,
            reason,
        )

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
