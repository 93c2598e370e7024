"""The contact service's settings (environment variables; the shared ones in `dcp_platform.settings`)."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import SecretStr, field_validator, model_validator

from dcp_platform.settings import ServiceSettings


class ContactServiceSettings(ServiceSettings):
    service_name: str = "contact-service"
    http_port: int = 8002
    # The exchange-rate table the worklist compares expected recovery with across currencies (YAML:
    # base, as_of, rates); default: the packaged indicative table (config/fx_rates.yaml).
    contact_worklist_fx_rates_file: Path | None = None

    # Contact permits: how long after its issue a contact may start, and how long after that its
    # outcome may come before the permit expires and frees its reservation.
    contact_permit_ttl_seconds: int = 900
    contact_permit_outcome_grace_seconds: int = 900
    # The permits' Ed25519 signing key (PKCS#8 PEM, or base64 of the 32-byte seed); required outside dev
    # (dev generates one under DCP_DATA_DIR). Its public key is served at GET /contact-permit-keys.
    contact_permit_signing_key: SecretStr | None = None
    contact_permit_signing_key_file: Path | None = None
    dcp_data_dir: Path = Path(".local")

    # --- channels -----------------------------------------------------------------------------
    # Where links in messages point (opt-out) and where gateways send receipts: this service's URL.
    contact_public_url: str = "http://127.0.0.1:8002"
    # E-mail over SMTP; unset host: the e-mail channel is unavailable (503 channel-unavailable).
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_starttls: bool = True  # STARTTLS after connecting (587); SMTP_USE_TLS for implicit TLS (465)
    smtp_use_tls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = 10.0
    smtp_from: str = "collections@example.com"
    # SMS through an HTTP gateway (the provider shape in contact_service/channels/sms.py).
    sms_gateway_url: str | None = None
    sms_gateway_api_key: SecretStr | None = None
    sms_sender: str = "DCP"
    # Letters: rendered PDFs and print files for the letter house (default: DCP_DATA_DIR/letters).
    contact_letters_dir: Path | None = None
    # Who the messages and letters say is collecting (the agency or the creditor's collections unit).
    collector_name: str = "Example Collections"
    collector_address: str = "100 Main Street|Springfield, IL 62701"
    collector_phone: str = "+1 800 555 0100"
    collector_email: str = "help@collections.example.com"
    collector_website: str = "https://collections.example.com"

    @property
    def letters_dir(self) -> Path:
        return self.contact_letters_dir or self.dcp_data_dir / "letters"

    @model_validator(mode="after")
    def _check_permits(self) -> Self:
        if self.contact_permit_ttl_seconds < 60 or self.contact_permit_outcome_grace_seconds < 0:
            raise ValueError("CONTACT_PERMIT_TTL_SECONDS is at least 60 and the outcome grace not negative")
        if (
            not self.is_dev
            and self.contact_permit_signing_key is None
            and self.contact_permit_signing_key_file is None
        ):
            raise ValueError(
                "CONTACT_PERMIT_SIGNING_KEY or CONTACT_PERMIT_SIGNING_KEY_FILE is required when DCP_ENV "
                "is not 'dev'"
            )
        return self

    @field_validator(
        "contact_worklist_fx_rates_file",
        "contact_permit_signing_key_file",
        "contact_letters_dir",
        "smtp_host",
        "smtp_username",
        "smtp_password",
        "sms_gateway_url",
        "sms_gateway_api_key",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value
