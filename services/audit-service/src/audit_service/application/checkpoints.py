"""Signing checkpoints: at an interval and on demand, the state of every chain is signed.

Each checkpoint keeps every chain's Merkle frontier, so the next one reads only the newer hashes.
A chain whose stored links do not join up is never signed: the checkpoint fails loudly instead.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
from prometheus_client import Gauge

from audit_service.adapters import trail
from audit_service.adapters.trail import CheckpointRow
from audit_service.application.commands import SignCheckpoint
from audit_service.application.handlers import TrailNotSignable
from audit_service.application.ports import AuditBus
from dcp_platform.clock import Clock
from dcp_platform.lifecycle import Periodic

__all__ = ["CHECKPOINT_AGE", "CHECKPOINT_SEQ", "Checkpointer", "TrailNotSignable"]


CHECKPOINT_SEQ = Gauge("dcp_audit_last_checkpoint_seq", "Sequence number of the newest signed checkpoint")
CHECKPOINT_AGE = Gauge(
    "dcp_audit_last_checkpoint_age_seconds", "Seconds since the newest signed checkpoint (service clock)"
)


class Checkpointer:
    """Signs a checkpoint at an interval (and on demand) through the command bus; keeps the metrics."""

    def __init__(self, pool: asyncpg.Pool, bus: AuditBus, clock: Clock, interval: float) -> None:
        self._pool = pool
        self._bus = bus
        self._clock = clock
        self._interval = interval
        self._loop = Periodic("audit-checkpoints", interval, self.create, "audit checkpoint failed")
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

    async def create(self) -> tuple[CheckpointRow | None, bool]:
        """Sign the current state if it changed since the latest checkpoint: (latest checkpoint, created)."""
        latest, created = await self._bus.handle(SignCheckpoint())
        self._observe(latest)
        return latest, created

    async def start(self) -> None:
        async with self._pool.acquire() as conn:
            self._observe(await trail.latest_checkpoint(conn))
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
