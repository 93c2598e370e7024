"""Where the permit signing key comes from: the environment, a file, or (dev only) a generated file."""

from __future__ import annotations

from contact_service.settings import ContactServiceSettings
from dcp_compliance.permits import PermitSigner
from dcp_platform.signing_keys import dev_key, parse_private_key

DEV_KEY_NAME = "contact-service/permit-signing-key.pem"


def load_permit_signer(settings: ContactServiceSettings) -> PermitSigner:
    if settings.contact_permit_signing_key is not None:
        return PermitSigner(parse_private_key(settings.contact_permit_signing_key.get_secret_value()))
    if settings.contact_permit_signing_key_file is not None:
        return PermitSigner(parse_private_key(settings.contact_permit_signing_key_file.read_text()))
    if not settings.is_dev:
        raise RuntimeError("no permit signing key configured (CONTACT_PERMIT_SIGNING_KEY)")
    return PermitSigner(dev_key(settings.dcp_data_dir / DEV_KEY_NAME))
