"""Case ledgers in the event store: one stream per case, loaded and appended inside a transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from dcp_events.catalogue.registry import model_for
from dcp_platform.clock import Clock
from dcp_platform.eventsourcing.events import event_for
from dcp_platform.eventsourcing.store import EventStore, RecordedEvent
from payment_service.domain.ledger import CaseLedger

SOURCE = "/payment-service"


def stream_id(case_id: str) -> str:
    return f"ledger-{case_id}"


async def load(store: EventStore, conn: AsyncConnection, case_id: str) -> CaseLedger:
    recorded = await store.load(stream_id(case_id), conn=conn)
    history = [
        (model_for(r.event_type).model_validate(r.payload), datetime.fromisoformat(r.metadata["time"]))
        for r in recorded
    ]
    return CaseLedger.replay(case_id, history)


async def append(
    store: EventStore, conn: AsyncConnection, ledger: CaseLedger, clock: Clock, jurisdiction: str | None
) -> list[RecordedEvent]:
    """Append the ledger's new events at the version it was loaded at (ConcurrencyConflict otherwise)."""
    if not ledger.pending:
        return []
    events = [
        event_for(payload, subject=ledger.case_id, source=SOURCE, clock=clock, jurisdiction=jurisdiction)
        for payload in ledger.pending
    ]
    recorded = await store.append(stream_id(ledger.case_id), ledger.version, events, conn=conn)
    ledger.version += len(recorded)
    ledger.pending.clear()
    return recorded
