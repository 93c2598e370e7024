"""The gate's decision: a pure function of (rule pack, case facts, contact history, proposed contact, now).

`decide` checks the pack's rules in order; the first that refuses names the denial. The earliest
time the same contact would be allowed is found by re-deciding at the time each refusal lifts
(quiet hours end, a count window moves on, a hold expires) until every rule allows, or until a
rule refuses with no time of its own (a hold until released, an opt-out): then it is None.

History is the debtor's contacts that took place (allowed attempts) before `now`; entries after
`now`, and the entry of `proposed.attempt_id` itself, are ignored, so an auditor can pass the whole
stream. Frequency rules only look back `pack.lookback()` (plus all third-party contacts of the
person asked, for `max_contacts_per_person`).
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dcp_compliance.model import (
    CaseFacts,
    CaseStatus,
    Channel,
    ContactHistoryEntry,
    ContactOutcome,
    ContactParty,
    ContactPoint,
    Decision,
    ProposedContact,
    Verdict,
)
from dcp_compliance.packs import (
    CallCap,
    CaseMustBeOpen,
    ConsentRequired,
    ConversationCoolDown,
    HoldBlocks,
    KnownTimeZone,
    OptOutBlocks,
    PromiseHorizon,
    QuietHours,
    RecordingRequired,
    Rule,
    RulePack,
    ThirdPartyBan,
    TimeBarred,
    UnknownJurisdiction,
    UnknownPackVersion,
    WorkplaceBan,
    load_pack,
)

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

_FAILED_OUTCOMES = frozenset(
    {ContactOutcome.NO_ANSWER, ContactOutcome.VOICEMAIL, ContactOutcome.WRONG_NUMBER}
)
_REACHED_OUTCOMES = frozenset(
    {
        ContactOutcome.RIGHT_PARTY_CONTACT,
        ContactOutcome.PROMISE_MADE,
        ContactOutcome.DISPUTE_RAISED,
        ContactOutcome.REFUSED,
    }
)
_MAX_STEPS = 64
_HORIZON_DAYS = 9


@dataclass(frozen=True)
class _Refusal:
    rule: Rule
    reason: str
    next_at: datetime | None


@functools.cache
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetimes are refused: give a timezone-aware (UTC) time")
    return moment.astimezone(UTC)


def _local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of local wall time `at` on `day` (a time skipped by a DST gap maps to the
    instant just after the gap; a repeated one to its first occurrence)."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _local_date(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _intervals(rule: QuietHours, facts: CaseFacts, day: date) -> list[tuple[time, time]]:
    """The local wall-clock intervals of `day` in which contact is allowed (ends inclusive)."""
    default = [(rule.start, rule.end)]
    if rule.debtor_windows == "ignore" or not facts.windows:
        return default
    weekday = _WEEKDAYS[day.weekday()]
    todays = [(w.start, w.end) for w in facts.windows if weekday in w.days]
    if rule.debtor_windows == "override":
        return sorted(todays)
    clipped = [(max(s, rule.start), min(e, rule.end)) for s, e in todays]
    return sorted((s, e) for s, e in clipped if s < e)


class _Context:
    """One evaluation of the rules at the instant `at` (now, or a later candidate time)."""

    def __init__(
        self,
        facts: CaseFacts,
        history: Sequence[ContactHistoryEntry],
        proposed: ProposedContact,
        at: datetime,
    ) -> None:
        self.facts = facts
        self.history = history
        self.proposed = proposed
        self.at = at
        self.zone = _zone(facts.time_zone)

    def entries(self, scope: str) -> Iterable[ContactHistoryEntry]:
        if scope == "debt":
            return (e for e in self.history if e.case_id == self.facts.case_id)
        return iter(self.history)


def _points(facts: CaseFacts, channel: Channel) -> list[ContactPoint]:
    return [p for p in facts.contact_points if channel in p.usable_for]


def _opted_out(facts: CaseFacts, channel: Channel, point: str | None) -> bool:
    for opt in facts.opt_outs:
        if opt.channel == channel and (opt.contact_point is None or opt.contact_point == point):
            return True
    return False


def _candidates(ctx: _Context, stage: str) -> tuple[list[ContactPoint], bool]:
    """The debtor's points the contact may use after the filters up to `stage`, and whether the
    channel uses contact points at all (letters and visits do not)."""
    channel = ctx.proposed.channel
    points = _points(ctx.facts, channel)
    if channel not in (Channel.PHONE, Channel.SMS, Channel.EMAIL):
        return [], False
    if ctx.proposed.contact_point is not None:
        points = [p for p in points if p.value == ctx.proposed.contact_point]
    if stage in ("consent", "workplace"):
        points = [p for p in points if not _opted_out(ctx.facts, channel, p.value)]
    if stage == "workplace":
        points = [p for p in points if channel in p.consented]
    return points, True


# Each check returns None (the rule allows) or a refusal.


def _check_time_zone(rule: Rule, ctx: _Context) -> _Refusal | None:
    if ctx.zone is None:
        return _Refusal(
            rule, f"the debtor's time zone {ctx.facts.time_zone!r} is not a known IANA zone", None
        )
    return None


def _check_case_open(rule: Rule, ctx: _Context) -> _Refusal | None:
    if ctx.facts.status is CaseStatus.CLOSED:
        return _Refusal(rule, "the case is closed", None)
    return None


def _check_hold(rule: Rule, params: HoldBlocks, ctx: _Context) -> _Refusal | None:
    blocking = [
        h
        for h in ctx.facts.holds
        if h.hold_type in params.hold_types and h.active_at(ctx.at, params.default_duration_days)
    ]
    if not blocking:
        return None
    for exception in params.exceptions:
        if ctx.proposed.channel in exception.channels and ctx.proposed.purpose in exception.purposes:
            return None
    ends = [h.ends_at(params.default_duration_days) for h in blocking]
    next_at = None if any(e is None for e in ends) else max(e for e in ends if e is not None)
    hold = blocking[0]
    what = hold.hold_type.value.replace("_", " ")
    if hold.pending:
        reason = f"the debtor's {what} request is being turned into a hold: no contact meanwhile"
    else:
        until = f" until {next_at.isoformat()}" if next_at is not None else " until it is released"
        reason = f"the case is on a {what} hold{until}"
    if params.exceptions:
        allowed = "; ".join(
            "/".join(sorted(c.value for c in e.channels))
            + " for "
            + "/".join(sorted(p.value for p in e.purposes))
            for e in params.exceptions
        )
        reason += f" (only {allowed} allowed)"
    return _Refusal(rule, reason, next_at)


def _check_third_party(rule: Rule, params: ThirdPartyBan, ctx: _Context) -> _Refusal | None:
    proposed = ctx.proposed
    if proposed.party is ContactParty.DEBTOR:
        return None
    if proposed.discloses_debt:
        return _Refusal(rule, "a third party must never be told about the debt", None)
    exception = params.location_exception
    if exception is None:
        return _Refusal(rule, "contacting anyone but the debtor is not allowed", None)
    if proposed.purpose not in exception.purposes:
        return _Refusal(rule, "a third party may only be asked where the debtor can be reached", None)
    if proposed.channel not in exception.channels:
        return _Refusal(rule, f"a third party may not be contacted by {proposed.channel.value}", None)
    if proposed.contact_point is None:
        return _Refusal(rule, "name the person asked (contact point) for a location inquiry", None)
    if exception.requires_agreed_contact and proposed.contact_point not in ctx.facts.agreed_contacts:
        return _Refusal(rule, "only a contact the debtor agreed to may be asked for their whereabouts", None)
    if exception.max_contacts_per_person is not None:
        asked = sum(
            1
            for e in ctx.history
            if e.party is ContactParty.THIRD_PARTY and e.contact_point == proposed.contact_point
        )
        if asked >= exception.max_contacts_per_person:
            return _Refusal(
                rule,
                f"this person was already asked {asked} time(s); "
                f"the limit is {exception.max_contacts_per_person}",
                None,
            )
    if exception.requires_debtor_unreachable:
        since = ctx.at - timedelta(days=exception.unreachable_days)
        recent = [e for e in ctx.history if e.at >= since and e.party is ContactParty.DEBTOR]
        reached = any(e.outcome in _REACHED_OUTCOMES for e in recent)
        failed = sum(1 for e in recent if e.outcome in _FAILED_OUTCOMES)
        if reached or failed < exception.min_failed_attempts:
            return _Refusal(
                rule,
                f"the debtor is not unreachable: {failed} failed attempt(s) and "
                f"{'a' if reached else 'no'} conversation in the last {exception.unreachable_days} days "
                f"(needs {exception.min_failed_attempts} failed and none)",
                None,
            )
    return None


def _check_opt_out(rule: Rule, params: OptOutBlocks, ctx: _Context) -> _Refusal | None:
    proposed = ctx.proposed
    if proposed.party is not ContactParty.DEBTOR or proposed.channel not in params.channels:
        return None
    channel = proposed.channel
    if any(o.channel == channel and o.contact_point is None for o in ctx.facts.opt_outs):
        return _Refusal(rule, f"the debtor opted out of {channel.value}", None)
    if proposed.contact_point is not None:
        if _opted_out(ctx.facts, channel, proposed.contact_point):
            return _Refusal(rule, f"the debtor opted out of {channel.value} at this contact point", None)
        return None
    points, uses_points = _candidates(ctx, "opt_out")
    if uses_points and points and all(_opted_out(ctx.facts, channel, p.value) for p in points):
        return _Refusal(rule, f"the debtor opted out of {channel.value} at every contact point", None)
    return None


def _check_consent(rule: Rule, params: ConsentRequired, ctx: _Context) -> _Refusal | None:
    proposed = ctx.proposed
    if proposed.party is not ContactParty.DEBTOR or proposed.channel not in params.channels:
        return None
    points, _ = _candidates(ctx, "consent")
    channel = proposed.channel.value
    if not points:
        where = "this contact point is not" if proposed.contact_point is not None else "there is no"
        return _Refusal(rule, f"{where} a {channel} contact point of the debtor on this case", None)
    if not any(proposed.channel in p.consented for p in points):
        return _Refusal(rule, f"the debtor has not consented to {channel} at this contact point", None)
    return None


def _check_workplace(rule: Rule, params: WorkplaceBan, ctx: _Context) -> _Refusal | None:
    proposed = ctx.proposed
    if not ctx.facts.workplace_contact_prohibited or proposed.party is not ContactParty.DEBTOR:
        return None
    if proposed.channel is Channel.FIELD_VISIT and proposed.at_workplace:
        return _Refusal(rule, "the debtor's employer prohibits contact at the workplace", None)
    points, uses_points = _candidates(ctx, "workplace")
    if uses_points and points and all(p.phone_kind in params.phone_kinds for p in points):
        return _Refusal(rule, "the debtor's employer prohibits contact at work numbers", None)
    return None


def _check_quiet_hours(rule: Rule, params: QuietHours, ctx: _Context) -> _Refusal | None:
    if ctx.proposed.channel not in params.channels:
        return None
    zone = ctx.zone
    if zone is None:
        return _Refusal(rule, "the debtor's local time is unknown", None)
    local = ctx.at.astimezone(zone)
    now_local = local.time().replace(tzinfo=None)
    if any(s <= now_local <= e for s, e in _intervals(params, ctx.facts, local.date())):
        return None
    next_at = None
    for offset in range(_HORIZON_DAYS):
        day = local.date() + timedelta(days=offset)
        for start, _end in _intervals(params, ctx.facts, day):
            instant = _local_instant(day, start, zone)
            if instant > ctx.at:
                next_at = instant
                break
        if next_at is not None:
            break
    hours = (
        ", ".join(f"{s:%H:%M}-{e:%H:%M}" for s, e in _intervals(params, ctx.facts, local.date())) or "none"
    )
    reason = (
        f"it is {local:%H:%M} ({local:%a}) at the debtor ({ctx.facts.time_zone}); "
        f"contact hours that day: {hours}"
    )
    return _Refusal(rule, reason, next_at)


def _check_call_cap(rule: Rule, params: CallCap, ctx: _Context) -> _Refusal | None:
    proposed = ctx.proposed
    if proposed.channel not in params.channels or proposed.party not in params.parties:
        return None
    zone = ctx.zone
    if zone is None:
        return _Refusal(rule, "the debtor's local time is unknown", None)
    today = _local_date(ctx.at, zone)
    first_day = today - timedelta(days=params.window_days - 1)
    counted = sorted(
        (
            d
            for e in ctx.entries(params.scope)
            if e.channel in params.channels
            and e.party in params.parties
            and (params.counted_outcomes is None or e.outcome in params.counted_outcomes)
            and first_day <= (d := _local_date(e.at, zone)) <= today
        ),
        reverse=True,
    )
    if len(counted) < params.max_contacts:
        return None
    # The window has room again on the day after the max-th most recent counted contact leaves it.
    reopens = counted[params.max_contacts - 1] + timedelta(days=params.window_days)
    what = "connected calls" if params.counted_outcomes is not None else "calls"
    per = "about this debt" if params.scope == "debt" else "to this debtor (all cases, all agencies)"
    span = "today" if params.window_days == 1 else f"in the {params.window_days} days {first_day} to {today}"
    reason = f"{len(counted)} {what} {per} {span}; the limit is {params.max_contacts}"
    return _Refusal(rule, reason, _local_instant(reopens, time(0, 0), zone))


def _check_cool_down(rule: Rule, params: ConversationCoolDown, ctx: _Context) -> _Refusal | None:
    proposed = ctx.proposed
    if proposed.channel not in params.channels or proposed.party is not ContactParty.DEBTOR:
        return None
    zone = ctx.zone
    if zone is None:
        return _Refusal(rule, "the debtor's local time is unknown", None)
    conversations = [
        e.at
        for e in ctx.entries(params.scope)
        if e.party is ContactParty.DEBTOR
        and e.channel in params.channels
        and e.outcome in params.conversation_outcomes
    ]
    if not conversations:
        return None
    day_one = _local_date(max(conversations), zone)
    reopens = day_one + timedelta(days=params.days)
    if _local_date(ctx.at, zone) >= reopens:
        return None
    reason = (
        f"a conversation about this debt took place on {day_one} (day 1); "
        f"no call until day {params.days + 1}, {reopens}"
    )
    return _Refusal(rule, reason, _local_instant(reopens, time(0, 0), zone))


def _check_recording(rule: Rule, params: RecordingRequired, ctx: _Context) -> _Refusal | None:
    if ctx.proposed.channel in params.channels and not ctx.proposed.recording_ref:
        return _Refusal(
            rule,
            f"a {ctx.proposed.channel.value.replace('_', ' ')} must be recorded in full (recording ref)",
            None,
        )
    return None


def _check_time_barred(rule: Rule, params: TimeBarred, ctx: _Context) -> _Refusal | None:
    due_since = ctx.facts.due_since
    if ctx.proposed.purpose not in params.purposes or due_since is None:
        return None
    try:
        barred_on = due_since.replace(year=due_since.year + params.limitation_years)
    except ValueError:  # 29 February
        barred_on = due_since.replace(year=due_since.year + params.limitation_years, day=28)
    today = _local_date(ctx.at, ctx.zone) if ctx.zone is not None else ctx.at.date()
    if today >= barred_on:  # on the debtor's calendar, like every other rule
        return _Refusal(rule, f"the debt is time-barred since {barred_on}: no suit or threat of suit", None)
    return None


def _check(rule: Rule, ctx: _Context) -> _Refusal | None:
    p = rule.parameters
    if isinstance(p, KnownTimeZone):
        return _check_time_zone(rule, ctx)
    if isinstance(p, CaseMustBeOpen):
        return _check_case_open(rule, ctx)
    if isinstance(p, HoldBlocks):
        return _check_hold(rule, p, ctx)
    if isinstance(p, ThirdPartyBan):
        return _check_third_party(rule, p, ctx)
    if isinstance(p, OptOutBlocks):
        return _check_opt_out(rule, p, ctx)
    if isinstance(p, ConsentRequired):
        return _check_consent(rule, p, ctx)
    if isinstance(p, WorkplaceBan):
        return _check_workplace(rule, p, ctx)
    if isinstance(p, QuietHours):
        return _check_quiet_hours(rule, p, ctx)
    if isinstance(p, CallCap):
        return _check_call_cap(rule, p, ctx)
    if isinstance(p, ConversationCoolDown):
        return _check_cool_down(rule, p, ctx)
    if isinstance(p, RecordingRequired):
        return _check_recording(rule, p, ctx)
    if isinstance(p, TimeBarred):
        return _check_time_barred(rule, p, ctx)
    return None  # promise horizon and policy rules do not decide contacts


def _first_refusal(pack: RulePack, ctx: _Context, checked: list[str] | None = None) -> _Refusal | None:
    for rule in pack.rules:
        if checked is not None and rule.kind not in ("policy", "promise_horizon"):
            checked.append(rule.id)
        refusal = _check(rule, ctx)
        if refusal is not None:
            return refusal
    return None


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
    ctx = _Context(facts, entries, proposed, now)
    refusal = _first_refusal(pack, ctx, checked)
    zone = ctx.zone
    common = {
        "pack_id": pack.id,
        "pack_version": pack.version,
        "jurisdiction": pack.jurisdiction,
        "time_zone": facts.time_zone,
        "time_zone_source": facts.time_zone_source,
        "local_time": now.astimezone(zone).isoformat() if zone is not None else None,
        "decided_at": now,
        "rules_checked": tuple(checked),
    }
    if refusal is None:
        return Decision(verdict=Verdict.ALLOW, **common)
    return Decision(
        verdict=Verdict.DENY,
        rule_id=refusal.rule.id,
        citation=refusal.rule.citation,
        reason=refusal.reason,
        next_allowed_at=_earliest_allowed(pack, facts, entries, proposed, refusal),
        **common,
    )


def _earliest_allowed(
    pack: RulePack,
    facts: CaseFacts,
    entries: Sequence[ContactHistoryEntry],
    proposed: ProposedContact,
    refusal: _Refusal,
) -> datetime | None:
    candidate = refusal.next_at
    for _ in range(_MAX_STEPS):
        if candidate is None:
            return None
        blocker = _first_refusal(pack, _Context(facts, entries, proposed, candidate))
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
    ctx = _Context(facts, [], ProposedContact(channel=Channel.PHONE), now)
    common = {
        "pack_id": pack.id,
        "pack_version": pack.version,
        "jurisdiction": pack.jurisdiction,
        "time_zone": facts.time_zone,
        "time_zone_source": facts.time_zone_source,
        "decided_at": now,
    }
    checked: list[str] = []
    for rule in pack.rules:
        p = rule.parameters
        refusal: _Refusal | None = None
        if isinstance(p, KnownTimeZone):
            refusal = _check_time_zone(rule, ctx)
        elif isinstance(p, CaseMustBeOpen):
            refusal = _check_case_open(rule, ctx)
        elif isinstance(p, HoldBlocks):
            # A promise is collection: no exception of the hold applies to it.
            refusal = _check_hold(rule, p.model_copy(update={"exceptions": ()}), ctx)
        elif isinstance(p, PromiseHorizon) and ctx.zone is not None:
            today = _local_date(now, ctx.zone)
            latest = today + timedelta(days=p.max_days)
            if due_on < today:
                refusal = _Refusal(
                    rule, f"the due date {due_on} is before today ({today}) at the debtor", None
                )
            elif due_on > latest:
                refusal = _Refusal(rule, f"the due date {due_on} is after {latest} ({p.max_days} days)", None)
        else:
            continue
        checked.append(rule.id)
        if refusal is not None:
            return Decision(
                verdict=Verdict.DENY,
                rule_id=rule.id,
                citation=rule.citation,
                reason=refusal.reason,
                next_allowed_at=refusal.next_at,
                rules_checked=tuple(checked),
                **common,
            )
    return Decision(verdict=Verdict.ALLOW, rules_checked=tuple(checked), **common)
