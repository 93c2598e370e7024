"""The case service's durable timers in the database: the daily ageing run, the monthly interest run
and the hourly experiment review (hold expiries and the rest are scheduled by their handlers)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from case_service.application.handlers import (
    AGEING_TIMER,
    EXPERIMENT_REVIEW_TIMER,
    INTEREST_TIMER,
    REVIEW_EVERY,
    next_month_start,
)
from case_service.domain.ageing import next_midnight

_ENSURE_AGEING_TIMER = text(
    """
    INSERT INTO timers (kind, key, due_at, payload)
    SELECT CAST(:kind AS varchar), CAST(:key AS varchar), CAST(:due_at AS timestamptz), '{}'::jsonb
    WHERE NOT EXISTS (SELECT 1 FROM timers WHERE kind = CAST(:kind AS varchar) AND fired_at IS NULL)
    ON CONFLICT (kind, key) DO NOTHING
    """
)


async def ensure_ageing_timer(conn: AsyncConnection, now: datetime) -> None:
    """Schedule tomorrow's ageing run unless one is pending."""
    due = next_midnight(now)
    await conn.execute(
        _ENSURE_AGEING_TIMER, {"kind": AGEING_TIMER, "key": due.date().isoformat(), "due_at": due}
    )


async def ensure_interest_timer(conn: AsyncConnection, now: datetime) -> None:
    """Schedule next month's interest run unless one is pending."""
    due = next_month_start(now)
    await conn.execute(
        _ENSURE_AGEING_TIMER, {"kind": INTEREST_TIMER, "key": due.date().isoformat(), "due_at": due}
    )


async def ensure_experiment_review_timer(conn: AsyncConnection, now: datetime) -> None:
    """Schedule the next experiment review unless one is pending."""
    due = now + REVIEW_EVERY
    await conn.execute(
        _ENSURE_AGEING_TIMER,
        {"kind": EXPERIMENT_REVIEW_TIMER, "key": f"start:{now.isoformat()}", "due_at": due},
    )
