"""Fixtures for the platform's unit tests: an app built by the real factory, with no external dependencies."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from dcp_platform.app import create_service_app
from dcp_platform.settings import ServiceSettings

SECRET = "unit-test-hs256-secret-of-decent-length"


def make_settings(**overrides: object) -> ServiceSettings:
    values: dict[str, object] = {
        "service_name": "unit-service",
        "auth_jwt_hs256_secret": SECRET,
        "auth_jwt_issuer": "dcp",
        "auth_jwt_audience": "dcp-api",
    }
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
