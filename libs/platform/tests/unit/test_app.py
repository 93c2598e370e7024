"""The app factory: lifespan hooks start in order and stop in reverse; readiness; route-template metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from dcp_platform.app import LifespanHook, create_service_app
from dcp_platform.health import ReadinessCheck

from .conftest import make_settings


async def test_lifespan_hooks_start_in_order_and_stop_in_reverse() -> None:
    calls: list[str] = []

    def hook(name: str) -> LifespanHook:
        @asynccontextmanager
        async def run(app: FastAPI) -> AsyncIterator[None]:
            calls.append(f"start {name}")
            yield
            calls.append(f"stop {name}")

        return run

    app = create_service_app(
        make_settings(), lifespan_hooks=[hook("relay")], include_default_readiness_checks=False
    )
    app.state.lifespan_hooks.append(hook("consumer"))
    async with app.router.lifespan_context(app):
        assert calls == ["start relay", "start consumer"]
    assert calls == ["start relay", "start consumer", "stop consumer", "stop relay"]


async def test_readiness_runs_the_given_checks() -> None:
    async def ok() -> None:
        return None

    async def down() -> None:
        raise ConnectionRefusedError("nope")

    checks = [ReadinessCheck("ok", ok), ReadinessCheck("down", down)]
    app = create_service_app(make_settings(), readiness_checks=checks, include_default_readiness_checks=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://unit") as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    checks_out = response.json()["checks"]
    assert checks_out["ok"]["status"] == "ok"
    assert checks_out["down"]["status"] == "fail"
    assert checks_out["down"]["error"] == "ConnectionRefusedError"


async def test_readiness_fails_while_a_consumer_group_does_not_consume() -> None:
    class Group:
        def __init__(self, group_id: str, reason: str | None) -> None:
            self.group_id, self.reason = group_id, reason

        def health(self) -> str | None:
            return self.reason

    app = create_service_app(make_settings(), include_default_readiness_checks=False)
    healthy, stuck = Group("g-ok", None), Group("g-stuck", "stalled: 6 records behind")
    app.state.consumers = [healthy, stuck]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://unit") as client:
        down = await client.get("/readyz")
        stuck.reason = None
        up = await client.get("/readyz")
    assert down.status_code == 503
    assert down.json()["checks"]["consumers"]["detail"] == "g-stuck: stalled: 6 records behind"
    assert up.status_code == 200


async def test_metrics_use_route_templates(build_client: Callable[..., httpx.AsyncClient]) -> None:
    router = APIRouter()

    @router.get("/cases/{case_id}")
    async def case(case_id: str) -> dict[str, str]:
        return {"id": case_id}

    client = build_client(router)
    await client.get("/cases/c-123")
    text = (await client.get("/metrics")).text
    assert 'route="/cases/{case_id}"' in text
    assert "c-123" not in text


async def test_nul_in_a_path_or_query_is_a_400_problem_before_any_route(
    build_client: Callable[..., httpx.AsyncClient],
) -> None:
    """A filter holding NUL used to start a 200 stream that the database then broke; now no route runs."""
    from pydantic import BaseModel

    reached: list[str] = []
    router = APIRouter()

    @router.get("/things")
    async def things(actor: str | None = None) -> dict[str, str]:
        reached.append(actor or "")
        return {"actor": actor or ""}

    class Body(BaseModel):
        amount: int

    @router.post("/strict")
    async def strict() -> dict[str, int]:
        return {"amount": Body.model_validate({"amount": "many"}).amount}  # a model refusing a value

    client = build_client(router)
    for url in ("/things?actor=%00", "/things?actor=a%00b", "/things/%00"):
        response = await client.get(url)
        assert response.status_code == 400, url
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"] == "https://errors.dcp.example/bad-request"
    assert reached == []
    assert (await client.get("/things?actor=alice")).json() == {"actor": "alice"}
    refused = await client.post("/strict")
    assert refused.status_code == 422 and refused.json()["type"] == "https://errors.dcp.example/validation"
    assert refused.json()["errors"][0]["loc"] == ["amount"]


class Payment(BaseModel):
    amount: int
    note: str | None = None


async def test_a_json_body_with_a_key_twice_or_nul_is_a_400_problem_and_good_bodies_pass(
    build_client: Callable[..., httpx.AsyncClient],
) -> None:
    seen: list[Payment] = []
    router = APIRouter()

    @router.post("/payments")
    async def pay(body: Payment) -> dict[str, int]:
        seen.append(body)
        return {"amount": body.amount}

    client = build_client(router)
    json_headers = {"content-type": "application/json"}
    twice = await client.post("/payments", content=b'{"amount": 5, "amount": 7}', headers=json_headers)
    assert twice.status_code == 400 and "'amount' appears twice" in twice.json()["detail"]
    assert twice.headers["content-type"].startswith("application/problem+json")
    nul = await client.post("/payments", content=b'{"amount": 5, "note": "a\\u0000b"}', headers=json_headers)
    assert nul.status_code == 400 and "NUL" in nul.json()["detail"]
    deep = await client.post("/payments", content=b"[" * 100_000 + b"]" * 100_000, headers=json_headers)
    assert deep.status_code == 400 and "nested too deeply" in deep.json()["detail"]
    assert seen == []
    good = await client.post("/payments", json={"amount": 5, "note": "fine"})
    assert good.status_code == 200, good.text
    assert good.json() == {"amount": 5} and len(seen) == 1
