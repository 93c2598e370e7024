"""Auditor routes over the trail: entries by filter, a case's trail, one entry, and its inclusion proof."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from audit_service.adapters import trail
from audit_service.api import cursors
from audit_service.api.deps import (
    AuditorDep,
    EntryFilterDep,
    PoolDep,
    RevealsPii,
    RuntimeDep,
    require_auditor,
    require_case_in_scope,
)
from audit_service.api.views import entry_view
from audit_service.domain.chain import ChainId
from audit_service.domain.proofs import build_proof
from dcp_platform.disclosure import Unmask, UnmaskReason
from dcp_platform.problems import Conflict, NotFound

router = APIRouter(prefix="/audit", tags=["audit trail"], dependencies=[Depends(require_auditor)])

Limit = Annotated[int, Query(ge=1, le=1000)]
# Entry ids are PostgreSQL bigints: anything outside cannot exist (404), never a database error.
EntryId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/entries")
async def list_entries(
    reveal: RevealsPii,
    pool: PoolDep,
    runtime: RuntimeDep,
    flt: EntryFilterDep,
    cursor: str | None = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Entries by actor, event type (with or without `.vN`), case, topic and time range, in trail order."""
    async with pool.acquire() as conn:
        rows = await trail.list_entries(conn, flt, cursors.after_id(cursor), limit)
    data_keys = await runtime.data_keys(rows)
    return {
        "items": [entry_view(r, reveal=reveal, keys=runtime.keys, data_keys=data_keys) for r in rows],
        "next_cursor": cursors.encode({"id": rows[-1].id}) if len(rows) == limit else None,
    }


@router.get("/cases/{case_id}/trail")
async def case_trail(
    case_id: str,
    pool: PoolDep,
    runtime: RuntimeDep,
    principal: AuditorDep,
    cursor: str | None = None,
    limit: Limit = 500,
    unmask: Unmask = False,
    reason: UnmaskReason = None,
) -> dict[str, Any]:
    """Everything that happened to a case, across all topics, in time order, with actor and evidence.
    Personal data is masked outside AUDIT_PII_ROLES; an auditor may ask to see it with `unmask=true`
    and a `reason` (recorded as `PersonalDataDisclosed` on the case's topic first)."""
    async with pool.acquire() as conn:
        await require_case_in_scope(conn, principal, case_id)
        rows = await trail.case_trail(conn, case_id, cursors.after_time_id(cursor), limit)
    reveal = await runtime.reveals_case(
        principal, case_id, "GET /audit/cases/{case_id}/trail", unmask, reason
    )
    data_keys = await runtime.data_keys(rows)
    last = rows[-1] if len(rows) == limit else None
    return {
        "case_id": case_id,
        "items": [entry_view(r, reveal=reveal, keys=runtime.keys, data_keys=data_keys) for r in rows],
        "next_cursor": (
            cursors.encode({"t": (last.index.event_time or last.index.kafka_time).isoformat(), "id": last.id})
            if last is not None
            else None
        ),
    }


@router.get("/entries/{entry_id}")
async def get_entry(
    entry_id: EntryId,
    pool: PoolDep,
    runtime: RuntimeDep,
    principal: AuditorDep,
    unmask: Unmask = False,
    reason: UnmaskReason = None,
) -> dict[str, Any]:
    """One entry (personal data as on the case's trail)."""
    async with pool.acquire() as conn:
        row = await trail.entry_by_id(conn, entry_id)
        if row is None:
            raise NotFound(f"No entry {entry_id}.")
        await require_case_in_scope(conn, principal, row.index.case_id)
    reveal = await runtime.reveals_case(
        principal, row.index.case_id, "GET /audit/entries/{entry_id}", unmask, reason
    )
    return entry_view(row, reveal=reveal, keys=runtime.keys, data_keys=await runtime.data_keys([row]))


@router.get("/entries/{entry_id}/proof")
async def entry_proof(entry_id: EntryId, pool: PoolDep, principal: AuditorDep) -> dict[str, Any]:
    """Evidence that the entry is covered by a signed checkpoint (RFC 6962 inclusion paths, two levels).

    Check it with `audit-verify proof` and the public key, without trusting this service.
    """
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        row = await trail.entry_by_id(conn, entry_id)
        if row is None:
            raise NotFound(f"No entry {entry_id}.")
        await require_case_in_scope(conn, principal, row.index.case_id)
        chain = ChainId(row.topic, row.partition)
        checkpoint = await trail.covering_checkpoint(conn, chain, row.seq)
        if checkpoint is None:
            raise Conflict(
                f"Entry {entry_id} is not covered by a signed checkpoint yet; one is made at the next "
                "interval, or on demand with POST /audit/checkpoints."
            )
        size = int(checkpoint.frontiers[f"{chain.topic}/{chain.partition}"]["size"])
        hashes = [h async for _, _, _, h in trail.stream_chain_hashes(conn, chain, 0, size)]
    proof = build_proof(
        entry_id=row.id,
        topic=row.topic,
        partition=row.partition,
        seq=row.seq,
        entry_hash=row.hash,
        chain_hashes=hashes,
        checkpoint_seq=checkpoint.seq,
        checkpoint_body=checkpoint.body,
        signature=checkpoint.signature,
    )
    return {**proof.to_json(), "prev_hash": row.prev_hash.hex()}
