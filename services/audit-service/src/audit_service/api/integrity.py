"""Auditor routes for integrity: chain verification, signed checkpoints, the public key."""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.responses import JSONResponse

from audit_service.adapters import trail
from audit_service.adapters.trail import CheckpointRow
from audit_service.api.deps import AUDIT_ROLES, PoolDep, RuntimeDep
from audit_service.application.runtime import group_id
from audit_service.application.verify import committed_offsets, kafka_problems, verify_trail
from audit_service.domain.checkpoints import public_key_pem
from dcp_platform.auth import Role, require_roles

MAX_BIGINT = 2**63 - 1  # PostgreSQL bigint

router = APIRouter(prefix="/audit", tags=["integrity"], dependencies=[Depends(require_roles(*AUDIT_ROLES))])


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
    """Recompute every chain; report the first broken link per chain and checkpoint mismatches."""
    settings = runtime.settings
    # Kafka first: what was committed there before the database snapshot must be in it
    committed = await committed_offsets(settings.kafka_bootstrap_servers, group_id(settings))
    result = await verify_trail(runtime.pool, runtime.signer.public_key)
    if committed is not None:
        found = kafka_problems(committed, result.last_offsets(), settings.kafka_topic_prefix)
        result = dataclasses.replace(result, kafka_problems=found)
    return result.to_json()


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


@router.post("/checkpoints", status_code=201, dependencies=[Depends(require_roles(Role.ADMIN))])
async def create_checkpoint(runtime: RuntimeDep) -> JSONResponse:
    """Sign the current state now (200 with the latest checkpoint when nothing changed since).

    Admins only: auditors read, never write (not even a checkpoint)."""
    assert runtime.checkpointer is not None
    row, created = await runtime.checkpointer.create()
    if row is None:
        return JSONResponse({"detail": "the trail is empty: nothing to sign"}, status_code=200)
    return JSONResponse(checkpoint_view(row), status_code=201 if created else 200)


@router.get("/public-key")
async def public_key(runtime: RuntimeDep) -> dict[str, Any]:
    """The Ed25519 key that verifies checkpoint signatures."""
    return {
        "algorithm": "Ed25519",
        "key_id": runtime.signer.key_id,
        "public_key_pem": public_key_pem(runtime.signer.public_key),
    }
