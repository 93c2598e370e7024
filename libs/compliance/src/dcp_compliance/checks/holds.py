"""The rules that stop contact about the case as a whole: a closed case, and holds (dispute, cease,
breathing space, bankruptcy, ...) with the channel-specific exceptions a pack allows."""

from __future__ import annotations

from dcp_compliance.checks.evaluation import Evaluation, Outcome, Refusal
from dcp_compliance.model import CaseStatus
from dcp_compliance.packs import CaseMustBeOpen, HoldBlocks, Rule

__all__ = ["check_case_open", "check_hold"]


def check_case_open(rule: Rule, params: CaseMustBeOpen, ctx: Evaluation) -> Outcome:
    if ctx.facts.status is CaseStatus.CLOSED:
        return Refusal(rule, "the case is closed", None)
    return None


def check_hold(rule: Rule, params: HoldBlocks, ctx: Evaluation) -> Outcome:
    blocking = [
        h
        for h in ctx.facts.holds
        if h.hold_type in params.hold_types and h.active_at(ctx.at, params.default_duration_days)
    ]
    if not blocking:
        return None
    # A promise is collection: no exception of the hold applies to it.
    exceptions = () if ctx.is_promise else params.exceptions
    for exception in exceptions:
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
    if exceptions:
        allowed = "; ".join(
            "/".join(sorted(c.value for c in e.channels))
            + " for "
            + "/".join(sorted(p.value for p in e.purposes))
            for e in exceptions
        )
        reason += f" (only {allowed} allowed)"
    return Refusal(rule, reason, next_at)
