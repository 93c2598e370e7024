"""Where the checkpoint signing key comes from: the environment, a file, or (dev only) a generated file."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit_service.adapters.case_keys import MasterKeys
from audit_service.domain.checkpoints import CheckpointSigner, load_public_key
from audit_service.domain.commitments import SaltDeriver
from audit_service.settings import AuditServiceSettings

DEV_KEY_NAME = "audit-service/checkpoint-signing-key.pem"
DEV_COMMITMENT_KEY_NAME = "audit-service/commitment-key"
DEV_MASTER_KEY_NAME = "audit-service/master-key"


def parse_private_key(text: str) -> Ed25519PrivateKey:
    """PKCS#8 PEM, or base64 of the 32-byte seed."""
    raw = text.strip().encode()
    if b"BEGIN" in raw:
        key = serialization.load_pem_private_key(raw, password=None)
    else:
        key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(raw))
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the checkpoint signing key is not an Ed25519 key")
    return key


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_signer(settings: AuditServiceSettings) -> CheckpointSigner:
    if settings.audit_signing_key is not None:
        return CheckpointSigner(parse_private_key(settings.audit_signing_key.get_secret_value()))
    if settings.audit_signing_key_file is not None:
        return CheckpointSigner(parse_private_key(settings.audit_signing_key_file.read_text()))
    if not settings.is_dev:
        raise RuntimeError("no checkpoint signing key configured (AUDIT_SIGNING_KEY)")
    return CheckpointSigner(_dev_key(settings.dcp_data_dir / DEV_KEY_NAME))


def _dev_key(path: Path) -> Ed25519PrivateKey:
    if path.exists():
        return parse_private_key(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    # Created owner-only; O_EXCL so two processes starting together keep the first key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return parse_private_key(path.read_text())
    with os.fdopen(fd, "wb") as out:
        out.write(private_key_pem(key))
    return key


def load_previous_signer(settings: AuditServiceSettings) -> CheckpointSigner | None:
    """The key being rotated away from (AUDIT_PREVIOUS_SIGNING_KEY), if given."""
    if settings.audit_previous_signing_key is None:
        return None
    return CheckpointSigner(parse_private_key(settings.audit_previous_signing_key.get_secret_value()))


def trusted_public_keys(settings: AuditServiceSettings) -> list[Ed25519PublicKey]:
    """Retired keys online verification still trusts (AUDIT_TRUSTED_PUBLIC_KEYS)."""
    text = settings.audit_trusted_public_keys.strip()
    if not text:
        return []
    if "BEGIN" in text:
        blocks = text.split("-----END PUBLIC KEY-----")
        return [
            load_public_key(b.strip(" ,\n") + "\n-----END PUBLIC KEY-----\n") for b in blocks if "BEGIN" in b
        ]
    return [load_public_key(part.strip()) for part in text.split(",") if part.strip()]


def load_salts(settings: AuditServiceSettings) -> SaltDeriver:
    """The commitment key (AUDIT_COMMITMENT_KEY or its file; dev: generated into DCP_DATA_DIR)."""
    if settings.audit_commitment_key is not None:
        text = settings.audit_commitment_key.get_secret_value()
    elif settings.audit_commitment_key_file is not None:
        text = settings.audit_commitment_key_file.read_text()
    elif settings.is_dev:
        text = _dev_secret(settings.dcp_data_dir / DEV_COMMITMENT_KEY_NAME)
    else:
        raise RuntimeError("no commitment key configured (AUDIT_COMMITMENT_KEY)")
    key = base64.b64decode(text.strip())
    if len(key) < 32:
        raise ValueError("the commitment key must be at least 32 bytes (base64)")
    return SaltDeriver(key)


def _dev_secret(path: Path) -> str:
    if path.exists():
        return path.read_text()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text()
    text = base64.b64encode(os.urandom(32)).decode("ascii")
    with os.fdopen(fd, "w") as out:
        out.write(text)
    return text


def load_master_keys(settings: AuditServiceSettings) -> MasterKeys:
    """The master keys that wrap the cases' data keys (AUDIT_MASTER_KEYS; dev: generated)."""
    if settings.audit_master_keys is not None:
        return MasterKeys.parse(settings.audit_master_keys.get_secret_value(), setting="AUDIT_MASTER_KEYS")
    if not settings.is_dev:
        raise RuntimeError("no master key configured (AUDIT_MASTER_KEYS)")
    return MasterKeys.parse(
        "dev:" + _dev_secret(settings.dcp_data_dir / DEV_MASTER_KEY_NAME).strip(), setting="AUDIT_MASTER_KEYS"
    )
