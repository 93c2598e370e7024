"""Limitation periods as data: when a debt becomes time-barred in its jurisdiction, and why.

`limitation_periods/limitation-<version>.yaml` gives, per jurisdiction (US by state, GB by nation, CN)
and debt type, the period, what restarts it, whether a restart revives a barred debt, whether expiry
extinguishes the debt and the disclosure a state requires; `time_barred_at(...)` computes the date
with its basis. Nothing here does I/O after loading the file, or reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from enum import StrEnum
from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DebtType",
    "Disclosure",
    "Limitation",
    "LimitationBasis",
    "LimitationTable",
    "Period",
    "RestartEvent",
    "RestartKind",
    "debt_type_of",
    "limitation_of_rule",
    "load_limitations",
    "time_barred_at",
]


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DebtType(StrEnum):
    WRITTEN_CONTRACT = "written_contract"
    OPEN_ENDED = "open_ended"
    """Open-ended credit: credit cards, overdrafts, lines of credit."""
    ORAL = "oral"
    PROMISSORY_NOTE = "promissory_note"
    MORTGAGE = "mortgage"


class RestartKind(StrEnum):
    """What may restart (or revive) the clock, where the law says so."""

    PAYMENT = "payment"
    WRITTEN_ACKNOWLEDGMENT = "written_acknowledgment"
    WRITTEN_PROMISE = "written_promise"
    CREDITOR_DEMAND = "creditor_demand"
    SUIT = "suit"


class RestartEvent(_Data):
    """Something that happened on the debt on `on` (a payment booked, a demand made, ...)."""

    kind: RestartKind
    on: date


class Period(_Data):
    years: int = Field(ge=1, le=30)
    citation: str = Field(min_length=1)


class Disclosure(_Data):
    """What every communication about a time-barred debt must say in this jurisdiction."""

    text: str = Field(min_length=1)
    citation: str = Field(min_length=1)


class Limitation(_Data):
    """The limitation law of one jurisdiction (a US state, a GB nation, CN)."""

    name: str
    default_debt_type: DebtType
    extinguishes: bool = Field(
        description="Expiry extinguishes the debt (no collection at all), not only the remedy."
    )
    remedy_citation: str
    periods: dict[DebtType, Period]
    restarted_by: frozenset[RestartKind] = frozenset()
    restart_citation: str | None = None
    revived_by: frozenset[RestartKind] = frozenset()
    revival_citation: str
    disclosure: Disclosure | None = None


class _Jurisdiction(_Data):
    name: str
    by_region: bool
    default_region: str | None = None
    aliases: dict[str, str] = Field(default_factory=dict)
    regions: dict[str, Limitation]


class LimitationBasis(_Data):
    """`time_barred_at` with how it was found. `time_barred_at` None: it cannot be known (`reason`)."""

    time_barred_at: date | None
    rule_id: str | None = None
    citation: str | None = None
    starts_on: date | None = Field(default=None, description="The date the current period runs from.")
    restart: RestartEvent | None = Field(default=None, description="The event that last restarted it.")
    debt_type: DebtType | None = None
    years: int | None = None
    extinguishes: bool = False
    disclosure: Disclosure | None = None
    reason: str

    def barred_on(self, day: date) -> bool:
        """Whether the debt is time-barred on `day` (the period's last day counts as barred)."""
        return self.time_barred_at is not None and day >= self.time_barred_at


class LimitationTable(_Data):
    version: str
    products: dict[str, DebtType]
    jurisdictions: dict[str, _Jurisdiction]

    def region_code(self, jurisdiction: str, region: str | None) -> str | None:
        """The table's code for `region` (ISO 3166-2 "CA" or "US-CA", or a name); None: not known."""
        entry = self.jurisdictions.get(jurisdiction.upper())
        if entry is None:
            return None
        if not entry.by_region:
            return ""
        raw = (region or "").strip()
        prefix = f"{jurisdiction.upper()}-"
        code = raw[len(prefix) :] if raw.upper().startswith(prefix) else raw
        for candidate in (code, code.upper()):
            if candidate in entry.regions:
                return candidate
        aliases = {k.upper(): v for k, v in entry.aliases.items()}
        if code.upper() in aliases:
            return aliases[code.upper()]
        return entry.default_region if not raw else None

    def limitation(self, jurisdiction: str, region: str | None) -> Limitation | None:
        code = self.region_code(jurisdiction, region)
        if code is None:
            return None
        return self.jurisdictions[jurisdiction.upper()].regions[code]


def limitation_of_rule(rule_id: str, table: LimitationTable | None = None) -> Limitation | None:
    """The jurisdiction's limitation law a rule id (as `time_barred_at` names it) comes from."""
    table = table or load_limitations()
    for country, entry in table.jurisdictions.items():
        for code, law in entry.regions.items():
            if any(_rule_id(country, code, debt_type) == rule_id for debt_type in law.periods):
                return law
    return None


def debt_type_of(table: LimitationTable, product: str | None) -> DebtType | None:
    """The debt type of an `Account.product` code (None: not a code the table knows)."""
    return table.products.get((product or "").strip().lower())


@cache
def load_limitations(version: str = "2026.1") -> LimitationTable:
    text = (
        resources.files("dcp_compliance")
        .joinpath(f"limitation_periods/limitation-{version}.yaml")
        .read_text()
    )
    return LimitationTable.model_validate(yaml.safe_load(text))


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a common year: the earlier day, 28 February
        return day.replace(year=day.year + years, day=28)


def _rule_id(jurisdiction: str, code: str, debt_type: DebtType) -> str:
    parts = [
        jurisdiction.upper(),
        *([code] if code else []),
        "LIM",
        debt_type.value.upper().replace("_", "-"),
    ]
    return "-".join(parts)


def time_barred_at(
    jurisdiction: str,
    region: str | None,
    product: str | None,
    due_since: date | None,
    events: Iterable[RestartEvent] = (),
    *,
    table: LimitationTable | None = None,
) -> LimitationBasis:
    """When the debt becomes time-barred: the period of its jurisdiction and debt type from `due_since`,
    restarted by the dated `events` the law counts (while it runs; after expiry only those that revive).
    """
    table = table or load_limitations()
    if due_since is None:
        return LimitationBasis(time_barred_at=None, reason="the date of default is not known")
    code = table.region_code(jurisdiction, region)
    if code is None:
        where = (
            jurisdiction if jurisdiction.upper() not in table.jurisdictions else f"{jurisdiction} {region!r}"
        )
        return LimitationBasis(time_barred_at=None, reason=f"no limitation period is known for {where}")
    law = table.jurisdictions[jurisdiction.upper()].regions[code]
    known = debt_type_of(table, product)
    debt_type = known if known is not None and known in law.periods else law.default_debt_type
    period = law.periods[debt_type]
    why = (
        f"{debt_type.value} ({product})"
        if known is debt_type
        else f"{debt_type.value} (the default: product {product!r} has no period of its own here)"
    )
    assumed = f"; no region given, {law.name} assumed" if not (region or "").strip() and code else ""
    starts_on = due_since
    barred = _add_years(starts_on, period.years)
    restart: RestartEvent | None = None
    citation = period.citation
    for event in sorted(events, key=lambda e: e.on):
        if event.on <= starts_on:
            continue
        running = event.on < barred
        if (running and event.kind in law.restarted_by) or (not running and event.kind in law.revived_by):
            starts_on, restart = event.on, event
            barred = _add_years(starts_on, period.years)
            citation = f"{period.citation}; {law.restart_citation if running else law.revival_citation}"
    reason = f"{law.name}: {period.years} years for {why} from {starts_on}"
    if restart is not None:
        reason += f" ({restart.kind.value})"
    reason += assumed
    return LimitationBasis(
        time_barred_at=barred,
        rule_id=_rule_id(jurisdiction, code, debt_type),
        citation=citation,
        starts_on=starts_on,
        restart=restart,
        debt_type=debt_type,
        years=period.years,
        extinguishes=law.extinguishes,
        disclosure=law.disclosure,
        reason=reason,
    )
