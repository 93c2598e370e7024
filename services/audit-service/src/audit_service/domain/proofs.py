"""Inclusion evidence: one entry is in its chain's tree, whose state a signed checkpoint commits to."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit_service.domain.chain import link_hash
from audit_service.domain.checkpoints import ChainState, CheckpointBody, signature_valid, sorted_chains
from audit_service.domain.merkle import inclusion_path, leaf_hash, verify_inclusion


@dataclass(frozen=True)
class InclusionProof:
    entry_id: int
    seq: int
    entry_hash: bytes
    chain: ChainState
    chain_path: list[bytes]
    checkpoint_index: int
    checkpoint_size: int
    checkpoint_path: list[bytes]
    checkpoint_seq: int
    checkpoint_body: bytes
    signature: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "entry_hash": self.entry_hash.hex(),
            "chain": self.chain.to_json(),
            "chain_proof": {
                "leaf_index": self.seq,
                "tree_size": self.chain.size,
                "path": [h.hex() for h in self.chain_path],
            },
            "checkpoint_proof": {
                "leaf_index": self.checkpoint_index,
                "tree_size": self.checkpoint_size,
                "path": [h.hex() for h in self.checkpoint_path],
            },
            "checkpoint": {
                "seq": self.checkpoint_seq,
                "body": base64.b64encode(self.checkpoint_body).decode(),
                "signature": base64.b64encode(self.signature).decode(),
            },
        }


def build_proof(
    *,
    entry_id: int,
    topic: str,
    partition: int,
    seq: int,
    entry_hash: bytes,
    chain_hashes: list[bytes],
    checkpoint_seq: int,
    checkpoint_body: bytes,
    signature: bytes,
) -> InclusionProof:
    """`chain_hashes`: the chain's entry hashes up to the size the checkpoint signed."""
    body = CheckpointBody.from_bytes(checkpoint_body)
    chains = sorted_chains(body.chains)
    index = next(i for i, c in enumerate(chains) if (c.topic, c.partition) == (topic, partition))
    leaves = [leaf_hash(h) for h in chain_hashes]
    return InclusionProof(
        entry_id=entry_id,
        seq=seq,
        entry_hash=entry_hash,
        chain=chains[index],
        chain_path=inclusion_path(leaves, seq),
        checkpoint_index=index,
        checkpoint_size=len(chains),
        checkpoint_path=inclusion_path([leaf_hash(c.leaf_data()) for c in chains], index),
        checkpoint_seq=checkpoint_seq,
        checkpoint_body=checkpoint_body,
        signature=signature,
    )


def check_proof(
    proof: dict[str, Any],
    public_key: Ed25519PublicKey,
    *,
    entry: bytes | None = None,
    prev_hash: bytes | None = None,
) -> list[str]:
    """Problems with a proof (empty: it holds); with the entry bytes and prev_hash, the hash is rechecked."""
    problems: list[str] = []
    body_bytes = base64.b64decode(proof["checkpoint"]["body"])
    if not signature_valid(public_key, body_bytes, base64.b64decode(proof["checkpoint"]["signature"])):
        return ["the checkpoint signature is invalid"]
    body = CheckpointBody.from_bytes(body_bytes)
    chain = ChainState.from_json(proof["chain"])
    entry_hash = bytes.fromhex(proof["entry_hash"])
    if entry is not None and prev_hash is not None and link_hash(prev_hash, entry) != entry_hash:
        problems.append("the entry bytes do not hash to the proven entry hash")
    cp = proof["checkpoint_proof"]
    if not verify_inclusion(
        leaf_hash(chain.leaf_data()),
        cp["leaf_index"],
        cp["tree_size"],
        [bytes.fromhex(h) for h in cp["path"]],
        body.root,
    ):
        problems.append("the chain is not in the signed checkpoint")
    ch = proof["chain_proof"]
    if ch["tree_size"] != chain.size or not verify_inclusion(
        leaf_hash(entry_hash),
        ch["leaf_index"],
        chain.size,
        [bytes.fromhex(h) for h in ch["path"]],
        chain.root,
    ):
        problems.append("the entry is not in the chain's tree")
    return problems
