"""Per-request (or per-message) context: correlation id, W3C trace context and the acting principal.

HTTP requests get one from the middleware; consumers and timers open one with `bind_context`.
Event-producing code reads `current_actor()` to fill the envelope's actor, actorrole,
correlationid, causationid and traceparent.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from dcp_platform import tracing

CORRELATION_ID_HEADER = "X-Correlation-ID"
TRACEPARENT_HEADER = "traceparent"
SERVICE_ACTOR_ROLE = "service"

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_SAFE_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


@dataclass(frozen=True)
class TraceContext:
    """A W3C trace context: this process's span within a trace."""

    trace_id: str
    span_id: str
    flags: str = "01"
    parent_span_id: str | None = None

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"

    @classmethod
    def new(cls) -> TraceContext:
        return cls(trace_id=secrets.token_hex(16), span_id=secrets.token_hex(8))

    @classmethod
    def continue_from(cls, traceparent: str | None) -> TraceContext:
        """A child span of `traceparent` when it is valid, else a fresh trace."""
        match = _TRACEPARENT.match((traceparent or "").strip().lower())
        if match is None or match.group(1) == "0" * 32 or match.group(2) == "0" * 16:
            return cls.new()
        trace_id, parent_span_id, flags = match.groups()
        return cls(
            trace_id=trace_id, span_id=secrets.token_hex(8), flags=flags, parent_span_id=parent_span_id
        )


@dataclass(frozen=True)
class Actor:
    """Who caused what is happening now, and the ids that tie it to the rest of the system."""

    actor: str
    actorrole: str
    correlationid: str
    causationid: str | None
    traceparent: str

    def envelope_extensions(self) -> dict[str, str]:
        """CloudEvents extension attributes for an event produced in this context (None ones omitted)."""
        values = {
            "actor": self.actor,
            "actorrole": self.actorrole,
            "correlationid": self.correlationid,
            "causationid": self.causationid,
            "traceparent": self.traceparent,
        }
        return {key: value for key, value in values.items() if value is not None}


@dataclass
class RequestContext:
    correlation_id: str
    trace: TraceContext
    causation_id: str | None = None
    actor_id: str | None = None
    actor_role: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


_context: ContextVar[RequestContext | None] = ContextVar("dcp_request_context", default=None)
_service_name: list[str] = ["dcp"]


def set_service_name(name: str) -> None:
    """The actor named in events produced outside any request (relay, consumers, timers)."""
    _service_name[0] = name


def service_name() -> str:
    return _service_name[0]


def new_correlation_id() -> str:
    return str(uuid.uuid4())


def accept_correlation_id(value: str | None) -> str:
    """The caller's correlation id if it is a sane token, otherwise a new one (no log injection)."""
    if value and _SAFE_CORRELATION_ID.match(value):
        return value
    return new_correlation_id()


def get_request_context() -> RequestContext | None:
    return _context.get()


@contextmanager
def bind_context(
    *,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    traceparent: str | None = None,
    actor_id: str | None = None,
    actor_role: str | None = None,
    span_name: str = "unit of work",
) -> Iterator[RequestContext]:
    """Open a context for one unit of work, e.g. handling one consumed event:

    `with bind_context(correlation_id=evt.correlationid, causation_id=evt.id, traceparent=evt.traceparent):`
    With tracing on (see tracing.py) the unit of work is also a span named `span_name`, and the
    context's trace ids are that span's.
    """
    with tracing.span(span_name, traceparent) as recorded:
        trace_context = TraceContext.continue_from(traceparent)
        if recorded is not None:
            trace_id, span_id, flags = recorded
            trace_context = TraceContext(trace_id, span_id, flags, trace_context.parent_span_id)
        ctx = RequestContext(
            correlation_id=accept_correlation_id(correlation_id),
            trace=trace_context,
            causation_id=causation_id,
            actor_id=actor_id,
            actor_role=actor_role,
        )
        token = _context.set(ctx)
        try:
            yield ctx
        finally:
            _context.reset(token)


def bind_actor(actor_id: str, actor_role: str) -> None:
    """Record the authenticated principal on the current context (done by the auth dependency)."""
    ctx = _context.get()
    if ctx is not None:
        ctx.actor_id = actor_id
        ctx.actor_role = actor_role


def current_correlation_id() -> str | None:
    ctx = _context.get()
    return ctx.correlation_id if ctx is not None else None


def current_trace() -> TraceContext | None:
    ctx = _context.get()
    return ctx.trace if ctx is not None else None


def current_actor() -> Actor:
    """The actor and tracing ids for events produced now.

    Inside a request: the authenticated principal (or the service, before authentication), the
    request's correlation id, the request id as causation id and the request's span as traceparent.
    Outside any context: the service itself with a fresh correlation id and trace.
    """
    ctx = _context.get()
    if ctx is None:
        return Actor(
            actor=service_name(),
            actorrole=SERVICE_ACTOR_ROLE,
            correlationid=new_correlation_id(),
            causationid=None,
            traceparent=TraceContext.new().traceparent,
        )
    return Actor(
        actor=ctx.actor_id or service_name(),
        actorrole=ctx.actor_role or SERVICE_ACTOR_ROLE,
        correlationid=ctx.correlation_id,
        causationid=ctx.causation_id,
        traceparent=ctx.trace.traceparent,
    )
