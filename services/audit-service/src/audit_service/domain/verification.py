"""Verification of chains and checkpoints, shared by `GET /audit/verify` and the standalone verifier.

Entries are fed one chain at a time in sequence order; each chain reports its first broken link. The
signed checkpoints then say whether each chain still has the entries they signed, unchanged: that is
what catches a rewrite by someone who recomputed the hashes, or deleted the newest entries.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit_service.domain.chain import GENESIS_HASH, ChainId, link_hash
from audit_service.domain.checkpoints import (
    ChainState,
    CheckpointBody,
    KeyRing,
    body_digest,
    signature_valid,
)
from audit_service.domain.commitments import SaltedOpenings, opening_problems
from audit_service.domain.completeness import ChainSpan, Completeness
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
    openings: SaltedOpenings | None = None  # of committed personal fields; None or {}: none (masked)


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
        self.first_offset: int | None = None
        self._tree = MerkleAccumulator()
        self._first_seq: dict[str, int] = {}  # event id -> seq of its first entry in this chain
        self.redeliveries = 0
        self.opened = 0  # personal fields whose opening was checked against the commitment

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
            if e.openings:
                self.opened += len(e.openings)
                for problem in opening_problems(parse_entry(e.entry), e.openings):
                    self._broken(e, f"personal data altered: {problem}")
        self._prev = e.hash
        self._last_offset = e.offset
        if self.first_offset is None:
            self.first_offset = e.offset
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


def extension_problems(earlier: CheckpointBody, later: CheckpointBody) -> list[str]:
    """A later checkpoint keeps every chain of an earlier one, at least as long (chains only grow)."""
    problems = []
    for before in earlier.chains:
        after = later.chain(before.topic, before.partition)
        chain = ChainId(before.topic, before.partition)
        if after is None:
            problems.append(f"checkpoint {later.seq}: {chain}, signed in checkpoint {earlier.seq}, is gone")
        elif after.size < before.size:
            problems.append(
                f"checkpoint {later.seq}: {chain} has {after.size} entries, checkpoint {earlier.seq} "
                f"signed {before.size}: not an extension"
            )
        elif after.size == before.size and after != before:
            problems.append(f"checkpoint {later.seq}: {chain} differs from checkpoint {earlier.seq}")
    return problems


def trusted_keys(keys: Ed25519PublicKey | list[Ed25519PublicKey] | KeyRing) -> KeyRing:
    if isinstance(keys, KeyRing):
        return keys
    return KeyRing(keys if isinstance(keys, list) else [keys])


def check_checkpoints(
    checkpoints: list[SignedCheckpoint],
    public_key: Ed25519PublicKey | list[Ed25519PublicKey] | KeyRing,
    verifiers: dict[ChainId, ChainVerifier],
) -> CheckpointReport:
    """Signatures (following announced key rotations), the links between checkpoints, and each signed
    chain state against the entries."""
    report = CheckpointReport()
    ring = trusted_keys(public_key)
    previous_body: bytes | None = None
    previous_accepted: CheckpointBody | None = None
    for cp in sorted(checkpoints, key=lambda c: c.seq):
        report.checked += 1
        try:
            body = CheckpointBody.from_bytes(cp.body)
        except (ValueError, KeyError, TypeError) as exc:
            report.problems.append(f"checkpoint {cp.seq}: unreadable body: {exc}")
            previous_body = cp.body
            continue
        key = ring.key(body.key_id)
        if key is None or not signature_valid(key, cp.body, cp.signature):
            report.problems.append(
                f"checkpoint {cp.seq}: signature invalid (forged or altered checkpoint)"
                if key is not None
                else f"checkpoint {cp.seq}: signature invalid: signed by key {body.key_id}, which is "
                "neither trusted nor announced by an earlier checkpoint (forged checkpoint)"
            )
            previous_body = cp.body
            continue
        retired = ring.retirement(body)
        if retired is not None:
            report.problems.append(retired)
            previous_body = cp.body
            continue
        ring.accept(body)
        if body.seq != cp.seq:
            report.problems.append(f"checkpoint {cp.seq}: the signed body says seq {body.seq}")
        if previous_body is not None and body.previous != body_digest(previous_body):
            report.problems.append(f"checkpoint {cp.seq}: does not link to checkpoint {cp.seq - 1}")
        if previous_accepted is not None:
            report.problems += extension_problems(previous_accepted, body)
        previous_body = cp.body
        previous_accepted = body
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
    if report.latest_seq is None and any(v.count for v in verifiers.values()):
        report.problems.append(NO_CHECKPOINT)
    return report


def merge_published(
    stored: list[SignedCheckpoint], published: Mapping[int, SignedCheckpoint], conflicting: Iterable[int] = ()
) -> tuple[list[SignedCheckpoint], list[str]]:
    """The checkpoints to verify against: every published one (the topic outlives the database), plus
    the stored ones not published yet; and what the database lost or changed of what was published."""
    problems = [
        f"checkpoint {seq}: two different checkpoints were published with this seq" for seq in conflicting
    ]
    by_seq = {cp.seq: cp for cp in stored}
    for seq, cp in sorted(published.items()):
        mine = by_seq.get(seq)
        if mine is None:
            problems.append(
                f"checkpoint {seq}: published to the checkpoint topic but missing from the database (deleted)"
            )
        elif (mine.body, mine.signature) != (cp.body, cp.signature):
            problems.append(f"checkpoint {seq}: the database holds another checkpoint than the one published")
        by_seq[seq] = cp
    return [by_seq[seq] for seq in sorted(by_seq)], problems


def signed_at(checkpoint: SignedCheckpoint) -> datetime | None:
    try:
        moment = datetime.fromisoformat(json.loads(checkpoint.body)["created_at"])
    except (ValueError, KeyError, TypeError):
        return None
    return moment if moment.tzinfo is not None else None


def freshness_problems(checkpoints: list[SignedCheckpoint], now: datetime, max_age: float) -> list[str]:
    """The newest checkpoint must be younger than `max_age` seconds (0: no limit): a signer that
    stopped, or a trail whose tail is not signed, shows here."""
    if max_age <= 0 or not checkpoints:
        return []
    newest = max(checkpoints, key=lambda c: c.seq)
    moment = signed_at(newest)
    if moment is None:
        return []
    age = (now - moment).total_seconds()
    if age <= max_age:
        return []
    return [
        f"checkpoint {newest.seq}: the newest checkpoint is {age:.0f} s old, more than the {max_age:g} s "
        "allowed: entries since are not signed"
    ]


@dataclass(frozen=True)
class VerificationResult:
    """What `/audit/verify` and the standalone verifier report."""

    chains: list[ChainVerifier]
    checkpoints: CheckpointReport
    # Against Kafka (outside the database): None when not compared (offline, or Kafka unreachable).
    kafka: Completeness | None = None

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
        return (
            not self.broken
            and not self.checkpoints.problems
            and not (self.kafka is not None and self.kafka.problems)
        )

    def spans(self) -> dict[ChainId, ChainSpan]:
        """The Kafka offsets of each chain's first and newest entries."""
        return {
            v.chain: ChainSpan(v.first_offset, v.state().last_offset)
            for v in self.chains
            if v.first_offset is not None
        }

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
                "compared": self.kafka is not None,
                "problems": self.kafka.problems if self.kafka is not None else [],
                # records in Kafka not recorded yet, all younger than the ingest's grace (lag)
                "behind": self.kafka.behind if self.kafka is not None else None,
            },
            "checkpoints": {
                "checked": self.checkpoints.checked,
                "latest": self.checkpoints.latest_seq,
                "latest_tree_size": self.checkpoints.latest_tree_size,
                "problems": self.checkpoints.problems,
            },
        }


def verify_entries(
    entries: Iterable[StoredEntry],
    checkpoints: list[SignedCheckpoint],
    public_key: Ed25519PublicKey | list[Ed25519PublicKey] | KeyRing,
    extra_sizes: Mapping[ChainId, set[int]] | None = None,
) -> VerificationResult:
    """Verify entries given in chain order (or any order within which each chain is in seq order)."""
    wanted = wanted_sizes(checkpoints)
    for chain, sizes in (extra_sizes or {}).items():
        wanted.setdefault(chain, set()).update(sizes)
    verifiers: dict[ChainId, ChainVerifier] = {}
    for e in entries:
        chain = ChainId(e.topic, e.partition)
        verifier = verifiers.get(chain)
        if verifier is None:
            verifier = verifiers[chain] = ChainVerifier(chain, wanted.get(chain, ()))
        verifier.add(e)
    return VerificationResult(list(verifiers.values()), check_checkpoints(checkpoints, public_key, verifiers))


NO_CHECKPOINT = "no checkpoint: nothing signed proves the trail complete"
