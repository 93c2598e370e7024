"""Signing checkpoints: on a short interval, after every N new entries, and on demand.

Each checkpoint keeps every chain's Merkle frontier, so the next one reads only the newer hashes.
A chain whose stored links do not join up is never signed: the checkpoint fails loudly instead.
Every checkpoint then leaves the database: it is published to the checkpoint topic (and the witness
directory), where whoever can alter the database cannot take it back.
"""

from __future__ import annotations

import logging
from datetime import datetime

import asyncpg
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Gauge

from audit_service.adapters import trail
from audit_service.adapters.checkpoint_log import CheckpointPublisher
from audit_service.adapters.trail import CheckpointRow
from audit_service.application.commands import SignCheckpoint
from audit_service.application.handlers import TrailNotSignable
from audit_service.application.ports import AuditBus
from dcp_platform.clock import Clock
from dcp_platform.lifecycle import Periodic

log = logging.getLogger(__name__)

__all__ = ["CHECKPOINT_AGE", "CHECKPOINT_SEQ", "Checkpointer", "TrailNotSignable"]


CHECKPOINT_SEQ = Gauge("dcp_audit_last_checkpoint_seq", "Sequence number of the newest signed checkpoint")
CHECKPOINT_AGE = Gauge(
    "dcp_audit_last_checkpoint_age_seconds", "Seconds since the newest signed checkpoint (service clock)"
)
CHECKPOINTS_PUBLISHED = Counter(
    "dcp_audit_checkpoints_published_total", "Checkpoints published to the checkpoint topic"
)
PUBLISHED_SEQ = Gauge(
    "dcp_audit_published_checkpoint_seq", "Sequence number of the newest checkpoint in the checkpoint topic"
)


class Checkpointer:
    """Signs a checkpoint at an interval, after `every_entries` new entries, and on demand (through the
    command bus), then publishes what the topic does not hold yet; keeps the metrics."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        bus: AuditBus,
        clock: Clock,
        interval: float,
        *,
        every_entries: int = 0,
        publisher: CheckpointPublisher | None = None,
    ) -> None:
        self._pool = pool
        self._bus = bus
        self._clock = clock
        self.interval = interval
        self._every_entries = every_entries
        self._publisher = publisher
        self._since_last = 0
        self._loop = Periodic(
            "audit-checkpoints",
            interval,
            self._scheduled,
            "audit checkpoint failed",
            wakeable=every_entries > 0,
        )
        self._last_signed_at: datetime | None = None
        CHECKPOINT_AGE.set_function(self._age)

    def _age(self) -> float:
        if self._last_signed_at is None:
            return float("nan")
        return (self._clock.now() - self._last_signed_at).total_seconds()

    def _observe(self, checkpoint: CheckpointRow | None) -> None:
        if checkpoint is not None:
            self._last_signed_at = checkpoint.created_at
            CHECKPOINT_SEQ.set(checkpoint.seq)

    def entries_written(self, count: int) -> None:
        """Called by the ingest after each committed batch: enough new entries sign a checkpoint now."""
        self._since_last += count
        if self._every_entries and self._since_last >= self._every_entries:
            self._since_last = 0
            self._loop.wake()

    async def _scheduled(self) -> None:
        await self.create(refresh_after_seconds=self.interval)

    async def create(self, *, refresh_after_seconds: float = 0.0) -> tuple[CheckpointRow | None, bool]:
        """Sign the current state if it changed since the latest checkpoint (or that one is older than
        `refresh_after_seconds`), then publish: (latest checkpoint, created)."""
        # the newest seq the topic holds, as learnt when the publisher last connected or published
        published = self._publisher.published_seq if self._publisher is not None else 0
        latest, created = await self._bus.handle(SignCheckpoint(refresh_after_seconds, published))
        self._observe(latest)
        await self.publish()
        return latest, created

    async def publish(self) -> int:
        """Publish the checkpoints the topic does not hold yet (all since the newest it holds)."""
        if self._publisher is None:
            return 0
        try:
            await self._publisher.connect()
            async with self._pool.acquire() as conn:
                rows = await trail.checkpoints(conn, after_seq=self._publisher.published_seq)
            sent = await self._publisher.publish([(r.signed(), r.key_id) for r in rows])
        except (KafkaError, OSError) as exc:  # signed all the same; the next round publishes it
            log.warning("audit checkpoints not published yet (%s)", type(exc).__name__)
            return 0
        CHECKPOINTS_PUBLISHED.inc(sent)
        PUBLISHED_SEQ.set(self._publisher.published_seq)
        return sent

    @property
    def published_seq(self) -> int | None:
        """The newest seq known to be in the checkpoint topic (None: not published anywhere)."""
        return self._publisher.published_seq if self._publisher is not None else None

    async def start(self) -> None:
        if self._publisher is not None:
            await self._publisher.start()
        async with self._pool.acquire() as conn:
            self._observe(await trail.latest_checkpoint(conn))
        await self.publish()
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        if self._publisher is not None:
            await self._publisher.stop()
