"""The audit service's running parts: the trail role's pool, the ingest consumer, the checkpointer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI

from audit_service.adapters import trail
from audit_service.adapters.signing_key import load_signer
from audit_service.application.checkpoints import Checkpointer
from audit_service.application.ingest import GROUP_ID, TrailIngestor, TrailWriter
from audit_service.settings import AuditServiceSettings
from dcp_events import TOPICS, dlq_topic
from dcp_platform.clock import Clock


class TrailRoleTooPowerful(RuntimeError):
    """The service's database role could change the trail: it must only INSERT and SELECT it."""


def watched_topics(settings: AuditServiceSettings) -> list[str]:
    """Every catalogue topic and its DLQ, plus extra ones; prefixed for this deployment."""
    names = [*TOPICS, *(dlq_topic(t) for t in TOPICS), *settings.extra_topics]
    return [settings.kafka_topic_prefix + t for t in dict.fromkeys(names)]


def group_id(settings: AuditServiceSettings) -> str:
    """The ingest consumer group; the topic prefix keeps deployments on one broker apart."""
    return settings.kafka_topic_prefix + GROUP_ID


async def check_trail_role(pool: asyncpg.Pool) -> None:
    if await trail.trail_role_may_change_trail(pool):
        raise TrailRoleTooPowerful(
            "the service's database role may change the audit trail; run it as the trail role (AUDIT_DB_ROLE)"
        )


class AuditRuntime:
    def __init__(self, settings: AuditServiceSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.signer = load_signer(settings)
        self._pool: asyncpg.Pool | None = None
        self.ingestor: TrailIngestor | None = None
        self.checkpointer: Checkpointer | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the audit runtime is not started")
        return self._pool

    async def start(self) -> None:
        self._pool = await asyncpg.create_pool(self.settings.trail_dsn, min_size=1, max_size=8)
        await check_trail_role(self._pool)
        writer = TrailWriter(
            self._pool, group_id=group_id(self.settings), topic_prefix=self.settings.kafka_topic_prefix
        )
        self.ingestor = TrailIngestor(
            writer,
            self.settings.kafka_bootstrap_servers,
            watched_topics(self.settings),
            batch_size=self.settings.audit_ingest_batch_size,
        )
        self.checkpointer = Checkpointer(
            self._pool, self.signer, self.clock, self.settings.audit_checkpoint_interval_seconds
        )
        await self.ingestor.start()
        await self.checkpointer.start()

    async def stop(self) -> None:
        if self.checkpointer is not None:
            await self.checkpointer.stop()
        if self.ingestor is not None:
            await self.ingestor.stop()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()
