"""Wrapping a payload in its envelope, and reading a payload back out (upcasting old versions first)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypeVar

from pydantic import ValidationError

from dcp_events.catalogue.base import EventPayload
from dcp_events.catalogue.registry import model_for, schema_uri
from dcp_events.envelope import ActorRole, CloudEvent
from dcp_events.errors import EventDataError, describe_validation_error
from dcp_events.upcasting import upcast

P = TypeVar("P", bound=EventPayload)


def new_event(
    payload: EventPayload,
    *,
    subject: str,
    source: str,
    actor: str,
    actorrole: ActorRole | str,
    correlationid: str,
    causationid: str | None = None,
    sequence: int | None = None,
    jurisdiction: str | None = None,
    traceparent: str | None = None,
    time: datetime,
    id: str | uuid.UUID | None = None,
) -> CloudEvent:
    """The envelope of `payload`. The caller owns the clock: `time` must be passed (UTC-aware)."""
    type_str = payload.type_name()
    model_for(type_str)  # only catalogued types are published
    return CloudEvent(
        id=str(id) if id is not None else str(uuid.uuid4()),
        source=source,
        type=type_str,
        time=time,
        subject=subject,
        dataschema=schema_uri(type_str),
        data=payload.model_dump(mode="json"),
        actor=actor,
        actorrole=ActorRole(actorrole),
        correlationid=correlationid,
        causationid=causationid,
        sequence=sequence,
        jurisdiction=jurisdiction,
        traceparent=traceparent,
    )


def parse_data(event: CloudEvent) -> EventPayload:
    """The payload of `event` as its current-version model (old versions are upcast first).

    Raises `UnknownEventType`, `UpcastError` or `EventDataError` (all `EventError`).
    """
    type_str, data = upcast(event.type, event.data)
    model = model_for(type_str)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = describe_validation_error(exc)
        raise EventDataError(f"{event.type} event {event.id} has invalid data: {problems}") from None


def parse_data_as(event: CloudEvent, model: type[P]) -> P:
    """Like `parse_data`, but checks the payload is a `model` (for typed handlers)."""
    payload = parse_data(event)
    if not isinstance(payload, model):
        raise EventDataError(f"{event.type} event {event.id} is not a {model.__name__}")
    return payload
