"""What the contact service does with the events it consumes: case facts from `collections.cases`,
promise outcomes from `collections.payments`. Each becomes a command for the bus, run in the
consumer's transaction (with the batch's offsets)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from contact_service.application import commands as c
from contact_service.application.ports import ContactBus
from dcp_events.catalogue.building import parse_data
from dcp_events.catalogue.payments import PromiseBroken, PromiseKept
from dcp_events.errors import EventError
from dcp_platform.eventsourcing.consumer import Delivery, PoisonMessage


def _payload(delivery: Delivery) -> Any:
    try:
        return parse_data(delivery.event)
    except EventError as exc:
        raise PoisonMessage(str(exc)) from exc


class ContactConsumers:
    """The Kafka handlers of the contact service."""

    def __init__(self, bus: ContactBus) -> None:
        self.bus = bus

    # --- collections.cases ---------------------------------------------------------------------

    async def on_case_events(self, conn: AsyncConnection, deliveries: Sequence[Delivery]) -> None:
        """A partition batch of case events folded together (they change read models only, so they
        cause no events of their own)."""
        folds = [c.FoldCaseEvent(d.event.subject or "", _payload(d), d.event.time) for d in deliveries]
        await self.bus.handle(c.FoldCaseEvents(folds), tx=conn)

    async def on_case_event(self, conn: AsyncConnection, delivery: Delivery) -> None:
        event = delivery.event
        payload = _payload(delivery)
        await self.bus.handle(c.FoldCaseEvent(event.subject or "", payload, event.time), tx=conn)

    # --- collections.payments ------------------------------------------------------------------

    async def on_payment_event(self, conn: AsyncConnection, delivery: Delivery) -> None:
        payload = _payload(delivery)
        if isinstance(payload, PromiseKept):
            await self.bus.handle(c.RecordPromiseOutcome(payload.promise_id, "kept"), tx=conn)
        elif isinstance(payload, PromiseBroken):
            await self.bus.handle(c.RecordPromiseOutcome(payload.promise_id, "broken"), tx=conn)
