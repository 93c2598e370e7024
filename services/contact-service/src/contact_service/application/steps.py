"""The steps every contact-service handler shares: the case read again under its debtor's lock, the
record on the case's contact stream, the events of the gate's decision, and its counter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prometheus_client import Counter

from contact_service.application.ports import CaseRow, ContactEnvironment, ContactRow, ContactUnitOfWork
from contact_service.application.queries import known_case
from contact_service.domain.contacts import CaseContacts
from dcp_compliance import ContactPurpose, Decision, ProposedContact
from dcp_events.catalogue.base import EventPayload
from dcp_events.catalogue.contacts import (
    ContactAttempted,
    ContactBlocked,
    ContactEvent,
    ContactPermitIssued,
    DisputeRaised,
    MessageDeliveryReported,
    PromiseMade,
)
from dcp_events.catalogue.enums import ContactOutcome
from dcp_platform.auth import Principal

GATE_DECISIONS = Counter(
    "dcp_gate_decisions_total", "Contact gate decisions", ["jurisdiction", "verdict", "rule_id", "kind"]
)


# --- the shared steps ---------------------------------------------------------------------------


async def case_locked(uow: ContactUnitOfWork, case_id: str, principal: Principal) -> CaseRow:
    """The case, read again once its debtor's lock is held: a cease, opt-out or hold recorded by a
    transaction that held the lock before us is part of the facts we decide on."""
    case = await known_case(uow, case_id, principal)
    await uow.lock_debtor(case.debtor_id)
    return await known_case(uow, case_id, principal)


async def record(
    uow: ContactUnitOfWork, env: ContactEnvironment, case: CaseRow, payloads: Sequence[EventPayload]
) -> None:
    """Record `payloads` on the case's contact stream (loaded under the debtor's lock)."""
    contacts = await uow.contacts.find(case.case_id, uow.tx) or CaseContacts.new(case.case_id)
    now = env.now()
    for payload in payloads:
        if isinstance(payload, ContactAttempted | ContactBlocked):
            contacts.record_attempt(payload, now)
        elif isinstance(payload, ContactPermitIssued):
            contacts.issue_permit(payload, now)
        elif isinstance(payload, MessageDeliveryReported):
            contacts.record_delivery(payload, now)
        elif isinstance(payload, PromiseMade):
            contacts.make_promise(payload, now)
        elif isinstance(payload, DisputeRaised):
            contacts.raise_dispute(payload, now)
        else:
            assert isinstance(payload, ContactEvent)
            contacts.record_request(payload, now)
    await uow.contacts.save(contacts, uow.tx, jurisdiction=case.jurisdiction)


def count_decision(case: CaseRow, decision: Decision, kind: str) -> None:
    GATE_DECISIONS.labels(case.jurisdiction, decision.verdict.value, decision.rule_id or "", kind).inc()


def attempt_event(
    case: CaseRow,
    proposed: ProposedContact,
    attempt_id: str,
    decision: Decision,
    outcome: ContactOutcome | None = None,
    duration_seconds: int = 0,
) -> EventPayload:
    """`ContactAttempted` (with `outcome`) when `decision` allows, `ContactBlocked` when it refuses."""
    purpose = None if proposed.purpose is ContactPurpose.COLLECTION else proposed.purpose
    time_zone = decision.time_zone if decision.local_time is not None else None
    # What an allowed and a refused attempt both say: who, how, to whom, and which pack decided.
    common: dict[str, Any] = {
        "attempt_id": attempt_id,
        "channel": proposed.channel,
        "party": proposed.party,
        "collector_id": proposed.collector_id,
        "agency_id": proposed.agency_id,
        "purpose": purpose,
        "contact_point": proposed.contact_point,
        "debtor_id": case.debtor_id,
        "rule_pack_id": decision.pack_id,
        "rule_pack_version": decision.pack_version,
        "debtor_time_zone": time_zone,
        "time_zone_source": decision.time_zone_source,
    }
    if decision.allowed:
        return ContactAttempted(
            **common,
            outcome=outcome,
            duration_seconds=duration_seconds,
            recording_ref=proposed.recording_ref,
        )
    return ContactBlocked(
        **common,
        rule_id=decision.rule_id or "unknown",
        citation=decision.citation or "unknown",
        reason=decision.reason or "refused",
        next_allowed_at=decision.next_allowed_at,
    )


def stored_decision(row: ContactRow, case: CaseRow) -> Decision:
    """The decision recorded for an attempt id, answered again to a repeat of the attempt."""
    return Decision.model_validate(
        {
            "verdict": row["decision"],
            "rule_id": row["rule_id"],
            "citation": row["citation"],
            "reason": row["reason"],
            "next_allowed_at": row["next_allowed_at"],
            "pack_id": row["pack_id"],
            "pack_version": row["pack_version"],
            "jurisdiction": case.jurisdiction,
            "time_zone": case.facts.time_zone,
            "time_zone_source": case.facts.time_zone_source,
            "decided_at": row["at"],
        }
    )
