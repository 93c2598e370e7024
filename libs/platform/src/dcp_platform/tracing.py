"""OpenTelemetry tracing, off by default.

With `OTEL_TRACES_EXPORTER` set (`otlp`, `console`, or `memory` for tests) every HTTP request,
consumed event and fired timer becomes a span. The span continues the W3C `traceparent` it came
with (request header, or the consumed event's `traceparent` attribute), and events produced inside
it carry the span's own traceparent, so a trace follows a case across services. The OTLP exporter
reads the standard `OTEL_EXPORTER_OTLP_*` variables. Off, the same ids are still propagated
(see context.TraceContext); only no spans are recorded or exported.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_state: dict[str, Any] = {"tracer": None, "provider": None, "memory": None}
_propagator = TraceContextTextMapPropagator()


def configure_tracing(service_name: str, exporter: str | None) -> None:
    """Turn tracing on with the named exporter, or off with None / "none"."""
    shutdown_tracing()
    if not exporter or exporter == "none":
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    span_exporter: SpanExporter
    if exporter == "console":
        span_exporter = ConsoleSpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    elif exporter == "memory":
        span_exporter = InMemorySpanExporter()
        _state["memory"] = span_exporter
        provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        raise ValueError(f"unknown OTEL_TRACES_EXPORTER {exporter!r}: use otlp, console, memory or none")
    _state["provider"] = provider
    _state["tracer"] = provider.get_tracer("dcp_platform")


def shutdown_tracing() -> None:
    """Flush and stop the exporter (on service shutdown)."""
    provider = _state["provider"]
    if provider is not None:
        provider.shutdown()
    _state.update(tracer=None, provider=None, memory=None)


def recorded_spans() -> list[Any]:
    """Spans kept by the `memory` exporter (tests)."""
    memory = _state["memory"]
    return list(memory.get_finished_spans()) if memory is not None else []


@contextmanager
def span(name: str, traceparent: str | None, **attributes: str) -> Iterator[tuple[str, str, str] | None]:
    """A span continuing `traceparent`; yields its (trace id, span id, flags), or None when tracing is off."""
    tracer = _state["tracer"]
    if tracer is None:
        yield None
        return
    parent = _propagator.extract({"traceparent": traceparent}) if traceparent else None
    with tracer.start_as_current_span(name, context=parent, kind=trace.SpanKind.SERVER) as current:
        for key, value in attributes.items():
            current.set_attribute(key, value)
        ctx = current.get_span_context()
        yield format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"), format(ctx.trace_flags, "02x")
