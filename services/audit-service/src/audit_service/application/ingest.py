"""Ingest: every record of every watched partition becomes the next entry of its chain, exactly once.

The entries of a batch and the next offset commit in one transaction; on assignment the consumer (the
platform's `PartitionConsumer`) seeks to the stored chain heads, so a crash anywhere neither loses nor
repeats a record. A record is never skipped nor dead-lettered, even one that cannot be decoded: when
the database refuses a batch, the partition is re-read from the stored head.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord
from cryptography.exceptions import InvalidTag
from prometheus_client import Counter, Gauge

from audit_service.adapters import trail
from audit_service.adapters.case_keys import CaseKeys, encrypt_openings
from audit_service.domain.chain import AuditChain, ChainHead, ChainId, Link
from audit_service.domain.commitments import Openings, SaltDeriver, encode_openings
from audit_service.domain.entries import EntryIndex, RecordFacts, build_entry, index_of
from dcp_platform.eventsourcing.partitions import PartitionConsumer, seek_to_resume_points

log = logging.getLogger(__name__)

ENTRIES_RECORDED = Counter(
    "dcp_audit_entries_recorded_total", "Entries appended to the audit trail", ["topic"]
)
CHAIN_HEAD_OFFSET = Gauge(
    "dcp_audit_chain_head_offset", "Kafka offset of the newest entry of each chain", ["topic", "partition"]
)
REDELIVERIES = Counter(
    "dcp_audit_redeliveries_total",
    "Entries repeating an event id their chain already holds (a producer re-sent it): kept and marked",
    ["topic"],
)
BATCHES_REFUSED = Counter(
    "dcp_audit_batches_refused_total", "Batches the database refused (re-read)", ["topic"]
)

ERASURES = Counter(
    "dcp_audit_erasures_total", "Cases whose personal data in the trail was erased (their data key destroyed)"
)

ERASURE_TYPE = "collections.case.erasure_completed."

GROUP_ID = "audit-service.trail"


class TrailWriter:
    """Appends records to their chains; keeps the chain heads it last committed.

    Its resume points (`next_offsets`) are the stored chain heads: a partition is read on after its head.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        group_id: str = GROUP_ID,
        topic_prefix: str = "",
        salts: SaltDeriver | None = None,
        keys: CaseKeys | None = None,
    ) -> None:
        self._pool = pool
        self.group_id = group_id
        self._prefix = topic_prefix
        self._salts = salts  # None: personal data is hashed in the clear (format 1 entries)
        self._keys = keys  # None: openings kept unencrypted (no erasure possible)
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

    async def next_offsets(self, partitions: Sequence[TopicPartition]) -> Mapping[TopicPartition, int | None]:
        """The offset after each partition's stored chain head; None for a chain not begun yet."""
        heads = await self.load(partitions)
        for tp, head in heads.items():
            if head is not None:
                CHAIN_HEAD_OFFSET.labels(tp.topic, str(tp.partition)).set(head.offset)
        return {tp: head.offset + 1 if head is not None else None for tp, head in heads.items()}

    async def write(self, tp: TopicPartition, records: Sequence[ConsumerRecord[bytes, bytes]]) -> int:
        """Append `records` (one partition, offset order); returns how many were new."""
        chain_id = self.chain_of(tp)
        known = self.chains.get(chain_id)
        if known is None:
            await self.load([tp])
            known = self.chains[chain_id]
        draft = AuditChain(chain_id, known.head)
        links: list[tuple[Link, EntryIndex]] = []
        opened: dict[int, Openings] = {}
        creditors: dict[str, str] = {}  # case -> its creditor, from a CaseOpened or placement
        for record in records:
            entry, doc, entry_openings = build_entry(
                RecordFacts(
                    topic=chain_id.topic,
                    partition=record.partition,
                    offset=record.offset,
                    timestamp_ms=record.timestamp,
                    key=record.key,
                    value=record.value,
                    headers=tuple(record.headers or ()),
                ),
                self._salts,
            )
            link = draft.extend(record.offset, entry)
            if link is not None:
                index = index_of(doc)
                links.append((link, index))
                creditor = creditor_of(doc, index)
                if creditor is not None and index.case_id:
                    creditors.setdefault(index.case_id, creditor)
                if entry_openings:
                    opened[link.seq] = entry_openings
        if not links:
            return 0
        cached: set[str] = set()  # keys this transaction created or erased
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                redeliveries = await self._redeliveries(conn, chain_id, links)
                openings = await self._sealed_openings(conn, links, opened, cached)
                await trail.append(conn, links, redeliveries, openings)
                await self._erasures(conn, links, cached)
                await trail.record_creditors(conn, creditors)
                await trail.save_offset(conn, self.group_id, tp.topic, tp.partition, links[-1][0].offset + 1)
        except BaseException:
            if self._keys is not None:
                self._keys.forget_all(cached)
            raise
        self.chains[chain_id] = draft
        ENTRIES_RECORDED.labels(chain_id.topic).inc(len(links))
        if redeliveries:
            REDELIVERIES.labels(chain_id.topic).inc(len(redeliveries))
        CHAIN_HEAD_OFFSET.labels(tp.topic, str(tp.partition)).set(links[-1][0].offset)
        return len(links)

    async def _sealed_openings(
        self,
        conn: asyncpg.Connection,
        links: Sequence[tuple[Link, EntryIndex]],
        opened: dict[int, Openings],
        cached: set[str],
    ) -> dict[int, bytes]:
        """The openings of each entry, encrypted under its case's data key; none for an erased case."""
        if not opened:
            return {}
        if self._keys is None:
            return {seq: encode_openings(o) or b"" for seq, o in opened.items()}
        subject = {link.seq: index.case_id or trail.UNKEYED for link, index in links}
        try:
            keys = await self._keys.for_writing(conn, {subject[seq] for seq in opened}, cached)
        except (KeyError, ValueError, InvalidTag) as exc:  # a stored key no master key unwraps
            log.error("audit: case keys cannot be unwrapped (%s): openings not kept", type(exc).__name__)
            return {}
        sealed: dict[int, bytes] = {}
        for link, index in links:
            values = opened.get(link.seq)
            key = keys.get(subject[link.seq]) if values else None
            if values and key is not None:
                sealed[link.seq] = encrypt_openings(
                    key, values, f"{index.topic}/{index.partition}/{link.offset}"
                )
        return sealed

    async def _erasures(
        self, conn: asyncpg.Connection, links: Sequence[tuple[Link, EntryIndex]], cached: set[str]
    ) -> None:
        """An ErasureCompleted entry destroys its case's data key, in the transaction that records it."""
        if self._keys is None:
            return
        for _, index in links:
            if index.case_id and (index.event_type or "").startswith(ERASURE_TYPE):
                await self._keys.erase(conn, index.case_id, index.event_id, cached)
                ERASURES.inc()

    @staticmethod
    async def _redeliveries(
        conn: asyncpg.Connection, chain: ChainId, links: Sequence[tuple[Link, EntryIndex]]
    ) -> dict[int, int]:
        """seq -> the seq of the chain's first entry of the same event id, for each link repeating one
        (the chain before this batch, or earlier in it)."""
        ids = {index.event_id for _, index in links if index.event_id is not None}
        if not ids:
            return {}
        first = await trail.first_entries_of(conn, chain, sorted(ids))
        marked: dict[int, int] = {}
        for link, index in links:
            if index.event_id is None:
                continue
            seen = first.setdefault(index.event_id, link.seq)
            if seen != link.seq:
                marked[link.seq] = seen
        return marked


_OPENING_TYPES = ("collections.case.opened.", "integration.placement.placed.")


def creditor_of(doc: dict[str, object], index: EntryIndex) -> str | None:
    """The creditor a case's opening entry names (its account's; not personal data, never committed)."""
    if not (index.event_type or "").startswith(_OPENING_TYPES):
        return None
    event = doc.get("event")
    data = event.get("data") if isinstance(event, dict) else None
    account = data.get("account") if isinstance(data, dict) else None
    creditor = account.get("creditor_id") if isinstance(account, dict) else None
    return creditor if isinstance(creditor, str) and creditor else None


class TrailIngestor:
    """The consumer group that feeds the trail.

    Unlike the platform's EventConsumer it never dead-letters: every record, even one that cannot be
    decoded, is recorded in its chain. A batch the database refuses is re-read from the stored head.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topics: Sequence[str],
        *,
        group_id: str = GROUP_ID,
        topic_prefix: str = "",
        batch_size: int = 500,
        retry_delay: float = 1.0,
        salts: SaltDeriver | None = None,
        keys: CaseKeys | None = None,
    ) -> None:
        self.group_id = group_id
        self._salts = salts
        self._keys = keys
        self._topic_prefix = topic_prefix
        self._retry_delay = retry_delay
        self._writer: TrailWriter | None = None
        self.on_written: Callable[[int], None] | None = None  # told how many entries each batch added
        self._partitions = PartitionConsumer(
            bootstrap_servers,
            group_id=group_id,
            topics=topics,
            topic_prefix=topic_prefix,
            resume=self,
            on_batch=self._write,
            batch_size=batch_size,
        )

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics recorded, named without the deployment's prefix."""
        return self._partitions.topics

    @property
    def assigned(self) -> asyncio.Event:
        """Set once partitions were assigned and sought to their chain heads."""
        return self._partitions.assigned

    @property
    def writer(self) -> TrailWriter:
        if self._writer is None:
            raise RuntimeError("the trail ingestor is not started")
        return self._writer

    async def start(self, pool: asyncpg.Pool) -> None:
        """Record into the trail behind `pool` (the trail role's)."""
        self._writer = TrailWriter(
            pool, group_id=self.group_id, topic_prefix=self._topic_prefix, salts=self._salts, keys=self._keys
        )
        await self._partitions.start()

    async def stop(self) -> None:
        """Finish and commit the batch in hand, then leave the group."""
        await self._partitions.stop()

    def health(self) -> str | None:
        """None when the trail is being fed; else why not (see `PartitionConsumer.health`)."""
        return self._partitions.health()

    async def next_offsets(self, partitions: Sequence[TopicPartition]) -> Mapping[TopicPartition, int | None]:
        return await self.writer.next_offsets(partitions)

    async def _write(self, tp: TopicPartition, records: Sequence[ConsumerRecord[bytes, bytes]]) -> int | None:
        try:
            written = await self.writer.write(tp, records)
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
            # Refused (another writer moved the chain, or the database failed): re-read from the head.
            BATCHES_REFUSED.labels(tp.topic).inc()
            log.warning(
                "audit: batch of %s[%d] refused (%s); re-reading", tp.topic, tp.partition, type(exc).__name__
            )
            await self._partitions.pause(self._retry_delay)
            try:
                await self._partitions.resume([tp])
            except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError):
                log.warning("audit: cannot read the head of %s[%d] yet", tp.topic, tp.partition)
                self._partitions.seek(tp, records[0].offset)
            return None
        if written and self.on_written is not None:
            self.on_written(written)
        next_offset: int = records[-1].offset + 1
        return next_offset


async def _topic_partitions(bootstrap_servers: str, topics: Sequence[str]) -> list[TopicPartition]:
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
        tps = await _topic_partitions(bootstrap_servers, topics)
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        starts = await seek_to_resume_points(consumer, writer, tps)
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
