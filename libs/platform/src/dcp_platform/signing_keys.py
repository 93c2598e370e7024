"""Ed25519 signing keys as the services take them: from a setting (PKCS#8 PEM, or base64 of the 32-byte
seed), from a file, or, in dev only, generated once into a file of the data directory (owner-only)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def parse_private_key(text: str) -> Ed25519PrivateKey:
    """PKCS#8 PEM, or base64 (standard or URL-safe, padded or not) of the 32-byte seed."""
    raw = text.strip()
    if "BEGIN" in raw:
        key = serialization.load_pem_private_key(raw.encode(), password=None)
    else:
        seed = raw.replace("-", "+").replace("_", "/")
        key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed + "=" * (-len(seed) % 4)))
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the signing key is not an Ed25519 key")
    return key


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def dev_key(path: Path) -> Ed25519PrivateKey:
    """The key in `path`, generated there the first time: created owner-only and with O_EXCL, so that
    processes starting together keep the first one."""
    if path.exists():
        return parse_private_key(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return parse_private_key(path.read_text())
    with os.fdopen(fd, "wb") as out:
        out.write(private_key_pem(key))
    return key
