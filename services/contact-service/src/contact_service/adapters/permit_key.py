"""Where the permit signing key comes from: the environment, a file, or (dev only) a generated file."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contact_service.settings import ContactServiceSettings
from dcp_compliance.permits import PermitSigner, parse_private_key, private_key_pem

DEV_KEY_NAME = "contact-service/permit-signing-key.pem"


def load_permit_signer(settings: ContactServiceSettings) -> PermitSigner:
    if settings.contact_permit_signing_key is not None:
        return PermitSigner(parse_private_key(settings.contact_permit_signing_key.get_secret_value()))
    if settings.contact_permit_signing_key_file is not None:
        return PermitSigner(parse_private_key(settings.contact_permit_signing_key_file.read_text()))
    if not settings.is_dev:
        raise RuntimeError("no permit signing key configured (CONTACT_PERMIT_SIGNING_KEY)")
    return PermitSigner(_dev_key(settings.dcp_data_dir / DEV_KEY_NAME))


def _dev_key(path: Path) -> Ed25519PrivateKey:
    if path.exists():
        return parse_private_key(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    # Created owner-only; O_EXCL so that replicas starting together keep the first key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return parse_private_key(path.read_text())
    with os.fdopen(fd, "wb") as out:
        out.write(private_key_pem(key))
    return key
