"""Prometheus metrics: HTTP request metrics and the `/metrics` endpoint serving the default registry.

Other modules register their own metrics on the default registry (prometheus_client's module-level
`REGISTRY`); `/metrics` serves all of them: on the service's port by default, or, with `METRICS_PORT`,
only on a port of its own (a deployment lets only its monitoring reach that port).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from starlette.responses import Response

HTTP_REQUESTS = Counter(
    "http_requests",
    "HTTP requests handled, by route template, method and status.",
    ["service", "method", "route", "status"],
)
HTTP_REQUEST_ERRORS = Counter(
    "http_request_errors",
    "HTTP requests answered with a 5xx status, by route template, method and status.",
    ["service", "method", "route", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency, by route template and method.",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

UNMATCHED_ROUTE = "<unmatched>"


def observe_request(service: str, method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(service, method, route, str(status)).inc()
    HTTP_REQUEST_DURATION.labels(service, method, route).observe(seconds)
    if status >= 500:
        HTTP_REQUEST_ERRORS.labels(service, method, route, str(status)).inc()


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


@asynccontextmanager
async def metrics_listener(host: str, port: int) -> AsyncIterator[None]:
    """`/metrics` on a port of its own for the app's lifetime (prometheus_client's threaded server)."""
    server, thread = start_http_server(port, addr=host)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def serve_metrics_apart(app: FastAPI, host: str, port: int) -> None:
    """Serve `/metrics` on `port` (a lifespan hook, started first) instead of the service's port."""

    @asynccontextmanager
    async def hook(_: FastAPI) -> AsyncIterator[None]:
        async with metrics_listener(host, port):
            yield

    app.state.lifespan_hooks.insert(0, hook)
