"""The contact service's settings (environment variables; the shared ones in `dcp_platform.settings`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator

from dcp_platform.settings import ServiceSettings


class ContactServiceSettings(ServiceSettings):
    service_name: str = "contact-service"
    http_port: int = 8002
    # The exchange-rate table the worklist compares expected recovery with across currencies (YAML:
    # base, as_of, rates); default: the packaged indicative table (config/fx_rates.yaml).
    contact_worklist_fx_rates_file: Path | None = None

    @field_validator("contact_worklist_fx_rates_file", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value
