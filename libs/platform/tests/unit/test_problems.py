"""Errors reach clients as RFC 9457 problem+json with stable types, and never leak internals."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import httpx
from fastapi import APIRouter
from pydantic import BaseModel, Field

from dcp_platform.app import create_service_app
from dcp_platform.logging import configure_logging
from dcp_platform.problems import ConcurrencyConflict, Conflict, map_domain_error

from .conftest import make_settings

router = APIRouter()


class Promise(BaseModel):
    amount_minor: int = Field(gt=0)
    currency: str = Field(min_length=3, max_length=3)


class StageTransitionNotAllowed(Exception):
    pass


@router.post("/promises")
async def make_promise(promise: Promise) -> Promise:
    return promise


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("database password is hunter2 at /srv/secret/path.py")


@router.get("/stale")
async def stale() -> None:
    raise ConcurrencyConflict("Case c-1 is at version 7, not 6.", expected_version=6, actual_version=7)


@router.get("/stage")
async def stage() -> None:
    raise StageTransitionNotAllowed("legal -> early is not allowed")


async def test_validation_errors_are_422_with_field_errors(
    build_client: Callable[..., httpx.AsyncClient],
) -> None:
    client = build_client(router)
    response = await client.post("/promises", json={"amount_minor": -5, "currency": "EUR"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "https://errors.dcp.example/validation"
    assert body["instance"] == "/promises"
    assert [error["loc"] for error in body["errors"]] == [["body", "amount_minor"]]
    assert "input" not in body["errors"][0]  # the rejected value may be personal data


async def test_unhandled_errors_are_500_without_internals_and_are_logged(
    build_client: Callable[..., httpx.AsyncClient],
) -> None:
    client = build_client(router)
    logs = io.StringIO()
    configure_logging("unit-service", stream=logs)
    response = await client.get("/boom", headers={"X-Correlation-ID": "corr-boom"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-correlation-id"] == "corr-boom"
    body = response.json()
    assert body["type"] == "https://errors.dcp.example/internal"
    assert body["correlation_id"] == "corr-boom"
    for leak in ("hunter2", "RuntimeError", "Traceback", "path.py"):
        assert leak not in response.text
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    failure = next(line for line in lines if line["event"] == "unhandled exception")
    assert failure["correlation_id"] == "corr-boom"
    assert "RuntimeError" in failure["exception"]


async def test_problem_subclasses_keep_their_type_and_extra_members(
    build_client: Callable[..., httpx.AsyncClient],
) -> None:
    client = build_client(router)
    body = (await client.get("/stale")).json()
    assert body["type"] == "https://errors.dcp.example/concurrency-conflict"
    assert body["status"] == 409
    assert (body["expected_version"], body["actual_version"]) == (6, 7)


async def test_domain_errors_map_to_problems() -> None:
    app = create_service_app(make_settings(), routers=[router], include_default_readiness_checks=False)
    map_domain_error(app, StageTransitionNotAllowed, Conflict)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://unit") as client:
        response = await client.get("/stage")
    assert response.status_code == 409
    assert response.json()["detail"] == "legal -> early is not allowed"
    assert response.json()["type"] == "https://errors.dcp.example/conflict"


async def test_unknown_routes_and_methods_are_problems(
    build_client: Callable[..., httpx.AsyncClient],
) -> None:
    client = build_client(router)
    missing = await client.get("/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["type"] == "https://errors.dcp.example/not-found"
    wrong_method = await client.delete("/promises")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["type"] == "about:blank"
