"""`/audit/verify`: recompute every chain from the database and check it against the signed checkpoints
(those published to the checkpoint topic first), and against what Kafka holds."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit_service.adapters import trail
from audit_service.adapters.checkpoint_log import PublishedCheckpoints
from audit_service.domain.chain import ChainId
from audit_service.domain.completeness import KafkaView, compare_with_kafka, problems_at_start
from audit_service.domain.verification import (
    ChainVerifier,
    VerificationResult,
    check_checkpoints,
    freshness_problems,
    merge_published,
    wanted_sizes,
)


async def verify_trail(
    pool: asyncpg.Pool,
    public_key: Ed25519PublicKey | list[Ed25519PublicKey],
    *,
    published: PublishedCheckpoints | None = None,
    kafka: KafkaView | None = None,
    now: datetime | None = None,
    max_age: float = 0.0,
) -> VerificationResult:
    """`published`: the checkpoint topic as read before the database snapshot (None: not read);
    `kafka`: the source's offsets, read before it too; `max_age`: how old the newest checkpoint may be."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        stored = [c.signed() for c in await trail.checkpoints(conn)]
        topic_problems: list[str] = []
        signed = stored
        if published is not None:
            signed, topic_problems = merge_published(stored, published.checkpoints, published.conflicting)
        wanted = wanted_sizes(signed)
        verifiers: dict[ChainId, ChainVerifier] = {}
        async for row in trail.stream_entries(conn, trail.EntryFilter(), chain_order=True, with_keys=False):
            chain = ChainId(row.topic, row.partition)
            verifier = verifiers.get(chain)
            if verifier is None:
                verifier = verifiers[chain] = ChainVerifier(chain, wanted.get(chain, ()))
            verifier.add(row.stored())
    report = check_checkpoints(signed, public_key, verifiers)
    report.problems[:0] = topic_problems
    if now is not None:
        report.problems += freshness_problems(signed, now, max_age)
    result = VerificationResult(list(verifiers.values()), report)
    if kafka is not None:
        result = dataclasses.replace(result, kafka=compare_with_kafka(kafka, result.spans()))
    else:
        report.problems += problems_at_start(result.spans())
    return result
