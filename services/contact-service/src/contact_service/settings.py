"""The contact service's settings (environment variables; the shared ones in `dcp_platform.settings`)."""

from __future__ import annotations

from dcp_platform.settings import ServiceSettings


class ContactServiceSettings(ServiceSettings):
    service_name: str = "contact-service"
    http_port: int = 8002
