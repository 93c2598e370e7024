"""The standalone verifier: an export, the checkpoints and the public key in; a verdict out.

It needs neither the service nor its database: `audit-verify trail export.jsonl checkpoints.json key.pem`.
Exit status 0: complete and untampered; 1: a problem was found (the broken entries are named);
2: the export withheld entry bytes (masked), so contents were not rehashed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from audit_service.domain.checkpoints import load_public_key
from audit_service.domain.proofs import check_proof
from audit_service.domain.verification import (
    SignedCheckpoint,
    StoredEntry,
    VerificationResult,
    verify_entries,
)

cli = typer.Typer(add_completion=False, no_args_is_help=True, help="Verify an audit trail export offline.")


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
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise typer.BadParameter(f"{path}:{number}: not an export line: {exc}") from exc


def read_checkpoints(path: Path) -> list[SignedCheckpoint]:
    doc: Any = json.loads(path.read_text())
    items = doc["checkpoints"] if isinstance(doc, dict) else doc
    return [
        SignedCheckpoint(int(c["seq"]), base64.b64decode(c["body"]), base64.b64decode(c["signature"]))
        for c in items
    ]


def _public_key_text(path: Path) -> str:
    text = path.read_text()
    if text.lstrip().startswith("{"):
        return str(json.loads(text)["public_key_pem"])
    return text


def verify_files(export: Path, checkpoints: Path, public_key: Path) -> VerificationResult:
    entries = sorted(read_export(export), key=lambda e: (e.topic, e.partition, e.seq))
    return verify_entries(
        entries, read_checkpoints(checkpoints), load_public_key(_public_key_text(public_key))
    )


def render(result: VerificationResult) -> list[str]:
    lines = [
        f"{result.entries} entries in {len(result.chains)} chains; "
        f"{result.checkpoints.checked} checkpoints (latest {result.checkpoints.latest_seq}, "
        f"{result.checkpoints.latest_tree_size} entries signed)"
    ]
    lines += [f"BROKEN {b.describe()}" for b in result.broken]
    lines += [f"CHECKPOINT {p}" for p in result.checkpoints.problems]
    if result.checkpoints.latest_seq is None:
        lines.append("CHECKPOINT none given: nothing proves the trail complete")
    if result.content_unchecked:
        lines.append(
            f"NOTE {result.content_unchecked} entries withheld their bytes (masked export): not rehashed"
        )
    return lines


@cli.command("trail")
def verify_trail_command(
    export: Annotated[Path, typer.Argument(help="JSON Lines from GET /audit/export", exists=True)],
    checkpoints: Annotated[Path, typer.Argument(help="JSON from GET /audit/checkpoints", exists=True)],
    public_key: Annotated[Path, typer.Argument(help="PEM (or JSON of GET /audit/public-key)", exists=True)],
) -> None:
    """Is the trail complete (every signed entry present) and untampered (every hash and signature holds)?"""
    result = verify_files(export, checkpoints, public_key)
    for line in render(result):
        typer.echo(line)
    complete = result.checkpoints.latest_seq is not None
    if not result.ok or not complete:
        typer.echo("FAILED: the trail is tampered or incomplete")
        raise typer.Exit(1)
    if result.content_unchecked:
        typer.echo("PARTIAL: links and checkpoints hold; contents not rehashed")
        raise typer.Exit(2)
    typer.echo("OK: complete and untampered")


@cli.command("proof")
def verify_proof_command(
    proof: Annotated[Path, typer.Argument(help="JSON from GET /audit/entries/{id}/proof", exists=True)],
    public_key: Annotated[Path, typer.Argument(help="PEM (or JSON of GET /audit/public-key)", exists=True)],
) -> None:
    """Is the entry covered by a checkpoint signed with this key?"""
    problems = check_proof(json.loads(proof.read_text()), load_public_key(_public_key_text(public_key)))
    for problem in problems:
        typer.echo(f"FAILED: {problem}")
    if problems:
        raise typer.Exit(1)
    typer.echo("OK: the entry is covered by the signed checkpoint")


if __name__ == "__main__":
    cli()
