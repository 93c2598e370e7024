"""The rules of the debtor's clock and calendar: a known time zone, quiet hours (with the debtor's
own windows), time-barred debt and the promise-to-pay horizon."""

from __future__ import annotations

from datetime import date, time, timedelta

from dcp_compliance.checks.evaluation import (
    NOT_APPLICABLE,
    Evaluation,
    Outcome,
    Refusal,
    local_date,
    local_instant,
)
from dcp_compliance.model import CaseFacts
from dcp_compliance.packs import KnownTimeZone, PromiseHorizon, QuietHours, Rule, TimeBarred

__all__ = ["check_promise_horizon", "check_quiet_hours", "check_time_barred", "check_time_zone"]

_HORIZON_DAYS = 9
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def check_time_zone(rule: Rule, params: KnownTimeZone, ctx: Evaluation) -> Outcome:
    if ctx.zone is None:
        return Refusal(rule, f"the debtor's time zone {ctx.facts.time_zone!r} is not a known IANA zone", None)
    return None


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


def check_quiet_hours(rule: Rule, params: QuietHours, ctx: Evaluation) -> Outcome:
    if ctx.proposed.channel not in params.channels:
        return None
    zone = ctx.zone
    if zone is None:
        return Refusal(rule, "the debtor's local time is unknown", None)
    local = ctx.at.astimezone(zone)
    now_local = local.time().replace(tzinfo=None)
    if any(s <= now_local <= e for s, e in _intervals(params, ctx.facts, local.date())):
        return None
    next_at = None
    for offset in range(_HORIZON_DAYS):
        day = local.date() + timedelta(days=offset)
        for start, _end in _intervals(params, ctx.facts, day):
            instant = local_instant(day, start, zone)
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
    return Refusal(rule, reason, next_at)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def check_time_barred(rule: Rule, params: TimeBarred, ctx: Evaluation) -> Outcome:
    facts = ctx.facts
    if ctx.proposed.purpose not in params.purposes:
        return None
    if params.extinguished_only and not facts.limitation_extinguishes:
        return None
    if facts.time_barred_at is not None:
        barred_on = facts.time_barred_at
        basis = (
            f" ({facts.limitation_rule_id}: {facts.limitation_citation})" if facts.limitation_rule_id else ""
        )
    elif params.limitation_years is not None and facts.due_since is not None and not params.extinguished_only:
        barred_on = _add_years(facts.due_since, params.limitation_years)
        basis = f" ({params.limitation_years} years from {facts.due_since})"
    else:
        return None
    today = local_date(ctx.at, ctx.zone) if ctx.zone is not None else ctx.at.date()
    if today < barred_on:  # on the debtor's calendar, like every other rule
        return None
    if facts.limitation_extinguishes:
        what = "the debt is extinguished by prescription: no collection of any kind"
        return Refusal(rule, f"{what} since {barred_on}{basis}", None)
    return Refusal(rule, f"the debt is time-barred since {barred_on}{basis}: no suit or threat of suit", None)


def check_promise_horizon(rule: Rule, params: PromiseHorizon, ctx: Evaluation) -> Outcome:
    due_on = ctx.due_on
    if due_on is None or ctx.zone is None:
        # Not a promise; or no local date to judge it by, which the pack's time-zone rule refuses.
        return NOT_APPLICABLE
    today = local_date(ctx.at, ctx.zone)
    latest = today + timedelta(days=params.max_days)
    if due_on < today:
        return Refusal(rule, f"the due date {due_on} is before today ({today}) at the debtor", None)
    if due_on > latest:
        return Refusal(rule, f"the due date {due_on} is after {latest} ({params.max_days} days)", None)
    return None
