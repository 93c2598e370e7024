"""A topic read whole by every replica: from its first offset, without a consumer group, then followed.

For state every replica keeps in memory and every replica needs all of (the policies in force): a
consumer group would give each activation to one replica only, and committed offsets would skip
the earlier ones after a restart. The topic must be small (activations, not business events)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from dcp_events import CloudEvent, EventError, decode_event
from dcp_platform.lifecycle import Lifecycle

log = logging.getLogger(__name__)

Apply = Callable[[CloudEvent], Awaitable[None] | None]


class TopicFollower(Lifecycle):
    """Applies every event of `topic` in each partition's order; `start` returns once what the topic
    held at start is applied (or after `catch_up_seconds`, then it catches up in the background)."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        apply: Apply,
        *,
        catch_up_seconds: float = 30.0,
        retry_seconds: float = 2.0,
    ) -> None:
        self.bootstrap_servers, self.topic, self.apply = bootstrap_servers, topic, apply
        self.catch_up_seconds, self.retry_seconds = catch_up_seconds, retry_seconds
        self.caught_up = asyncio.Event()
        self.applied = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"follow {self.topic}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.caught_up.wait(), self.catch_up_seconds)
        if not self.caught_up.is_set():
            log.warning(
                "%s: not caught up after %.0f s; catching up in the background",
                self.topic,
                self.catch_up_seconds,
            )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap_servers,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
            )
            try:
                await consumer.start()
                await self._follow(consumer)
            except asyncio.CancelledError:
                raise
            except (KafkaError, OSError) as exc:
                log.warning("%s: %s; reading it again from the start", self.topic, exc)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()
            await asyncio.sleep(self.retry_seconds)

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        # Without a group, a subscription is given every partition of the topic (and the topic once
        # it exists); with nothing committed, each is read from its first offset.
        while self.topic not in await consumer.topics():
            self.caught_up.set()  # no topic yet: nothing was ever published on it
            await asyncio.sleep(self.retry_seconds)
        consumer.subscribe([self.topic])
        ends: dict[TopicPartition, int] | None = None
        seen: set[str] = set()  # a redelivered copy (same id) is applied once per reading
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    await self._apply(record.value, seen)
            if self.caught_up.is_set():
                continue
            assigned = sorted(consumer.assignment(), key=lambda tp: tp.partition)
            if not assigned:
                continue
            if ends is None:
                ends = await consumer.end_offsets(assigned)
            positions = [await consumer.position(tp) for tp in assigned]
            if all(p >= ends.get(tp, 0) for p, tp in zip(positions, assigned, strict=True)):
                self.caught_up.set()

    async def _apply(self, value: bytes | None, seen: set[str]) -> None:
        if value is None:
            return
        try:
            event = decode_event(value)
        except EventError as exc:
            log.warning("%s: a record that is not a catalogue event skipped (%s)", self.topic, exc)
            return
        if event.id in seen:
            return
        seen.add(event.id)
        try:
            result = self.apply(event)
            if inspect.isawaitable(result):
                await result
            self.applied += 1
        except Exception:
            log.exception("%s: event %s (%s) could not be applied", self.topic, event.id, event.type)
