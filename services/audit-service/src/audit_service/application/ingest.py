"""Ingest: every record of every watched partition becomes the next entry of its chain, exactly once.

The entries of a batch and the next offset commit in one transaction; on assignment the consumer seeks
to the stored chain heads, so a crash anywhere neither loses nor repeats a record. A record is never
skipped: when the database refuses a batch, the partition is re-read from the stored head.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord
from prometheus_client import Counter, Gauge

from audit_service.adapters import trail
from audit_service.domain.chain import AuditChain, ChainHead, ChainId, Link
from audit_service.domain.entries import EntryIndex, RecordFacts, build_entry, index_of

log = logging.getLogger(__name__)

ENTRIES_RECORDED = Counter(
    "dcp_audit_entries_recorded_total", "Entries appended to the audit trail", ["topic"]
)
CHAIN_HEAD_OFFSET = Gauge(
    "dcp_audit_chain_head_offset", "Kafka offset of the newest entry of each chain", ["topic", "partition"]
)
BATCHES_REFUSED = Counter(
    "dcp_audit_batches_refused_total", "Batches the database refused (re-read)", ["topic"]
)

GROUP_ID = "audit-service.trail"


class TrailWriter:
    """Appends records to their chains; keeps the chain heads it last committed."""

    def __init__(self, pool: asyncpg.Pool, *, group_id: str = GROUP_ID, topic_prefix: str = "") -> None:
        self._pool = pool
        self.group_id = group_id
        self._prefix = topic_prefix
        self.chains: dict[ChainId, AuditChain] = {}

    def chain_of(self, tp: TopicPartition) -> ChainId:
        return ChainId(tp.topic.removeprefix(self._prefix), tp.partition)

    async def load(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, ChainHead | None]:
        heads: dict[TopicPartition, ChainHead | None] = {}
        async with self._pool.acquire() as conn:
            for tp in tps:
                chain = self.chain_of(tp)
                head = await trail.head_of(conn, chain)
                self.chains[chain] = AuditChain(chain, head)
                heads[tp] = head
        return heads

    async def write(self, tp: TopicPartition, records: Sequence[ConsumerRecord[bytes, bytes]]) -> int:
        """Append `records` (one partition, offset order); returns how many were new."""
        chain_id = self.chain_of(tp)
        known = self.chains.get(chain_id)
        if known is None:
            await self.load([tp])
            known = self.chains[chain_id]
        draft = AuditChain(chain_id, known.head)
        links: list[tuple[Link, EntryIndex]] = []
        for record in records:
            entry, doc = build_entry(
                RecordFacts(
                    topic=chain_id.topic,
                    partition=record.partition,
                    offset=record.offset,
                    timestamp_ms=record.timestamp,
                    key=record.key,
                    value=record.value,
                    headers=tuple(record.headers or ()),
                )
            )
            link = draft.extend(record.offset, entry)
            if link is not None:
                links.append((link, index_of(doc)))
        if not links:
            return 0
        async with self._pool.acquire() as conn, conn.transaction():
            await trail.append(conn, links)
            await trail.save_offset(conn, self.group_id, tp.topic, tp.partition, links[-1][0].offset + 1)
        self.chains[chain_id] = draft
        ENTRIES_RECORDED.labels(chain_id.topic).inc(len(links))
        return len(links)


class _SeekToChainHeads(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, ingestor: TrailIngestor) -> None:
        self._ingestor = ingestor

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        await self._ingestor.seek_to_heads(assigned)


class TrailIngestor:
    """The consumer group that feeds the trail."""

    def __init__(
        self,
        writer: TrailWriter,
        bootstrap_servers: str,
        topics: Sequence[str],
        *,
        batch_size: int = 500,
        retry_delay: float = 1.0,
    ) -> None:
        self.writer = writer
        self._bootstrap = bootstrap_servers
        self._topics = list(topics)
        self._batch_size = batch_size
        self._retry_delay = retry_delay
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.assigned = asyncio.Event()

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self.writer.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=self._batch_size,
            client_id=f"dcp-{self.writer.group_id}",
        )
        await self._consumer.start()
        self._consumer.subscribe(self._topics, listener=_SeekToChainHeads(self))
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="audit-trail-ingest")

    async def stop(self) -> None:
        """Finish and commit the batch in hand, then leave the group."""
        self._stopping.set()
        if self._task is not None:
            try:
                await self._task
            except Exception:
                log.exception("audit ingest loop ended with an error")
            self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def seek_to_heads(self, assigned: Sequence[TopicPartition]) -> None:
        assert self._consumer is not None
        heads = await self.writer.load(assigned)
        unknown = [tp for tp, head in heads.items() if head is None]
        beginnings = await self._consumer.beginning_offsets(unknown) if unknown else {}
        for tp, head in heads.items():
            self._consumer.seek(tp, head.offset + 1 if head is not None else beginnings.get(tp, 0))
            if head is not None:
                CHAIN_HEAD_OFFSET.labels(tp.topic, str(tp.partition)).set(head.offset)
        if assigned:
            self.assigned.set()

    async def _run(self) -> None:
        assert self._consumer is not None
        while not self._stopping.is_set():
            batches = await self._consumer.getmany(timeout_ms=200, max_records=self._batch_size)
            for tp, records in batches.items():
                await self._write(tp, records)

    async def _write(self, tp: TopicPartition, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        assert self._consumer is not None
        try:
            await self.writer.write(tp, records)
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
            # Refused (another writer moved the chain, or the database failed): re-read from the head.
            BATCHES_REFUSED.labels(tp.topic).inc()
            log.warning(
                "audit: batch of %s[%d] refused (%s); re-reading", tp.topic, tp.partition, type(exc).__name__
            )
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._retry_delay)
            try:
                await self.seek_to_heads([tp])
            except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError):
                log.warning("audit: cannot read the head of %s[%d] yet", tp.topic, tp.partition)
                self._consumer.seek(tp, records[0].offset)
            return
        CHAIN_HEAD_OFFSET.labels(tp.topic, str(tp.partition)).set(records[-1].offset)
        # Kafka's committed offset is informational (lag tooling); the trail's heads are the truth.
        with contextlib.suppress(Exception):
            await self._consumer.commit({tp: records[-1].offset + 1})


async def _partitions(bootstrap_servers: str, topics: Sequence[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return [
        TopicPartition(d["topic"], p["partition"])
        for d in described
        if d["error_code"] == 0
        for p in sorted(d["partitions"], key=lambda p: int(p["partition"]))
    ]


async def replay(
    writer: TrailWriter, bootstrap_servers: str, topics: Sequence[str], batch_size: int = 1000
) -> int:
    """Read `topics` from the stored heads (the beginning in an empty trail) up to their current ends."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=batch_size,
    )
    await consumer.start()
    written = 0
    try:
        tps = await _partitions(bootstrap_servers, topics)
        consumer.assign(tps)
        heads = await writer.load(tps)
        ends = await consumer.end_offsets(tps)
        beginnings = await consumer.beginning_offsets(tps)
        starts: dict[TopicPartition, int] = {}
        for tp, head in heads.items():
            starts[tp] = head.offset + 1 if head is not None else beginnings[tp]
            consumer.seek(tp, starts[tp])
        pending = {tp for tp in tps if ends[tp] > starts[tp]}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=500, max_records=batch_size)
            for tp, records in batches.items():
                records = [r for r in records if r.offset < ends[tp]]
                if records:
                    written += await writer.write(tp, records)
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()
    return written
