"""Evidence for auditors who keep no copy of the trail: an entry's inclusion in its chain's tree (whose
state a signed checkpoint commits to), and one checkpoint's consistency with a later one."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit_service.domain.chain import link_hash
from audit_service.domain.checkpoints import (
    ChainState,
    CheckpointBody,
    KeyRing,
    signature_valid,
    sorted_chains,
)
from audit_service.domain.merkle import inclusion_path, leaf_hash, verify_consistency, verify_inclusion


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
    public_key: Ed25519PublicKey | KeyRing,
    *,
    entry: bytes | None = None,
    prev_hash: bytes | None = None,
) -> list[str]:
    """Problems with a proof (empty: it holds); with the entry bytes and prev_hash, the hash is rechecked."""
    problems: list[str] = []
    body_bytes = base64.b64decode(proof["checkpoint"]["body"])
    body = CheckpointBody.from_bytes(body_bytes)
    key = public_key.key(body.key_id) if isinstance(public_key, KeyRing) else public_key
    signature = base64.b64decode(proof["checkpoint"]["signature"])
    if key is None or not signature_valid(key, body_bytes, signature):
        return ["the checkpoint signature is invalid"]
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


def consistency_document(
    first: tuple[int, bytes, bytes],
    second: tuple[int, bytes, bytes],
    proofs: dict[tuple[str, int], list[bytes]],
) -> dict[str, Any]:
    """`GET /audit/checkpoints/consistency`: both signed checkpoints (seq, body, signature) and, per chain
    of the first, the RFC 6962 consistency proof from its size there to its size in the second."""
    earlier = CheckpointBody.from_bytes(first[1])
    later = CheckpointBody.from_bytes(second[1])
    chains = []
    for before in sorted_chains(earlier.chains):
        after = later.chain(before.topic, before.partition)
        chains.append(
            {
                "topic": before.topic,
                "partition": before.partition,
                "first_size": before.size,
                "second_size": after.size if after is not None else None,
                "path": [h.hex() for h in proofs.get((before.topic, before.partition), [])],
            }
        )

    def signed(cp: tuple[int, bytes, bytes]) -> dict[str, Any]:
        return {
            "seq": cp[0],
            "body": base64.b64encode(cp[1]).decode(),
            "signature": base64.b64encode(cp[2]).decode(),
        }

    return {"first": signed(first), "second": signed(second), "chains": chains}


def check_consistency(doc: dict[str, Any], ring: KeyRing) -> list[str]:
    """Problems with a consistency document (empty: the second checkpoint extends the first). `ring`
    must accept the first checkpoint's key; a rotation the first announces is followed."""
    first_raw = base64.b64decode(doc["first"]["body"])
    second_raw = base64.b64decode(doc["second"]["body"])
    first, second = CheckpointBody.from_bytes(first_raw), CheckpointBody.from_bytes(second_raw)
    problems: list[str] = []
    for label, body, raw, sig in (
        ("first", first, first_raw, doc["first"]["signature"]),
        ("second", second, second_raw, doc["second"]["signature"]),
    ):
        key = ring.key(body.key_id)
        if key is None or not signature_valid(key, raw, base64.b64decode(sig)):
            return [f"the {label} checkpoint ({body.seq}) is not signed by a trusted or announced key"]
        ring.accept(body)
    if second.seq < first.seq:
        problems.append(f"checkpoint {second.seq} is older than checkpoint {first.seq}")
    given = {(c["topic"], int(c["partition"])): c for c in doc["chains"]}
    for before in first.chains:
        after = second.chain(before.topic, before.partition)
        where = f"{before.topic}[{before.partition}]"
        if after is None:
            problems.append(f"{where}: in checkpoint {first.seq}, gone from checkpoint {second.seq}")
            continue
        proof = given.get((before.topic, before.partition))
        path = [bytes.fromhex(h) for h in proof["path"]] if proof is not None else []
        if proof is None and after.size != before.size:
            problems.append(f"{where}: no consistency proof given")
        elif after.size == before.size and after != before:
            problems.append(f"{where}: same size in both checkpoints but a different chain")
        elif not verify_consistency(before.size, after.size, before.root, after.root, path):
            problems.append(
                f"{where}: checkpoint {second.seq} ({after.size} entries) does not extend checkpoint "
                f"{first.seq} ({before.size} entries): history was rewritten"
            )
    return problems
