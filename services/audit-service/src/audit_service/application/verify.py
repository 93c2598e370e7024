"""`/audit/verify`: recompute every chain from the database and check it against the signed checkpoints."""

from __future__ import annotations

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
