"""Outbox relay: publishes committed events to Kafka in per-case order, never skipping one.

The event store writes every event to the `outbox` table in the appending transaction. The
relay reads the outbox in position order, publishes with an idempotent producer (acks=all,
key = case id), and deletes the rows once the broker acknowledged them. An event whose
transaction committed after a later-numbered one is still in the outbox when the relay next
looks, so it cannot be skipped; and within one case, a later version is inserted only after
the earlier one committed, so position order is the case's order.

Only one relay per database publishes at a time (a session advisory lock), so that two
replicas never interleave. The relay wakes on PostgreSQL NOTIFY from the outbox trigger and
on in-process commits, and polls as a safety net. With Kafka down, rows stay in the outbox
(the backlog grows) and are delivered when it comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from prometheus_client import Counter, Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dcp_platform.eventsourcing.postgres import connect
from dcp_platform.eventsourcing.schema import NOTIFY_CHANNEL
from dcp_platform.eventsourcing.store import RecordedEvent, _row_to_event
from dcp_platform.lifecycle import BackgroundLoop
from dcp_platform.sealing import EventSealer

log = logging.getLogger(__name__)

EVENTS_PUBLISHED = Counter("dcp_events_published_total", "Events published to Kafka by the relay", ["topic"])
RELAY_LEADER = Gauge(
    "dcp_relay_leader",
    "1 in the one process per database that holds the relay's lock and publishes, 0 in the standbys",
    ["relay"],
)
OUTBOX_BACKLOG = Gauge("dcp_outbox_backlog", "Events committed but not yet published to Kafka")
OUTBOX_OLDEST_AGE = Gauge(
    "dcp_outbox_oldest_age_seconds", "Age of the oldest event not yet published to Kafka"
)
RELAY_ERRORS = Counter("dcp_relay_errors_total", "Failed publication attempts (retried)")

Encoder = Callable[[Mapping[str, Any]], bytes]

# CloudEvents Kafka protocol binding, structured content mode.
STRUCTURED_MODE_HEADERS = [("content-type", b"application/cloudevents+json")]

_PENDING = text(
    """
    SELECT e.position, e.stream_id, e.stream_version, e.event_id, e.event_type, e.topic,
           e.payload, e.metadata, e.recorded_at
    FROM outbox o JOIN events e ON e.position = o.position
    ORDER BY o.position
    LIMIT :limit
    """
)
_DELETE = text("DELETE FROM outbox WHERE position = ANY(:positions)")
_PROGRESS = text(
    """
    INSERT INTO relay_progress (relay, last_position, published_total, updated_at)
    VALUES (:relay, :last, :count, now())
    ON CONFLICT (relay) DO UPDATE SET last_position = greatest(relay_progress.last_position, :last),
        published_total = relay_progress.published_total + :count, updated_at = now()
    """
)
_BACKLOG = text("SELECT count(*), min(enqueued_at) FROM outbox")


def default_encoder(attributes: Mapping[str, Any]) -> bytes:
    """Canonical CloudEvents structured JSON of a stored event.

    The envelope was built and validated once, when the event was appended (`event_for`), and stored
    in canonical form; the relay only serialises it, it does not rebuild it (the bytes are the same:
    tests/unit/test_relay_encoding.py).
    """
    from dcp_events.canonical import to_canonical_bytes

    return to_canonical_bytes(attributes)


class OutboxRelay(BackgroundLoop):
    """Publishes a service's outbox to Kafka; run one per service process."""

    def __init__(
        self,
        engine: AsyncEngine,
        database_url: str,
        bootstrap_servers: str,
        *,
        name: str = "relay",
        batch_size: int = 500,
        poll_interval: float = 1.0,
        retry_backoff: float = 0.5,
        encoder: Encoder = default_encoder,
        lock_key: int = 7_100_001,
        topic_prefix: str = "",
        sealer: EventSealer | None = None,
    ) -> None:
        self._engine = engine
        # Seals the personal data of what is published (None: published as stored).
        self._sealer = sealer
        self._database_url = database_url
        self._bootstrap = bootstrap_servers
        self._name = name
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._retry_backoff = retry_backoff
        self._encoder = encoder
        self._lock_key = lock_key
        self._topic_prefix = topic_prefix
        BackgroundLoop.__init__(self)
        self._producer: AIOKafkaProducer | None = None
        self._listener: asyncpg.Connection | None = None
        self._leader = False

    @property
    def is_leader(self) -> bool:
        """Whether this process holds the relay's lock (and so publishes)."""
        return self._leader

    @is_leader.setter
    def is_leader(self, value: bool) -> None:
        if value and not self._leader:
            log.info("outbox relay %s: leader (publishing)", self._name)
        self._leader = value
        RELAY_LEADER.labels(self._name).set(int(value))

    def wake(self) -> None:
        """Ask the relay to look at the outbox now (called after a local commit)."""
        BackgroundLoop.wake(self)

    async def start(self) -> None:
        self.start_loop(self._run(), f"outbox-relay-{self._name}")

    async def stop(self) -> None:
        """Finish the batch in flight, then release the producer and the leadership lock."""
        await self.stop_loop()
        await self._close_producer()
        await self._close_listener()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                if not self.is_leader:
                    await self._acquire_leadership()
                    if not self.is_leader:
                        await self._sleep(self._poll_interval * 5)
                        continue
                self._wake.clear()
                published = await self.publish_pending()
                await self._report_backlog()
                if published == 0:
                    await self._sleep(self._poll_interval)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the relay must outlive broker and database outages
                RELAY_ERRORS.inc()
                log.warning("outbox relay: %s: %s; retrying", type(exc).__name__, exc)
                await self._close_producer()
                if self._listener is not None and self._listener.is_closed():
                    self.is_leader = False
                    self._listener = None
                await self._sleep(self._retry_backoff)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def _acquire_leadership(self) -> None:
        if self._listener is None or self._listener.is_closed():
            self._listener = await connect(self._database_url)
            await self._listener.add_listener(NOTIFY_CHANNEL, self._on_notify)
        self.is_leader = bool(
            await self._listener.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_key)
        )

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                enable_idempotence=True,
                acks="all",
                linger_ms=2,
                request_timeout_ms=15000,
                client_id=f"dcp-{self._name}",
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _close_producer(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            with contextlib.suppress(Exception):
                await producer.stop()

    async def _close_listener(self) -> None:
        if self._listener is not None:
            listener, self._listener = self._listener, None
            self.is_leader = False
            with contextlib.suppress(Exception):
                await listener.close()

    async def publish_pending(self) -> int:
        """Publish everything in the outbox now; returns how many events were delivered."""
        total = 0
        while True:
            async with self._engine.connect() as conn:
                rows = (await conn.execute(_PENDING, {"limit": self._batch_size})).all()
            if not rows:
                return total
            events = [_row_to_event(r) for r in rows]
            await self._publish(events)
            async with self._engine.begin() as conn:
                await conn.execute(_DELETE, {"positions": [e.position for e in events]})
                await conn.execute(
                    _PROGRESS,
                    {
                        "relay": self._name,
                        "last": max(e.position for e in events),
                        "count": len(events),
                    },
                )
            total += len(events)
            if len(events) < self._batch_size:
                return total

    async def _publish(self, events: list[RecordedEvent]) -> None:
        producer = await self._ensure_producer()
        attributes = [event.cloudevent_attributes() for event in events]
        if self._sealer is not None:
            attributes = await self._sealer.seal(attributes)
        deliveries = []
        for event, published in zip(events, attributes, strict=True):
            value = self._encoder(published)
            deliveries.append(
                await producer.send(
                    self._topic_prefix + event.topic,
                    value=value,
                    key=event.subject.encode("utf-8"),
                    headers=STRUCTURED_MODE_HEADERS,
                )
            )
        await asyncio.gather(*deliveries)
        for event in events:
            EVENTS_PUBLISHED.labels(event.topic).inc()

    async def _report_backlog(self) -> None:
        async with self._engine.connect() as conn:
            count, oldest = (await conn.execute(_BACKLOG)).one()
        OUTBOX_BACKLOG.set(count)
        OUTBOX_OLDEST_AGE.set(0 if oldest is None else (datetime.now(UTC) - oldest).total_seconds())
