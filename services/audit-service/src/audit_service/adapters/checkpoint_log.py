"""Where signed checkpoints go besides the database: the Kafka topic `audit.checkpoints` and a witness
directory an operator ships elsewhere. Whoever altered the database cannot recall what these hold.

The topic never expires (retention -1, never compacted) and is written with acks=all by an idempotent
producer; each record is one checkpoint keyed by its seq. A replica may publish the same checkpoint
twice (after a crash between publishing and noting it): readers keep one copy per seq, and two
different checkpoints with one seq are reported, not hidden.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from audit_service.domain.verification import SignedCheckpoint
from dcp_platform.clock import Clock

log = logging.getLogger(__name__)

CHECKPOINT_TOPIC: Final = "audit.checkpoints"

TOPIC_CONFIG: Final = {
    "cleanup.policy": "delete",
    "retention.ms": "-1",
    "retention.bytes": "-1",
}


def record_of(checkpoint: SignedCheckpoint, key_id: str) -> bytes:
    return json.dumps(
        {
            "seq": checkpoint.seq,
            "key_id": key_id,
            "body": base64.b64encode(checkpoint.body).decode("ascii"),
            "signature": base64.b64encode(checkpoint.signature).decode("ascii"),
        },
        sort_keys=True,
    ).encode()


def checkpoint_of(value: bytes) -> SignedCheckpoint:
    obj: Any = json.loads(value)
    return SignedCheckpoint(
        int(obj["seq"]), base64.b64decode(obj["body"]), base64.b64decode(obj["signature"])
    )


@dataclass(frozen=True)
class PublishedCheckpoints:
    """What the topic holds: one checkpoint per seq, and the seqs published with differing bodies."""

    checkpoints: dict[int, SignedCheckpoint]
    conflicting: list[int]
    unreadable: int = 0

    @property
    def latest_seq(self) -> int:
        return max(self.checkpoints, default=0)


async def ensure_topic(bootstrap: str, topic: str) -> None:
    """Create the checkpoint topic (one partition: one total order) if it does not exist yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    await admin.start()
    try:
        if topic in set(await admin.list_topics()):
            return
        brokers = len((await admin.describe_cluster())["brokers"])
        copies = min(3, brokers)
        config = dict(TOPIC_CONFIG, **({"min.insync.replicas": "2"} if copies >= 3 else {}))
        await admin.create_topics([NewTopic(topic, 1, copies, topic_configs=config)])
        for _ in range(100):
            if topic in set(await admin.list_topics()):
                return
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


async def read_published(bootstrap: str, topic: str, limit_seconds: float = 10.0) -> PublishedCheckpoints:
    """Every checkpoint the topic holds, read from its beginning up to its end now."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=int(limit_seconds * 1000),
    )
    await consumer.start()
    found: dict[int, SignedCheckpoint] = {}
    conflicting: set[int] = set()
    unreadable = 0
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return PublishedCheckpoints({}, [])
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        pending = {tp for tp in tps if ends[tp] > 0}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_seconds
        while pending and loop.time() < deadline:
            batches = await consumer.getmany(*pending, timeout_ms=500)
            for records in batches.values():
                for record in records:
                    try:
                        cp = checkpoint_of(record.value or b"")
                    except (ValueError, KeyError, TypeError):
                        unreadable += 1
                        continue
                    known = found.setdefault(cp.seq, cp)
                    if (known.body, known.signature) != (cp.body, cp.signature):
                        conflicting.add(cp.seq)
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        if pending:
            raise TimeoutError(f"reading {topic} to its end took longer than {limit_seconds} s")
    finally:
        await consumer.stop()
    return PublishedCheckpoints(found, sorted(conflicting), unreadable)


class CheckpointPublisher:
    """Publishes signed checkpoints to the topic (acks=all) and, if configured, the witness directory."""

    def __init__(self, bootstrap: str, topic: str, witness_dir: Path | None = None) -> None:
        self._bootstrap = bootstrap
        self.topic = topic
        self._witness_dir = witness_dir
        self._producer: AIOKafkaProducer | None = None
        self.published_seq = 0  # the newest seq known to be in the topic

    async def start(self) -> None:
        """Connect now if Kafka answers; otherwise the first publish connects (the service starts and
        signs all the same, and publishes what it signed once Kafka is back)."""
        if self._witness_dir is not None:
            self._witness_dir.mkdir(parents=True, exist_ok=True)
        try:
            await self.connect()
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("checkpoint topic not reachable yet (%s); publishing later", type(exc).__name__)

    async def connect(self) -> None:
        """Connect (the topic ensured, the newest published seq read) unless connected."""
        if self._producer is not None:
            return
        await ensure_topic(self._bootstrap, self.topic)
        producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            self.published_seq = (await read_published(self._bootstrap, self.topic)).latest_seq
        except BaseException:
            await producer.stop()
            raise
        self._producer = producer

    async def stop(self) -> None:
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()
            self._producer = None

    async def publish(self, checkpoints: list[tuple[SignedCheckpoint, str]]) -> int:
        """Publish those newer than what the topic is known to hold, in seq order; returns how many."""
        await self.connect()
        assert self._producer is not None
        sent = 0
        for checkpoint, key_id in sorted(checkpoints, key=lambda c: c[0].seq):
            if checkpoint.seq <= self.published_seq:
                continue
            value = record_of(checkpoint, key_id)
            await self._producer.send_and_wait(self.topic, value=value, key=str(checkpoint.seq).encode())
            if self._witness_dir is not None:
                write_witness(self._witness_dir, checkpoint.seq, value)
            self.published_seq = checkpoint.seq
            sent += 1
        return sent


def write_witness(directory: Path, seq: int, value: bytes) -> Path:
    """`checkpoint-<seq>.json`, written whole (a temporary file renamed) and never overwritten."""
    target = directory / f"checkpoint-{seq:012d}.json"
    if target.exists():
        return target
    temporary = directory / f".{target.name}.{os.getpid()}.tmp"
    temporary.write_bytes(value + b"\n")
    os.replace(temporary, target)
    return target


def read_witness(directory: Path) -> list[SignedCheckpoint]:
    return [checkpoint_of(p.read_bytes()) for p in sorted(directory.glob("checkpoint-*.json"))]


class DisclosurePublisher:
    """Records an auditor's unmasking of a case's personal data as `PersonalDataDisclosed` on the case's
    topic (acks=all) before anything is shown: the trail ingests it like every other event."""

    def __init__(self, bootstrap: str, topic: str, clock: Clock) -> None:
        self._bootstrap = bootstrap
        self.topic = topic
        self._clock = clock
        self._producer: AIOKafkaProducer | None = None

    async def publish(self, case_id: str, view: str, reason: str) -> None:
        from dcp_events import encode_event, new_event
        from dcp_events.catalogue.cases import PersonalDataDisclosed
        from dcp_platform.context import current_actor

        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap, acks="all", enable_idempotence=True
            )
            await producer.start()
            self._producer = producer
        actor = current_actor()
        event = new_event(
            PersonalDataDisclosed(view=view, reason=reason.strip()),
            subject=case_id,
            source="/audit-service",
            actor=actor.actor,
            actorrole=actor.actorrole,
            correlationid=actor.correlationid,
            causationid=actor.causationid,
            traceparent=actor.traceparent,
            time=self._clock.now(),
        )
        await self._producer.send_and_wait(self.topic, encode_event(event), key=case_id.encode())

    async def stop(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            with contextlib.suppress(Exception):
                await producer.stop()
