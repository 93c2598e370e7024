"""`GET /audit/reconciliation` and the `dcp_reconciliation_divergences` gauge: the divergences between
payment-service and case-service, computed from the trail (`domain/reconciliation.py`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import asyncpg
from prometheus_client import Gauge

from audit_service.adapters import trail
from audit_service.adapters.case_keys import CaseKeys
from audit_service.domain.reconciliation import Divergence, Reconciliation
from dcp_events import EventError, decode_event
from dcp_events.canonical import to_canonical_bytes
from dcp_events.catalogue.building import parse_data
from dcp_platform.lifecycle import Periodic

log = logging.getLogger(__name__)

RECONCILIATION_TOPICS = ("collections.payments", "collections.cases")

DIVERGENCES = Gauge(
    "dcp_reconciliation_divergences",
    "Payments payment-service and case-service disagree on (from the trail), at the last reconciliation",
)


async def reconcile(
    pool: asyncpg.Pool,
    *,
    case_id: str | None = None,
    settle_seconds: float = 30.0,
    keys: CaseKeys | None = None,
) -> tuple[list[Divergence], int]:
    """(divergences, payments compared). Evidence newer than `settle_seconds` (by Kafka time) is still
    in flight between the services and is not yet a divergence."""
    fold = Reconciliation()
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        async for row in trail.stream_in_event_time(conn, list(RECONCILIATION_TOPICS), case_id):
            try:
                event = decode_event(to_canonical_bytes(row.opened(keys)["event"]))
                payload = parse_data(event)
            except (EventError, ValueError, KeyError):
                continue  # not a valid catalogue event: recorded in the trail, not reconciled
            fold.add(row.id, row.index.kafka_time, str(event.subject or ""), payload)
    settled_before = datetime.now(UTC) - timedelta(seconds=settle_seconds)
    return fold.divergences(settled_before), len(fold.payments)


class Reconciler(Periodic):
    """Reconciles at an interval and keeps the gauge (an alert on any divergence)."""

    def __init__(self, pool: asyncpg.Pool, interval: float, keys: CaseKeys | None = None) -> None:
        async def refresh() -> None:
            found, _ = await reconcile(pool, keys=keys)
            DIVERGENCES.set(len(found))

        Periodic.__init__(self, "audit-reconciliation", interval, refresh, "audit reconciliation failed")
