"""The audit service's use cases and their table (run by the platform CommandBus)."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg

from audit_service.adapters import trail
from audit_service.adapters.trail import CheckpointRow
from audit_service.application.commands import SignCheckpoint
from audit_service.application.ports import AuditEnvironment, AuditUnitOfWork
from audit_service.domain.chain import GENESIS_HASH, ChainId
from audit_service.domain.checkpoints import (
    ChainState,
    CheckpointBody,
    CheckpointSigner,
    key_id_of,
    new_body,
    raw_public_key,
    signature_valid,
)
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
    if command.published_seq > (latest.seq if latest is not None else 0):
        have = latest.seq if latest is not None else 0
        raise TrailNotSignable(
            f"the checkpoint topic holds checkpoints up to {command.published_seq}, the database only up to "
            f"{have}: checkpoints {have + 1} to {command.published_seq} were deleted from the database; "
            "not signed (a new checkpoint would reuse their numbers)"
        )
    signer, successor = _signer_for(latest, env)
    previous = _trusted_frontiers(latest, env) if latest is not None else {}
    present = await trail.chains(conn)
    if latest is not None:
        await _check_signed_entries_remain(conn, latest, present)
    states: list[ChainState] = []
    frontiers: dict[str, object] = {}
    for chain in present:
        key = f"{chain.topic}/{chain.partition}"
        known = previous.get(key)
        tree = MerkleAccumulator([(int(s), bytes.fromhex(h)) for s, h in known["frontier"]] if known else [])
        size = int(known["size"]) if known else 0
        head = bytes.fromhex(known["head_hash"]) if known else GENESIS_HASH
        last_offset = int(known["last_offset"]) if known else -1
        async for seq, offset, prev_hash, entry_hash in trail.stream_chain_hashes(conn, chain, size):
            if seq != size:
                raise TrailNotSignable(
                    f"{chain}: entries seq {size} to {seq - 1} (after offset {last_offset}) are missing "
                    "from the database: not signed"
                )
            if prev_hash != head:
                raise TrailNotSignable(
                    f"{chain}: the entry at seq {seq} (offset {offset}) does not link to the one before it: "
                    "not signed"
                )
            tree.add(leaf_hash(entry_hash))
            size, head, last_offset = size + 1, entry_hash, offset
        states.append(ChainState(chain.topic, chain.partition, size, head, last_offset, tree.root()))
        frontiers[key] = {
            "size": size,
            "head_hash": head.hex(),
            "last_offset": last_offset,
            "frontier": [[s, h.hex()] for s, h in tree.frontier],
        }
    unchanged = latest is not None and frontiers == previous
    fresh = latest is not None and (
        command.refresh_after_seconds <= 0
        or (env.clock.now() - latest.created_at).total_seconds() < command.refresh_after_seconds
    )
    if not states or (unchanged and fresh and successor is None):
        return latest, False
    seq = latest.seq + 1 if latest is not None else 1
    body = new_body(
        seq,
        env.clock.now(),
        signer.key_id,
        latest.body if latest else None,
        states,
        next_key=successor.public_key if successor is not None else None,
    )
    raw = body.to_bytes()
    await trail.insert_checkpoint(
        conn,
        seq=seq,
        body=raw,
        signature=signer.sign(raw),
        key_id=signer.key_id,
        root=body.root,
        tree_size=body.tree_size,
        created_at=env.clock.now(),
        frontiers=frontiers,
    )
    log.info("audit checkpoint %d signed over %d entries", seq, body.tree_size)
    created = await trail.latest_checkpoint(conn)
    return created, True


class SigningKeyNotAnnounced(DomainError, code="signing-key-not-announced", kind=ErrorKind.CONFLICT):
    """The newest checkpoint was signed by another key, and no checkpoint announced this one: signing
    with it would break the chain of keys verifiers follow. Give the old key once (as
    AUDIT_PREVIOUS_SIGNING_KEY): it signs a checkpoint announcing the new one."""

    title = "The signing key was not announced: not signed"


def _signer_for(
    latest: CheckpointRow | None, env: AuditEnvironment
) -> tuple[CheckpointSigner, CheckpointSigner | None]:
    """Who signs the next checkpoint, and the successor it announces (a key rotation) if any."""
    if latest is None:
        return env.signer, None
    signed = CheckpointBody.from_bytes(latest.body)  # the signed key id, not the row's column
    if signed.key_id == env.signer.key_id:
        return env.signer, None
    announced = signed.next_key
    if announced == raw_public_key(env.signer.public_key):
        return env.signer, None
    previous = env.previous_signer
    if previous is None or previous.key_id != signed.key_id:
        raise SigningKeyNotAnnounced(
            f"checkpoint {latest.seq} was signed by key {latest.key_id}; the service's key is "
            f"{env.signer.key_id}. Set AUDIT_PREVIOUS_SIGNING_KEY to the key {latest.key_id} once, so "
            "that it announces the new key in a checkpoint it signs."
        )
    return previous, env.signer


def _trusted_frontiers(latest: CheckpointRow, env: AuditEnvironment) -> dict[str, Any]:
    """The Merkle frontiers kept beside the newest checkpoint, each only where it matches what that
    checkpoint signed (size, head and root); a chain whose frontier does not is read again from its
    start. The checkpoint itself must carry a valid signature of a key the service trusts: the next
    one is never built on a body changed in the database."""
    body = CheckpointBody.from_bytes(latest.body)
    keys = {key_id_of(k): k for k in [env.signer.public_key, *env.trusted_keys]}
    if env.previous_signer is not None:
        keys[env.previous_signer.key_id] = env.previous_signer.public_key
    signing_key = keys.get(body.key_id)
    # A key the service does not hold is the one that announced the service's own (a rotation whose
    # old key is no longer configured): only a body naming the service's key as its successor.
    announced_us = body.next_key == raw_public_key(env.signer.public_key)
    if (signing_key is None and not announced_us) or (
        signing_key is not None and not signature_valid(signing_key, latest.body, latest.signature)
    ):
        raise TrailNotSignable(
            f"checkpoint {latest.seq} in the database does not carry a valid signature of a trusted key: "
            "not signed over"
        )
    trusted: dict[str, Any] = {}
    for state in body.chains:
        key = f"{state.topic}/{state.partition}"
        kept: Any = latest.frontiers.get(key)
        try:
            tree = MerkleAccumulator([(int(s), bytes.fromhex(h)) for s, h in kept["frontier"]])
            matches = (
                int(kept["size"]) == state.size
                and bytes.fromhex(kept["head_hash"]) == state.head_hash
                and int(kept["last_offset"]) == state.last_offset
                and tree.root() == state.root
            )
        except (KeyError, TypeError, ValueError):
            matches = False
        if matches:
            trusted[key] = kept
        else:
            log.warning("checkpoint %d: the frontier kept for %s is not what it signed", latest.seq, key)
    return trusted


async def _check_signed_entries_remain(
    conn: asyncpg.Connection, latest: CheckpointRow, present: list[ChainId]
) -> None:
    """Every chain still holds at least the entries the latest checkpoint signed (a truncation below it
    is refused by name, never signed over)."""
    for state in sorted(CheckpointBody.from_bytes(latest.body).chains, key=lambda c: (c.topic, c.partition)):
        chain = ChainId(state.topic, state.partition)
        head = await trail.head_of(conn, chain) if chain in present else None
        have = head.seq + 1 if head is not None else 0
        if have < state.size:
            raise TrailNotSignable(
                f"{chain}: checkpoint {latest.seq} signed {state.size} entries (up to offset "
                f"{state.last_offset}), the database holds {have}: entries seq {have} to {state.size - 1} "
                "are missing"
            )


COMMAND_HANDLERS: dict[type, Handler[AuditUnitOfWork, AuditEnvironment]] = {
    SignCheckpoint: sign_checkpoint,
}
