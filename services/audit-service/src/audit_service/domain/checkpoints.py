"""Signed checkpoints: a Merkle root over the trees of all chains, signed with Ed25519.

Two levels, both RFC 6962 trees. Each chain has a tree over its entry hashes (leaf i = entry seq i), so
one entry is proven in O(log n). The checkpoint's root is the tree over the chains' leaves (canonical
JSON of topic, partition, size, head hash, last offset and chain root), in (topic, partition) order.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit_service.domain.merkle import leaf_hash, root_of
from dcp_events.canonical import to_canonical_bytes

CHECKPOINT_FORMAT: Final = "dcp-audit-checkpoint/1"


@dataclass(frozen=True)
class ChainState:
    """One chain as a checkpoint commits to it."""

    topic: str
    partition: int
    size: int
    head_hash: bytes
    last_offset: int
    root: bytes

    def leaf_data(self) -> bytes:
        return to_canonical_bytes(
            {
                "topic": self.topic,
                "partition": self.partition,
                "size": self.size,
                "head_hash": self.head_hash.hex(),
                "last_offset": self.last_offset,
                "root": self.root.hex(),
            }
        )

    def to_json(self) -> dict[str, Any]:
        return json.loads(self.leaf_data())  # type: ignore[no-any-return]

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ChainState:
        return cls(
            topic=obj["topic"],
            partition=int(obj["partition"]),
            size=int(obj["size"]),
            head_hash=bytes.fromhex(obj["head_hash"]),
            last_offset=int(obj["last_offset"]),
            root=bytes.fromhex(obj["root"]),
        )


def sorted_chains(chains: list[ChainState]) -> list[ChainState]:
    return sorted(chains, key=lambda c: (c.topic, c.partition))


def top_root(chains: list[ChainState]) -> bytes:
    return root_of([leaf_hash(c.leaf_data()) for c in sorted_chains(chains)])


@dataclass(frozen=True)
class CheckpointBody:
    """What is signed."""

    seq: int
    created_at: str
    key_id: str
    previous: str | None  # hex SHA-256 of the previous checkpoint's body bytes
    chains: list[ChainState]
    # A key rotation: the successor's public key (base64 of its 32 raw bytes), announced under this
    # checkpoint's key; checkpoints after this one may be signed by it. None: no rotation.
    next_key: str | None = None

    @property
    def tree_size(self) -> int:
        return sum(c.size for c in self.chains)

    @property
    def root(self) -> bytes:
        return top_root(self.chains)

    def to_bytes(self) -> bytes:
        doc: dict[str, Any] = {
            "format": CHECKPOINT_FORMAT,
            "seq": self.seq,
            "created_at": self.created_at,
            "key_id": self.key_id,
            "previous": self.previous,
            "tree_size": self.tree_size,
            "root": self.root.hex(),
            "chains": [c.to_json() for c in sorted_chains(self.chains)],
        }
        if self.next_key is not None:
            doc["next_key"] = self.next_key
        return to_canonical_bytes(doc)

    def announced_key(self) -> Ed25519PublicKey | None:
        return load_public_key(self.next_key) if self.next_key is not None else None

    def chain(self, topic: str, partition: int) -> ChainState | None:
        return next((c for c in self.chains if (c.topic, c.partition) == (topic, partition)), None)

    @classmethod
    def from_bytes(cls, raw: bytes) -> CheckpointBody:
        obj = json.loads(raw)
        if obj.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"not a {CHECKPOINT_FORMAT} checkpoint")
        body = cls(
            seq=int(obj["seq"]),
            created_at=str(obj["created_at"]),
            key_id=str(obj["key_id"]),
            previous=obj.get("previous"),
            chains=[ChainState.from_json(c) for c in obj["chains"]],
            next_key=obj.get("next_key"),
        )
        if body.root.hex() != obj["root"] or body.tree_size != obj["tree_size"]:
            raise ValueError(f"checkpoint {body.seq}: its root or size does not match its chains")
        return body


def body_digest(raw_body: bytes) -> str:
    return hashlib.sha256(raw_body).hexdigest()


def key_id_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def raw_public_key(public_key: Ed25519PublicKey) -> str:
    """Base64 of the 32 raw bytes (how a checkpoint announces its successor key)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key(text: str | bytes) -> Ed25519PublicKey:
    """A public key from PEM, or from base64 of the 32 raw bytes."""
    raw = text.encode() if isinstance(text, str) else text
    if b"BEGIN" in raw:
        key = serialization.load_pem_public_key(raw)
    else:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(raw.strip()))
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


class CheckpointSigner:
    """Holds the private key; never renders it (repr shows the key id only)."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id_of(self.public_key)

    def __repr__(self) -> str:
        return f"CheckpointSigner(key_id={self.key_id!r})"

    def sign(self, body: bytes) -> bytes:
        return self._key.sign(body)


def signature_valid(public_key: Ed25519PublicKey, body: bytes, signature: bytes) -> bool:
    try:
        public_key.verify(signature, body)
    except InvalidSignature:
        return False
    return True


def new_body(
    seq: int,
    created_at: datetime,
    key_id: str,
    previous_body: bytes | None,
    chains: list[ChainState],
    next_key: Ed25519PublicKey | None = None,
) -> CheckpointBody:
    from dcp_events.jsonvalue import format_utc

    return CheckpointBody(
        seq=seq,
        created_at=format_utc(created_at),
        key_id=key_id,
        previous=body_digest(previous_body) if previous_body is not None else None,
        chains=sorted_chains(chains),
        next_key=raw_public_key(next_key) if next_key is not None else None,
    )


class KeyRing:
    """The keys a verifier accepts: those it trusts, and each successor a checkpoint signed by an
    accepted key announced (from that checkpoint on). A signature by any other key is a forgery."""

    def __init__(self, trusted: list[Ed25519PublicKey]) -> None:
        self.keys: dict[str, Ed25519PublicKey] = {key_id_of(k): k for k in trusted}
        self.announced: list[str] = []
        self._announced_by: dict[str, str] = {}  # successor key id -> the key id that announced it
        self.retired: dict[str, int] = {}  # key id -> the first seq its successor signed

    def key(self, key_id: str) -> Ed25519PublicKey | None:
        return self.keys.get(key_id)

    def retirement(self, body: CheckpointBody) -> str | None:
        """Why a checkpoint signed by a key that handed over to its successor before is not accepted
        (a retired key signs nothing any more, so a leaked one forges nothing new); None if it is."""
        since = self.retired.get(body.key_id)
        if since is None or body.seq < since:
            return None
        return (
            f"checkpoint {body.seq}: signed by key {body.key_id}, retired since checkpoint {since} "
            "was signed by its successor (forged checkpoint)"
        )

    def accept(self, body: CheckpointBody) -> None:
        predecessor = self._announced_by.pop(body.key_id, None)
        if predecessor is not None and predecessor != body.key_id:
            self.retired.setdefault(predecessor, body.seq)
        successor = body.announced_key()
        if successor is not None:
            successor_id = key_id_of(successor)
            self.keys[successor_id] = successor
            self.announced.append(successor_id)
            self._announced_by.setdefault(successor_id, body.key_id)
