"""The hash chain of one source partition: hash = SHA-256(prev_hash || canonical entry bytes)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

GENESIS_HASH: Final = bytes(32)
"""`prev_hash` of the first entry of every chain."""


def link_hash(prev_hash: bytes, entry: bytes) -> bytes:
    return hashlib.sha256(prev_hash + entry).digest()


@dataclass(frozen=True)
class ChainId:
    topic: str
    partition: int

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]"


@dataclass(frozen=True)
class ChainHead:
    """The last entry of a chain: the next entry links to `hash` and has sequence `seq + 1`."""

    seq: int
    offset: int
    hash: bytes


@dataclass(frozen=True)
class Link:
    """One entry ready to append: its position, bytes and hashes."""

    seq: int
    offset: int
    entry: bytes
    prev_hash: bytes
    hash: bytes


class AuditChain:
    """Extends one chain in memory from its head; records at or before the head are skipped (redelivery)."""

    def __init__(self, chain: ChainId, head: ChainHead | None) -> None:
        self.chain = chain
        self.head = head

    def extend(self, offset: int, entry: bytes) -> Link | None:
        if self.head is not None and offset <= self.head.offset:
            return None
        prev = self.head.hash if self.head is not None else GENESIS_HASH
        seq = self.head.seq + 1 if self.head is not None else 0
        link = Link(seq=seq, offset=offset, entry=entry, prev_hash=prev, hash=link_hash(prev, entry))
        self.head = ChainHead(seq=seq, offset=offset, hash=link.hash)
        return link
