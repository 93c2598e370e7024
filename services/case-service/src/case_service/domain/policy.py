"""The collection policy: ageing, segmentation and assignment settings, read from the versioned YAML file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from case_service.domain.ageing import AgeingPolicy
from case_service.domain.errors import PolicyError
from case_service.domain.money import Allocations
from case_service.domain.segmentation import Segmentation
from dcp_events.catalogue.base import Money
from dcp_events.catalogue.enums import Stage


def _pauses(escalation: Mapping[str, Any]) -> frozenset[str]:
    kinds = escalation.get("paused_while", ["plan", "promise"])
    if not isinstance(kinds, list) or not set(kinds) <= {"plan", "promise"}:
        raise PolicyError(f"escalation.paused_while: a list of plan and/or promise, got {kinds!r}")
    return frozenset(kinds)


def _rates(products: Mapping[str, Any]) -> dict[str, int]:
    rates = {}
    for product, spec in products.items():
        bps = int(spec["annual_rate_bps"]) if isinstance(spec, Mapping) else int(spec)
        if not 0 <= bps <= 100_000:
            raise PolicyError(f"interest for {product!r}: annual_rate_bps {bps} out of range 0..100000")
        rates[str(product)] = bps
    return rates


@dataclass(frozen=True)
class Retention:
    """How long a closed case's personal data is kept in a jurisdiction, and the rule that says so."""

    years: int
    citation: str


def _retention(data: Mapping[str, Any]) -> dict[str, Retention]:
    periods = {}
    for jurisdiction, spec in data.items():
        if not isinstance(spec, Mapping) or "years" not in spec or "citation" not in spec:
            raise PolicyError(f"retention for {jurisdiction!r}: give years and a citation")
        years = int(spec["years"])
        if not 0 <= years <= 100:
            raise PolicyError(f"retention for {jurisdiction!r}: {years} years out of range 0..100")
        periods[str(jurisdiction)] = Retention(years, str(spec["citation"]))
    return periods


PERSON_CHANNELS = frozenset({"phone", "field_visit"})
"""The channels a collector works in person: a strategy with such steps needs collectors qualified
for them (e-mail, SMS and letters are sent by the platform)."""


@dataclass(frozen=True)
class AutomaticAssignment:
    """New and re-segmented cases are allocated in house without a per-case call: by `policy`
    (least_loaded or round_robin), within `team` when one is named, per strategy where `strategies`
    overrides it; a collector marked absent has their cases rebalanced the same way."""

    enabled: bool = False
    policy: str = "least_loaded"
    team: str | None = None
    strategies: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)

    def for_strategy(self, strategy_id: str | None) -> tuple[str, str | None]:
        return self.strategies.get(strategy_id or "", (self.policy, self.team))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> AutomaticAssignment:
        policies = {"least_loaded", "round_robin"}
        default = str(data.get("policy", "least_loaded"))
        overrides: dict[str, tuple[str, str | None]] = {}
        for strategy_id, spec in (data.get("strategies") or {}).items():
            overrides[str(strategy_id)] = (str(spec.get("policy", default)), spec.get("team"))
        for name, (policy, team) in {"default": (default, data.get("team")), **overrides}.items():
            if policy not in policies:
                raise PolicyError(
                    f"automatic assignment for {name}: policy {policy!r} is not one of {policies}"
                )
            if policy == "round_robin" and not team:
                raise PolicyError(f"automatic assignment for {name}: round robin names a team")
        return cls(bool(data.get("enabled", False)), default, data.get("team"), overrides)


@dataclass(frozen=True)
class CollectionPolicy:
    version: int
    ageing: AgeingPolicy
    segmentation: Segmentation
    agency_at_stage: Stage | None = None
    allocations: Allocations = field(default_factory=Allocations)
    # Which arrangements make the collection path wait while active: no escalation, no agency placement.
    pause_escalation_for: frozenset[str] = frozenset({"plan", "promise"})
    # Interest the platform accrues monthly, by product: annual rate in basis points on the principal.
    interest_rates_bps: Mapping[str, int] = field(default_factory=dict)
    interest_day_count: int = 365
    # How long a closed case keeps the debtor's personal data, by jurisdiction (`default` for the rest);
    # a durable timer erases it then. None for a jurisdiction: kept until erased on request.
    retention: Mapping[str, Retention] = field(default_factory=dict)
    # A collector refers to legal a balance up to this, by currency (minor units); above it, or in a
    # currency not listed, a supervisor approves the referral.
    legal_approval_threshold_minor: Mapping[str, int] = field(default_factory=dict)
    automatic_assignment: AutomaticAssignment = field(default_factory=AutomaticAssignment)

    def with_stopped_arms(self, stopped: frozenset[tuple[str, str]]) -> CollectionPolicy:
        """This policy with the experiment arms stopped so far taken out of segmentation."""
        if stopped == self.segmentation.stopped_arms:
            return self
        return replace(self, segmentation=replace(self.segmentation, stopped_arms=stopped))

    def legal_approval_threshold(self, currency: str) -> Money:
        """Balances above this need a supervisor to refer (0 when the currency is not listed)."""
        return Money(amount_minor=self.legal_approval_threshold_minor.get(currency, 0), currency=currency)

    def retention_for(self, jurisdiction: str) -> Retention | None:
        return self.retention.get(jurisdiction) or self.retention.get("default")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> CollectionPolicy:
        try:
            version = int(data["version"])
            assignment: Mapping[str, Any] = data.get("assignment") or {}
            agency_at = assignment.get("agency_at_stage")
            return cls(
                version=version,
                ageing=AgeingPolicy.from_mapping(data.get("ageing") or {}),
                segmentation=Segmentation.from_mapping({**data["segmentation"], "version": version}),
                agency_at_stage=None if agency_at is None else Stage(agency_at),
                allocations=Allocations.from_mapping(data.get("allocation") or {}),
                pause_escalation_for=_pauses(data.get("escalation") or {}),
                interest_rates_bps=_rates((data.get("interest") or {}).get("products") or {}),
                interest_day_count=int((data.get("interest") or {}).get("day_count", 365)),
                retention=_retention(data.get("retention") or {}),
                automatic_assignment=AutomaticAssignment.from_mapping(assignment.get("automatic") or {}),
                legal_approval_threshold_minor={
                    str(k): int(v)
                    for k, v in ((data.get("legal") or {}).get("approval_threshold_minor") or {}).items()
                },
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, PolicyError):
                raise
            raise PolicyError(f"invalid collection policy: {exc!r}") from exc
