"""The relay serialises the stored envelope without rebuilding it, and the bytes are exactly those of
the validated CloudEvent (the audit hash chain depends on byte stability)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dcp_events.canonical import decode_event, encode_event
from dcp_events.catalogue.base import EventPayload
from dcp_events.catalogue.examples import EXAMPLES
from dcp_events.envelope import CloudEvent
from dcp_platform.clock import ManualClock
from dcp_platform.context import bind_context
from dcp_platform.eventsourcing.events import event_for
from dcp_platform.eventsourcing.records import RecordedEvent
from dcp_platform.eventsourcing.relay import default_encoder

AT = datetime(2026, 11, 30, 9, 15, 30, 123456, tzinfo=UTC)


def stored(payload: EventPayload, version: int) -> RecordedEvent:
    """What the store hands the relay for an event appended through `event_for`."""
    with bind_context(
        actor_id="col-7", actor_role="collector", correlation_id="corr-1", causation_id="cause-1"
    ):
        new = event_for(payload, subject="case-1", source="/tests", clock=ManualClock(AT), jurisdiction="GB")
    return RecordedEvent(
        position=1,
        stream_id="case-1",
        stream_version=version,
        event_id=new.event_id,
        event_type=new.event_type,
        topic=new.topic,
        payload=dict(new.data),
        metadata={**new.envelope, "subject": new.subject},
        recorded_at=AT,
    )


@pytest.mark.parametrize("type_name", sorted(EXAMPLES))
def test_the_relay_bytes_are_those_of_the_validated_cloudevent(type_name: str) -> None:
    recorded = stored(EXAMPLES[type_name], version=3)
    attributes = recorded.cloudevent_attributes()
    fast = default_encoder(attributes)
    assert fast == encode_event(CloudEvent.model_validate(dict(attributes)))
    event = decode_event(fast)  # and it decodes as the event that was appended
    assert (event.type, event.sequence, event.actor, event.jurisdiction) == (type_name, 3, "col-7", "GB")
