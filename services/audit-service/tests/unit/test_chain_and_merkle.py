"""Chain hashing, RFC 6962 Merkle roots and inclusion proofs, checkpoint signatures (no I/O)."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit_service.domain.chain import GENESIS_HASH, AuditChain, ChainId, link_hash
from audit_service.domain.checkpoints import (
    CheckpointBody,
    CheckpointSigner,
    load_public_key,
    new_body,
    public_key_pem,
    signature_valid,
)
from audit_service.domain.entries import RecordFacts, build_entry, canonical_entry, index_of, parse_entry
from audit_service.domain.merkle import (
    EMPTY_ROOT,
    MerkleAccumulator,
    inclusion_path,
    leaf_hash,
    node_hash,
    root_of,
    verify_inclusion,
)
from audit_service.domain.proofs import build_proof, check_proof
from audit_service.domain.verification import SignedCheckpoint, StoredEntry, verify_entries


def reference_mth(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 6962 section 2.1 defines it (recursive split at the largest power of two)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(reference_mth(leaves[:k]), reference_mth(leaves[k:]))


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(f"leaf-{i}".encode()) for i in range(n)]


def test_link_hash_is_sha256_of_prev_then_entry() -> None:
    assert link_hash(GENESIS_HASH, b"entry") == hashlib.sha256(bytes(32) + b"entry").digest()


def test_chain_links_each_entry_to_the_previous_and_skips_redelivery() -> None:
    chain = AuditChain(ChainId("collections.cases", 0), None)
    first = chain.extend(5, b"a")
    second = chain.extend(6, b"b")
    assert first is not None and second is not None
    assert (first.seq, first.prev_hash) == (0, GENESIS_HASH)
    assert (second.seq, second.prev_hash) == (1, first.hash)
    assert chain.extend(6, b"b") is None  # the same offset again: already recorded


def test_one_entry_changed_changes_every_later_hash() -> None:
    a, b = AuditChain(ChainId("t", 0), None), AuditChain(ChainId("t", 0), None)
    ha = [a.extend(i, f"e{i}".encode()) for i in range(4)]
    hb = [b.extend(i, (b"X" if i == 1 else f"e{i}".encode())) for i in range(4)]
    assert ha[0] == hb[0]
    assert all(
        x is not None and y is not None and x.hash != y.hash for x, y in zip(ha[1:], hb[1:], strict=True)
    )


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 33])
def test_accumulator_root_equals_rfc6962_definition(n: int) -> None:
    assert root_of(leaves(n)) == reference_mth(leaves(n))


def test_accumulator_frontier_resumes_across_checkpoints() -> None:
    acc = MerkleAccumulator()
    for leaf in leaves(11):
        acc.add(leaf)
    resumed = MerkleAccumulator(list(acc.frontier))
    for leaf in leaves(20)[11:]:
        resumed.add(leaf)
    assert resumed.root() == reference_mth(leaves(20))
    assert MerkleAccumulator().root() == EMPTY_ROOT


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 11])
def test_every_inclusion_path_verifies_and_a_wrong_leaf_does_not(n: int) -> None:
    tree = leaves(n)
    root = reference_mth(tree)
    for i in range(n):
        path = inclusion_path(tree, i)
        assert verify_inclusion(tree[i], i, n, path, root)
        assert not verify_inclusion(leaf_hash(b"other"), i, n, path, root)
        if n > 1:
            assert not verify_inclusion(tree[i], (i + 1) % n, n, path, root)


def test_entry_bytes_are_canonical_and_index_is_derived() -> None:
    value = (
        b'{"specversion":"1.0","id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","type":"x.y.z.v1","subject":"c-1",'
    )
    value += b'"time":"2026-11-29T08:00:00.000000Z","actor":"u-1","actorrole":"collector","data":{}}'
    record = RecordFacts("collections.cases", 2, 41, 1764403200000, b"c-1", value, (("h", b"v"),))
    entry, doc, _ = build_entry(record)
    assert entry == canonical_entry(record)
    assert (
        json.dumps(json.loads(entry), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        == entry
    )
    ix = index_of(parse_entry(entry))
    assert (ix.topic, ix.partition, ix.offset, ix.kind) == ("collections.cases", 2, 41, "json")
    assert (ix.case_id, ix.actor, ix.event_type) == ("c-1", "u-1", "x.y.z.v1")
    assert ix == index_of(doc)


def test_bytes_that_are_not_json_are_kept_raw() -> None:
    for value in (b"\xff\x00garbage", b'{"a": 1.5}', b"[1,2]", b'{"a":1,"a":2}'):
        doc = parse_entry(canonical_entry(RecordFacts("collections.cases.dlq", 0, 0, 0, None, value)))
        assert doc["kind"] == "raw"
        assert base64.b64decode(doc["raw"]) == value
    assert parse_entry(canonical_entry(RecordFacts("t", 0, 0, 0, b"k", None)))["kind"] == "empty"


def _chain_entries(n: int, topic: str = "collections.contacts") -> list[StoredEntry]:
    chain = AuditChain(ChainId(topic, 0), None)
    out = []
    for i in range(n):
        entry = canonical_entry(RecordFacts(topic, 0, i, 0, b"c-1", b'{"n":%d}' % i))
        link = chain.extend(i, entry)
        assert link is not None
        out.append(StoredEntry(i + 1, topic, 0, i, link.seq, entry, link.prev_hash, link.hash))
    return out


def _sign(signer: CheckpointSigner, entries: list[StoredEntry]) -> SignedCheckpoint:
    from audit_service.domain.verification import ChainVerifier

    v = ChainVerifier(ChainId(entries[0].topic, 0))
    for e in entries:
        v.add(e)
    from datetime import UTC, datetime

    raw = new_body(1, datetime(2026, 1, 1, tzinfo=UTC), signer.key_id, None, [v.state()]).to_bytes()
    return SignedCheckpoint(1, raw, signer.sign(raw))


def test_verification_names_the_altered_entry_and_the_rewritten_chain() -> None:
    signer = CheckpointSigner(Ed25519PrivateKey.generate())
    entries = _chain_entries(6)
    cp = _sign(signer, entries)
    assert verify_entries(entries, [cp], signer.public_key).ok

    altered = list(entries)
    e = altered[3]
    altered[3] = StoredEntry(
        e.id, e.topic, e.partition, e.offset, e.seq, e.entry.replace(b'"n":3', b'"n":9'), e.prev_hash, e.hash
    )  # type: ignore[union-attr]
    result = verify_entries(altered, [cp], signer.public_key)
    assert not result.ok and result.broken[0].entry_id == 4 and "content altered" in result.broken[0].reason

    truncated = verify_entries(entries[:4], [cp], signer.public_key)
    assert not truncated.ok and "missing" in truncated.checkpoints.problems[0]

    # A rewrite that recomputes every later hash keeps the chain consistent, but not the signed root.
    rewritten = _chain_entries(6)
    chain = AuditChain(ChainId("collections.contacts", 0), None)
    redone = []
    for i, r in enumerate(rewritten):
        entry = r.entry.replace(b'"n":2', b'"n":7') if i == 2 else r.entry  # type: ignore[union-attr]
        link = chain.extend(i, entry)
        assert link is not None
        redone.append(StoredEntry(r.id, r.topic, 0, i, i, entry, link.prev_hash, link.hash))
    result = verify_entries(redone, [cp], signer.public_key)
    assert not result.broken and "differs from what was signed" in result.checkpoints.problems[0]


def test_forged_checkpoint_signature_is_rejected() -> None:
    signer = CheckpointSigner(Ed25519PrivateKey.generate())
    forger = CheckpointSigner(Ed25519PrivateKey.generate())
    entries = _chain_entries(3)
    forged = _sign(forger, entries)
    result = verify_entries(entries, [forged], signer.public_key)
    assert "signature invalid" in result.checkpoints.problems[0]
    good = _sign(signer, entries)
    tampered_body = good.body.replace(b'"size":3', b'"size":2')
    assert not signature_valid(signer.public_key, tampered_body, good.signature)
    assert load_public_key(public_key_pem(signer.public_key)) is not None
    assert "key_id" in repr(signer) and "PRIVATE" not in repr(signer)


def test_inclusion_proof_round_trip() -> None:
    signer = CheckpointSigner(Ed25519PrivateKey.generate())
    entries = _chain_entries(7)
    cp = _sign(signer, entries)
    body = CheckpointBody.from_bytes(cp.body)
    assert body.tree_size == 7
    proof = build_proof(
        entry_id=5,
        topic="collections.contacts",
        partition=0,
        seq=4,
        entry_hash=entries[4].hash,
        chain_hashes=[e.hash for e in entries],
        checkpoint_seq=1,
        checkpoint_body=cp.body,
        signature=cp.signature,
    ).to_json()
    assert check_proof(proof, signer.public_key, entry=entries[4].entry, prev_hash=entries[4].prev_hash) == []
    wrong = dict(proof, entry_hash=entries[3].hash.hex())
    assert check_proof(wrong, signer.public_key) == ["the entry is not in the chain's tree"]
    other_key = CheckpointSigner(Ed25519PrivateKey.generate()).public_key
    assert check_proof(proof, other_key) == ["the checkpoint signature is invalid"]
