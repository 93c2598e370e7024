"""Signing checkpoints: at an interval and on demand, the state of every chain is signed.

Each checkpoint keeps every chain's Merkle frontier, so the next one reads only the newer hashes.
A chain whose stored links do not join up is never signed: the checkpoint fails loudly instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

import asyncpg
from prometheus_client import Gauge

from audit_service.adapters import trail
from audit_service.adapters.trail import CheckpointRow
from audit_service.domain.chain import GENESIS_HASH
from audit_service.domain.checkpoints import ChainState, CheckpointSigner, new_body
from audit_service.domain.merkle import MerkleAccumulator, leaf_hash
from dcp_platform.clock import Clock

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key: one checkpoint writer at a time across replicas.


CHECKPOINT_SEQ = Gauge("dcp_audit_last_checkpoint_seq", "Sequence number of the newest signed checkpoint")
CHECKPOINT_AGE = Gauge(
    "dcp_audit_last_checkpoint_age_seconds", "Seconds since the newest signed checkpoint (service clock)"
)


class TrailNotSignable(Exception):
    """The stored chain does not link up; signing it would vouch for a broken trail."""


class Checkpointer:
    def __init__(self, pool: asyncpg.Pool, signer: CheckpointSigner, clock: Clock, interval: float) -> None:
        self._pool = pool
        self._signer = signer
        self._clock = clock
        self._interval = interval
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_signed_at: datetime | None = None
        CHECKPOINT_AGE.set_function(self._age)

    def _age(self) -> float:
        if self._last_signed_at is None:
            return float("nan")
        return (self._clock.now() - self._last_signed_at).total_seconds()

    def _observe(self, checkpoint: CheckpointRow | None) -> None:
        if checkpoint is not None:
            self._last_signed_at = checkpoint.created_at
            CHECKPOINT_SEQ.set(checkpoint.seq)

    async def create(self) -> tuple[CheckpointRow | None, bool]:
        """Sign the current state if it changed since the latest checkpoint: (latest checkpoint, created)."""
        async with self._pool.acquire() as conn, conn.transaction():
            await trail.lock_checkpointing(conn)
            latest = await trail.latest_checkpoint(conn)
            previous = latest.frontiers if latest is not None else {}
            states: list[ChainState] = []
            frontiers: dict[str, object] = {}
            for chain in await trail.chains(conn):
                key = f"{chain.topic}/{chain.partition}"
                known = previous.get(key)
                tree = MerkleAccumulator(
                    [(int(s), bytes.fromhex(h)) for s, h in known["frontier"]] if known else []
                )
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
                self._observe(latest)
                return latest, False
            seq = latest.seq + 1 if latest is not None else 1
            body = new_body(
                seq, self._clock.now(), self._signer.key_id, latest.body if latest else None, states
            )
            raw = body.to_bytes()
            await trail.insert_checkpoint(
                conn,
                seq=seq,
                body=raw,
                signature=self._signer.sign(raw),
                key_id=self._signer.key_id,
                root=body.root,
                tree_size=body.tree_size,
                created_at=self._clock.now(),
                frontiers=frontiers,
            )
            log.info("audit checkpoint %d signed over %d entries", seq, body.tree_size)
            created = await trail.latest_checkpoint(conn)
            self._observe(created)
            return created, True

    async def start(self) -> None:
        async with self._pool.acquire() as conn:
            self._observe(await trail.latest_checkpoint(conn))
        if self._interval > 0:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="audit-checkpoints")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)
            if self._stopping.is_set():
                return
            try:
                await self.create()
            except Exception:
                log.exception("audit checkpoint failed")
