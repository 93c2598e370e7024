"""The standalone verifier: an export, the checkpoints and the public key in; a verdict out.

It needs neither the service nor its database: `audit-service verify trail export.jsonl checkpoints.json
key.pem --state retained.json`. The retained state is the auditor's own memory (as a Certificate
Transparency monitor keeps the last tree head it saw): the newest checkpoint it accepted, and the keys it
learnt. A trail or checkpoint set that is not a consistent extension of it is refused, so deleting the
newest checkpoints, rewriting history or truncating below a checkpoint is caught by anyone who once saw a
later one. Exit status 0: complete and untampered; 1: a problem was found (named); 2: the export
withheld entry bytes, so those contents were not rehashed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit_service.adapters.checkpoint_log import PublishedCheckpoints, read_published, read_witness
from audit_service.adapters.kafka_positions import read_positions
from audit_service.domain.chain import ChainId
from audit_service.domain.checkpoints import (
    CheckpointBody,
    KeyRing,
    key_id_of,
    load_public_key,
    public_key_pem,
    signature_valid,
)
from audit_service.domain.completeness import KafkaView, compare_with_kafka, problems_at_start
from audit_service.domain.entries import EntryIndex
from audit_service.domain.proofs import check_consistency, check_proof
from audit_service.domain.verification import (
    SignedCheckpoint,
    StoredEntry,
    VerificationResult,
    extension_problems,
    merge_published,
    verify_entries,
)

cli = typer.Typer(add_completion=False, no_args_is_help=True, help="Verify an audit trail export offline.")


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _index(obj: dict[str, Any]) -> EntryIndex | None:
    """The query columns as exported; None for an export without them."""
    if "kafka_time" not in obj or "kind" not in obj:
        return None
    return EntryIndex(
        topic=obj["topic"],
        partition=int(obj["partition"]),
        offset=int(obj["offset"]),
        kind=obj["kind"],
        event_id=obj.get("event_id"),
        event_type=obj.get("type"),
        case_id=obj.get("case_id"),
        actor=obj.get("actor"),
        actor_role=obj.get("actor_role"),
        event_time=_time(obj.get("time")),
        kafka_time=_time(obj["kafka_time"]),  # type: ignore[arg-type]
    )


def read_export(path: Path) -> Iterator[StoredEntry]:
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                yield StoredEntry(
                    id=obj.get("id"),
                    topic=obj["topic"],
                    partition=int(obj["partition"]),
                    offset=int(obj["offset"]),
                    seq=int(obj["seq"]),
                    entry=base64.b64decode(obj["entry"]) if obj.get("entry") is not None else None,
                    prev_hash=bytes.fromhex(obj["prev_hash"]),
                    hash=bytes.fromhex(obj["hash"]),
                    index=_index(obj),
                    redelivery_of=obj.get("redelivery_of"),
                    openings=obj.get("openings"),
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise typer.BadParameter(f"{path}:{number}: not an export line: {exc}") from exc


def _signed(obj: dict[str, Any]) -> SignedCheckpoint:
    return SignedCheckpoint(
        int(obj["seq"]), base64.b64decode(obj["body"]), base64.b64decode(obj["signature"])
    )


def read_checkpoints(path: Path) -> list[SignedCheckpoint]:
    """GET /audit/checkpoints, a JSON list of checkpoints, or a witness directory of checkpoint files."""
    if path.is_dir():
        return read_witness(path)
    doc: Any = json.loads(path.read_text())
    items = doc["checkpoints"] if isinstance(doc, dict) else doc
    return [_signed(c) for c in items]


def keys_of(doc: dict[str, Any]) -> list[Ed25519PublicKey]:
    """The keys of GET /audit/public-key's JSON."""
    pems = [k["public_key_pem"] for k in doc.get("keys", [])] or [doc["public_key_pem"]]
    return [load_public_key(p) for p in pems]


def read_keys(path: Path) -> list[Ed25519PublicKey]:
    """The trusted keys: PEM block(s), base64 of raw keys one per line, or GET /audit/public-key's JSON."""
    text = path.read_text()
    if text.lstrip().startswith("{"):
        return keys_of(json.loads(text))
    if "BEGIN" in text:
        blocks = text.split("-----END PUBLIC KEY-----")
        return [load_public_key(b + "-----END PUBLIC KEY-----") for b in blocks if "BEGIN" in b]
    return [load_public_key(line) for line in text.split() if line.strip()]


@dataclass
class RetainedState:
    """What an auditor keeps between verifications: the newest checkpoint it accepted, the keys it knows."""

    checkpoint: SignedCheckpoint
    keys: list[Ed25519PublicKey]

    @classmethod
    def load(cls, path: Path) -> RetainedState | None:
        if not path.exists() or not path.read_text().strip():
            return None
        doc = json.loads(path.read_text())
        return cls(_signed(doc["checkpoint"]), [load_public_key(p) for p in doc.get("keys", [])])

    def save(self, path: Path) -> None:
        doc = {
            "checkpoint": {
                "seq": self.checkpoint.seq,
                "body": base64.b64encode(self.checkpoint.body).decode(),
                "signature": base64.b64encode(self.checkpoint.signature).decode(),
            },
            "keys": [public_key_pem(k) for k in self.keys],
        }
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(doc, indent=2) + "\n")
        temporary.replace(path)


def retained_problems(
    retained: RetainedState, checkpoints: list[SignedCheckpoint], ring: KeyRing
) -> list[str]:
    """The checkpoints given must hold the retained one unchanged or extend past it."""
    body = CheckpointBody.from_bytes(retained.checkpoint.body)
    key = ring.key(body.key_id)
    if key is None or not signature_valid(key, retained.checkpoint.body, retained.checkpoint.signature):
        return [f"retained checkpoint {body.seq}: not signed by a trusted key"]
    by_seq = {c.seq: c for c in checkpoints}
    newest = max(by_seq, default=0)
    problems = []
    same = by_seq.get(body.seq)
    if newest < body.seq:
        problems.append(
            f"the newest checkpoint given is {newest or 'none'}, but checkpoint {body.seq} was retained: "
            "newer checkpoints were deleted"
        )
    elif same is None:
        problems.append(f"retained checkpoint {body.seq} is missing from the checkpoints given")
    elif (same.body, same.signature) != (retained.checkpoint.body, retained.checkpoint.signature):
        problems.append(
            f"checkpoint {body.seq} differs from the one retained: the checkpoint history was rewritten"
        )
    if newest > body.seq:
        with contextlib.suppress(ValueError, KeyError, TypeError):  # unreadable: the checkpoint check says
            problems += extension_problems(body, CheckpointBody.from_bytes(by_seq[newest].body))
    return problems


def retained_sizes(retained: RetainedState | None) -> dict[ChainId, set[int]]:
    if retained is None:
        return {}
    body = CheckpointBody.from_bytes(retained.checkpoint.body)
    return {ChainId(c.topic, c.partition): {c.size} for c in body.chains}


def retained_chain_problems(retained: RetainedState, result: VerificationResult) -> list[str]:
    """The entries must still hold every chain as the retained checkpoint signed it."""
    body = CheckpointBody.from_bytes(retained.checkpoint.body)
    verifiers = {v.chain: v for v in result.chains}
    problems = []
    for signed in body.chains:
        chain = ChainId(signed.topic, signed.partition)
        verifier = verifiers.get(chain)
        have = verifier.count if verifier is not None else 0
        if verifier is None or have < signed.size:
            problems.append(
                f"retained checkpoint {body.seq}: {chain} has {have} entries but {signed.size} were "
                f"signed: entries from seq {have} on are missing"
            )
        elif verifier.states.get(signed.size) != signed:
            problems.append(
                f"retained checkpoint {body.seq}: {chain} up to seq {signed.size - 1} differs from what "
                "was signed: entries were rewritten"
            )
    return problems


@dataclass
class Verdict:
    result: VerificationResult
    retained: list[str]
    ring: KeyRing
    newest: SignedCheckpoint | None

    @property
    def ok(self) -> bool:
        return self.result.ok and not self.retained and self.newest is not None


@dataclass(frozen=True)
class KafkaSource:
    """Where the offline verifier may read Kafka itself: the source's offsets and the checkpoint topic."""

    bootstrap: str
    prefix: str = ""
    checkpoint_topic: str = "audit.checkpoints"
    group: str = "audit-service.trail"
    extra_topics: tuple[str, ...] = ()
    grace_seconds: float = 120.0


def _read_kafka(source: KafkaSource) -> tuple[KafkaView | None, PublishedCheckpoints | None]:
    from dcp_events import TOPICS, dlq_topic

    names = list(dict.fromkeys([*TOPICS, *(dlq_topic(t) for t in TOPICS), *source.extra_topics]))

    async def read() -> tuple[KafkaView | None, PublishedCheckpoints | None]:
        view = await read_positions(
            source.bootstrap,
            [source.prefix + n for n in names],
            source.prefix + source.group,
            source.prefix,
            source.grace_seconds,
        )
        published = await read_published(source.bootstrap, source.prefix + source.checkpoint_topic)
        return view, published

    return asyncio.run(read())


def verify_files(
    export: Path,
    checkpoints: Path,
    public_key: Path,
    state: RetainedState | None = None,
    kafka: KafkaSource | None = None,
) -> Verdict:
    view, published = _read_kafka(kafka) if kafka is not None else (None, None)
    entries = sorted(read_export(export), key=lambda e: (e.topic, e.partition, e.seq))
    signed = read_checkpoints(checkpoints)
    merged: list[str] = []
    if published is not None:
        signed, merged = merge_published(signed, published.checkpoints, published.conflicting)
    ring = KeyRing(read_keys(public_key) + (state.keys if state is not None else []))
    retained = retained_problems(state, signed, KeyRing(list(ring.keys.values()))) if state else []
    result = verify_entries(entries, signed, ring, retained_sizes(state))
    result.checkpoints.problems[:0] = merged
    if view is not None:
        result = dataclasses.replace(result, kafka=compare_with_kafka(view, result.spans()))
    else:
        result.checkpoints.problems.extend(problems_at_start(result.spans()))
    if state is not None:
        retained += retained_chain_problems(state, result)
    newest = max(signed, key=lambda c: c.seq) if signed else None
    return Verdict(result, retained, ring, newest)


def render(verdict: Verdict) -> list[str]:
    result = verdict.result
    lines = [
        f"{result.entries} entries in {len(result.chains)} chains; "
        f"{result.checkpoints.checked} checkpoints (latest {result.checkpoints.latest_seq}, "
        f"{result.checkpoints.latest_tree_size} entries signed)"
    ]
    lines += [f"BROKEN {b.describe()}" for b in result.broken]
    lines += [f"CHECKPOINT {p}" for p in result.checkpoints.problems]
    lines += [f"RETAINED {p}" for p in verdict.retained]
    if result.kafka is not None:
        lines += [f"KAFKA {p}" for p in result.kafka.problems]
    if result.content_unchecked:
        lines.append(
            f"NOTE {result.content_unchecked} entries withheld their bytes (masked export): not rehashed"
        )
    opened = sum(v.opened for v in result.chains)
    lines.append(
        f"{opened} personal-data fields opened and checked against their commitments"
        if opened
        else "personal data: committed to, not opened (an export for a role that may not see it)"
    )
    return lines


StateOption = Annotated[
    Path | None,
    typer.Option(
        "--state",
        help="The retained state: the newest checkpoint you accepted before (created on first use, "
        "advanced after each successful verification)",
    ),
]


@cli.command("trail")
def verify_trail_command(
    export: Annotated[Path, typer.Argument(help="JSON Lines from GET /audit/export", exists=True)],
    checkpoints: Annotated[
        Path,
        typer.Argument(help="JSON from GET /audit/checkpoints, or a witness directory", exists=True),
    ],
    public_key: Annotated[
        Path, typer.Argument(help="Trusted key(s): PEM (or JSON of GET /audit/public-key)", exists=True)
    ],
    state: StateOption = None,
    kafka: Annotated[
        str | None,
        typer.Option(
            help="Kafka bootstrap servers: also compare with the source's offsets and the checkpoint topic"
        ),
    ] = None,
    topic_prefix: Annotated[str, typer.Option(help="The deployment's topic prefix")] = "",
) -> None:
    """Is the trail complete (every signed entry present) and untampered (every hash, query column and
    signature holds), and a consistent extension of what you retained?"""
    retained = RetainedState.load(state) if state is not None else None
    source = KafkaSource(kafka, topic_prefix) if kafka else None
    verdict = verify_files(export, checkpoints, public_key, retained, source)
    for line in render(verdict):
        typer.echo(line)
    if not verdict.ok:
        typer.echo("FAILED: the trail is tampered or incomplete")
        raise typer.Exit(1)
    assert verdict.newest is not None
    if state is not None:
        RetainedState(verdict.newest, list(verdict.ring.keys.values())).save(state)
        typer.echo(f"STATE retained checkpoint {verdict.newest.seq} in {state}")
    if verdict.result.content_unchecked:
        typer.echo("PARTIAL: links and checkpoints hold; contents not rehashed")
        raise typer.Exit(2)
    typer.echo("OK: complete and untampered")


@cli.command("consistency")
def verify_consistency_command(
    proof: Annotated[Path, typer.Argument(help="JSON from GET /audit/checkpoints/consistency", exists=True)],
    public_key: Annotated[
        Path, typer.Argument(help="Trusted key(s): PEM (or JSON of GET /audit/public-key)", exists=True)
    ],
    state: StateOption = None,
) -> None:
    """Does the newer checkpoint extend the older one (no entry signed before was changed or removed)?
    With --state, the older one must be the checkpoint you retained; the newer one is retained after."""
    doc = json.loads(proof.read_text())
    retained = RetainedState.load(state) if state is not None else None
    ring = KeyRing(read_keys(public_key) + (retained.keys if retained is not None else []))
    problems = []
    first = _signed(doc["first"])
    if retained is not None and (first.body, first.signature) != (
        retained.checkpoint.body,
        retained.checkpoint.signature,
    ):
        problems.append(
            f"the proof starts at checkpoint {first.seq}, not at the retained checkpoint "
            f"{retained.checkpoint.seq}: ask for from={retained.checkpoint.seq}"
        )
    problems += check_consistency(doc, ring)
    for problem in problems:
        typer.echo(f"FAILED: {problem}")
    if problems:
        raise typer.Exit(1)
    second = _signed(doc["second"])
    if state is not None:
        RetainedState(second, list(ring.keys.values())).save(state)
        typer.echo(f"STATE retained checkpoint {second.seq} in {state}")
    typer.echo(f"OK: checkpoint {second.seq} extends checkpoint {first.seq}")


@cli.command("proof")
def verify_proof_command(
    proof: Annotated[
        Path,
        typer.Argument(
            help="JSON of GET /audit/entries/{id}/proof, or the console's download (proof and key)",
            exists=True,
        ),
    ],
    public_key: Annotated[
        Path | None,
        typer.Argument(help="PEM (or JSON of GET /audit/public-key); default: the key in the download"),
    ] = None,
) -> None:
    """Is the entry covered by a checkpoint signed with this key?"""
    document = json.loads(proof.read_text())
    bundled = isinstance(document, dict) and isinstance(document.get("proof"), dict)
    if public_key is not None:
        keys = read_keys(public_key)
    elif bundled and isinstance(document.get("public_key"), dict):
        keys = keys_of(document["public_key"])
        named = ", ".join(key_id_of(k) for k in keys)
        typer.echo(f"checked with the key in the file ({named}): compare it with the key you trust")
    else:
        typer.echo("FAILED: no public key: give one (PEM, or the JSON of GET /audit/public-key)")
        raise typer.Exit(2)
    problems = check_proof(document["proof"] if bundled else document, KeyRing(keys))
    for problem in problems:
        typer.echo(f"FAILED: {problem}")
    if problems:
        raise typer.Exit(1)
    typer.echo("OK: the entry is covered by the signed checkpoint")


if __name__ == "__main__":
    cli()
