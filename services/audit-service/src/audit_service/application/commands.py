"""The audit service's commands. The trail itself is written by the ingest (a consumer, not a
command); what an operator or the schedule asks of the service is to sign its state."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SignCheckpoint:
    """Sign every chain's head and Merkle root now, unless nothing changed since the last checkpoint and
    it is younger than `refresh_after_seconds` (0: only on change). The schedule refreshes an unchanged
    checkpoint so that its age alone tells a verifier the signer is alive and the trail not frozen."""

    refresh_after_seconds: float = 0.0
    published_seq: int = 0
    """The newest checkpoint the checkpoint topic is known to hold: the database must hold it too."""
