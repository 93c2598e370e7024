"""Verification of chains and checkpoints, shared by `GET /audit/verify` and the standalone verifier.

Entries are fed one chain at a time in sequence order; each chain reports its first broken link. The
signed checkpoints then say whether each chain still has the entries they signed, unchanged: that is
what catches a rewrite by someone who recomputed the hashes, or deleted the newest entries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit_service.domain.chain import GENESIS_HASH, ChainId, link_hash
from audit_service.domain.checkpoints import ChainState, CheckpointBody, body_digest, signature_valid
from audit_service.domain.entries import EntryIndex, index_of, parse_entry
from audit_service.domain.merkle import MerkleAccumulator, leaf_hash


@dataclass(frozen=True)
class StoredEntry:
    """An entry as stored (or exported). `entry` is None when the export withheld the bytes (masked)."""

    id: int | None
    topic: str
    partition: int
    offset: int
    seq: int
    entry: bytes | None
    prev_hash: bytes
    hash: bytes
    index: EntryIndex | None = None
    redelivery_of: int | None = None  # as stored; checked where the row's columns are (index given)


@dataclass(frozen=True)
class BrokenLink:
    chain: str
    seq: int
    offset: int
    entry_id: int | None
    reason: str

    def describe(self) -> str:
        who = f"entry {self.entry_id} " if self.entry_id is not None else "entry "
        return f"{who}({self.chain} seq {self.seq}, offset {self.offset}): {self.reason}"


class ChainVerifier:
    """Recomputes one chain; keeps the first broken link and the chain's state at the wanted sizes."""

    def __init__(self, chain: ChainId, wanted_sizes: Iterable[int] = ()) -> None:
        self.chain = chain
        self.wanted = set(wanted_sizes)
        self.count = 0
        self.content_unchecked = 0
        self.first_break: BrokenLink | None = None
        self.states: dict[int, ChainState] = {}
        self._prev = GENESIS_HASH
        self._last_offset = -1
        self._tree = MerkleAccumulator()
        self._first_seq: dict[str, int] = {}  # event id -> seq of its first entry in this chain
        self.redeliveries = 0

    def _broken(self, e: StoredEntry, reason: str) -> None:
        if self.first_break is None:
            self.first_break = BrokenLink(str(self.chain), e.seq, e.offset, e.id, reason)

    def add(self, e: StoredEntry) -> None:
        if e.seq != self.count:
            self._broken(e, f"expected seq {self.count} here: entries are missing or out of order")
        if e.prev_hash != self._prev:
            self._broken(e, "prev_hash does not link to the previous entry's hash")
        if e.offset <= self._last_offset:
            self._broken(e, "offsets do not increase along the chain")
        if e.entry is None:
            self.content_unchecked += 1
        elif link_hash(e.prev_hash, e.entry) != e.hash:
            self._broken(e, "content altered: the entry bytes do not hash to the recorded hash")
        else:
            self._check_columns(e, e.entry)
        self._prev = e.hash
        self._last_offset = e.offset
        self._tree.add(leaf_hash(e.hash))
        self.count += 1
        if self.count in self.wanted:
            self.states[self.count] = self.state()

    def _check_columns(self, e: StoredEntry, entry: bytes) -> None:
        try:
            derived = index_of(parse_entry(entry))
        except (ValueError, KeyError, TypeError) as exc:
            self._broken(e, f"entry bytes are not a valid entry document: {exc}")
            return
        if (derived.topic, derived.partition, derived.offset) != (e.topic, e.partition, e.offset):
            self._broken(e, "the entry bytes name other Kafka coordinates than the row")
            return
        if e.index is not None and e.index != derived:
            differing = [
                f.name for f in fields(derived) if getattr(derived, f.name) != getattr(e.index, f.name)
            ]
            self._broken(e, f"query columns differ from the entry bytes: {', '.join(differing)}")
            return
        if derived.event_id is None:
            return
        first = self._first_seq.setdefault(derived.event_id, e.seq)
        expected = None if first == e.seq else first
        self.redeliveries += expected is not None
        if e.index is not None and e.redelivery_of != expected:
            self._broken(
                e,
                f"redelivery_of is {e.redelivery_of}, but the chain's first entry of event "
                f"{derived.event_id} is seq {first}",
            )

    def state(self) -> ChainState:
        return ChainState(
            topic=self.chain.topic,
            partition=self.chain.partition,
            size=self.count,
            head_hash=self._prev,
            last_offset=self._last_offset,
            root=self._tree.root(),
        )


@dataclass(frozen=True)
class SignedCheckpoint:
    seq: int
    body: bytes
    signature: bytes


@dataclass
class CheckpointReport:
    checked: int = 0
    latest_seq: int | None = None
    latest_tree_size: int = 0
    problems: list[str] = field(default_factory=list)


def wanted_sizes(checkpoints: Iterable[SignedCheckpoint]) -> dict[ChainId, set[int]]:
    """The chain sizes each checkpoint signed (so the verifiers capture the chain state there)."""
    sizes: dict[ChainId, set[int]] = {}
    for cp in checkpoints:
        try:
            body = CheckpointBody.from_bytes(cp.body)
        except (ValueError, KeyError, TypeError):
            continue
        for c in body.chains:
            sizes.setdefault(ChainId(c.topic, c.partition), set()).add(c.size)
    return sizes


def check_checkpoints(
    checkpoints: list[SignedCheckpoint],
    public_key: Ed25519PublicKey,
    verifiers: dict[ChainId, ChainVerifier],
) -> CheckpointReport:
    """Signatures, the links between checkpoints, and each signed chain state against the entries."""
    report = CheckpointReport()
    previous_body: bytes | None = None
    for cp in sorted(checkpoints, key=lambda c: c.seq):
        report.checked += 1
        if not signature_valid(public_key, cp.body, cp.signature):
            report.problems.append(f"checkpoint {cp.seq}: signature invalid (forged or altered checkpoint)")
            previous_body = cp.body
            continue
        try:
            body = CheckpointBody.from_bytes(cp.body)
        except (ValueError, KeyError, TypeError) as exc:
            report.problems.append(f"checkpoint {cp.seq}: unreadable body: {exc}")
            continue
        if body.seq != cp.seq:
            report.problems.append(f"checkpoint {cp.seq}: the signed body says seq {body.seq}")
        if previous_body is not None and body.previous != body_digest(previous_body):
            report.problems.append(f"checkpoint {cp.seq}: does not link to checkpoint {cp.seq - 1}")
        previous_body = cp.body
        report.latest_seq = body.seq
        report.latest_tree_size = body.tree_size
        for signed in body.chains:
            chain = ChainId(signed.topic, signed.partition)
            verifier = verifiers.get(chain)
            have = verifier.count if verifier is not None else 0
            if verifier is None or have < signed.size:
                report.problems.append(
                    f"checkpoint {body.seq}: {chain} has {have} entries but {signed.size} were signed: "
                    f"entries from seq {have} on are missing"
                )
                continue
            actual = verifier.states.get(signed.size)
            if actual != signed:
                report.problems.append(
                    f"checkpoint {body.seq}: {chain} up to seq {signed.size - 1} differs from what was "
                    "signed: entries were rewritten"
                )
    return report


@dataclass(frozen=True)
class VerificationResult:
    """What `/audit/verify` and the standalone verifier report."""

    chains: list[ChainVerifier]
    checkpoints: CheckpointReport
    # Against Kafka (outside the database): None when not compared (offline, or Kafka unreachable).
    kafka_problems: list[str] | None = None

    @property
    def entries(self) -> int:
        return sum(v.count for v in self.chains)

    @property
    def broken(self) -> list[BrokenLink]:
        return [v.first_break for v in self.chains if v.first_break is not None]

    @property
    def content_unchecked(self) -> int:
        return sum(v.content_unchecked for v in self.chains)

    @property
    def redeliveries(self) -> int:
        return sum(v.redeliveries for v in self.chains)

    @property
    def ok(self) -> bool:
        return not self.broken and not self.checkpoints.problems and not self.kafka_problems

    def last_offsets(self) -> dict[ChainId, int]:
        """The Kafka offset of each chain's newest entry."""
        return {v.chain: v.state().last_offset for v in self.chains}

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "unsigned_entries": max(self.entries - self.checkpoints.latest_tree_size, 0),
            "content_unchecked": self.content_unchecked,
            # entries repeating an event id their chain already holds (kept in the chain, marked)
            "redeliveries": self.redeliveries,
            "chains": [
                {
                    "topic": v.chain.topic,
                    "partition": v.chain.partition,
                    "entries": v.count,
                    "redeliveries": v.redeliveries,
                    "head_hash": v.state().head_hash.hex(),
                    "first_broken_link": (
                        None
                        if v.first_break is None
                        else {
                            "entry_id": v.first_break.entry_id,
                            "seq": v.first_break.seq,
                            "offset": v.first_break.offset,
                            "reason": v.first_break.reason,
                        }
                    ),
                }
                for v in sorted(self.chains, key=lambda v: (v.chain.topic, v.chain.partition))
            ],
            # the trail against what its consumer group committed in Kafka: a tail deleted from the
            # database after it was ingested shows here, even with no checkpoint after it
            "kafka": {
                "compared": self.kafka_problems is not None,
                "problems": self.kafka_problems or [],
            },
            "checkpoints": {
                "checked": self.checkpoints.checked,
                "latest": self.checkpoints.latest_seq,
                "latest_tree_size": self.checkpoints.latest_tree_size,
                "problems": self.checkpoints.problems,
            },
        }


def verify_entries(
    entries: Iterable[StoredEntry], checkpoints: list[SignedCheckpoint], public_key: Ed25519PublicKey
) -> VerificationResult:
    """Verify entries given in chain order (or any order within which each chain is in seq order)."""
    wanted = wanted_sizes(checkpoints)
    verifiers: dict[ChainId, ChainVerifier] = {}
    for e in entries:
        chain = ChainId(e.topic, e.partition)
        verifier = verifiers.get(chain)
        if verifier is None:
            verifier = verifiers[chain] = ChainVerifier(chain, wanted.get(chain, ()))
        verifier.add(e)
    return VerificationResult(list(verifiers.values()), check_checkpoints(checkpoints, public_key, verifiers))
