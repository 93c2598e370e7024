"""The contact service's settings (environment variables; the shared ones in `dcp_platform.settings`)."""

from __future__ import annotations

from pathlib import Path

from dcp_platform.settings import ServiceSettings


class ContactServiceSettings(ServiceSettings):
    service_name: str = "contact-service"
    http_port: int = 8002
    # The exchange-rate table the worklist compares expected recovery with across currencies (YAML:
    # base, as_of, rates); default: the packaged indicative table (config/fx_rates.yaml).
    contact_worklist_fx_rates_file: Path | None = None
