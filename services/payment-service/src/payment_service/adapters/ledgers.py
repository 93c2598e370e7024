"""Case ledgers in the event store: one stream per case (`ledger-<case id>`), loaded and appended
inside a transaction; the handlers go through `ledger_repository`, the platform Repository."""

from __future__ import annotations

from dcp_platform.clock import Clock
from dcp_platform.eventsourcing.events import event_for
from dcp_platform.eventsourcing.repository import EventStorePort, Repository, Tx
from dcp_platform.eventsourcing.store import RecordedEvent
from payment_service.domain.ledger import CaseLedger

SOURCE = "/payment-service"


def ledger_repository(store: EventStorePort, clock: Clock) -> Repository[CaseLedger]:
    """Case ledgers in the service's store; each save is stamped with the case's jurisdiction, which
    the ledger does not know (the handler passes it from the case facts)."""
    return Repository(store, CaseLedger, source=SOURCE, clock=clock)


def stream_id(case_id: str) -> str:
    return CaseLedger.stream_id_for(case_id)


async def load(store: EventStorePort, conn: Tx, case_id: str) -> CaseLedger:
    """The ledger rebuilt from its stream: each stored event upcast to its current version, applied
    at the time it happened (its `time` attribute)."""
    recorded = await store.load(stream_id(case_id), conn=conn)
    return CaseLedger.from_history(case_id, recorded)


async def append(
    store: EventStorePort, conn: Tx, ledger: CaseLedger, clock: Clock, jurisdiction: str | None
) -> list[RecordedEvent]:
    """Append the ledger's new events at the version it was loaded at (ConcurrencyConflict otherwise).

    The events stay pending until the append succeeds."""
    if not ledger.pending:
        return []
    events = [
        event_for(payload, subject=ledger.case_id, source=SOURCE, clock=clock, jurisdiction=jurisdiction)
        for payload in ledger.pending
    ]
    recorded = await store.append(ledger.stream_id, ledger.version, events, conn=conn)
    ledger.version += len(recorded)
    ledger.pull_changes()
    return recorded
