"""The check every service makes of its subscriptions that declare the events they act on: the
consumer skips a topic's other events, so the handler must do nothing with any of them."""

from __future__ import annotations

from typing import Any

from dcp_events.catalogue.building import new_event
from dcp_events.catalogue.examples import EXAMPLE_CASE_ID, EXAMPLE_TIME, EXAMPLES
from dcp_platform.eventsourcing.consumer import Delivery
from dcp_platform.eventsourcing.runtime import Subscription


class RecordingBus:
    """A command bus that only remembers what it was asked to run."""

    def __init__(self) -> None:
        self.commands: list[object] = []

    async def handle(self, command: object, *, tx: Any = None) -> Any:
        self.commands.append(command)
        return None


def skipped_examples(subscription: Subscription) -> list[Delivery]:
    """A delivery of the catalogue example of every event type on the subscription's topics that it
    does not declare (empty when it declares none: it then sees every event)."""
    handled = subscription.handled_types()
    if handled is None:
        return []
    deliveries = []
    for payload in EXAMPLES.values():
        if type(payload).topic in subscription.topics and payload.event_type not in handled:
            event = new_event(
                payload,
                subject=EXAMPLE_CASE_ID,
                source="/tests",
                actor="tests",
                actorrole="service",
                correlationid="corr-skipped",
                time=EXAMPLE_TIME,
            )
            deliveries.append(
                Delivery(type(payload).topic, 0, 0, EXAMPLE_CASE_ID.encode(), b"", str(event.id), event)
            )
    return deliveries
