"""From catalogue events to the gate's inputs: case facts, history entries and proposed contacts.

- `apply_event(facts, event)`: fold one CloudEvent of `collections.cases` or `collections.contacts`
  into the case's facts (None before its `CaseOpened`); other events leave them unchanged.
- `facts_from_events(events)`: the fold over a case's events in order.
- `history_entry(event)`: a `ContactAttempted` (any version) as a `ContactHistoryEntry`.
- `proposed_from_attempt(event)`: the contact a recorded attempt proposed, to re-check it.
- `ComplianceReplay`: feed every event in time order; the history counts what the gate counted (contacts
  made, and live permits as reservations), each `ContactPermitIssued` and each contact the gate did not
  decide on a permit is re-decided with the facts and history as they were just before it, with the pack
  version it names, and every attempt is matched to the permit it names (`PermitFinding`).

The contact-service folds with the same functions, so the service and the audit-service agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, time

from dcp_compliance import model
from dcp_compliance.gate import (
    GATE_POLICY_ID,
    GATE_POLICY_VERSION,
    decide,
    decide_case,
    refuse_unknown_jurisdiction,
)
from dcp_compliance.packs import Rule, RulePack, UnknownJurisdiction, UnknownPackVersion, load_pack
from dcp_events.catalogue import cases, contacts
from dcp_events.catalogue.base import EventPayload
from dcp_events.catalogue.building import parse_data
from dcp_events.catalogue.debtor import EmailAddress, PhoneNumber
from dcp_events.envelope import CloudEvent

__all__ = [
    "NO_PERMIT_FINDING",
    "NO_PERMIT_RULE",
    "PERMIT_CHANNEL_RULE",
    "PERMIT_EXPIRED_RULE",
    "PERMIT_FINDING",
    "PERMIT_REUSED_RULE",
    "PERMIT_UNKNOWN_RULE",
    "ComplianceReplay",
    "Judgement",
    "PermitFinding",
    "apply_event",
    "apply_payload",
    "contact_points",
    "facts_from_events",
    "history_entry",
    "proposed_from_attempt",
    "proposed_from_permit",
    "reservation_entry",
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
    if isinstance(payload, cases.CaseVulnerabilityFlagged):
        flag = model.VulnerabilityFlag(
            flag_id=payload.flag_id, vulnerability_type=payload.vulnerability_type, flagged_at=at
        )
        kept = tuple(f for f in facts.vulnerabilities if f.flag_id != payload.flag_id)
        return facts.model_copy(update={"vulnerabilities": (*kept, flag)})
    if isinstance(payload, cases.CaseVulnerabilityReviewed):
        # a change of type keeps the flag's placing time: its breathing period does not start again
        flags = tuple(
            f.model_copy(update={"vulnerability_type": payload.vulnerability_type})
            if f.flag_id == payload.flag_id
            else f
            for f in facts.vulnerabilities
        )
        return facts.model_copy(update={"vulnerabilities": flags})
    if isinstance(payload, cases.CaseVulnerabilityRemoved):
        flags = tuple(f for f in facts.vulnerabilities if f.flag_id != payload.flag_id)
        return facts.model_copy(update={"vulnerabilities": flags})
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
    if isinstance(payload, cases.CaseLimitationDated):
        return facts.model_copy(
            update={
                "time_barred_at": payload.time_barred_at,
                "limitation_rule_id": payload.rule_id,
                "limitation_citation": payload.citation,
                "limitation_extinguishes": payload.extinguishes,
            }
        )
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
        if payload.hold_type is None:  # recorded, no hold (per the pack)
            return facts
        hold = model.Hold(
            hold_id=PENDING_PREFIX + payload.dispute_id,
            hold_type=payload.hold_type,
            placed_at=at,
            pending=True,
        )
        return _with_hold(facts, hold)
    if isinstance(payload, contacts.VerificationSent):
        # collection may resume from this moment: the dispute's verification_pending hold ends (the case
        # service releases its own hold when it reads this event)
        ends = {PENDING_PREFIX + payload.dispute_id, payload.dispute_id}
        holds = tuple(
            h
            for h in facts.holds
            if not (h.hold_id in ends and h.hold_type is model.HoldType.VERIFICATION_PENDING)
        )
        return facts.model_copy(update={"holds": holds})
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
    """The contact a `ContactAttempted` records (None for any other event), counted when it took place
    (`contacted_at`, else the event's time). The debtor comes from the event, else from `debtor_id` (an
    auditor knows it from the case's `CaseOpened`)."""
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
        at=payload.contacted_at or event.time,
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


def proposed_from_permit(permit: contacts.ContactPermitIssued) -> model.ProposedContact:
    """The contact a permit was issued for, to re-decide its issue (its own reservation ignored)."""
    return model.ProposedContact(
        channel=permit.channel,
        party=permit.party,
        purpose=permit.purpose or contacts.ContactPurpose.COLLECTION,
        contact_point=permit.contact_point,
        attempt_id=permit.permit_id,
        collector_id=permit.collector_id,
        agency_id=permit.agency_id,
    )


def reservation_entry(
    permit: contacts.ContactPermitIssued, case_id: str, at: datetime
) -> model.ContactHistoryEntry:
    """A live permit as the gate counts it: a contact made at its issue `at`, presumed a right-party
    contact (a third-party contact for a third party), the most any contact counts for."""
    third = permit.party is model.ContactParty.THIRD_PARTY
    presumed = model.ContactOutcome.THIRD_PARTY_CONTACT if third else model.ContactOutcome.RIGHT_PARTY_CONTACT
    return model.ContactHistoryEntry(
        attempt_id=permit.permit_id,
        case_id=case_id,
        debtor_id=permit.debtor_id,
        at=at,
        channel=permit.channel,
        party=permit.party,
        outcome=presumed,
        collector_id=permit.collector_id,
        agency_id=permit.agency_id,
        contact_point=permit.contact_point,
        purpose=permit.purpose or contacts.ContactPurpose.COLLECTION,
    )


PERMIT_FINDING = "permit"
"""An attempt that does not match the permit it names."""
NO_PERMIT_FINDING = "contact-without-permit"
"""An attempt made through the platform that names no permit (and no other system reported it)."""
PERMIT_UNKNOWN_RULE = "GATE-PERMIT-UNKNOWN"
PERMIT_CHANNEL_RULE = "GATE-PERMIT-CHANNEL"
PERMIT_REUSED_RULE = "GATE-PERMIT-REUSED"
PERMIT_EXPIRED_RULE = "GATE-PERMIT-EXPIRED"
NO_PERMIT_RULE = "GATE-NO-PERMIT"
PERMIT_CITATION = (
    "gate policy: a contact made through the platform is made on a single-use permit the gate issued "
    "for it, before the permit expires (contact-service permits)"
)

# Rules whose input exists only once the contact was made (the recording of a field visit): not known
# when a permit is issued, so checked on the attempt recorded on it instead.
_AFTER_THE_CONTACT = frozenset({"recording"})


def _decided_at_issue(rule: Rule) -> bool:
    return rule.kind not in _AFTER_THE_CONTACT


def _decided_on_outcome(rule: Rule) -> bool:
    return rule.kind in _AFTER_THE_CONTACT


@dataclass(frozen=True)
class PermitFinding:
    """An attempt whose permit does not stand for it: the gate's decision it claims is not on the trail."""

    kind: str  # PERMIT_FINDING or NO_PERMIT_FINDING
    rule_id: str
    reason: str
    case_id: str
    attempt_id: str
    permit_id: str | None
    at: datetime
    citation: str = PERMIT_CITATION
    pack_id: str = GATE_POLICY_ID
    pack_version: str = GATE_POLICY_VERSION


@dataclass(frozen=True)
class Judgement:
    """What the replay finds on one event: the gate's decision made again (None: nothing re-decided)
    and how the attempt matches its permit."""

    decision: model.Decision | None = None
    permit_findings: tuple[PermitFinding, ...] = ()


@dataclass
class _Permit:
    issued: contacts.ContactPermitIssued
    status: str = "issued"  # issued | used | expired
    used_by: str | None = None
    expired_at: datetime | None = None


@dataclass
class ComplianceReplay:
    """Re-decides recorded contacts from the stream alone (for the audit-service).

    Feed every event of `collections.cases` and `collections.contacts` in time order to `judge` (or to
    `apply`, for the decision alone). The debtor's history counts what the gate counted: contacts made
    (at `contacted_at`), and each live permit as a reservation from its issue until the attempt on it
    replaces it or it expires. Re-decided, each with the pack version it names: every
    `ContactPermitIssued` at its issue; every attempt the gate did not decide on a permit (one that
    names no permit, an unknown or spent one, or another channel's; a contact another system reported,
    at the time it took place). An attempt on its open permit was decided at the permit's issue: only
    the rules of what the contact left behind (a field visit's recording) are checked on it. A denial,
    and every `PermitFinding`, is a finding.
    """

    facts: dict[str, model.CaseFacts] = field(default_factory=dict)
    history: dict[str, list[model.ContactHistoryEntry]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    permits: dict[tuple[str, str], _Permit] = field(default_factory=dict)  # (case id, permit id)
    reservations: dict[str, dict[str, model.ContactHistoryEntry]] = field(default_factory=dict)
    candidates: dict[str, RulePack] = field(default_factory=dict)
    """Packs to decide with instead of the versions the events name, by jurisdiction: a candidate
    version replayed over the trail (what it would have refused) before it is released."""

    def apply(self, event: CloudEvent) -> model.Decision | None:
        """The gate's decision made again on `event` (None: nothing to re-decide)."""
        return self.judge(event).decision

    def judge(self, event: CloudEvent) -> Judgement:
        # Kafka delivers at least once: an event published twice must be counted once, or a repeated
        # attempt would look like an extra call (a false 7-in-7 or 3-calls finding).
        if event.id in self.seen:
            return Judgement()
        self.seen.add(event.id)
        payload = parse_data(event)
        case_id = event.subject or ""
        facts = self.facts.get(case_id)
        if isinstance(payload, contacts.ContactPermitIssued):
            return self._permit_issued(facts, payload, event) if facts is not None else Judgement()
        if isinstance(payload, contacts.ContactPermitExpired):
            self._permit_expired(payload, case_id, event.time)
            return Judgement()
        if isinstance(payload, contacts.ContactAttempted):
            return self._attempted(facts, payload, event) if facts is not None else Judgement()
        updated = apply_payload(facts, payload, case_id, event.time)
        if updated is not None:
            self.facts[case_id] = updated
        return Judgement()

    def counted(self, debtor_id: str) -> list[model.ContactHistoryEntry]:
        """The debtor's history as the gate counts it: contacts made and live reservations."""
        return [*self.history.get(debtor_id, []), *self.reservations.get(debtor_id, {}).values()]

    def _permit_issued(
        self, facts: model.CaseFacts, permit: contacts.ContactPermitIssued, event: CloudEvent
    ) -> Judgement:
        key = (facts.case_id, permit.permit_id)
        if key in self.permits:
            return Judgement()  # issued once: a second issue of the same permit changes nothing
        proposed = proposed_from_permit(permit)
        decision = self._decide(facts, proposed, event.time, permit.rule_pack_version, _decided_at_issue)
        self.permits[key] = _Permit(permit)
        entry = reservation_entry(permit, facts.case_id, event.time)
        self.reservations.setdefault(facts.debtor_id, {})[permit.permit_id] = entry
        return Judgement(decision)

    def _permit_expired(self, expired: contacts.ContactPermitExpired, case_id: str, at: datetime) -> None:
        permit = self.permits.get((case_id, expired.permit_id))
        if permit is None or permit.status != "issued":
            return
        permit.status, permit.expired_at = "expired", at
        self._release(case_id, permit.issued.permit_id)

    def _release(self, case_id: str, permit_id: str) -> None:
        facts = self.facts.get(case_id)
        if facts is not None:
            self.reservations.get(facts.debtor_id, {}).pop(permit_id, None)

    def _attempted(
        self, facts: model.CaseFacts, attempt: contacts.ContactAttempted, event: CloudEvent
    ) -> Judgement:
        at = attempt.contacted_at or event.time
        found: list[PermitFinding] = []
        decision: model.Decision | None
        if attempt.reported_by is not None:
            decision = self._recheck(facts, attempt, at)
            if not decision.allowed:
                reason = (
                    f"reported by {attempt.reported_by}: the gate would have refused "
                    f"{decision.rule_id}: {decision.reason}"
                )
                decision = decision.model_copy(update={"reason": reason})
        elif attempt.permit_id is None:
            found.append(
                self._finding(
                    NO_PERMIT_FINDING,
                    NO_PERMIT_RULE,
                    f"attempt {attempt.attempt_id} was made through the platform without a permit: it names "
                    "none, and no other system reported it",
                    attempt,
                    event,
                )
            )
            decision = self._recheck(facts, attempt, at)
        else:
            found = self._use_permit(facts, attempt, event)
            # On its open permit the contact was decided at the permit's issue; on any other, the
            # gate decided no permit for this contact: the contact itself is decided.
            decision = self._recheck(facts, attempt, at) if found else self._check_outcome(facts, attempt, at)
        entry = history_entry(event, debtor_id=facts.debtor_id)
        if entry is not None:
            self.history.setdefault(facts.debtor_id, []).append(entry)
        return Judgement(decision, tuple(found))

    def _use_permit(
        self, facts: model.CaseFacts, attempt: contacts.ContactAttempted, event: CloudEvent
    ) -> list[PermitFinding]:
        """Match the attempt to its permit, which it uses (its reservation replaced by the attempt):
        findings when the permit is not one open permit of this case for this channel."""
        permit_id = attempt.permit_id or ""
        permit = self.permits.get((facts.case_id, permit_id))
        name = f"attempt {attempt.attempt_id} on permit {permit_id}"
        if permit is None:
            reason = f"{name}: an unknown permit, no ContactPermitIssued on case {facts.case_id} issued it"
            return [self._finding(PERMIT_FINDING, PERMIT_UNKNOWN_RULE, reason, attempt, event)]
        found: list[PermitFinding] = []
        issued = permit.issued
        if attempt.channel is not issued.channel:
            reason = (
                f"{name}: a {attempt.channel.value} contact on a permit issued for {issued.channel.value}"
            )
            found.append(self._finding(PERMIT_FINDING, PERMIT_CHANNEL_RULE, reason, attempt, event))
        if permit.status == "used":
            reason = f"{name}: the permit is single-use and was used before by attempt {permit.used_by}"
            found.append(self._finding(PERMIT_FINDING, PERMIT_REUSED_RULE, reason, attempt, event))
        elif permit.status == "expired":
            reason = f"{name}: the permit had expired (released at {_iso(permit.expired_at)})"
            found.append(self._finding(PERMIT_FINDING, PERMIT_EXPIRED_RULE, reason, attempt, event))
        elif event.time > issued.expires_at:
            reason = (
                f"{name}: recorded at {_iso(event.time)}, after the permit expired at "
                f"{_iso(issued.expires_at)}"
            )
            found.append(self._finding(PERMIT_FINDING, PERMIT_EXPIRED_RULE, reason, attempt, event))
        if permit.status == "issued":
            permit.status, permit.used_by = "used", attempt.attempt_id
            self._release(facts.case_id, permit_id)
        return found

    @staticmethod
    def _finding(
        kind: str, rule_id: str, reason: str, attempt: contacts.ContactAttempted, event: CloudEvent
    ) -> PermitFinding:
        return PermitFinding(
            kind=kind,
            rule_id=rule_id,
            reason=reason,
            case_id=event.subject or "",
            attempt_id=attempt.attempt_id,
            permit_id=attempt.permit_id,
            at=event.time,
        )

    def _recheck(
        self, facts: model.CaseFacts, attempt: contacts.ContactAttempted, at: datetime
    ) -> model.Decision:
        return self._decide(facts, proposed_from_attempt(attempt), at, attempt.rule_pack_version)

    def _check_outcome(
        self, facts: model.CaseFacts, attempt: contacts.ContactAttempted, at: datetime
    ) -> model.Decision | None:
        """The rules of what the contact left behind (its recording), the only ones its permit could
        not decide; None when none applies to the channel."""
        version = attempt.rule_pack_version
        try:
            pack = self.candidates.get(facts.jurisdiction) or load_pack(
                facts.jurisdiction, version=version, at=None if version else at
            )
        except (UnknownJurisdiction, UnknownPackVersion):
            return None  # the permit's issue was judged with the same pack: refused there already
        channel = attempt.channel
        if not any(
            _decided_on_outcome(r) and channel in getattr(r.parameters, "channels", ()) for r in pack.rules
        ):
            return None
        return self._decide(facts, proposed_from_attempt(attempt), at, pack.version, _decided_on_outcome)

    def _decide(
        self,
        facts: model.CaseFacts,
        proposed: model.ProposedContact,
        at: datetime,
        pack_version: str | None,
        rules: Callable[[Rule], bool] | None = None,
    ) -> model.Decision:
        history = self.counted(facts.debtor_id)
        candidate = self.candidates.get(facts.jurisdiction)
        if pack_version is None and rules is None and candidate is None:
            return decide_case(facts, history, proposed, at)
        try:
            pack = candidate or load_pack(
                facts.jurisdiction, version=pack_version, at=None if pack_version else at
            )
        except (UnknownJurisdiction, UnknownPackVersion):
            return refuse_unknown_jurisdiction(facts, at)
        if rules is not None:
            # a pack of the rules that can be decided now, in the pack's order (a copy, not validated)
            pack = pack.model_copy(update={"rules": tuple(r for r in pack.rules if rules(r))})
        return decide(pack, facts, history, proposed, at)


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else "an unknown time"
