"""`/audit/verify`: recompute every chain from the database and check it against the signed checkpoints."""

from __future__ import annotations

import contextlib

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit_service.adapters import trail
from audit_service.domain.chain import ChainId
from audit_service.domain.verification import (
    ChainVerifier,
    VerificationResult,
    check_checkpoints,
    wanted_sizes,
)


async def verify_trail(pool: asyncpg.Pool, public_key: Ed25519PublicKey) -> VerificationResult:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        signed = [c.signed() for c in await trail.checkpoints(conn)]
        wanted = wanted_sizes(signed)
        verifiers: dict[ChainId, ChainVerifier] = {}
        async for row in trail.stream_entries(conn, trail.EntryFilter(), chain_order=True):
            chain = ChainId(row.topic, row.partition)
            verifier = verifiers.get(chain)
            if verifier is None:
                verifier = verifiers[chain] = ChainVerifier(chain, wanted.get(chain, ()))
            verifier.add(row.stored())
    return VerificationResult(list(verifiers.values()), check_checkpoints(signed, public_key, verifiers))


async def committed_offsets(bootstrap: str, group: str) -> dict[tuple[str, int], int] | None:
    """The offsets the trail's consumer group committed in Kafka, by (prefixed topic, partition); None
    when Kafka cannot be asked. The ingest commits there only after the database committed the batch,
    so every offset below a committed one must be in the trail."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        offsets = await admin.list_consumer_group_offsets(group)
    except Exception:
        return None
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


def kafka_problems(
    committed: dict[tuple[str, int], int], last_offsets: dict[ChainId, int], prefix: str
) -> list[str]:
    """A chain that ends before what Kafka says was committed lost its tail (or never had it)."""
    problems = []
    for (topic, partition), next_offset in sorted(committed.items()):
        chain = ChainId(topic.removeprefix(prefix), partition)
        last = last_offsets.get(chain, -1)
        if next_offset - 1 > last:
            problems.append(
                f"{chain}: the trail's consumer group committed offset {next_offset} in Kafka, but the "
                f"chain ends at offset {last}: entries up to offset {next_offset - 1} are missing"
            )
    return problems
