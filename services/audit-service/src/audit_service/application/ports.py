"""What the audit service's handlers need: a connection in one transaction on the trail role's pool,
and the environment (the checkpoint signer and the clock)."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit_service.domain.checkpoints import CheckpointSigner
from dcp_platform.application import CommandBus
from dcp_platform.clock import Clock


@dataclass(frozen=True)
class AuditUnitOfWork:
    conn: asyncpg.Connection


@dataclass(frozen=True)
class AuditEnvironment:
    signer: CheckpointSigner
    clock: Clock
    # The key being rotated away from, given once so it can announce `signer` in a checkpoint it signs.
    previous_signer: CheckpointSigner | None = None
    # Further keys whose checkpoints the service accepts as the base of its next one (rotations before).
    trusted_keys: list[Ed25519PublicKey] = field(default_factory=list)


AuditBus = CommandBus[AuditUnitOfWork, AuditEnvironment]
