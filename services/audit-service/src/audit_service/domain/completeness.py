"""Completeness against the source: what Kafka holds (or the trail's consumer group committed) that the
trail does not. The database can be made to link up after a deletion; Kafka's offsets cannot be moved
back by whoever altered the database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from audit_service.domain.chain import ChainId


@dataclass(frozen=True)
class PartitionPositions:
    topic: str  # without the deployment's prefix
    partition: int
    start: int  # the log start offset: the first record Kafka still holds
    end: int  # the offset the next record will get
    committed: int | None  # the trail's consumer group's committed position; None: none
    old_end: int  # records below this offset are older than the ingest's grace


@dataclass(frozen=True)
class KafkaView:
    partitions: list[PartitionPositions]
    unwatched: dict[str, int]  # catalogue topics the trail does not watch -> records they hold
    grace_seconds: float


@dataclass(frozen=True)
class ChainSpan:
    first_offset: int
    last_offset: int


@dataclass(frozen=True)
class Completeness:
    problems: list[str]
    behind: int  # records in Kafka, younger than the grace, not in the trail yet (ingest lag)


def compare_with_kafka(view: KafkaView, spans: Mapping[ChainId, ChainSpan]) -> Completeness:
    problems: list[str] = []
    behind = 0
    for p in view.partitions:
        chain = ChainId(p.topic, p.partition)
        span = spans.get(chain)
        last = span.last_offset if span is not None else -1
        if span is not None and span.first_offset > p.start:
            problems.append(
                f"{chain}: the chain begins at offset {span.first_offset} but Kafka holds the partition "
                f"from offset {p.start}: entries at offsets {p.start} to {span.first_offset - 1} were "
                "never recorded"
            )
        if p.committed is not None and p.committed - 1 > last:
            problems.append(
                f"{chain}: the trail's consumer group committed offset {p.committed} in Kafka, but the "
                f"chain ends at offset {last}: entries at offsets {last + 1} to {p.committed - 1} are missing"
            )
            continue
        first_missing = max(last + 1, p.start)
        if p.old_end > first_missing:
            problems.append(
                f"{chain}: Kafka holds records at offsets {first_missing} to {p.old_end - 1}, older than "
                f"{view.grace_seconds:g} s, that are not in the trail"
                + (" (the partition has no chain)" if span is None else "")
            )
        behind += max(p.end - max(first_missing, p.old_end), 0)
    in_kafka = {ChainId(p.topic, p.partition) for p in view.partitions}
    topics = {p.topic for p in view.partitions}
    for chain in sorted(spans, key=lambda c: (c.topic, c.partition)):
        if chain.topic in topics and chain not in in_kafka:
            problems.append(f"{chain}: the trail holds a chain for a partition Kafka does not have")
    for topic, count in sorted(view.unwatched.items()):
        problems.append(f"{topic}: the topic holds {count} records but the trail does not watch it")
    return Completeness(problems, behind)


def problems_at_start(spans: Mapping[ChainId, ChainSpan]) -> list[str]:
    """Without Kafka at hand: the platform's topics never expire, so every chain begins at offset 0."""
    return [
        f"{chain}: the chain begins at offset {span.first_offset}, not 0: entries before it were never "
        "recorded"
        for chain, span in sorted(spans.items(), key=lambda kv: (kv[0].topic, kv[0].partition))
        if span.first_offset
    ]
