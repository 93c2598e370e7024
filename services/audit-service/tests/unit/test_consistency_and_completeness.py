"""RFC 6962 consistency proofs, checkpoint extension, freshness and the comparison with Kafka (no I/O)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from audit_service.domain.chain import ChainId
from audit_service.domain.checkpoints import ChainState, CheckpointSigner, KeyRing, new_body
from audit_service.domain.completeness import (
    ChainSpan,
    KafkaView,
    PartitionPositions,
    compare_with_kafka,
    problems_at_start,
)
from audit_service.domain.merkle import consistency_proof, leaf_hash, root_of, verify_consistency
from audit_service.domain.verification import (
    NO_CHECKPOINT,
    SignedCheckpoint,
    check_checkpoints,
    extension_problems,
    freshness_problems,
    merge_published,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def leaves(n: int, salt: bytes = b"") -> list[bytes]:
    return [leaf_hash(hashlib.sha256(salt + str(i).encode()).digest()) for i in range(n)]


@given(st.integers(1, 70).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n))))
def test_every_consistency_proof_verifies(sizes: tuple[int, int]) -> None:
    n, m = sizes
    tree = leaves(n)
    proof = consistency_proof(tree, m)
    assert verify_consistency(m, n, root_of(tree[:m]), root_of(tree), proof)


@given(
    st.integers(2, 70).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n - 1), st.integers(0, n - 1)))
)
def test_a_changed_leaf_breaks_the_consistency_proof(sizes: tuple[int, int, int]) -> None:
    n, m, changed = sizes
    tree = leaves(n)
    rewritten = list(tree)
    rewritten[changed] = leaf_hash(b"rewritten")
    proof = consistency_proof(rewritten, m)
    if changed < m:  # the old tree was rewritten: the new tree does not extend what was signed
        assert not verify_consistency(m, n, root_of(tree[:m]), root_of(rewritten), proof)
    else:  # only the new part differs: still an extension of the old tree
        assert verify_consistency(m, n, root_of(tree[:m]), root_of(rewritten), proof)


def test_a_consistency_proof_for_a_shorter_or_other_tree_fails() -> None:
    tree = leaves(9)
    proof = consistency_proof(tree, 4)
    assert not verify_consistency(4, 8, root_of(tree[:4]), root_of(tree[:8]), proof)
    assert not verify_consistency(5, 9, root_of(tree[:4]), root_of(tree), proof)
    assert verify_consistency(9, 9, root_of(tree), root_of(tree), [])


def state(size: int, salt: bytes = b"") -> ChainState:
    tree = leaves(size, salt)
    return ChainState("collections.cases", 0, size, tree[-1] if tree else bytes(32), size - 1, root_of(tree))


def test_a_later_checkpoint_must_keep_and_extend_every_chain() -> None:
    earlier = new_body(1, T0, "k", None, [state(4)])
    assert extension_problems(earlier, new_body(2, T0, "k", None, [state(6)])) == []
    assert "not an extension" in extension_problems(earlier, new_body(2, T0, "k", None, [state(3)]))[0]
    assert "is gone" in extension_problems(earlier, new_body(2, T0, "k", None, []))[0]
    assert "differs" in extension_problems(earlier, new_body(2, T0, "k", None, [state(4, b"x")]))[0]


def signed(signer: CheckpointSigner, seq: int, previous: bytes | None, **kw: object) -> SignedCheckpoint:
    body = new_body(seq, T0 + timedelta(minutes=seq), signer.key_id, previous, [], **kw).to_bytes()  # type: ignore[arg-type]
    return SignedCheckpoint(seq, body, signer.sign(body))


def test_the_key_ring_follows_an_announced_rotation_only() -> None:
    old, new = CheckpointSigner(Ed25519PrivateKey.generate()), CheckpointSigner(Ed25519PrivateKey.generate())
    first = signed(old, 1, None)
    announcing = signed(old, 2, first.body, next_key=new.public_key)
    after = signed(new, 3, announcing.body)
    assert check_checkpoints([first, announcing, after], old.public_key, {}).problems == []
    # the new key before it was announced is a forgery
    early = signed(new, 2, first.body)
    problems = check_checkpoints([first, early], old.public_key, {}).problems
    assert problems and "neither trusted nor announced" in problems[0]
    assert check_checkpoints([first, announcing, after], KeyRing([new.public_key]), {}).problems


def test_a_key_that_handed_over_to_its_successor_signs_nothing_after() -> None:
    old, new = CheckpointSigner(Ed25519PrivateKey.generate()), CheckpointSigner(Ed25519PrivateKey.generate())
    first = signed(old, 1, None)
    announcing = signed(old, 2, first.body, next_key=new.public_key)
    still_old = signed(old, 3, announcing.body)  # announced, not yet handed over: still the old key's
    handed_over = signed(new, 4, still_old.body)
    assert check_checkpoints([first, announcing, still_old, handed_over], old.public_key, {}).problems == []
    # the old key (leaked, say) signing again after its successor took over is a forgery
    forged = signed(old, 5, handed_over.body)
    problems = check_checkpoints(
        [first, announcing, still_old, handed_over, forged], old.public_key, {}
    ).problems
    assert problems == [
        f"checkpoint 5: signed by key {old.key_id}, retired since checkpoint 4 was signed by its successor "
        "(forged checkpoint)"
    ]


def test_no_checkpoint_and_a_stale_checkpoint_are_problems() -> None:
    signer = CheckpointSigner(Ed25519PrivateKey.generate())
    cp = signed(signer, 1, None)
    assert freshness_problems([cp], T0 + timedelta(seconds=90), 120) == []
    [stale] = freshness_problems([cp], T0 + timedelta(minutes=10), 120)
    assert "checkpoint 1" in stale and "more than the 120 s allowed" in stale
    assert freshness_problems([cp], T0 + timedelta(days=9), 0) == []
    assert NO_CHECKPOINT not in check_checkpoints([], signer.public_key, {}).problems  # an empty trail


def test_published_checkpoints_outrank_the_database() -> None:
    signer = CheckpointSigner(Ed25519PrivateKey.generate())
    one, two = signed(signer, 1, None), signed(signer, 2, None)
    merged, problems = merge_published([one], {1: one, 2: two})
    assert [c.seq for c in merged] == [1, 2]
    assert problems == [
        "checkpoint 2: published to the checkpoint topic but missing from the database (deleted)"
    ]
    other = signed(signer, 1, b"x")
    merged, problems = merge_published([other], {1: one}, conflicting=[1])
    assert merged == [one] and len(problems) == 2


def test_kafka_comparison_tells_lag_from_loss() -> None:
    chain = ChainId("collections.cases", 0)
    spans = {chain: ChainSpan(0, 9)}

    def view(**kw: int | None) -> KafkaView:
        fields = {"start": 0, "end": 10, "committed": 10, "old_end": 10, **kw}
        return KafkaView([PartitionPositions("collections.cases", 0, **fields)], {}, 60)  # type: ignore[arg-type]

    assert compare_with_kafka(view(), spans).problems == []
    lag = compare_with_kafka(view(end=15, old_end=10), spans)
    assert lag.problems == [] and lag.behind == 5
    [old] = compare_with_kafka(view(end=15, old_end=12), spans).problems
    assert "offsets 10 to 11, older than 60 s" in old
    [lost] = compare_with_kafka(view(committed=14, end=15, old_end=15), spans).problems
    assert "entries at offsets 10 to 13 are missing" in lost
    [late] = compare_with_kafka(view(), {chain: ChainSpan(3, 9)}).problems
    assert "entries at offsets 0 to 2 were never recorded" in late
    unwatched = KafkaView([], {"collections.other": 3}, 60)
    assert compare_with_kafka(unwatched, {}).problems == [
        "collections.other: the topic holds 3 records but the trail does not watch it"
    ]
    assert problems_at_start({chain: ChainSpan(3, 9)}) and not problems_at_start(spans)
    [invented] = compare_with_kafka(
        view(), {**spans, ChainId("collections.cases", 7): ChainSpan(0, 3)}
    ).problems
    assert "collections.cases[7]" in invented and "Kafka does not have" in invented
