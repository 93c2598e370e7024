"""The service app factory: health, readiness, metrics, request context, problem+json and lifespan hooks."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from pydantic import AwareDatetime, BaseModel
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dcp_platform import health, metrics, tracing
from dcp_platform.auth import BEARER_SCHEME_NAME, Role, TokenVerifier, require_roles
from dcp_platform.clock import Clock, ManualClock
from dcp_platform.context import (
    CORRELATION_ID_HEADER,
    TRACEPARENT_HEADER,
    bind_context,
    set_service_name,
)
from dcp_platform.logging import configure_logging
from dcp_platform.problems import (
    BadRequest,
    Conflict,
    install_problem_handlers,
    internal_error_response,
    problem_response,
)
from dcp_platform.settings import ServiceSettings

LifespanHook = Callable[[FastAPI], AbstractAsyncContextManager[None]]
"""Entered in order at startup, exited in reverse at shutdown (uvicorn runs shutdown on SIGTERM)."""

_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_log = structlog.get_logger("dcp_platform.http")


def _refused_characters(scope: Scope) -> str | None:
    """The input policy's characters no value may hold, checked in the path and query string before
    any route runs: NUL (PostgreSQL text cannot store it; a filter holding one would fail mid-stream)."""
    query = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query or "\x00" in scope.get("path", ""):
        return "NUL characters are not accepted in paths or query parameters"
    return None


_JSON_BODY_LIMIT = 1024 * 1024  # larger JSON bodies are not checked here (routes bound their own)


class _DuplicateKey(ValueError):
    pass


def _unique_pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _json_body_fault(body: bytes) -> str | None:
    """What the input policy refuses in a JSON body before any route reads it: a key given twice in
    one object (which value the client meant is unknown: never last-one-wins), NUL in a text, or JSON
    nested too deeply to be data."""
    try:
        value = json.loads(body, object_pairs_hook=_unique_pairs)
    except _DuplicateKey as exc:
        return f"the key {exc.args[0]!r} appears twice in one object"
    except RecursionError:
        return "the JSON is nested too deeply"
    except ValueError:
        return None  # not JSON: the route's own validation answers (422)
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return "NUL characters are not accepted in text"
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


async def _read_json_body(scope: Scope, receive: Receive) -> tuple[bytes | None, Receive]:
    """The body of a JSON request (None when not one, or too large), and a `receive` replaying it."""
    headers = dict(scope.get("headers", []))
    content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    if scope.get("method") not in ("POST", "PUT", "PATCH") or not (
        content_type == b"application/json" or content_type.endswith(b"+json")
    ):
        return None, receive
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return None, receive
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return (body if size <= _JSON_BODY_LIMIT else None), replay


class RequestContextMiddleware:
    """Per request: correlation id and trace context, one log line, HTTP metrics, and a problem+json 500
    for anything unhandled (so even failures carry the correlation id and are counted)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        started = time.perf_counter()
        status = 500
        response_started = False
        with bind_context(
            correlation_id=headers.get(CORRELATION_ID_HEADER.lower()),
            traceparent=headers.get(TRACEPARENT_HEADER),
            causation_id=str(uuid.uuid4()),
            span_name=f"{scope.get('method', 'HTTP')} {scope.get('path', '')}",
        ) as ctx:

            async def send_with_context(message: Message) -> None:
                nonlocal status, response_started
                if message["type"] == "http.response.start":
                    response_started = True
                    status = message["status"]
                    response_headers = MutableHeaders(scope=message)
                    response_headers[CORRELATION_ID_HEADER] = ctx.correlation_id
                await send(message)

            try:
                refused = _refused_characters(scope)
                body, receive = await _read_json_body(scope, receive)
                if refused is None and body:
                    refused = _json_body_fault(body)
                if refused is not None:
                    await problem_response(BadRequest(refused))(scope, receive, send_with_context)
                    return
                await self.app(scope, receive, send_with_context)
            except Exception:
                _log.exception("unhandled exception", method=scope["method"], path=scope["path"])
                if response_started:
                    raise
                await internal_error_response(None)(scope, receive, send_with_context)
            finally:
                elapsed = time.perf_counter() - started
                route = scope.get("route")
                template = getattr(route, "path_format", None) or getattr(route, "path", None)
                route_label = template if isinstance(template, str) else metrics.UNMATCHED_ROUTE
                metrics.observe_request(self.service, scope["method"], route_label, status, elapsed)
                log = _log.debug if scope["path"] in _QUIET_PATHS and status < 500 else _log.info
                log(
                    "http request",
                    method=scope["method"],
                    route=route_label,
                    status=status,
                    duration_ms=round(elapsed * 1000, 1),
                    actor=ctx.actor_id,
                )


def get_settings(request: Request) -> ServiceSettings:
    settings: ServiceSettings = request.app.state.settings
    return settings


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    hooks: list[LifespanHook] = app.state.lifespan_hooks
    async with AsyncExitStack() as stack:
        for hook in hooks:
            await stack.enter_async_context(hook(app))
        _log.info("service started", hooks=len(hooks))
        yield
        _log.info("service stopping")
    tracing.shutdown_tracing()
    _log.info("service stopped")


def _openapi_with_bearer(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
            schemes.setdefault(
                BEARER_SCHEME_NAME, {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            )
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi


class ClockSetting(BaseModel):
    now: AwareDatetime


def manual_clock_router(clock: ManualClock) -> APIRouter:
    """`GET/PUT /admin/clock` for a service running on a manual clock (demos, end-to-end tests).

    Time only moves forward, so timers and ageing never see it run backwards. Moving it calls the
    app's `clock_listeners` (the timer worker wakes and fires what became due).
    """
    router = APIRouter(prefix="/admin", tags=["admin"])

    @router.get("/clock", dependencies=[Depends(require_roles(Role.ADMIN))])
    async def read_clock() -> ClockSetting:
        return ClockSetting(now=clock.now())

    @router.put("/clock", dependencies=[Depends(require_roles(Role.ADMIN))])
    async def set_clock(setting: ClockSetting, request: Request) -> ClockSetting:
        if setting.now < clock.now():
            raise Conflict(f"the clock is at {clock.now().isoformat()} and never moves backwards")
        clock.set(setting.now)
        for listener in request.app.state.clock_listeners:
            listener()
        return ClockSetting(now=clock.now())

    return router


def create_service_app(
    settings: ServiceSettings,
    *,
    routers: Sequence[APIRouter] = (),
    readiness_checks: Sequence[health.ReadinessCheck] = (),
    lifespan_hooks: Sequence[LifespanHook] = (),
    include_default_readiness_checks: bool = True,
    clock: Clock | None = None,
    description: str = "",
) -> FastAPI:
    """A FastAPI app with the platform's runtime around the given routers.

    `/readyz` checks the service database and Kafka (unless `include_default_readiness_checks=False`)
    plus `readiness_checks`. `app.state.lifespan_hooks` may be appended to until startup.
    """
    configure_logging(settings.service_name, settings.log_level)
    tracing.configure_tracing(settings.service_name, settings.otel_traces_exporter)
    set_service_name(settings.service_name)

    app = FastAPI(title=settings.service_name, version="0.1.0", description=description, lifespan=_lifespan)
    app.state.settings = settings
    app.state.clock = clock if clock is not None else settings.make_clock()
    app.state.token_verifier = TokenVerifier.from_settings(settings)
    app.state.lifespan_hooks = list(lifespan_hooks)
    app.state.clock_listeners = []
    app.state.readiness_timeout = settings.readiness_timeout_seconds
    checks: list[health.ReadinessCheck] = []
    if include_default_readiness_checks:
        timeout = settings.readiness_timeout_seconds
        checks.append(health.postgres_check(settings.database_dsn, timeout=timeout))
        checks.append(health.kafka_check(settings.kafka_bootstrap_servers, timeout=timeout))
    checks.extend(readiness_checks)
    app.state.consumers = []  # the service's consumer groups, named by its bootstrap
    checks.append(health.consumers_check(lambda: app.state.consumers))
    app.state.readiness_checks = checks

    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, service=settings.service_name)
    app.include_router(health.router)
    if settings.metrics_port is None:
        app.include_router(metrics.router)
    else:  # only on its own port, which a deployment opens to its monitoring alone
        metrics.serve_metrics_apart(app, settings.http_host, settings.metrics_port)
    for router in routers:
        app.include_router(router)
    if isinstance(app.state.clock, ManualClock):
        app.include_router(manual_clock_router(app.state.clock))
    app.openapi = _openapi_with_bearer(app)  # type: ignore[method-assign]
    return app


def serve(app: FastAPI) -> None:
    """Run `app` with uvicorn on the settings' host and port (SIGTERM: graceful stop, lifespan shutdown)."""
    import uvicorn

    settings: ServiceSettings = app.state.settings
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
    )
