"""How far ahead a date a client gives may lie: a hold's expiry, a promise's or an installment's due
date, a settlement's deadline. One bound for every service (`INPUT_MAX_YEARS_AHEAD`, default 10
years, from the service's clock), so nothing accepted is a date the platform cannot schedule or count
towards; a date beyond it is a 422 naming the field and the limit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Depends, Request

from dcp_platform.app import get_clock, get_settings
from dcp_platform.problems import ValidationProblem


def years_after(day: date, years: int) -> date:
    """The same day `years` later (29 February becomes 28 February in a common year)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class Horizon:
    """The latest date a client may give, as of now."""

    today: date
    years: int

    @property
    def latest(self) -> date:
        return years_after(self.today, self.years)

    def check(self, **dates: date | datetime | None) -> None:
        """Each named date (a `loc` path as the keyword, `body.expires_at`) at most `years` ahead."""
        latest = self.latest
        errors = []
        for name, value in dates.items():
            if value is None:
                continue
            day = value.astimezone(UTC).date() if isinstance(value, datetime) else value
            if day > latest:
                errors.append(
                    {
                        "loc": [int(p) if p.isdigit() else p for p in name.split(".")],
                        "msg": f"at most {self.years} years ahead: on or before {latest.isoformat()}",
                        "type": "date_too_far_ahead",
                    }
                )
        if errors:
            raise ValidationProblem(
                f"A date lies more than {self.years} years ahead (INPUT_MAX_YEARS_AHEAD).", errors=errors
            )


def get_horizon(request: Request) -> Horizon:
    settings = get_settings(request)
    return Horizon(get_clock(request).now().astimezone(UTC).date(), settings.input_max_years_ahead)


HorizonDep = Annotated[Horizon, Depends(get_horizon)]
