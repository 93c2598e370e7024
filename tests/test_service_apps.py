"""Each service is a runnable app: health, readiness, metrics, OpenAPI, migrations and runtime."""

from __future__ import annotations

import asyncio
import importlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

SERVICES = {
    "case-service": ("case_service", 8001),
    "contact-service": ("contact_service", 8002),
    "payment-service": ("payment_service", 8003),
    "audit-service": ("audit_service", 8004),
}


def settings_class(service: str) -> Any:
    module = importlib.import_module(f"{SERVICES[service][0]}.main")
    return next(
        v for k, v in vars(module).items() if k.endswith("ServiceSettings") and k != "ServiceSettings"
    )


def app_for(service: str, **settings: Any) -> FastAPI:
    module = importlib.import_module(f"{SERVICES[service][0]}.main")
    app: FastAPI = module.create_app(settings_class(service)(**settings))
    return app


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=sorted(SERVICES))
def service(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def unreachable_client(service: str) -> AsyncIterator[httpx.AsyncClient]:
    port = closed_port()
    app = app_for(
        service,
        database_url=f"postgresql://postgres@127.0.0.1:{port}/postgres",
        kafka_bootstrap_servers=f"127.0.0.1:{port}",
        readiness_timeout_seconds=3.0,
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        yield client


def test_defaults_name_the_service_its_port_and_database(service: str) -> None:
    settings = settings_class(service)()
    assert settings.service_name == service
    assert settings.http_port == SERVICES[service][1]
    assert settings.sqlalchemy_url.endswith("/" + service.replace("-", "_"))


async def test_health_metrics_and_openapi_without_a_token(
    service: str, unreachable_client: httpx.AsyncClient
) -> None:
    assert (await unreachable_client.get("/healthz")).json() == {"status": "ok"}
    metrics = (await unreachable_client.get("/metrics")).text
    assert f'route="/healthz",service="{service}",status="200"' in metrics
    schema = (await unreachable_client.get("/openapi.json")).json()
    assert schema["info"]["title"] == service
    assert any(s.get("scheme") == "bearer" for s in schema["components"]["securitySchemes"].values())


async def test_readiness_fails_with_per_check_detail_when_dependencies_are_down(
    unreachable_client: httpx.AsyncClient,
) -> None:
    response = await unreachable_client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["postgres"]["status"] == "fail"
    assert checks["kafka"]["status"] == "fail"


@pytest.mark.integration
async def test_migrated_service_starts_its_runtime_and_is_ready(
    service: str, database_server_url: str, kafka_bootstrap: str
) -> None:
    from asgi_lifespan import LifespanManager

    module = importlib.import_module(f"{SERVICES[service][0]}.main")
    settings = settings_class(service)(
        database_url=database_server_url, kafka_bootstrap_servers=kafka_bootstrap
    )
    from dcp_devstack import create_databases
    from dcp_platform import migrations

    await asyncio.to_thread(create_databases, database_server_url, [settings.database_name])
    await asyncio.to_thread(migrations.upgrade, module.MIGRATIONS, settings.sqlalchemy_url)
    await asyncio.to_thread(migrations.upgrade, module.MIGRATIONS, settings.sqlalchemy_url)  # idempotent
    app = module.create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text
            metrics = (await client.get("/metrics")).text
            assert "dcp_outbox_backlog" in metrics
            assert "dcp_events_appended_total" in metrics


async def test_a_manual_clock_moves_only_forward_and_only_for_admins(service: str) -> None:
    from dcp_devstack.testing import token
    from dcp_platform.auth import Role

    port = closed_port()
    app = app_for(
        service,
        database_url=f"postgresql://postgres@127.0.0.1:{port}/postgres",
        kafka_bootstrap_servers=f"127.0.0.1:{port}",
        clock_mode="manual",
        clock_fixed_at="2026-03-08T06:00:00Z",
    )

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        admin = token(Role.ADMIN, "u")
        assert (await client.get("/admin/clock", headers=admin)).json() == {"now": "2026-03-08T06:00:00Z"}
        moved = await client.put("/admin/clock", json={"now": "2026-03-09T07:30:00+01:00"}, headers=admin)
        assert moved.status_code == 200
        assert app.state.clock.now().isoformat() == "2026-03-09T06:30:00+00:00"
        backwards = await client.put("/admin/clock", json={"now": "2026-03-08T00:00:00Z"}, headers=admin)
        assert backwards.status_code == 409
        assert backwards.headers["content-type"].startswith("application/problem+json")
        collector = await client.put(
            "/admin/clock", json={"now": "2026-03-10T00:00:00Z"}, headers=token(Role.COLLECTOR, "u")
        )
        assert collector.status_code == 403
        assert (await client.put("/admin/clock", json={"now": "2026-03-10T00:00:00Z"})).status_code == 401


def test_the_system_clock_has_no_admin_clock_endpoint(service: str) -> None:
    paths = app_for(service).openapi()["paths"]
    assert "/admin/clock" not in paths


async def test_metrics_served_on_a_port_of_their_own_are_not_on_the_service_port(service: str) -> None:
    """With METRICS_PORT, /metrics is not on the service's port (what ingress and peers reach) but on
    its own, which the deployment's NetworkPolicy opens to the monitoring namespace only."""
    port = closed_port()
    app = app_for(service, metrics_port=port)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        assert (await client.get("/metrics")).status_code == 404
    first_hook = app.state.lifespan_hooks[0]
    async with first_hook(app), httpx.AsyncClient() as client:
        scraped = await client.get(f"http://127.0.0.1:{port}/metrics")
    assert scraped.status_code == 200 and "http_requests" in scraped.text
