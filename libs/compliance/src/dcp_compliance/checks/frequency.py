"""The counting rules: at most so many calls in a window of local calendar days, and no call for a
number of days after a conversation (per debt, or per debtor across cases and agencies)."""

from __future__ import annotations

from datetime import time, timedelta

from dcp_compliance.checks.evaluation import Evaluation, Outcome, Refusal, local_date, local_instant
from dcp_compliance.model import ContactParty
from dcp_compliance.packs import CallCap, ConversationCoolDown, Rule

__all__ = ["check_call_cap", "check_cool_down"]


def check_call_cap(rule: Rule, params: CallCap, ctx: Evaluation) -> Outcome:
    proposed = ctx.proposed
    if proposed.channel not in params.channels or proposed.party not in params.parties:
        return None
    zone = ctx.zone
    if zone is None:
        return Refusal(rule, "the debtor's local time is unknown", None)
    today = local_date(ctx.at, zone)
    first_day = today - timedelta(days=params.window_days - 1)
    counted = sorted(
        (
            d
            for e in ctx.entries(params.scope)
            if e.channel in params.channels
            and e.party in params.parties
            and (params.counted_outcomes is None or e.outcome in params.counted_outcomes)
            and first_day <= (d := local_date(e.at, zone)) <= today
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
    return Refusal(rule, reason, local_instant(reopens, time(0, 0), zone))


def check_cool_down(rule: Rule, params: ConversationCoolDown, ctx: Evaluation) -> Outcome:
    proposed = ctx.proposed
    if proposed.channel not in params.channels or proposed.party is not ContactParty.DEBTOR:
        return None
    zone = ctx.zone
    if zone is None:
        return Refusal(rule, "the debtor's local time is unknown", None)
    conversations = [
        e.at
        for e in ctx.entries(params.scope)
        if e.party is ContactParty.DEBTOR
        and e.channel in params.channels
        and e.outcome in params.conversation_outcomes
    ]
    if not conversations:
        return None
    day_one = local_date(max(conversations), zone)
    reopens = day_one + timedelta(days=params.days)
    if local_date(ctx.at, zone) >= reopens:
        return None
    reason = (
        f"a conversation about this debt took place on {day_one} (day 1); "
        f"no call until day {params.days + 1}, {reopens}"
    )
    return Refusal(rule, reason, local_instant(reopens, time(0, 0), zone))
