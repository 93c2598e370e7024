"""What the contact service does with the events it consumes and the timers it set: case facts from
`collections.cases`, promise outcomes from `collections.payments`, contacts other systems made from
`integration.contacts`, and permit expiries. Each becomes a command for the bus, run in the
consumer's (or timer's) transaction (with the batch's offsets)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from contact_service.application import commands as c
from contact_service.application.ports import ContactBus
from contact_service.domain.staff import StaffEntry
from dcp_events.catalogue.building import parse_data
from dcp_events.catalogue.integration import ContactReported, case_id_for_account
from dcp_events.catalogue.payments import PromiseBroken, PromiseKept
from dcp_events.catalogue.staff import StaffMemberChanged
from dcp_events.errors import EventError
from dcp_platform.context import bind_context
from dcp_platform.eventsourcing.consumer import Delivery, PoisonMessage
from dcp_platform.eventsourcing.timers import DueTimer


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

    # --- integration.contacts ------------------------------------------------------------------

    async def on_contact_reported(self, conn: AsyncConnection, delivery: Delivery) -> None:
        """A contact an agency's dialer or a letter house made: recorded with its source, counted by the
        gate from now on. A report for an account whose case has not reached this service yet is kept
        and recorded when the case's CaseOpened arrives (a fact is never refused)."""
        event = delivery.event
        if event.type != ContactReported.type_name():
            raise PoisonMessage(f"{event.type} is not a contact report")
        report = _payload(delivery)
        assert isinstance(report, ContactReported)
        case_id = case_id_for_account(report.account.creditor_id, report.account.account_reference)
        if event.subject != case_id:
            raise PoisonMessage(
                f"subject {event.subject} is not the case of account {report.account.account_reference}"
            )
        await self.bus.handle(c.RecordReportedContact(case_id, report), tx=conn)

    # --- timers: permit expiry --------------------------------------------------------------------

    async def on_permit_expiry(self, conn: AsyncConnection, timer: DueTimer) -> None:
        with bind_context(causation_id=f"timer:{timer.kind}:{timer.key}"):
            await self.bus.handle(c.ExpirePermit(timer.key), tx=conn)

    # --- collections.staff ---------------------------------------------------------------------

    async def on_staff_event(self, conn: AsyncConnection, delivery: Delivery) -> None:
        """The staff directory changed: who may contact debtors, and how, from now on."""
        payload = _payload(delivery)
        if isinstance(payload, StaffMemberChanged):
            await self.bus.handle(c.RecordStaffMember(StaffEntry.from_event(payload)), tx=conn)

    # --- collections.payments ------------------------------------------------------------------

    async def on_payment_event(self, conn: AsyncConnection, delivery: Delivery) -> None:
        payload = _payload(delivery)
        if isinstance(payload, PromiseKept):
            await self.bus.handle(c.RecordPromiseOutcome(payload.promise_id, "kept"), tx=conn)
        elif isinstance(payload, PromiseBroken):
            await self.bus.handle(c.RecordPromiseOutcome(payload.promise_id, "broken"), tx=conn)
