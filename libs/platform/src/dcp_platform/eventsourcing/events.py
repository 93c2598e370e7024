"""From a catalogue payload to an event ready to append, stamped with who caused it and when."""

from __future__ import annotations

from uuid import UUID

from dcp_events.catalogue.base import EventPayload
from dcp_events.catalogue.building import new_event
from dcp_platform.clock import Clock
from dcp_platform.context import current_actor
from dcp_platform.eventsourcing.records import NewEvent

# Attributes the store assigns or keeps apart from the envelope metadata.
_STORE_OWNED = {"specversion", "id", "type", "subject", "sequence", "datacontenttype", "data"}


def event_for(
    payload: EventPayload, *, subject: str, source: str, clock: Clock, jurisdiction: str | None = None
) -> NewEvent:
    """An event caused by the current request (or consumed event, or timer): the actor, role,
    correlation id, causation id and trace context come from the execution context, so the
    audit trail can name who did it; the time comes from the service's clock.

    The CloudEvent is built and validated here, so a malformed event never reaches the store.
    """
    actor = current_actor()
    cloud_event = new_event(
        payload,
        subject=subject,
        source=source,
        time=clock.now(),
        jurisdiction=jurisdiction,
        actor=actor.actor,
        actorrole=actor.actorrole,
        correlationid=actor.correlationid,
        causationid=actor.causationid,
        traceparent=actor.traceparent,
    )
    # The CloudEvent's validation already reduced `data` to canonical JSON (floats and naive
    # times refused), so the stored event is exactly what the relay will publish.
    envelope = {k: v for k, v in cloud_event.attributes().items() if k not in _STORE_OWNED}
    return NewEvent(
        event_type=cloud_event.type,
        topic=type(payload).topic,
        subject=subject,
        data=cloud_event.data,
        envelope=envelope,
        event_id=UUID(cloud_event.id),
    )
