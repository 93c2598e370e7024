"""Auditor routes for integrity: chain verification, signed checkpoints, the public key."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, Query
from starlette.responses import JSONResponse

from audit_service.adapters import trail
from audit_service.adapters.checkpoint_log import read_published
from audit_service.adapters.kafka_positions import read_positions
from audit_service.adapters.trail import CheckpointRow
from audit_service.api.deps import PoolDep, RuntimeDep, require_auditor, require_platform_auditor
from audit_service.application.runtime import checkpoint_topic, group_id, watched_topics
from audit_service.application.verify import verify_trail
from audit_service.domain.chain import ChainId
from audit_service.domain.checkpoints import CheckpointBody, key_id_of, public_key_pem
from audit_service.domain.merkle import consistency_proof, leaf_hash
from audit_service.domain.proofs import consistency_document
from dcp_platform.auth import Role, require_roles
from dcp_platform.errors import DomainError, ErrorKind
from dcp_platform.problems import BadRequest, Conflict, NotFound

MAX_BIGINT = 2**63 - 1  # PostgreSQL bigint

router = APIRouter(prefix="/audit", tags=["integrity"], dependencies=[Depends(require_platform_auditor)])


def checkpoint_view(row: CheckpointRow) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "key_id": row.key_id,
        "body": base64.b64encode(row.body).decode("ascii"),
        "signature": base64.b64encode(row.signature).decode("ascii"),
        "signed": json.loads(row.body),
    }


@router.get("/verify")
async def verify(runtime: RuntimeDep) -> dict[str, Any]:
    """Recompute every chain; check it against the signed checkpoints (the published ones outrank the
    database's), against their age, and against what Kafka holds. `ok` only when all of it holds."""
    settings = runtime.settings
    # Kafka first: what was there before the database snapshot must be in it
    kafka = await read_positions(
        settings.kafka_bootstrap_servers,
        watched_topics(settings),
        group_id(settings),
        settings.kafka_topic_prefix,
        settings.ingest_grace_seconds,
    )
    try:
        published = await read_published(settings.kafka_bootstrap_servers, checkpoint_topic(settings))
    except (KafkaError, OSError, TimeoutError):
        published = None
    result = await verify_trail(
        runtime.pool,
        runtime.trusted_keys,
        published=published,
        kafka=kafka,
        now=runtime.clock.now(),
        max_age=2 * settings.audit_checkpoint_interval_seconds,
    )
    # What cannot be compared proves nothing: the verdict is not ok until both sources answered.
    if published is None:
        result.checkpoints.problems.append(
            f"the checkpoint topic {checkpoint_topic(settings)} could not be read: the checkpoints were not "
            "compared with the published ones"
        )
    if kafka is None:
        result.checkpoints.problems.append(
            "Kafka could not be asked for its offsets: the trail was not compared with its source"
        )
    report = result.to_json()
    checkpoints: dict[str, Any] = report["checkpoints"]  # type: ignore[assignment]
    checkpoints["published"] = {
        "compared": published is not None,
        "latest": published.latest_seq if published is not None else None,
    }
    return report


@router.get("/checkpoints")
async def list_checkpoints(
    pool: PoolDep,
    runtime: RuntimeDep,
    after: Annotated[int, Query(ge=0, le=MAX_BIGINT)] = 0,
    limit: Annotated[int | None, Query(ge=1, le=100000)] = None,
) -> dict[str, Any]:
    """Signed checkpoints in order (this document is what the standalone verifier takes)."""
    async with pool.acquire() as conn:
        rows = await trail.checkpoints(conn, after, limit)
    return {"key_id": runtime.signer.key_id, "checkpoints": [checkpoint_view(r) for r in rows]}


@router.get("/checkpoints/consistency")
async def checkpoint_consistency(
    pool: PoolDep,
    first: Annotated[int, Query(alias="from", ge=1, le=MAX_BIGINT)],
    second: Annotated[int, Query(alias="to", ge=1, le=MAX_BIGINT)],
) -> dict[str, Any]:
    """Proof (RFC 6962 section 2.1.2, per chain) that checkpoint `to` extends checkpoint `from`: an
    auditor who kept `from` checks a newer checkpoint with it, without the trail
    (`audit-service verify consistency`)."""
    if second < first:
        raise BadRequest("`to` must not be before `from`.")
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        rows = {seq: await trail.checkpoint_by_seq(conn, seq) for seq in {first, second}}
        for seq in (first, second):
            if rows[seq] is None:
                raise NotFound(f"No checkpoint {seq}.")
        earlier, later = rows[first], rows[second]
        assert earlier is not None and later is not None
        earlier_body, later_body = _readable(earlier), _readable(later)
        proofs: dict[tuple[str, int], list[bytes]] = {}
        for before in earlier_body.chains:
            after = later_body.chain(before.topic, before.partition)
            chain = ChainId(before.topic, before.partition)
            if after is None or after.size < before.size:
                now = "no longer holds it" if after is None else f"holds {after.size} entries of it"
                raise CheckpointNotAnExtension(
                    f"checkpoint {second} does not extend checkpoint {first}: {chain} had {before.size} "
                    f"entries in {first}, {second} {now}"
                )
            if after.size == before.size or before.size == 0:
                continue
            leaves = [
                leaf_hash(h) async for _, _, _, h in trail.stream_chain_hashes(conn, chain, 0, after.size)
            ]
            if len(leaves) < after.size:
                raise Conflict(
                    f"{chain}: checkpoint {second} signed {after.size} entries, the database holds "
                    f"{len(leaves)}: entries seq {len(leaves)} to {after.size - 1} are missing"
                )
            proofs[(before.topic, before.partition)] = consistency_proof(leaves, before.size)
    return consistency_document(
        (earlier.seq, earlier.body, earlier.signature), (later.seq, later.body, later.signature), proofs
    )


class CheckpointNotAnExtension(DomainError, code="checkpoint-not-an-extension", kind=ErrorKind.CONFLICT):
    """A later checkpoint that lost or shrank a chain the earlier one signed: the trail was truncated."""


class CheckpointUnreadable(DomainError, code="checkpoint-unreadable", kind=ErrorKind.CONFLICT):
    """A stored checkpoint whose body is not a checkpoint (changed in the database)."""


def _readable(row: trail.CheckpointRow) -> CheckpointBody:
    """A stored checkpoint's body; one that cannot be read is a conflict naming it, never a 500."""
    try:
        return CheckpointBody.from_bytes(row.body)
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointUnreadable(f"checkpoint {row.seq} as stored cannot be read: {exc}") from exc


@router.post("/checkpoints", status_code=201, dependencies=[Depends(require_roles(Role.ADMIN))])
async def create_checkpoint(runtime: RuntimeDep) -> JSONResponse:
    """Sign the current state now (200 with the latest checkpoint when nothing changed since).

    Admins only: auditors read, never write (not even a checkpoint)."""
    assert runtime.checkpointer is not None
    row, created = await runtime.checkpointer.create()
    if row is None:
        return JSONResponse({"detail": "the trail is empty: nothing to sign"}, status_code=200)
    return JSONResponse(checkpoint_view(row), status_code=201 if created else 200)


# The key checks a proof offline: every auditor may have it (a creditor-scoped one too, for its proofs).
keys_router = APIRouter(prefix="/audit", tags=["integrity"], dependencies=[Depends(require_auditor)])


@keys_router.get("/public-key")
async def public_key(runtime: RuntimeDep) -> dict[str, Any]:
    """The Ed25519 key that verifies checkpoint signatures."""
    return {
        "algorithm": "Ed25519",
        "key_id": runtime.signer.key_id,
        "public_key_pem": public_key_pem(runtime.signer.public_key),
        # every key the service trusts, oldest first (a verifier should keep its own copy of the first)
        "keys": list(
            {
                key_id_of(k): {"key_id": key_id_of(k), "public_key_pem": public_key_pem(k)}
                for k in runtime.trusted_keys
            }.values()
        ),
    }
