"""The audit service's commands. The trail itself is written by the ingest (a consumer, not a
command); what an operator or the schedule asks of the service is to sign its state."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SignCheckpoint:
    """Sign every chain's head and Merkle root now, unless nothing changed since the last checkpoint."""
