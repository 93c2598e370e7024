"""The case service's settings (environment variables; the shared ones in `dcp_platform.settings`)."""

from __future__ import annotations

from dcp_platform.settings import ServiceSettings


class CaseServiceSettings(ServiceSettings):
    service_name: str = "case-service"
    http_port: int = 8001
    # The collection policy YAML (buckets, stages, segmentation, strategies); default: the packaged one.
    case_policy_file: str | None = None
