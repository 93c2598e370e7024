"""Kafka consumer runtime with application-owned offsets and exactly-once effects.

For every partition batch, the handler's effects, the processed event ids and the next offset to
consume commit in one PostgreSQL transaction. The batch's records are applied together under one
savepoint (by the subscription's batch handler, or its handler record after record); only when that
fails is the batch applied again record by record, each under its own savepoint, to isolate the one
that fails. On partition assignment the consumer seeks to
the offsets stored there (`consumer_offsets`, the `ResumePoints` of a `PartitionConsumer`), so
a crash at any point leads neither to a lost message nor to a second effect; a duplicated
message (same event id at another offset) is recognised and skipped. A message that cannot be
decoded, fails validation, or keeps failing its handler after bounded retries is published to
`<topic>.dlq` with the reason and its original coordinates in headers, and the consumer moves on.
The handler runs in the consumed event's causal context: what it appends names that event as its
cause and carries its correlation id, trace and actor.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import MessageSizeTooLargeError, RecordTooLargeError
from aiokafka.structs import ConsumerRecord
from prometheus_client import Counter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dcp_events.catalogue.registry import CURRENT, CURRENT_VERSIONS
from dcp_events.envelope import CloudEvent
from dcp_platform.context import bind_context
from dcp_platform.eventsourcing.faults import is_transient
from dcp_platform.eventsourcing.partitions import PartitionConsumer
from dcp_platform.personal_data import may_hold_personal
from dcp_platform.sealing import (
    DEAD_LETTER_HEADER,
    SEALED_ATTRIBUTE,
    EventSealer,
    SealError,
    seal_dead_letter,
)

log = logging.getLogger(__name__)

EVENTS_CONSUMED = Counter(
    "dcp_events_consumed_total", "Messages consumed and committed", ["consumer_group", "topic", "outcome"]
)
DLQ_PUBLISHED = Counter(
    "dcp_dlq_published_total", "Messages sent to a dead-letter topic", ["consumer_group", "topic"]
)


_CATALOGUE_TOPICS = frozenset(model.topic for model in CURRENT.values())


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
BatchHandler = Callable[[AsyncConnection, Sequence[Delivery]], Awaitable[None]]
"""Applies a partition batch's new deliveries (offset order) at once; it binds each delivery's
context (`delivery_context`) around what that delivery causes."""


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


def delivery_context(event: Any) -> AbstractContextManager[object]:
    """Events a handler appends are caused by the consumed event: they name it as their cause, share
    its correlation id and trace, and are acted by whoever acted it."""
    if isinstance(event, CloudEvent):
        return bind_context(
            correlation_id=event.correlationid,
            causation_id=str(event.id),
            traceparent=event.traceparent,
            actor_id=event.actor,
            actor_role=event.actorrole.value,
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
# The dedup records of a whole batch in one statement: the ids it returns are the batch's new events.
_MARK_PROCESSED = text(
    """
    INSERT INTO processed_events (consumer_group, event_id)
    SELECT :group, id FROM unnest(CAST(:ids AS varchar[])) AS ids(id)
    ON CONFLICT DO NOTHING RETURNING event_id
    """
)
# A dead-lettered event is not processed: a fixed record published again is applied then.
_UNMARK_PROCESSED = text(
    "DELETE FROM processed_events WHERE consumer_group = :group AND event_id = :event_id"
)


def _take(ids: set[str], event_id: str) -> bool:
    """Whether `event_id` is new in the batch: the first of its records takes it, a repeat is a duplicate."""
    if event_id in ids:
        ids.discard(event_id)
        return True
    return False


class StoredOffsets:
    """A consumer group's resume points: the next offsets committed with its effects (`consumer_offsets`)."""

    def __init__(self, engine: AsyncEngine, group_id: str) -> None:
        self._engine = engine
        self._group_id = group_id

    async def next_offsets(self, partitions: Sequence[TopicPartition]) -> Mapping[TopicPartition, int | None]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(_LOAD_OFFSETS, {"group": self._group_id})).all()
        stored = {(r.topic, r.partition): int(r.next_offset) for r in rows}
        return {tp: stored.get((tp.topic, tp.partition)) for tp in partitions}


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
        handles: frozenset[str] | None = None,
        batch_handler: BatchHandler | None = None,
        sealer: EventSealer | None = None,
    ) -> None:
        self._engine = engine
        # Opens the sealed personal data of what is consumed (None: handlers get the redacted data).
        self._sealer = sealer
        self._bootstrap = bootstrap_servers
        self.group_id = group_id
        self._topic_prefix = topic_prefix
        self._handler = handler
        self._batch_handler = batch_handler
        self._decoder = decoder
        self._max_attempts = max_attempts
        self._retry_backoff = retry_backoff
        self._dedup = dedup
        # Base types (no `.vN`) of the catalogue events the handler acts on; None: every event.
        self._handles = handles
        self._after_commit = after_commit
        self._partitions = PartitionConsumer(
            bootstrap_servers,
            group_id=group_id,
            topics=topics,
            topic_prefix=topic_prefix,
            resume=StoredOffsets(engine, group_id),
            on_batch=self._process_partition_batch,
            batch_size=batch_size,
        )
        self._dlq: AIOKafkaProducer | None = None

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics consumed, named without the deployment's prefix."""
        return self._partitions.topics

    @property
    def assigned(self) -> asyncio.Event:
        """Set once partitions were assigned and sought to their stored offsets."""
        return self._partitions.assigned

    async def start(self) -> None:
        # The dead-letter producer first: the first batch may already hold a poison message.
        self._dlq = AIOKafkaProducer(bootstrap_servers=self._bootstrap, enable_idempotence=True, acks="all")
        await self._dlq.start()
        try:
            await self._partitions.start()
        except BaseException:
            await self._dlq.stop()
            self._dlq = None
            raise

    async def stop(self) -> None:
        """Stop fetching, finish and commit the batch in hand, then leave the group."""
        await self._partitions.stop()
        if self._dlq is not None:
            await self._dlq.stop()
            self._dlq = None

    async def wait(self) -> None:
        """Until the consume loop ends (on stop(): errors are retried, they do not end it)."""
        await self._partitions.wait()

    def health(self) -> str | None:
        """None when the group consumes; else why not (see `PartitionConsumer.health`)."""
        return self._partitions.health()

    async def _process_partition_batch(
        self, tp: TopicPartition, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> int | None:
        outcomes: list[str] = []
        async with self._engine.begin() as conn:
            # The stored offset, locked: records below it were applied already (a fetch that raced
            # the seek on assignment, or another member that held the partition a moment ago).
            stored: int | None = (
                await conn.execute(
                    _LOCK_OFFSET, {"group": self.group_id, "topic": tp.topic, "partition": tp.partition}
                )
            ).scalar_one_or_none()
            fresh = [r for r in records if stored is None or r.offset >= stored]
            if not fresh:
                if stored is not None:
                    self._partitions.seek(tp, stored)
                return None
            decoded: list[tuple[ConsumerRecord[bytes, bytes], tuple[str, Any] | None]] = []
            for record in fresh:
                try:
                    event_id, event = self._decoder(record)
                    self._check_topic(record, event)
                    decoded.append((record, (event_id, event)))
                except PoisonMessage as exc:
                    await self._dead_letter(record, str(exc))
                    decoded.append((record, None))
            decoded = await self._open_sealed(decoded)
            new_ids = await self._mark_processed(
                conn, [d[0] for _, d in decoded if d is not None and not self._ignores(d[1])]
            )
            todo: list[tuple[int, Delivery]] = []
            for record, item in decoded:
                if item is None:
                    outcomes.append("dead_lettered")
                elif self._ignores(item[1]):
                    outcomes.append("ignored")
                elif new_ids is not None and not _take(new_ids, item[0]):
                    outcomes.append("duplicate")
                else:
                    todo.append((len(outcomes), self._delivery(record, *item)))
                    outcomes.append("processed")
            for index, outcome in await self._apply(conn, [d for _, d in todo], records_of=fresh):
                outcomes[todo[index][0]] = outcome
            next_offset: int = fresh[-1].offset + 1
            await conn.execute(
                _SAVE_OFFSET,
                {"group": self.group_id, "topic": tp.topic, "partition": tp.partition, "offset": next_offset},
            )
        if self._after_commit is not None:
            await self._after_commit()
        for outcome in outcomes:
            EVENTS_CONSUMED.labels(self.group_id, tp.topic, outcome).inc()
        return next_offset

    async def _open_sealed(
        self, decoded: list[tuple[ConsumerRecord[bytes, bytes], tuple[str, Any] | None]]
    ) -> list[tuple[ConsumerRecord[bytes, bytes], tuple[str, Any] | None]]:
        """Events whose personal data is sealed, with their whole data (the redacted data where the
        case's key is destroyed); one that does not open is a dead letter. The record's bytes stay as
        they came."""
        sealed = {
            i: item[1]
            for i, (_, item) in enumerate(decoded)
            if item is not None
            and isinstance(item[1], CloudEvent)
            and getattr(item[1], SEALED_ATTRIBUTE) is not None
            and not self._ignores(item[1])
        }
        if not sealed or self._sealer is None:
            return decoded
        opened = await self._sealer.open(sealed)
        out = list(decoded)
        for i, result in opened.items():
            record, item = decoded[i]
            assert item is not None
            if isinstance(result, SealError):
                await self._dead_letter(record, str(result))
                out[i] = (record, None)
            else:
                out[i] = (record, (item[0], result))
        return out

    def _check_topic(self, record: ConsumerRecord[bytes, bytes], event: Any) -> None:
        """A catalogued event on a catalogue topic that is not its own is a dead letter (a payment
        posting sent to the placements topic), never a silent no-op."""
        if not isinstance(event, CloudEvent):
            return
        topic = record.topic.removeprefix(self._topic_prefix)
        model = CURRENT.get(event.type.rsplit(".v", 1)[0])
        if model is not None and topic in _CATALOGUE_TOPICS and model.topic != topic:
            raise PoisonMessage(f"{event.type} belongs on {model.topic}, not on {topic}")

    def _ignores(self, event: Any) -> bool:
        """A catalogue event of a type this subscription does not act on: no dedup record, no
        savepoint, no handler call (unknown types still reach the handler, which dead-letters them)."""
        if self._handles is None or not isinstance(event, CloudEvent):
            return False
        base = event.type.rsplit(".v", 1)[0]
        return base not in self._handles and base in CURRENT_VERSIONS

    async def _mark_processed(self, conn: AsyncConnection, event_ids: list[str]) -> set[str] | None:
        """The ids of the batch not processed before (recorded now, in the batch's transaction);
        None when this consumer keeps no dedup records."""
        if not self._dedup:
            return None
        if not event_ids:
            return set()
        rows = await conn.execute(_MARK_PROCESSED, {"group": self.group_id, "ids": event_ids})
        return {row.event_id for row in rows}

    def _delivery(self, record: ConsumerRecord[bytes, bytes], event_id: str, event: Any) -> Delivery:
        return Delivery(
            topic=record.topic.removeprefix(self._topic_prefix),
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            event_id=event_id,
            event=event,
        )

    async def _apply(
        self,
        conn: AsyncConnection,
        deliveries: list[Delivery],
        *,
        records_of: Sequence[ConsumerRecord[bytes, bytes]],
    ) -> list[tuple[int, str]]:
        """Apply the batch's new deliveries: all together under one savepoint; when that fails, one by
        one, each under its own savepoint with bounded retries, so that only the failing record is
        dead-lettered. Returns (index, outcome) for the deliveries that were not simply processed."""
        if not deliveries:
            return []
        if len(deliveries) > 1 or self._batch_handler is not None:
            try:
                async with conn.begin_nested():
                    await self._apply_together(conn, deliveries)
                return []
            except Exception as exc:
                if is_transient(exc):
                    raise  # the database or broker: the whole batch is retried, nothing dead-lettered
                log.info(
                    "consumer %s: a batch of %d failed together (%s: %s); applying it record by record",
                    self.group_id,
                    len(deliveries),
                    type(exc).__name__,
                    exc,
                )
        by_offset = {(r.partition, r.offset): r for r in records_of}
        results: list[tuple[int, str]] = []
        for index, delivery in enumerate(deliveries):
            outcome = await self._process(conn, by_offset[(delivery.partition, delivery.offset)], delivery)
            if outcome != "processed":
                results.append((index, outcome))
        return results

    async def _apply_together(self, conn: AsyncConnection, deliveries: list[Delivery]) -> None:
        if self._batch_handler is not None:
            await self._batch_handler(conn, deliveries)
            return
        for delivery in deliveries:
            with delivery_context(delivery.event):
                await self._handler(conn, delivery)

    async def _process(
        self, conn: AsyncConnection, record: ConsumerRecord[bytes, bytes], delivery: Delivery
    ) -> str:
        event_id, event = delivery.event_id, delivery.event
        last_error = ""
        for attempt in range(1, self._max_attempts + 1):
            try:
                # A savepoint per record isolates a failing handler from the rest of the batch.
                async with conn.begin_nested():
                    with delivery_context(event):
                        await self._handler(conn, delivery)
                return "processed"
            except PoisonMessage as exc:
                last_error = str(exc)
                break
            except Exception as exc:
                if is_transient(exc):
                    raise
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
        if self._dedup:
            await conn.execute(_UNMARK_PROCESSED, {"group": self.group_id, "event_id": event_id})
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
        value = record.value
        if self._sealer is not None and value and may_hold_personal(value):
            # The dead letter is a copy kept a year: personal data in it is sealed under the case's
            # key like the platform's events (`dcp-dlq redrive` opens it), gone once the case is erased.
            value = await seal_dead_letter(
                self._sealer.vault, record.topic, record.partition, record.offset, record.key, value
            )
            headers.append(
                (DEAD_LETTER_HEADER, b"v1")
                if value is not None
                else ("dlq.value.omitted", b"the case's personal data was erased")
            )
        try:
            await self._dlq.send_and_wait(f"{record.topic}.dlq", value=value, key=record.key, headers=headers)
        except (MessageSizeTooLargeError, RecordTooLargeError):
            # Larger than the dead-letter topic (or the producer) accepts: a compact entry with the
            # reason, the coordinates, and the original's size and digest, without its bytes.
            original = record.value or b""
            headers += [
                ("dlq.value.omitted", b"too large for the dead-letter topic"),
                ("dlq.original.size", str(len(original)).encode()),
                ("dlq.original.sha256", hashlib.sha256(original).hexdigest().encode()),
            ]
            await self._dlq.send_and_wait(f"{record.topic}.dlq", value=None, key=record.key, headers=headers)
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
