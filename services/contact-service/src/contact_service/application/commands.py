"""The contact service's commands: every contact passes the gate inside a per-debtor lock.

For one debtor, the gate's reading of the history, the decision and the record of the attempt (event
plus read-model row) happen in one transaction that holds a PostgreSQL advisory lock on the debtor, so
two collectors placing the call that would exceed a cap at the same moment get one allow and one deny.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncConnection

from contact_service.adapters import projections as rm
from contact_service.domain.contacts import CaseContacts
from contact_service.domain.errors import (
    CaseNotAssigned,
    CaseUnknown,
    ContactRefused,
    InvalidPromise,
    PromiseRefused,
)
from dcp_compliance import (
    ContactPurpose,
    Decision,
    ProposedContact,
    apply_payload,
    check_promise,
    decide_case,
    load_pack,
)
from dcp_compliance.packs import UnknownJurisdiction
from dcp_events.catalogue.base import EventPayload, Money
from dcp_events.catalogue.contacts import (
    CeaseRequested,
    ChannelOptedOut,
    ContactAttempted,
    ContactBlocked,
    ContactEvent,
    ContactPersonAgreed,
    ContactPreferencesSet,
    ContactWindow,
    DisputeRaised,
    PromiseMade,
    WorkplaceContactProhibited,
)
from dcp_events.catalogue.enums import Channel, ContactOutcome, ContactParty
from dcp_platform.auth import CaseAccess, CaseAssignment, Principal, may_act_on_case
from dcp_platform.clock import Clock
from dcp_platform.eventsourcing.repository import EventStorePort, Repository
from dcp_platform.eventsourcing.runtime import EventSourcingRuntime

SOURCE = "/contact-service"

GATE_DECISIONS = Counter(
    "dcp_gate_decisions_total", "Contact gate decisions", ["jurisdiction", "verdict", "rule_id", "kind"]
)


def contacts_repository(store: EventStorePort, clock: Clock) -> Repository[CaseContacts]:
    """Case contact streams in `store` (their events carry the case's jurisdiction, from the read model)."""
    return Repository(store, CaseContacts, source=SOURCE, clock=clock)


@dataclass(frozen=True)
class AttemptRecord:
    attempt_id: str
    outcome: ContactOutcome
    duration_seconds: int
    recording_ref: str | None


def check_assignment(principal: Principal, case: rm.CaseRow, access: CaseAccess = CaseAccess.ACT) -> None:
    """The platform's case-access rule (`dcp_platform.auth.may_act_on_case`) on this service's case row."""
    assignment = CaseAssignment(case.case_id, case.assignee_kind, case.assignee_id)
    if not may_act_on_case(principal, assignment, access):
        raise CaseNotAssigned(f"case {case.case_id} is not assigned to {principal.subject}")


class ContactDesk:
    """Runs the gate and records contacts, promises and debtor requests as events."""

    def __init__(self, runtime: EventSourcingRuntime) -> None:
        self.runtime = runtime
        self.clock = runtime.clock
        self.contacts: Repository[CaseContacts] = contacts_repository(runtime.store, runtime.clock)

    async def _case(self, conn: AsyncConnection, case_id: str, principal: Principal) -> rm.CaseRow:
        case = await rm.load_case(conn, case_id)
        if case is None:
            raise CaseUnknown(f"case {case_id} is not known to the contact service")
        check_assignment(principal, case)
        return case

    async def _case_locked(self, conn: AsyncConnection, case_id: str, principal: Principal) -> rm.CaseRow:
        """The case, read again once its debtor's lock is held: a cease, opt-out or hold recorded by a
        transaction that held the lock before us is part of the facts we decide on."""
        case = await self._case(conn, case_id, principal)
        await rm.lock_debtor(conn, case.debtor_id)
        return await self._case(conn, case_id, principal)

    async def _append(self, conn: AsyncConnection, case: rm.CaseRow, payloads: list[EventPayload]) -> None:
        """Record `payloads` on the case's contact stream (loaded under the debtor's lock)."""
        contacts = await self.contacts.find(case.case_id, conn) or CaseContacts.new(case.case_id)
        now = self.clock.now()
        for payload in payloads:
            if isinstance(payload, ContactAttempted | ContactBlocked):
                contacts.record_attempt(payload, now)
            elif isinstance(payload, PromiseMade):
                contacts.make_promise(payload, now)
            else:
                assert isinstance(payload, ContactEvent)
                contacts.record_request(payload, now)
        await self.contacts.save(contacts, conn, jurisdiction=case.jurisdiction)

    async def _decide(
        self, conn: AsyncConnection, case: rm.CaseRow, proposed: ProposedContact, now: datetime
    ) -> Decision:
        try:
            lookback = load_pack(case.jurisdiction, at=now).lookback()
        except (UnknownJurisdiction, LookupError):
            lookback = timedelta(days=1)
        point = proposed.contact_point if proposed.party is ContactParty.THIRD_PARTY else None
        history = await rm.history(conn, case.debtor_id, now - lookback, point)
        return decide_case(case.facts, history, proposed, now)

    async def check(self, principal: Principal, case_id: str, proposed: ProposedContact) -> Decision:
        """A dry run: the decision the gate would take now; nothing is recorded."""
        now = self.clock.now()
        async with self.runtime.engine.connect() as conn:
            case = await self._case(conn, case_id, principal)
            decision = await self._decide(conn, case, proposed, now)
        GATE_DECISIONS.labels(
            case.jurisdiction, decision.verdict.value, decision.rule_id or "", "check"
        ).inc()
        return decision

    async def attempt(
        self, principal: Principal, case_id: str, proposed: ProposedContact, record: AttemptRecord
    ) -> tuple[Decision, bool]:
        """Gate and record one attempt: `ContactAttempted` when allowed, `ContactBlocked` (and
        ContactRefused raised after commit) when refused. Returns (decision, created); a repeated
        attempt id returns the first answer."""
        async with self.runtime.engine.begin() as conn:
            case = await self._case_locked(conn, case_id, principal)
            existing = await rm.find_contact(conn, record.attempt_id)
            if existing is not None:
                decision = _stored_decision(existing, case)
                created = False
            else:
                now = self.clock.now()
                decision = await self._decide(conn, case, proposed, now)
                await self._append(conn, case, [_attempt_event(case, proposed, record, decision)])
                await rm.record_contact(
                    conn,
                    attempt_id=record.attempt_id,
                    case_id=case.case_id,
                    debtor_id=case.debtor_id,
                    at=now,
                    decision=decision,
                    channel=proposed.channel,
                    party=proposed.party,
                    purpose=proposed.purpose,
                    outcome=record.outcome if decision.allowed else None,
                    collector_id=proposed.collector_id,
                    agency_id=proposed.agency_id,
                    contact_point=proposed.contact_point,
                    duration_seconds=record.duration_seconds if decision.allowed else None,
                    recording_ref=record.recording_ref,
                )
                created = True
        if created:
            self.runtime.relay.wake()
            GATE_DECISIONS.labels(
                case.jurisdiction, decision.verdict.value, decision.rule_id or "", "attempt"
            ).inc()
        if not decision.allowed:
            raise ContactRefused(decision, record.attempt_id)
        return decision, created

    async def promise(
        self,
        principal: Principal,
        case_id: str,
        amount: Money,
        due_on: date,
        channel: Channel,
        attempt_id: str | None,
        collector_id: str | None,
    ) -> str:
        if amount.amount_minor <= 0:
            raise InvalidPromise("a promise is for an amount greater than zero")
        async with self.runtime.engine.begin() as conn:
            case = await self._case_locked(conn, case_id, principal)
            if amount.currency != case.currency:
                raise InvalidPromise(f"the case is in {case.currency}, not {amount.currency}")
            now = self.clock.now()
            try:
                pack = load_pack(case.jurisdiction, at=now)
            except LookupError as exc:
                raise InvalidPromise(f"no rule pack for jurisdiction {case.jurisdiction}") from exc
            decision = check_promise(pack, case.facts, due_on, now)
            if not decision.allowed:
                raise PromiseRefused(decision)
            promise_id = f"prm-{uuid.uuid4().hex[:16]}"
            payload = PromiseMade(
                promise_id=promise_id,
                amount=amount,
                due_on=due_on,
                channel=channel,
                collector_id=collector_id,
                attempt_id=attempt_id,
            )
            await self._append(conn, case, [payload])
            await rm.insert_promise(
                conn,
                promise_id=promise_id,
                case_id=case.case_id,
                amount_minor=amount.amount_minor,
                currency=amount.currency,
                due_on=due_on,
                made_at=now,
                collector_id=collector_id,
            )
        self.runtime.relay.wake()
        return promise_id

    async def debtor_request(self, principal: Principal, case_id: str, make: RequestPayloads) -> list[str]:
        """Record a debtor's request. Channel opt-outs, preferred times, workplace bans and agreed
        contacts concern the debtor: they are recorded on each of the debtor's open cases. Disputes and
        cease requests concern this debt. Returns the ids of the cases recorded on."""
        async with self.runtime.engine.begin() as conn:
            case = await self._case_locked(conn, case_id, principal)
            targets = [case.case_id]
            if make.whole_debtor:
                targets = await rm.open_cases_of_debtor(conn, case.debtor_id) or [case.case_id]
            for target_id in targets:
                target = case if target_id == case.case_id else await rm.load_case(conn, target_id)
                if target is None:
                    continue
                payloads = make.payloads()
                await self._append(conn, target, payloads)
                facts = target.facts
                for payload in payloads:
                    # Applied here at once (the gate must honour it from this moment), with the same fold
                    # the audit-service uses on the published events.
                    facts = apply_payload(facts, payload, target.case_id, self.clock.now()) or facts
                await rm.update_case(conn, target.case_id, facts=facts)
        self.runtime.relay.wake()
        return targets


@dataclass
class RequestPayloads:
    """The events of one debtor request."""

    kind: str
    received_via: Channel
    reason: str | None = None
    channel: Channel | None = None
    contact_point: str | None = None
    windows: list[ContactWindow] | None = None
    preferred_channel: Channel | None = None
    disputed_amount: Money | None = None
    relation: str | None = None

    @property
    def whole_debtor(self) -> bool:
        return self.kind not in ("dispute", "cease_communication")

    def payloads(self) -> list[EventPayload]:
        ref = uuid.uuid4().hex[:16]
        if self.kind == "dispute":
            return [
                DisputeRaised(
                    dispute_id=f"dsp-{ref}",
                    received_via=self.received_via,
                    reason=self.reason or "disputed by the debtor",
                    disputed_amount=self.disputed_amount,
                )
            ]
        if self.kind == "cease_communication":
            return [
                CeaseRequested(request_id=f"cease-{ref}", received_via=self.received_via, note=self.reason)
            ]
        if self.kind == "channel_opt_out":
            assert self.channel is not None
            return [
                ChannelOptedOut(
                    channel=self.channel, received_via=self.received_via, contact_point=self.contact_point
                )
            ]
        if self.kind == "preferred_contact_times":
            return [
                ContactPreferencesSet(preferred_channel=self.preferred_channel, windows=self.windows or [])
            ]
        if self.kind == "workplace_contact_prohibited":
            return [WorkplaceContactProhibited(received_via=self.received_via, note=self.reason)]
        if self.kind == "agreed_contact_person":
            assert self.contact_point is not None
            return [
                ContactPersonAgreed(
                    contact_point=self.contact_point,
                    relation=self.relation or "other",
                    received_via=self.received_via,
                )
            ]
        raise ValueError(f"unknown debtor request {self.kind!r}")


def _attempt_event(
    case: rm.CaseRow, proposed: ProposedContact, record: AttemptRecord, decision: Decision
) -> EventPayload:
    purpose = None if proposed.purpose is ContactPurpose.COLLECTION else proposed.purpose
    if decision.allowed:
        return ContactAttempted(
            attempt_id=record.attempt_id,
            channel=proposed.channel,
            party=proposed.party,
            collector_id=proposed.collector_id,
            agency_id=proposed.agency_id,
            outcome=record.outcome,
            duration_seconds=record.duration_seconds,
            recording_ref=record.recording_ref,
            purpose=purpose,
            contact_point=proposed.contact_point,
            debtor_id=case.debtor_id,
            rule_pack_id=decision.pack_id,
            rule_pack_version=decision.pack_version,
            debtor_time_zone=decision.time_zone if decision.local_time is not None else None,
            time_zone_source=decision.time_zone_source,
        )
    return ContactBlocked(
        attempt_id=record.attempt_id,
        channel=proposed.channel,
        party=proposed.party,
        collector_id=proposed.collector_id,
        rule_id=decision.rule_id or "unknown",
        citation=decision.citation or "unknown",
        reason=decision.reason or "refused",
        rule_pack_id=decision.pack_id,
        rule_pack_version=decision.pack_version,
        next_allowed_at=decision.next_allowed_at,
        agency_id=proposed.agency_id,
        purpose=purpose,
        contact_point=proposed.contact_point,
        debtor_id=case.debtor_id,
        debtor_time_zone=decision.time_zone if decision.local_time is not None else None,
        time_zone_source=decision.time_zone_source,
    )


def _stored_decision(row: dict[str, object], case: rm.CaseRow) -> Decision:
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
