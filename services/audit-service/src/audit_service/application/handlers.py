"""The audit service's use cases and their table (run by the platform CommandBus)."""

from __future__ import annotations

import logging

from audit_service.adapters import trail
from audit_service.adapters.trail import CheckpointRow
from audit_service.application.commands import SignCheckpoint
from audit_service.application.ports import AuditEnvironment, AuditUnitOfWork
from audit_service.domain.chain import GENESIS_HASH
from audit_service.domain.checkpoints import ChainState, new_body
from audit_service.domain.merkle import MerkleAccumulator, leaf_hash
from dcp_platform.application import Handler
from dcp_platform.errors import DomainError, ErrorKind

log = logging.getLogger("audit_service.application.checkpoints")


class TrailNotSignable(DomainError, code="trail-not-signable", kind=ErrorKind.CONFLICT):
    """The stored chain does not link up (entries missing or altered since the last checkpoint);
    signing it would vouch for a broken trail. `GET /audit/verify` says where it breaks."""

    title = "The trail does not link up: not signed"


async def sign_checkpoint(
    command: SignCheckpoint, uow: AuditUnitOfWork, env: AuditEnvironment
) -> tuple[CheckpointRow | None, bool]:
    """Sign the current state if it changed since the latest checkpoint: (latest checkpoint, created).

    Each checkpoint keeps every chain's Merkle frontier, so the next one reads only the newer hashes.
    A chain whose stored links do not join up is never signed: the checkpoint fails loudly instead.
    """
    conn = uow.conn
    await trail.lock_checkpointing(conn)
    latest = await trail.latest_checkpoint(conn)
    previous = latest.frontiers if latest is not None else {}
    states: list[ChainState] = []
    frontiers: dict[str, object] = {}
    for chain in await trail.chains(conn):
        key = f"{chain.topic}/{chain.partition}"
        known = previous.get(key)
        tree = MerkleAccumulator([(int(s), bytes.fromhex(h)) for s, h in known["frontier"]] if known else [])
        size = int(known["size"]) if known else 0
        head = bytes.fromhex(known["head_hash"]) if known else GENESIS_HASH
        last_offset = int(known["last_offset"]) if known else -1
        async for seq, offset, prev_hash, entry_hash in trail.stream_chain_hashes(conn, chain, size):
            if seq != size or prev_hash != head:
                raise TrailNotSignable(f"{chain}: the link at seq {seq} does not join the chain")
            tree.add(leaf_hash(entry_hash))
            size, head, last_offset = size + 1, entry_hash, offset
        states.append(ChainState(chain.topic, chain.partition, size, head, last_offset, tree.root()))
        frontiers[key] = {
            "size": size,
            "head_hash": head.hex(),
            "last_offset": last_offset,
            "frontier": [[s, h.hex()] for s, h in tree.frontier],
        }
    if not states or (latest is not None and frontiers == previous):
        return latest, False
    seq = latest.seq + 1 if latest is not None else 1
    body = new_body(seq, env.clock.now(), env.signer.key_id, latest.body if latest else None, states)
    raw = body.to_bytes()
    await trail.insert_checkpoint(
        conn,
        seq=seq,
        body=raw,
        signature=env.signer.sign(raw),
        key_id=env.signer.key_id,
        root=body.root,
        tree_size=body.tree_size,
        created_at=env.clock.now(),
        frontiers=frontiers,
    )
    log.info("audit checkpoint %d signed over %d entries", seq, body.tree_size)
    created = await trail.latest_checkpoint(conn)
    return created, True


COMMAND_HANDLERS: dict[type, Handler[AuditUnitOfWork, AuditEnvironment]] = {
    SignCheckpoint: sign_checkpoint,
}
