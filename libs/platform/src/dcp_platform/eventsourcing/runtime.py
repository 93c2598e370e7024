"""A service's event-sourcing runtime: engine, store, relay, consumers and timers, run together."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from dcp_events.catalogue.base import EventPayload
from dcp_platform.clock import Clock
from dcp_platform.eventsourcing.consumer import (
    BatchHandler,
    Decoder,
    EventConsumer,
    Handler,
    cloudevent_decoder,
)
from dcp_platform.eventsourcing.follower import Apply, TopicFollower
from dcp_platform.eventsourcing.postgres import create_engine
from dcp_platform.eventsourcing.relay import OutboxRelay
from dcp_platform.eventsourcing.store import EventStore
from dcp_platform.eventsourcing.timers import TimerHandler, TimerWorker
from dcp_platform.lifecycle import Lifecycle
from dcp_platform.sealing import EventSealer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Subscription:
    """A consumer group of this service: the topics it reads and the handler that applies them."""

    group_id: str
    topics: Sequence[str]
    handler: Handler
    decoder: Decoder = cloudevent_decoder
    handles: Sequence[type[EventPayload]] | None = None
    """The catalogue event types the handler acts on (the consumer skips the topic's others without
    a savepoint or a dedup record); None: it sees every event."""
    batch_handler: BatchHandler | None = None
    """Applies a partition batch's deliveries at once (multi-row reads and writes); `handler` is then
    the fallback that applies them one by one when the batch as a whole fails."""

    def handled_types(self) -> frozenset[str] | None:
        return None if self.handles is None else frozenset(e.event_type for e in self.handles)


@dataclass
class EventSourcingRuntime(Lifecycle):
    """What a service needs to be event-sourced; `lifespan` starts and stops it with the app."""

    database_url: str
    kafka_bootstrap_servers: str
    clock: Clock
    service_name: str
    subscriptions: Sequence[Subscription] = ()
    timer_handlers: Mapping[str, TimerHandler] = field(default_factory=dict)
    relay_poll_interval: float = 1.0
    timer_poll_interval: float = 1.0
    topic_prefix: str = ""
    sealer: EventSealer | None = None
    """Seals personal data in what the relay publishes and opens it in what the consumers read."""
    engine: AsyncEngine = field(init=False)
    store: EventStore = field(init=False)
    relay: OutboxRelay = field(init=False)
    timers: TimerWorker = field(init=False)
    consumers: list[EventConsumer] = field(init=False)
    followers: list[TopicFollower] = field(init=False)

    def __post_init__(self) -> None:
        self.engine = create_engine(self.database_url)
        self.relay = OutboxRelay(
            self.engine,
            self.database_url,
            self.kafka_bootstrap_servers,
            name=self.service_name,
            poll_interval=self.relay_poll_interval,
            topic_prefix=self.topic_prefix,
            sealer=self.sealer,
        )
        self.store = EventStore(self.engine, on_commit=self.relay.wake)
        self.timers = TimerWorker(
            self.engine, self.clock, self.timer_handlers, poll_interval=self.timer_poll_interval
        )
        self.consumers = []
        self.followers = []
        initial, self.subscriptions = list(self.subscriptions), []
        for subscription in initial:
            self.subscribe(subscription)

    def subscribe(self, subscription: Subscription) -> None:
        """Add a consumer group (before `start`)."""
        self.subscriptions = [*self.subscriptions, subscription]
        self.consumers.append(
            EventConsumer(
                self.engine,
                self.kafka_bootstrap_servers,
                # the topic prefix keeps deployments (and test runs) on one broker in their own groups
                group_id=self.topic_prefix + subscription.group_id,
                topics=subscription.topics,
                handler=subscription.handler,
                decoder=subscription.decoder,
                after_commit=self._after_consumer_commit,
                topic_prefix=self.topic_prefix,
                handles=subscription.handled_types(),
                batch_handler=subscription.batch_handler,
                sealer=self.sealer,
            )
        )

    def follow(self, topic: str, apply: Apply) -> TopicFollower:
        """Read `topic` whole in this replica and follow it (before `start`): for state each replica
        keeps in memory, such as the policies in force. Started before the consumers and timers, so
        they decide under what the topic holds."""
        follower = TopicFollower(self.kafka_bootstrap_servers, self.topic_prefix + topic, apply)
        self.followers.append(follower)
        return follower

    def on_timer(self, kind: str, handler: TimerHandler) -> None:
        """Handle the durable timers of `kind` (before `start`)."""
        self.timers.register(kind, handler)

    async def _after_consumer_commit(self) -> None:
        # Handlers append through the store inside the consumer's transaction: wake the relay.
        self.relay.wake()

    async def start(self) -> None:
        if self.sealer is not None:
            try:
                await self.sealer.vault.start()
            except (OSError, asyncpg.PostgresError) as exc:  # the relay and consumers retry it
                log.warning("key vault not reachable at start (%s); retrying on use", type(exc).__name__)
        for follower in self.followers:
            await follower.start()
        await self.relay.start()
        await self.timers.start()
        for consumer in self.consumers:
            await consumer.start()

    async def stop(self) -> None:
        """Stop consuming first (finishing and committing the batch in hand), then timers, then the relay."""
        for consumer in self.consumers:
            await consumer.stop()
        await self.timers.stop()
        await self.relay.stop()
        for follower in self.followers:
            await follower.stop()
        if self.sealer is not None:
            await self.sealer.vault.stop()
        await self.engine.dispose()
