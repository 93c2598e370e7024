"""The reads: who may see or act on a case, the gate's decision on the history it counts, the contact
options of a case, and a collector's worklist (their open cases in priority order, each with the
channels allowed now). Reads are not commands: they run on the read models, without the lock."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from contact_service.application.ports import CaseRow, ContactReads
from contact_service.domain import worklist as wl
from contact_service.domain.errors import CaseNotAssigned, CaseUnknown
from contact_service.domain.fx import FxTable
from dcp_compliance import Channel, ContactHistoryEntry, Decision, channel_options, decide_case, load_pack
from dcp_compliance.model import ProposedContact
from dcp_compliance.packs import QuietHours, UnknownJurisdiction
from dcp_events.catalogue.enums import ContactParty
from dcp_platform.auth import CaseAccess, CaseAssignment, Principal, may_act_on_case
from dcp_platform.scoring import (
    HOUR_BANDS,
    CaseSnapshot,
    ContactChoice,
    PastContact,
    PastPromise,
    PropensityModel,
)


def check_assignment(principal: Principal, case: CaseRow, access: CaseAccess = CaseAccess.ACT) -> None:
    """The platform's case-access rule (`dcp_platform.auth.may_act_on_case`) on this service's case row."""
    assignment = CaseAssignment(case.case_id, case.assignee_kind, case.assignee_id, case.creditor_id)
    if not may_act_on_case(principal, assignment, access):
        raise CaseNotAssigned(f"case {case.case_id} is not assigned to {principal.subject}")


async def known_case(
    reads: ContactReads, case_id: str, principal: Principal, access: CaseAccess = CaseAccess.ACT
) -> CaseRow:
    """The case, if its `CaseOpened` reached this service (else 404) and the caller may use it (else 403)."""
    case = await reads.case(case_id)
    if case is None:
        raise CaseUnknown(f"case {case_id} is not known to the contact service")
    check_assignment(principal, case, access)
    return case


async def gate_decision(
    reads: ContactReads, case: CaseRow, proposed: ProposedContact, now: datetime
) -> Decision:
    """The gate's decision on `proposed`, over the debtor's history in the pack's lookback (and every
    earlier contact with the third party asked)."""
    return decide_case(case.facts, await history_for(reads, case, proposed, now), proposed, now)


async def history_for(
    reads: ContactReads, case: CaseRow, proposed: ProposedContact, now: datetime
) -> list[ContactHistoryEntry]:
    """The history the gate counts for `proposed`: the pack's lookback (and every earlier contact with
    the third party asked), live permits included."""
    try:
        lookback = load_pack(case.jurisdiction, at=now).lookback()
    except (UnknownJurisdiction, LookupError):
        lookback = timedelta(days=1)
    point = proposed.contact_point if proposed.party is ContactParty.THIRD_PARTY else None
    return await reads.history(case.debtor_id, now - lookback, point)


async def case_options(reads: ContactReads, case: CaseRow, now: datetime) -> dict[Channel, Decision]:
    """The gate's decision now for every channel to the debtor."""
    try:
        pack = load_pack(case.jurisdiction, at=now)
    except LookupError:
        return {c: decide_case(case.facts, [], ProposedContact(channel=c), now) for c in Channel}
    history = await reads.history(case.debtor_id, now - pack.lookback())
    return channel_options(pack, case.facts, history, now)


@dataclass(frozen=True)
class WorklistItem:
    case: CaseRow
    reason: str
    expected_recovery_minor: int
    options: dict[Channel, Decision]
    sort_key: tuple[int, int, int, str, int]
    expected_recovery_in_base_minor: int | None = None
    pay_probability: float | None = None  # the model's, when one is in force
    best_contact: ContactChoice | None = None


SCORED_CHANNELS = ("phone", "field_visit")
"""The channels the contact model scores: the ones a person works, where a debtor answers or not."""

_REACHED = frozenset({"right_party_contact", "promise_made", "dispute_raised"})


async def snapshot_of(reads: ContactReads, case: CaseRow, now: datetime) -> CaseSnapshot:
    """The case as the propensity model sees it now: what this service knows of its contacts and
    promises (the same features case-service trains on)."""
    rows = await reads.contacts_of_case(case.case_id, 500)
    contacts = [
        PastContact(r["at"], str(r["channel"]), str(r["outcome"]) in _REACHED)
        for r in rows
        if r.get("decision") == "allow" and r.get("outcome") is not None and r["at"] < now
    ]
    just_before = now - timedelta(seconds=1)
    promises = [
        PastPromise(just_before, status, just_before if status in ("kept", "broken") else None)
        for _, status in await reads.promises_of_case(case.case_id)
    ]
    segment = case.profile.get("segment")
    return CaseSnapshot(
        now,
        case.balance_minor,
        case.risk_score,
        case.facts.due_since,
        contacts,
        promises,
        segment if isinstance(segment, str) else None,
    )


def allowed_hour_bands(case: CaseRow, now: datetime) -> list[str]:
    """The hour bands inside the calling hours of the case's pack (the widest the gate allows)."""
    try:
        pack = load_pack(case.jurisdiction, at=now)
    except LookupError:
        return []
    hours = [r.parameters for r in pack.rules if isinstance(r.parameters, QuietHours)]
    if not hours:
        return [name for name, _, _ in HOUR_BANDS]
    start = max(h.start.hour * 60 + h.start.minute for h in hours)
    end = min(h.end.hour * 60 + h.end.minute for h in hours)
    return [name for name, first, last in HOUR_BANDS if first * 60 >= start and last * 60 <= end]


async def worklist(
    reads: ContactReads,
    assignee: str,
    principal: Principal | None,
    now: datetime,
    fx: FxTable | None = None,
    model: PropensityModel | None = None,
) -> list[WorklistItem]:
    """The open cases assigned to `assignee` (and, when `principal` is the assignee asking for their
    own list, to their team and agency), by priority: promises, strategy steps due, expected recovery
    (balance times the chance of payment: the propensity model's when one is in force, else the risk
    score's); with a model, the channel and hour band most likely to reach the debtor among those the
    gate allows."""
    keys = [("collector", assignee)]
    if principal is not None and principal.subject == assignee:
        if principal.agency_id:
            keys.append(("agency", principal.agency_id))
        if principal.team:
            keys.append(("team", principal.team))
    items: list[WorklistItem] = []
    snapshots: dict[str, CaseSnapshot] = {}
    creditors = principal.creditors if principal is not None else None
    for case in await reads.cases_assigned_to(keys):
        if creditors is not None and case.creditor_id not in creditors:
            continue  # another creditor's case: not on this caller's list
        try:
            today = now.astimezone(ZoneInfo(case.facts.time_zone)).date()
        except Exception:  # an unknown zone: the gate refuses every channel anyway
            today = now.date()
        promises = [
            wl.PromiseState(due_on=d, status=s) for d, s in await reads.promises_of_case(case.case_id)
        ]
        steps = [
            wl.TreatmentStepDue(day_offset=int(s["day_offset"]), channel=Channel(s["channel"]))
            for s in case.treatment
        ]
        since = case.strategy_assigned_at or now - timedelta(days=1)
        contacts = await reads.recent_contacts_of_case(case.case_id, since)
        due = wl.steps_due(steps, case.strategy_assigned_at, contacts, now)
        promise_reason = wl.promise_needs_attention(promises, today)
        scored = model is not None and case.profile.get("worklist_order", "policy") != "rule-based"
        snapshot = await snapshot_of(reads, case, now) if scored else None
        probability = model.pay_probability(snapshot) if model is not None and snapshot is not None else None
        recovery = (
            wl.expected_recovery_minor(case.balance_minor, case.risk_score)
            if probability is None
            else round(case.balance_minor * probability)
        )
        in_base = fx.to_base_minor(recovery, case.currency) if fx is not None else None
        reason = promise_reason or (
            f"strategy step due: {', '.join(s.channel.value for s in due)}" if due else "expected recovery"
        )
        items.append(
            WorklistItem(
                case=case,
                reason=reason,
                expected_recovery_minor=recovery,
                options={},
                sort_key=wl.priority(promise_reason, due, recovery, case.currency, in_base),
                expected_recovery_in_base_minor=in_base,
                pay_probability=probability,
                best_contact=None,
            )
        )
        if snapshot is not None:
            snapshots[case.case_id] = snapshot
    items.sort(key=lambda i: (i.sort_key, i.case.case_id))
    ranked = []
    for i in items:
        options = await case_options(reads, i.case, now)
        snapshot = snapshots.get(i.case.case_id)
        best = None
        if model is not None and snapshot is not None:
            allowed = [ch.value for ch, d in options.items() if d.allowed and ch.value in SCORED_CHANNELS]
            best = model.best_contact(snapshot, allowed, allowed_hour_bands(i.case, now))
        ranked.append(replace(i, options=options, best_contact=best))
    return ranked
