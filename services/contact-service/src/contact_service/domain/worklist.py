"""Worklist order: broken or due promises first, then strategy steps due, then expected recovery."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dcp_events.catalogue.enums import Channel

TIER_PROMISE = 0
TIER_STEP = 1
TIER_RECOVERY = 2
_UNKNOWN_RISK = 500


@dataclass(frozen=True)
class PromiseState:
    due_on: date
    status: str  # open | kept | broken


@dataclass(frozen=True)
class TreatmentStepDue:
    day_offset: int
    channel: Channel


def expected_recovery_minor(balance_minor: int, risk_score: int | None) -> int:
    """Balance times the chance of recovery, read from the risk score (0 best .. 1000 worst)."""
    risk = _UNKNOWN_RISK if risk_score is None else risk_score
    return balance_minor * (1000 - risk) // 1000


def promise_needs_attention(promises: Sequence[PromiseState], today: date) -> str | None:
    if any(p.status == "broken" for p in promises):
        return "promise broken"
    if any(p.status == "open" and p.due_on <= today for p in promises):
        return "promise due"
    return None


def steps_due(
    steps: Sequence[TreatmentStepDue],
    assigned_at: datetime | None,
    contacts_on: Sequence[tuple[datetime, Channel]],
    now: datetime,
) -> list[TreatmentStepDue]:
    """Treatment steps whose day has come and that no contact on their channel has carried out since."""
    if assigned_at is None:
        return []
    due = []
    for step in steps:
        step_at = assigned_at + timedelta(days=step.day_offset)
        if step_at <= now and not any(at >= step_at and ch == step.channel for at, ch in contacts_on):
            due.append(step)
    return due


def priority(
    promise_reason: str | None,
    due_steps: Sequence[TreatmentStepDue],
    recovery_minor: int,
    currency: str,
    recovery_in_base_minor: int | None,
) -> tuple[int, int, int, str, int]:
    """Sort key (lower first): the tier, then expected recovery compared in the exchange-rate table's
    base currency, largest first; a case whose currency has no rate after the comparable ones of its
    tier, grouped by currency, largest first within it. Never raw minor units across currencies."""
    if promise_reason is not None:
        tier = TIER_PROMISE
    elif due_steps:
        tier = TIER_STEP
    else:
        tier = TIER_RECOVERY
    if recovery_in_base_minor is not None:
        return (tier, 0, -recovery_in_base_minor, "", 0)
    return (tier, 1, 0, currency, -recovery_minor)
