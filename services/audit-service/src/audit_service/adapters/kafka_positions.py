"""What Kafka says the trail should hold: each watched partition's first and end offsets, the offset the
trail's consumer group committed, and where records older than the ingest's grace end. Read outside the
database, so a verifier can tell a trail that is complete from one that only links up."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from audit_service.domain.completeness import KafkaView, PartitionPositions

CATALOGUE_NAMESPACE = "collections."
"""Topics of the event catalogue start with this: one of them with records that is not watched is a gap."""


async def read_positions(
    bootstrap: str, watched: Sequence[str], group: str, prefix: str, grace_seconds: float
) -> KafkaView | None:
    """None when Kafka cannot be asked (the verdict then says Kafka was not compared)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, request_timeout_ms=5000)
    try:
        await admin.start()
        await consumer.start()
        committed = {
            (tp.topic, tp.partition): meta.offset
            for tp, meta in (await admin.list_consumer_group_offsets(group)).items()
            if meta.offset >= 0
        }
        existing = set(await admin.list_topics())
        watched_set = set(watched)
        others = sorted(
            t
            for t in existing
            if t.startswith(prefix + CATALOGUE_NAMESPACE) and t not in watched_set and not t.endswith(".tmp")
        )
        names = [t for t in watched if t in existing] + others
        described = await admin.describe_topics(names) if names else []
        tps = [
            TopicPartition(d["topic"], p["partition"])
            for d in described
            if d["error_code"] == 0
            for p in d["partitions"]
        ]
        starts = await consumer.beginning_offsets(tps) if tps else {}
        ends = await consumer.end_offsets(tps) if tps else {}
        cutoff = int((time.time() - grace_seconds) * 1000)
        younger = await consumer.offsets_for_times(dict.fromkeys(tps, max(cutoff, 0))) if tps else {}
    except Exception:
        return None
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
        with contextlib.suppress(Exception):
            await admin.close()
    partitions: list[PartitionPositions] = []
    unwatched: dict[str, int] = {}
    for tp in sorted(tps, key=lambda t: (t.topic, t.partition)):
        if tp.topic not in watched_set:
            if ends[tp] > starts[tp]:
                unwatched[tp.topic.removeprefix(prefix)] = (
                    unwatched.get(tp.topic.removeprefix(prefix), 0) + ends[tp] - starts[tp]
                )
            continue
        found = younger.get(tp)
        partitions.append(
            PartitionPositions(
                topic=tp.topic.removeprefix(prefix),
                partition=tp.partition,
                start=starts[tp],
                end=ends[tp],
                committed=committed.get((tp.topic, tp.partition)),
                old_end=found.offset if found is not None else ends[tp],
            )
        )
    return KafkaView(partitions, unwatched, grace_seconds)
