"""RFC 6962 (RFC 9162 section 2.1) Merkle tree hashes, inclusion paths and their verification."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over already leaf-hashed values."""
    if not leaves:
        return EMPTY_ROOT
    accumulator = MerkleAccumulator()
    for leaf in leaves:
        accumulator.add(leaf)
    return accumulator.root()


@dataclass
class MerkleAccumulator:
    """Builds MTH incrementally in O(log n) memory: the perfect subtrees of n's binary form, left to right.

    `frontier` can be stored and restored, so a tree grows across checkpoints without rereading leaves.
    """

    frontier: list[tuple[int, bytes]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(size for size, _ in self.frontier)

    def add(self, leaf: bytes) -> None:
        self.frontier.append((1, leaf))
        while len(self.frontier) >= 2 and self.frontier[-1][0] == self.frontier[-2][0]:
            (size, right), (_, left) = self.frontier.pop(), self.frontier.pop()
            self.frontier.append((size * 2, node_hash(left, right)))

    def root(self) -> bytes:
        if not self.frontier:
            return EMPTY_ROOT
        result = self.frontier[-1][1]
        for _, left in reversed(self.frontier[:-1]):
            result = node_hash(left, result)
        return result

    def copy(self) -> MerkleAccumulator:
        return MerkleAccumulator(list(self.frontier))


def inclusion_path(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 section 2.1.1 over leaf-hashed values."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is not in a tree of {len(leaves)}")

    def path(m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n == 1:
            return []
        k = _largest_power_of_two_below(n)
        if m < k:
            return [*path(m, lo, lo + k), root_of(leaves[lo + k : hi])]
        return [*path(m - k, lo + k, hi), root_of(leaves[lo : lo + k])]

    return path(index, 0, len(leaves))


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2: does `path` prove leaf-hash `leaf` at `index` in the tree of `root`?"""
    if index < 0 or index >= size:
        return False
    fn, sn, result = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and result == root


def consistency_proof(leaves: Sequence[bytes], first_size: int) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 6962 section 2.1.2 (RFC 9162 section 2.1.4.1) over leaf-hashed values: the
    tree of the first `first_size` leaves is a prefix of the tree of all of them."""
    if not 0 < first_size <= len(leaves):
        raise IndexError(f"no consistency proof from size {first_size} to {len(leaves)}")

    def subproof(m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if complete else [root_of(leaves[lo:hi])]
        k = _largest_power_of_two_below(n)
        if m <= k:
            return [*subproof(m, lo, lo + k, complete), root_of(leaves[lo + k : hi])]
        return [*subproof(m - k, lo + k, hi, False), root_of(leaves[lo : lo + k])]

    return subproof(first_size, 0, len(leaves), True)


def verify_consistency(
    first_size: int, second_size: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2: does `proof` show the tree of `first_root` is a prefix of `second_root`'s?"""
    if first_size == second_size:
        return not proof and first_root == second_root
    if first_size == 0:
        return not proof and first_root == EMPTY_ROOT  # the empty tree is a prefix of every tree
    if first_size > second_size or not proof:
        return False
    path = list(proof)
    if first_size & (first_size - 1) == 0:  # an exact power of two: the first root is a node of the second
        path.insert(0, first_root)
    fn, sn = first_size - 1, second_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root
