"""The third-party rule: nobody but the debtor, except the narrow location inquiry a pack allows,
and never disclosing the debt."""

from __future__ import annotations

from datetime import timedelta

from dcp_compliance.checks.evaluation import Evaluation, Outcome, Refusal
from dcp_compliance.model import ContactOutcome, ContactParty
from dcp_compliance.packs import Rule, ThirdPartyBan

__all__ = ["check_third_party"]

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


def check_third_party(rule: Rule, params: ThirdPartyBan, ctx: Evaluation) -> Outcome:
    proposed = ctx.proposed
    if proposed.party is ContactParty.DEBTOR:
        return None
    if proposed.discloses_debt:
        return Refusal(rule, "a third party must never be told about the debt", None)
    exception = params.location_exception
    if exception is None:
        return Refusal(rule, "contacting anyone but the debtor is not allowed", None)
    if proposed.purpose not in exception.purposes:
        return Refusal(rule, "a third party may only be asked where the debtor can be reached", None)
    if proposed.channel not in exception.channels:
        return Refusal(rule, f"a third party may not be contacted by {proposed.channel.value}", None)
    if proposed.contact_point is None:
        return Refusal(rule, "name the person asked (contact point) for a location inquiry", None)
    if exception.requires_agreed_contact and proposed.contact_point not in ctx.facts.agreed_contacts:
        return Refusal(rule, "only a contact the debtor agreed to may be asked for their whereabouts", None)
    if exception.max_contacts_per_person is not None:
        asked = sum(
            1
            for e in ctx.history
            if e.party is ContactParty.THIRD_PARTY and e.contact_point == proposed.contact_point
        )
        if asked >= exception.max_contacts_per_person:
            return Refusal(
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
            return Refusal(
                rule,
                f"the debtor is not unreachable: {failed} failed attempt(s) and "
                f"{'a' if reached else 'no'} conversation in the last {exception.unreachable_days} days "
                f"(needs {exception.min_failed_attempts} failed and none)",
                None,
            )
    return None
