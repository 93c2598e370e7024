"""The gate's decision: a pure function of (rule pack, case facts, contact history, proposed contact, now).

`decide` checks the pack's rules in order, each with its check from the one table in
`dcp_compliance.checks`; the first that refuses names the denial. The earliest time the same
contact would be allowed is found by re-deciding at the time each refusal lifts (quiet hours end, a
count window moves on, a hold expires) until every rule allows, or until a rule refuses with no
time of its own (a hold until released, an opt-out): then it is None. `check_promise` runs the same
table over the rules that decide promises to pay.

History is the debtor's contacts that took place (allowed attempts) before `now`; entries after
`now`, and the entry of `proposed.attempt_id` itself, are ignored, so an auditor can pass the whole
stream. Frequency rules only look back `pack.lookback()` (plus all third-party contacts of the
person asked, for `max_contacts_per_person`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta

from dcp_compliance.checks import NOT_APPLICABLE, Evaluation, Refusal, rule_check
from dcp_compliance.model import (
    CaseFacts,
    Channel,
    ContactHistoryEntry,
    Decision,
    ProposedContact,
    Verdict,
)
from dcp_compliance.packs import RulePack, UnknownJurisdiction, UnknownPackVersion, load_pack

__all__ = [
    "GATE_POLICY_ID",
    "GATE_POLICY_VERSION",
    "UNKNOWN_JURISDICTION_RULE",
    "channel_options",
    "check_promise",
    "decide",
    "decide_case",
    "refuse_unknown_jurisdiction",
]

GATE_POLICY_ID = "gate-policy"
GATE_POLICY_VERSION = "1"
UNKNOWN_JURISDICTION_RULE = "GATE-UNKNOWN-JURISDICTION"
_UNKNOWN_JURISDICTION_CITATION = "COMPLIANCE.md: when in doubt, the gate refuses (unknown jurisdiction)"

_MAX_STEPS = 64


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetimes are refused: give a timezone-aware (UTC) time")
    return moment.astimezone(UTC)


def _first_refusal(pack: RulePack, ctx: Evaluation, checked: list[str] | None = None) -> Refusal | None:
    """The first rule of `pack`, in pack order, that refuses what `ctx` evaluates (appending the id
    of every rule that took part to `checked`)."""
    for rule in pack.rules:
        entry = rule_check(rule)
        if not entry.decides(ctx):
            continue
        outcome = entry.check(rule, rule.parameters, ctx)
        if outcome is NOT_APPLICABLE:
            continue
        if checked is not None:
            checked.append(rule.id)
        if outcome is not None:
            return outcome
    return None


def _decision(
    pack: RulePack,
    facts: CaseFacts,
    now: datetime,
    checked: Sequence[str],
    refusal: Refusal | None,
    next_allowed_at: datetime | None,
    **extra: str | None,
) -> Decision:
    common = {
        "pack_id": pack.id,
        "pack_version": pack.version,
        "jurisdiction": pack.jurisdiction,
        "time_zone": facts.time_zone,
        "time_zone_source": facts.time_zone_source,
        "decided_at": now,
        "rules_checked": tuple(checked),
        **extra,
    }
    if refusal is None:
        return Decision(verdict=Verdict.ALLOW, **common)
    return Decision(
        verdict=Verdict.DENY,
        rule_id=refusal.rule.id,
        citation=refusal.rule.citation,
        reason=refusal.reason,
        next_allowed_at=next_allowed_at,
        **common,
    )


def _relevant(
    history: Iterable[ContactHistoryEntry], facts: CaseFacts, proposed: ProposedContact, now: datetime
) -> list[ContactHistoryEntry]:
    return [
        e
        for e in history
        if e.debtor_id == facts.debtor_id
        and e.at <= now
        and (proposed.attempt_id is None or e.attempt_id != proposed.attempt_id)
    ]


def decide(
    pack: RulePack,
    facts: CaseFacts,
    history: Iterable[ContactHistoryEntry],
    proposed: ProposedContact,
    now: datetime,
) -> Decision:
    """Allow `proposed`, or deny it naming the first refusing rule of `pack` and the earliest time
    the same contact would be allowed. Pure: no clock, no I/O; `now` must be timezone-aware."""
    now = _utc(now)
    if facts.jurisdiction != pack.jurisdiction:
        raise ValueError(f"a {facts.jurisdiction} case cannot be decided with the {pack.jurisdiction} pack")
    entries = _relevant(history, facts, proposed, now)
    checked: list[str] = []
    ctx = Evaluation(facts, entries, proposed, now)
    refusal = _first_refusal(pack, ctx, checked)
    next_allowed_at = None if refusal is None else _earliest_allowed(pack, facts, entries, proposed, refusal)
    zone = ctx.zone
    local_time = now.astimezone(zone).isoformat() if zone is not None else None
    return _decision(pack, facts, now, checked, refusal, next_allowed_at, local_time=local_time)


def _earliest_allowed(
    pack: RulePack,
    facts: CaseFacts,
    entries: Sequence[ContactHistoryEntry],
    proposed: ProposedContact,
    refusal: Refusal,
) -> datetime | None:
    candidate = refusal.next_at
    for _ in range(_MAX_STEPS):
        if candidate is None:
            return None
        try:
            blocker = _first_refusal(pack, Evaluation(facts, entries, proposed, candidate))
        except OverflowError:
            # A lift time at the end of the calendar (a hold to 9999-12-31): the windows after it cannot
            # be computed, and need not be. The answer is "not before then".
            return candidate
        if blocker is None:
            return candidate
        if blocker.next_at is None:
            return None
        # Each lift time is strictly later, so the search always moves forward.
        candidate = max(blocker.next_at, candidate + timedelta(microseconds=1))
    return None


def channel_options(
    pack: RulePack,
    facts: CaseFacts,
    history: Iterable[ContactHistoryEntry],
    now: datetime,
    channels: Iterable[Channel] = tuple(Channel),
) -> dict[Channel, Decision]:
    """The decision for a collection contact with the debtor on each channel now (for worklists).

    A field visit is decided as if it will be recorded: recording is a duty of the visit itself.
    """
    entries = list(history)
    return {
        channel: decide(
            pack,
            facts,
            entries,
            ProposedContact(
                channel=channel,
                recording_ref="to-be-recorded" if channel is Channel.FIELD_VISIT else None,
            ),
            now,
        )
        for channel in channels
    }


def refuse_unknown_jurisdiction(facts: CaseFacts, now: datetime) -> Decision:
    """The refusal for a case whose jurisdiction has no rule pack."""
    return Decision(
        verdict=Verdict.DENY,
        rule_id=UNKNOWN_JURISDICTION_RULE,
        citation=_UNKNOWN_JURISDICTION_CITATION,
        reason=f"no compliance rule pack for jurisdiction {facts.jurisdiction!r}: every contact is refused",
        next_allowed_at=None,
        pack_id=GATE_POLICY_ID,
        pack_version=GATE_POLICY_VERSION,
        jurisdiction=facts.jurisdiction,
        time_zone=facts.time_zone,
        time_zone_source=facts.time_zone_source,
        decided_at=_utc(now),
    )


def decide_case(
    facts: CaseFacts,
    history: Iterable[ContactHistoryEntry],
    proposed: ProposedContact,
    now: datetime,
    *,
    pack_version: str | None = None,
) -> Decision:
    """`decide` with the case's own pack (the version given, else the newest effective at `now`);
    an unknown jurisdiction (or version) is a refusal, never an error."""
    try:
        pack = load_pack(facts.jurisdiction, version=pack_version, at=None if pack_version else now)
    except (UnknownJurisdiction, UnknownPackVersion):
        return refuse_unknown_jurisdiction(facts, now)
    return decide(pack, facts, history, proposed, now)


def check_promise(pack: RulePack, facts: CaseFacts, due_on: date, now: datetime) -> Decision:
    """Whether a promise to pay due on `due_on` may be taken now: not on a closed case, not while a
    hold stops collection, and due between today and the pack's horizon (debtor's local dates)."""
    now = _utc(now)
    checked: list[str] = []
    refusal = _first_refusal(pack, Evaluation.of_promise(facts, due_on, now), checked)
    # The refusing rule's own lift time (a hold's end): promises get no search across the rules.
    next_allowed_at = None if refusal is None else refusal.next_at
    return _decision(pack, facts, now, checked, refusal, next_allowed_at)
