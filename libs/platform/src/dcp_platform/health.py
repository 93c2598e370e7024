"""Liveness (`/healthz`) and readiness (`/readyz`: PostgreSQL and Kafka reachable) endpoints."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

_log = structlog.get_logger("dcp_platform.health")


@dataclass(frozen=True)
class ReadinessCheck:
    """A named probe; `probe` raises (or times out) when the dependency is not usable."""

    name: str
    probe: Callable[[], Awaitable[None]]


def postgres_check(dsn: str, *, timeout: float = 2.0, name: str = "postgres") -> ReadinessCheck:
    async def probe() -> None:
        connection = await asyncpg.connect(dsn, timeout=timeout)
        try:
            await connection.fetchval("SELECT 1", timeout=timeout)
        finally:
            await connection.close(timeout=timeout)

    return ReadinessCheck(name, probe)


def kafka_check(bootstrap_servers: str, *, timeout: float = 2.0, name: str = "kafka") -> ReadinessCheck:
    async def probe() -> None:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            request_timeout_ms=int(timeout * 1000),
            connections_max_idle_ms=int(timeout * 1000) + 1000,
        )
        try:
            await admin.start()
            await admin.describe_cluster()
        finally:
            await admin.close()

    return ReadinessCheck(name, probe)


class ConsumerUnhealthy(RuntimeError):
    """A consumer group of the service does not consume (see its `health()`)."""


def consumers_check(consumers: Callable[[], Sequence[Any]], *, name: str = "consumers") -> ReadinessCheck:
    """Fails while any consumer group's loop has ended, keeps failing, or is stalled behind its lag:
    a dead or stuck consumer never hides behind a healthy database and broker."""

    async def probe() -> None:
        problems = [
            f"{c.group_id}: {reason}"
            for c in consumers()
            if hasattr(c, "health") and (reason := c.health()) is not None
        ]
        if problems:
            raise ConsumerUnhealthy("; ".join(problems))

    return ReadinessCheck(name, probe)


async def _run_one(check: ReadinessCheck, timeout_seconds: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check.probe(), timeout_seconds)
    except TimeoutError:
        outcome: dict[str, Any] = {"status": "fail", "error": "timeout"}
    except Exception as exc:
        _log.warning("readiness check failed", check=check.name, error=repr(exc))
        outcome = {"status": "fail", "error": type(exc).__name__}
        if isinstance(exc, ConsumerUnhealthy):
            outcome["detail"] = str(exc)[:1000]
    else:
        outcome = {"status": "ok"}
    outcome["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return outcome


async def run_readiness_checks(
    checks: Sequence[ReadinessCheck], timeout_seconds: float
) -> tuple[bool, dict[str, Any]]:
    results = await asyncio.gather(*(_run_one(check, timeout_seconds) for check in checks))
    outcomes = {check.name: result for check, result in zip(checks, results, strict=True)}
    ready = all(result["status"] == "ok" for result in results)
    return ready, outcomes


router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The service can reach its database and Kafka",
    responses={503: {"description": "A dependency is unreachable; see `checks`"}},
)
async def readyz(request: Request) -> JSONResponse:
    checks: Sequence[ReadinessCheck] = request.app.state.readiness_checks
    timeout: float = request.app.state.readiness_timeout
    ready, outcomes = await run_readiness_checks(checks, timeout)
    body = {"status": "ok" if ready else "fail", "checks": outcomes}
    return JSONResponse(body, status_code=200 if ready else 503)
