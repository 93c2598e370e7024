"""Fixtures for the platform's unit tests: an app built by the real factory, with no external dependencies."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from dcp_platform.app import create_service_app
from dcp_platform.settings import ServiceSettings

SECRET = "unit-test-hs256-secret-of-decent-length"

# The settings the environment of the machine running the tests could leak into a test.
SETTINGS_ENV = (
    "DCP_ENV",
    "AUTH_JWT_HS256_SECRET",
    "AUTH_JWT_JWKS_URL",
    "AUTH_JWT_ISSUER",
    "AUTH_JWT_AUDIENCE",
    "DATABASE_URL",
    "SERVICE_DATABASE_URL",
)


@pytest.fixture
def no_settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """None of SETTINGS_ENV is set for the test (each sets what it needs)."""
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)


def make_settings(**overrides: object) -> ServiceSettings:
    values: dict[str, object] = {
        "service_name": "unit-service",
        "auth_jwt_hs256_secret": SECRET,
        "auth_jwt_issuer": "dcp",
        "auth_jwt_audience": "dcp-api",
    }
    if str(overrides.get("DCP_ENV", "dev")) != "dev":  # outside dev the key vault is required
        values["data_keys_database_url"] = "postgresql://vault@127.0.0.1:5432/data_keys"
        values["data_master_keys"] = "k1:" + "A" * 43 + "="
    values.update(overrides)
    return ServiceSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def build_client() -> Callable[..., httpx.AsyncClient]:
    def build(*routers: APIRouter, settings: ServiceSettings | None = None) -> httpx.AsyncClient:
        app: FastAPI = create_service_app(
            settings or make_settings(), routers=routers, include_default_readiness_checks=False
        )
        # raise_app_exceptions=False: assert on what a real client would receive, not on the exception.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        return httpx.AsyncClient(transport=transport, base_url="http://unit")

    return build
