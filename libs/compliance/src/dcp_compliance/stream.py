"""From catalogue events to the gate's inputs: case facts, history entries and proposed contacts.

- `apply_event(facts, event)`: fold one CloudEvent of `collections.cases` or `collections.contacts`
  into the case's facts (None before its `CaseOpened`); other events leave them unchanged.
- `facts_from_events(events)`: the fold over a case's events in order.
- `history_entry(event)`: a `ContactAttempted` (any version) as a `ContactHistoryEntry`.
- `proposed_from_attempt(event)`: the contact a recorded attempt proposed, to re-check it.
- `ComplianceReplay`: feed every event in time order; each `ContactAttempted` is re-decided with the
  facts and history as they were just before it, with the pack version it names.

The contact-service folds with the same functions, so the service and the audit-service agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time

from dcp_compliance import model
from dcp_compliance.gate import decide, decide_case, refuse_unknown_jurisdiction
from dcp_compliance.packs import UnknownJurisdiction, UnknownPackVersion, load_pack
from dcp_events.catalogue import cases, contacts
from dcp_events.catalogue.base import EventPayload
from dcp_events.catalogue.building import parse_data
from dcp_events.catalogue.debtor import EmailAddress, PhoneNumber
from dcp_events.envelope import CloudEvent

__all__ = [
    "ComplianceReplay",
    "apply_event",
    "apply_payload",
    "contact_points",
    "facts_from_events",
    "history_entry",
    "proposed_from_attempt",
]

PENDING_PREFIX = "request:"


def contact_points(
    phones: Iterable[PhoneNumber], emails: Iterable[EmailAddress]
) -> tuple[model.ContactPoint, ...]:
    """The debtor's numbers and addresses as contact points with their consents."""
    points = [
        model.ContactPoint(
            value=p.number,
            usable_for=frozenset({model.Channel.PHONE, model.Channel.SMS}),
            consented=frozenset(
                c
                for c, ok in ((model.Channel.PHONE, p.consent_to_call), (model.Channel.SMS, p.consent_to_sms))
                if ok
            ),
            phone_kind=p.kind,
        )
        for p in phones
    ]
    points += [
        model.ContactPoint(
            value=e.address,
            usable_for=frozenset({model.Channel.EMAIL}),
            consented=frozenset({model.Channel.EMAIL}) if e.consent_to_email else frozenset(),
        )
        for e in emails
    ]
    return tuple(points)


def _with_hold(facts: model.CaseFacts, hold: model.Hold) -> model.CaseFacts:
    # The case-service's hold takes over from the debtor's request of the same type.
    kept = tuple(
        h
        for h in facts.holds
        if h.hold_id != hold.hold_id
        and not (h.pending and not hold.pending and h.hold_type == hold.hold_type)
    )
    return facts.model_copy(update={"holds": (*kept, hold)})


def apply_payload(
    facts: model.CaseFacts | None, payload: EventPayload, case_id: str, at: datetime
) -> model.CaseFacts | None:
    """`apply_event` for an already parsed payload of case `case_id`, recorded at `at`."""
    if isinstance(payload, cases.CaseOpened):
        debtor = payload.debtor
        return model.CaseFacts(
            case_id=case_id,
            debtor_id=debtor.debtor_id,
            jurisdiction=payload.jurisdiction,
            time_zone=debtor.time_zone,
            time_zone_source=debtor.time_zone_source,
            contact_points=contact_points(debtor.phones, debtor.emails),
            due_since=payload.due_since,
        )
    if facts is None:
        return None
    if isinstance(payload, cases.CaseHoldPlaced):
        hold = model.Hold(
            hold_id=payload.hold_id, hold_type=payload.hold_type, placed_at=at, expires_at=payload.expires_at
        )
        return _with_hold(facts, hold)
    if isinstance(payload, cases.CaseHoldReleased):
        holds = tuple(
            h
            for h in facts.holds
            if h.hold_id != payload.hold_id and not (h.pending and h.hold_type == payload.hold_type)
        )
        return facts.model_copy(update={"holds": holds})
    if isinstance(payload, cases.CaseClosed):
        return facts.model_copy(update={"status": model.CaseStatus.CLOSED})
    if isinstance(payload, cases.CaseReopened):
        return facts.model_copy(update={"status": model.CaseStatus.OPEN})
    if isinstance(payload, cases.ErasureCompleted):
        # the debtor's personal data is gone: no contact point, no one agreed to be asked; opt-outs of a
        # whole channel (which name no one) stay, so a reopened case still honours them
        return facts.model_copy(
            update={
                "contact_points": (),
                "agreed_contacts": frozenset(),
                "opt_outs": tuple(o for o in facts.opt_outs if o.contact_point is None),
            }
        )
    if isinstance(payload, cases.CaseBucketChanged) and payload.due_since is not None:
        return facts.model_copy(update={"due_since": payload.due_since})
    if isinstance(payload, cases.CaseDebtorUpdated):
        old_phones = [p for p in facts.contact_points if model.Channel.PHONE in p.usable_for]
        old_emails = [p for p in facts.contact_points if model.Channel.EMAIL in p.usable_for]
        phones = list(contact_points(payload.phones, [])) if payload.phones is not None else old_phones
        emails = list(contact_points([], payload.emails)) if payload.emails is not None else old_emails
        return facts.model_copy(update={"contact_points": (*phones, *emails)})
    if isinstance(payload, contacts.ChannelOptedOut):
        opt = model.OptOut(channel=payload.channel, contact_point=payload.contact_point, at=at)
        return facts.model_copy(update={"opt_outs": (*facts.opt_outs, opt)})
    if isinstance(payload, contacts.ContactPreferencesSet):
        windows = tuple(
            model.LocalWindow(
                days=frozenset(w.days), start=time.fromisoformat(w.start), end=time.fromisoformat(w.end)
            )
            for w in payload.windows
        )
        return facts.model_copy(update={"windows": windows})
    if isinstance(payload, contacts.CeaseRequested):
        hold = model.Hold(
            hold_id=PENDING_PREFIX + payload.request_id,
            hold_type=model.HoldType.CEASE_COMMUNICATION,
            placed_at=at,
            pending=True,
        )
        return _with_hold(facts, hold)
    if isinstance(payload, contacts.DisputeRaised):
        hold = model.Hold(
            hold_id=PENDING_PREFIX + payload.dispute_id,
            hold_type=model.HoldType.DISPUTE,
            placed_at=at,
            pending=True,
        )
        return _with_hold(facts, hold)
    if isinstance(payload, contacts.WorkplaceContactProhibited):
        return facts.model_copy(update={"workplace_contact_prohibited": True})
    if isinstance(payload, contacts.ContactPersonAgreed):
        return facts.model_copy(update={"agreed_contacts": facts.agreed_contacts | {payload.contact_point}})
    return facts


def apply_event(facts: model.CaseFacts | None, event: CloudEvent) -> model.CaseFacts | None:
    """The case's facts after `event` (old event versions are upcast first)."""
    return apply_payload(facts, parse_data(event), event.subject or "", event.time)


def facts_from_events(events: Iterable[CloudEvent]) -> model.CaseFacts | None:
    facts: model.CaseFacts | None = None
    for event in events:
        facts = apply_event(facts, event)
    return facts


def history_entry(event: CloudEvent, *, debtor_id: str | None = None) -> model.ContactHistoryEntry | None:
    """The contact a `ContactAttempted` records (None for any other event). The debtor comes from the
    event, else from `debtor_id` (an auditor knows it from the case's `CaseOpened`)."""
    payload = parse_data(event)
    if not isinstance(payload, contacts.ContactAttempted):
        return None
    debtor = payload.debtor_id or debtor_id
    if debtor is None:
        raise ValueError(f"attempt {payload.attempt_id}: the debtor is unknown (pass debtor_id)")
    return model.ContactHistoryEntry(
        attempt_id=payload.attempt_id,
        case_id=event.subject or "",
        debtor_id=debtor,
        at=event.time,
        channel=payload.channel,
        party=payload.party,
        outcome=payload.outcome,
        collector_id=payload.collector_id,
        agency_id=payload.agency_id,
        contact_point=payload.contact_point,
        purpose=payload.purpose or contacts.ContactPurpose.COLLECTION,
    )


def proposed_from_attempt(attempt: contacts.ContactAttempted) -> model.ProposedContact:
    return model.ProposedContact(
        channel=attempt.channel,
        party=attempt.party,
        purpose=attempt.purpose or contacts.ContactPurpose.COLLECTION,
        contact_point=attempt.contact_point,
        recording_ref=attempt.recording_ref,
        attempt_id=attempt.attempt_id,
        collector_id=attempt.collector_id,
        agency_id=attempt.agency_id,
    )


@dataclass
class ComplianceReplay:
    """Re-decides recorded attempts from the stream alone (for the audit-service).

    Feed every event of `collections.cases` and `collections.contacts` in time order to `apply`;
    it returns the gate's decision for each `ContactAttempted` (a denial is a finding), else None.
    """

    facts: dict[str, model.CaseFacts] = field(default_factory=dict)
    history: dict[str, list[model.ContactHistoryEntry]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)

    def apply(self, event: CloudEvent) -> model.Decision | None:
        # Kafka delivers at least once: an event published twice must be counted once, or a repeated
        # attempt would look like an extra call (a false 7-in-7 or 3-calls finding).
        if event.id in self.seen:
            return None
        self.seen.add(event.id)
        payload = parse_data(event)
        case_id = event.subject or ""
        facts = self.facts.get(case_id)
        if isinstance(payload, contacts.ContactAttempted):
            if facts is None:
                return None
            decision = self._recheck(facts, payload, event)
            entry = history_entry(event, debtor_id=facts.debtor_id)
            if entry is not None:
                self.history.setdefault(facts.debtor_id, []).append(entry)
            return decision
        updated = apply_payload(facts, payload, case_id, event.time)
        if updated is not None:
            self.facts[case_id] = updated
        return None

    def _recheck(
        self, facts: model.CaseFacts, attempt: contacts.ContactAttempted, event: CloudEvent
    ) -> model.Decision:
        history = self.history.get(facts.debtor_id, [])
        proposed = proposed_from_attempt(attempt)
        if attempt.rule_pack_version is None:
            return decide_case(facts, history, proposed, event.time)
        try:
            pack = load_pack(facts.jurisdiction, version=attempt.rule_pack_version)
        except (UnknownJurisdiction, UnknownPackVersion):
            return refuse_unknown_jurisdiction(facts, event.time)
        return decide(pack, facts, history, proposed, event.time)
