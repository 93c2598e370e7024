"""The gate's one dispatch table: each rule parameters model of the packs maps to the check that
applies it, and says whether it decides contacts, promises to pay, or neither.

Every path of the gate that evaluates rules (`decide`, its search for the earliest allowed time,
`channel_options`, `check_promise`) looks each rule up with `rule_check`. A parameters type the
table does not know raises `NoCheckForRule`: when in doubt, the gate refuses, it never skips a rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from pydantic import BaseModel

from dcp_compliance.checks.channels import check_consent, check_opt_out, check_recording, check_workplace
from dcp_compliance.checks.evaluation import (
    NOT_APPLICABLE,
    Evaluation,
    NotApplicable,
    Outcome,
    Refusal,
)
from dcp_compliance.checks.frequency import check_call_cap, check_cool_down
from dcp_compliance.checks.holds import check_case_open, check_hold
from dcp_compliance.checks.parties import check_third_party
from dcp_compliance.checks.time_rules import (
    check_promise_horizon,
    check_quiet_hours,
    check_time_barred,
    check_time_zone,
)
from dcp_compliance.checks.vulnerability import check_vulnerability
from dcp_compliance.packs import (
    CallCap,
    CaseMustBeOpen,
    ConsentRequired,
    ConversationCoolDown,
    HoldBlocks,
    KnownTimeZone,
    OptOutBlocks,
    PolicyOnly,
    PromiseHorizon,
    QuietHours,
    RecordingRequired,
    Rule,
    ThirdPartyBan,
    TimeBarred,
    ValidationPeriod,
    VulnerabilityTreatment,
    WorkplaceBan,
)

__all__ = [
    "NOT_APPLICABLE",
    "RULE_CHECKS",
    "Evaluation",
    "NoCheckForRule",
    "NotApplicable",
    "Outcome",
    "Refusal",
    "RuleCheck",
    "rule_check",
]

Check = Callable[[Rule, Any, Evaluation], Outcome]


@dataclass(frozen=True)
class RuleCheck:
    """The check of one kind of rule, called with the rule, its parameters and the evaluation."""

    check: Check
    contacts: bool = False
    promises: bool = False

    def decides(self, ctx: Evaluation) -> bool:
        """Whether rules of this kind take part in `ctx` (a contact, or a promise to pay)."""
        return self.promises if ctx.is_promise else self.contacts


def check_policy(rule: Rule, params: PolicyOnly, ctx: Evaluation) -> Outcome:
    """A policy rule (e.g. collector KPI design) is in the pack for the record; no decision applies it."""
    return NOT_APPLICABLE


def check_validation_period(rule: Rule, params: ValidationPeriod, ctx: Evaluation) -> Outcome:
    """The validation period dates disputes (`dcp_compliance.validation`); the holds it calls for are
    checked by the hold rules, so no contact decision applies it directly."""
    return NOT_APPLICABLE


RULE_CHECKS: Final[Mapping[type[BaseModel], RuleCheck]] = MappingProxyType(
    {
        KnownTimeZone: RuleCheck(check_time_zone, contacts=True, promises=True),
        CaseMustBeOpen: RuleCheck(check_case_open, contacts=True, promises=True),
        HoldBlocks: RuleCheck(check_hold, contacts=True, promises=True),
        ThirdPartyBan: RuleCheck(check_third_party, contacts=True),
        OptOutBlocks: RuleCheck(check_opt_out, contacts=True),
        ConsentRequired: RuleCheck(check_consent, contacts=True),
        WorkplaceBan: RuleCheck(check_workplace, contacts=True),
        QuietHours: RuleCheck(check_quiet_hours, contacts=True),
        CallCap: RuleCheck(check_call_cap, contacts=True),
        ConversationCoolDown: RuleCheck(check_cool_down, contacts=True),
        RecordingRequired: RuleCheck(check_recording, contacts=True),
        TimeBarred: RuleCheck(check_time_barred, contacts=True),
        VulnerabilityTreatment: RuleCheck(check_vulnerability, contacts=True),
        PromiseHorizon: RuleCheck(check_promise_horizon, promises=True),
        PolicyOnly: RuleCheck(check_policy),
        ValidationPeriod: RuleCheck(check_validation_period),
    }
)


class NoCheckForRule(LookupError):
    """A rule whose parameters type has no check in `RULE_CHECKS`: the gate refuses to decide with it."""

    def __init__(self, rule: Rule) -> None:
        self.rule_id = rule.id
        self.params_type = type(rule.parameters)
        super().__init__(
            f"rule {rule.id}: the gate has no check for {self.params_type.__name__} parameters "
            f"(kind {getattr(rule.parameters, 'kind', None)!r}); it refuses to decide rather than skip it"
        )


def rule_check(rule: Rule) -> RuleCheck:
    """The table entry for `rule` (by the exact type of its parameters); raises NoCheckForRule."""
    try:
        return RULE_CHECKS[type(rule.parameters)]
    except KeyError:
        raise NoCheckForRule(rule) from None
