"""The gate's one dispatch table: every kind of rule a pack can hold has its check, contacts and
promises are decided by their own rules through it, and a rule the gate cannot check is refused on
every path, never skipped (COMPLIANCE.md: when in doubt, the gate refuses)."""

from __future__ import annotations

from datetime import date
from typing import get_args, get_type_hints

import pytest
from pydantic import BaseModel, ConfigDict

from dcp_compliance import (
    Channel,
    ProposedContact,
    Rule,
    RulePack,
    available_packs,
    channel_options,
    check_promise,
    decide,
    load_pack,
)
from dcp_compliance.checks import RULE_CHECKS, NoCheckForRule, rule_check
from dcp_compliance.packs import RuleParams

from .helpers import ZONES, facts, local

NOON = {j: local(z, "2026-06-10 12:00") for j, z in ZONES.items()}
PROMISE_KINDS = {"time_zone", "case_open", "hold", "promise_horizon"}
NOT_FOR_CONTACTS = {"policy", "promise_horizon", "validation_period"}


def test_every_kind_of_rule_parameters_has_a_check_and_nothing_else_does() -> None:
    (union, *_) = get_args(RuleParams)
    assert set(RULE_CHECKS) == set(get_args(union))


@pytest.mark.parametrize(("jurisdiction", "version"), available_packs())
def test_every_rule_of_every_pack_has_a_check(jurisdiction: str, version: str) -> None:
    for rule in load_pack(jurisdiction, version=version).rules:
        assert rule_check(rule) is RULE_CHECKS[type(rule.parameters)], rule.id


def test_each_check_takes_the_parameters_it_is_filed_under() -> None:
    for params_type, entry in RULE_CHECKS.items():
        assert get_type_hints(entry.check)["params"] is params_type, entry.check.__name__


@pytest.mark.parametrize("jurisdiction", sorted(ZONES))
def test_contacts_and_promises_are_each_decided_by_their_own_rules(jurisdiction: str) -> None:
    pack, case, now = load_pack(jurisdiction), facts(jurisdiction), NOON[jurisdiction]
    contact = decide(pack, case, [], ProposedContact(channel=Channel.PHONE), now)
    promise = check_promise(pack, case, date(2026, 6, 20), now)
    assert contact.allowed and promise.allowed
    assert contact.rules_checked == tuple(r.id for r in pack.rules if r.kind not in NOT_FOR_CONTACTS)
    assert promise.rules_checked == tuple(r.id for r in pack.rules if r.kind in PROMISE_KINDS)


class _Unheard(BaseModel):
    """The parameters of a kind of rule the gate has never heard of."""

    model_config = ConfigDict(frozen=True)

    kind: str = "unheard"


def _with_unheard_rule(pack: RulePack, *, first: bool) -> RulePack:
    # Pack validation would reject the kind: build the rule and the pack as a newer pack version might.
    unheard = Rule.model_construct(
        id=f"{pack.jurisdiction}-UNHEARD",
        description="a new kind of rule",
        citation="-",
        parameters=_Unheard(),
    )
    rules = (unheard, *pack.rules) if first else (*pack.rules, unheard)
    return pack.model_copy(update={"rules": rules})


@pytest.mark.parametrize("first", [True, False], ids=["first-rule", "last-rule"])
def test_a_rule_the_gate_cannot_check_is_refused_on_every_path(first: bool) -> None:
    case, now, phone = facts("US"), NOON["US"], ProposedContact(channel=Channel.PHONE)
    assert decide(load_pack("US"), case, [], phone, now).allowed
    pack = _with_unheard_rule(load_pack("US"), first=first)
    with pytest.raises(NoCheckForRule, match=r"US-UNHEARD.*no check for _Unheard"):
        decide(pack, case, [], phone, now)
    with pytest.raises(NoCheckForRule):
        channel_options(pack, case, [], now)
    with pytest.raises(NoCheckForRule):
        check_promise(pack, case, date(2026, 6, 20), now)


def test_the_search_for_the_earliest_allowed_time_does_not_skip_an_unknown_rule() -> None:
    # Quiet hours refuse at 22:00 before the unknown rule is reached; re-deciding at 08:00 reaches it.
    pack = _with_unheard_rule(load_pack("US"), first=False)
    late = local(ZONES["US"], "2026-06-10 22:00")
    with pytest.raises(NoCheckForRule):
        decide(pack, facts("US"), [], ProposedContact(channel=Channel.PHONE), late)
