"""Readiness follows the dependencies: false while PostgreSQL or Kafka is down, true again after."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from dcp_devstack import kafka as embedded_kafka
from dcp_devstack import postgres as embedded_postgres
from dcp_devstack.config import StackConfig
from dcp_platform.app import create_service_app
from dcp_platform.settings import ServiceSettings

pytestmark = pytest.mark.integration


def embedded_stack(kafka_bootstrap: str, database_server_url: str) -> StackConfig:
    cfg = StackConfig.from_env()
    if (
        embedded_postgres.running_pid(cfg) is None
        or embedded_kafka.running_pid(cfg) is None
        or cfg.kafka_bootstrap != kafka_bootstrap
        or cfg.database_url != database_server_url
    ):
        pytest.skip("stops and restarts the servers, so it needs the embedded stack (make test)")
    return cfg


async def readiness(client: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    response = await client.get("/readyz")
    return response.status_code, response.json()["checks"]


async def wait_for_status(client: httpx.AsyncClient, status: int, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        code, checks = await readiness(client)
        if code == status:
            return checks
        if time.monotonic() > deadline:
            raise AssertionError(f"/readyz stayed {code}: {checks}")
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("dependency", ["postgres", "kafka"])
async def test_readiness_turns_false_while_a_dependency_is_down_and_true_after(
    dependency: str, kafka_bootstrap: str, database_server_url: str
) -> None:
    cfg = embedded_stack(kafka_bootstrap, database_server_url)
    settings = ServiceSettings(
        service_name="case-service",
        database_url=database_server_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        readiness_timeout_seconds=2.0,
    )
    app = create_service_app(settings)
    stop: Callable[[StackConfig], Any] = globals()[f"embedded_{dependency}"].stop
    start: Callable[[StackConfig], Any] = globals()[f"embedded_{dependency}"].start
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        assert (await readiness(client))[0] == 200
        await asyncio.to_thread(stop, cfg)
        try:
            checks = await wait_for_status(client, 503)
            assert checks[dependency]["status"] == "fail"
            other = "kafka" if dependency == "postgres" else "postgres"
            assert checks[other]["status"] == "ok"
            assert (await client.get("/healthz")).status_code == 200  # alive, just not ready
        finally:
            await asyncio.to_thread(start, cfg)
        await wait_for_status(client, 200)
