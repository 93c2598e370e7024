"""The rules of the channel and the contact point: opt-outs, consent, the workplace ban, and the
recording a field visit needs."""

from __future__ import annotations

from dcp_compliance.checks.evaluation import Evaluation, Outcome, Refusal
from dcp_compliance.model import CaseFacts, Channel, ContactParty, ContactPoint
from dcp_compliance.packs import ConsentRequired, OptOutBlocks, RecordingRequired, Rule, WorkplaceBan

__all__ = ["check_consent", "check_opt_out", "check_recording", "check_workplace"]


def _points(facts: CaseFacts, channel: Channel) -> list[ContactPoint]:
    return [p for p in facts.contact_points if channel in p.usable_for]


def _opted_out(facts: CaseFacts, channel: Channel, point: str | None) -> bool:
    for opt in facts.opt_outs:
        if opt.channel == channel and (opt.contact_point is None or opt.contact_point == point):
            return True
    return False


def _candidates(ctx: Evaluation, stage: str) -> tuple[list[ContactPoint], bool]:
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


def check_opt_out(rule: Rule, params: OptOutBlocks, ctx: Evaluation) -> Outcome:
    proposed = ctx.proposed
    if proposed.party is not ContactParty.DEBTOR or proposed.channel not in params.channels:
        return None
    channel = proposed.channel
    if any(o.channel == channel and o.contact_point is None for o in ctx.facts.opt_outs):
        return Refusal(rule, f"the debtor opted out of {channel.value}", None)
    if proposed.contact_point is not None:
        if _opted_out(ctx.facts, channel, proposed.contact_point):
            return Refusal(rule, f"the debtor opted out of {channel.value} at this contact point", None)
        return None
    points, uses_points = _candidates(ctx, "opt_out")
    if uses_points and points and all(_opted_out(ctx.facts, channel, p.value) for p in points):
        return Refusal(rule, f"the debtor opted out of {channel.value} at every contact point", None)
    return None


def check_consent(rule: Rule, params: ConsentRequired, ctx: Evaluation) -> Outcome:
    proposed = ctx.proposed
    if proposed.party is not ContactParty.DEBTOR or proposed.channel not in params.channels:
        return None
    points, _ = _candidates(ctx, "consent")
    channel = proposed.channel.value
    if not points:
        where = "this contact point is not" if proposed.contact_point is not None else "there is no"
        return Refusal(rule, f"{where} a {channel} contact point of the debtor on this case", None)
    if not any(proposed.channel in p.consented for p in points):
        return Refusal(rule, f"the debtor has not consented to {channel} at this contact point", None)
    return None


def check_workplace(rule: Rule, params: WorkplaceBan, ctx: Evaluation) -> Outcome:
    proposed = ctx.proposed
    if not ctx.facts.workplace_contact_prohibited or proposed.party is not ContactParty.DEBTOR:
        return None
    if proposed.channel is Channel.FIELD_VISIT and proposed.at_workplace:
        return Refusal(rule, "the debtor's employer prohibits contact at the workplace", None)
    points, uses_points = _candidates(ctx, "workplace")
    if uses_points and points and all(p.phone_kind in params.phone_kinds for p in points):
        return Refusal(rule, "the debtor's employer prohibits contact at work numbers", None)
    return None


def check_recording(rule: Rule, params: RecordingRequired, ctx: Evaluation) -> Outcome:
    if ctx.proposed.channel in params.channels and not ctx.proposed.recording_ref:
        return Refusal(
            rule,
            f"a {ctx.proposed.channel.value.replace('_', ' ')} must be recorded in full (recording ref)",
            None,
        )
    return None
