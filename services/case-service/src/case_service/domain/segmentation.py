"""Segmentation and treatment strategies as data, with a deterministic champion/challenger split.

Rules are evaluated in order; the first whose conditions all hold picks the strategy. A strategy
may run an experiment: each case falls in one arm by a hash of (experiment id, case id), so the
split is stable across restarts, replicas and re-segmentation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from case_service.domain.errors import PolicyError
from case_service.domain.experiments import ExperimentTest
from dcp_events.catalogue.enums import Channel

BASIS_POINTS = 10_000


@dataclass(frozen=True)
class TreatmentStep:
    day_offset: int
    channel: Channel
    template: str


@dataclass(frozen=True)
class Arm:
    name: str
    basis_points: int  # share of cases, in 1/100 of a percent
    strategy_id: str  # the strategy cases in this arm receive


@dataclass(frozen=True)
class Experiment:
    """Arms by share of cases; the first is the champion every challenger is compared with (and
    what a stopped challenger's cases are given instead)."""

    id: str
    arms: tuple[Arm, ...]
    test: ExperimentTest = field(default_factory=ExperimentTest)

    @property
    def champion(self) -> Arm:
        return self.arms[0]

    def arm_for(self, case_id: str, stopped: frozenset[str] = frozenset()) -> Arm:
        """The case's arm; a stopped arm's share goes to the champion."""
        arm = self._slot_arm(case_id)
        return self.champion if arm.name in stopped else arm

    def _slot_arm(self, case_id: str) -> Arm:
        slot = split_slot(self.id, case_id)
        cumulative = 0
        for arm in self.arms:
            cumulative += arm.basis_points
            if slot < cumulative:
                return arm
        return self.arms[-1]  # pragma: no cover - arms add up to 100 %


def split_slot(experiment_id: str, case_id: str) -> int:
    """A number in [0, 10000) fixed by the experiment and the case id (SHA-256, not Python's hash)."""
    digest = hashlib.sha256(f"{experiment_id}\x1f{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BASIS_POINTS


WORKLIST_ORDERS = frozenset({"policy", "rule-based", "propensity-model"})


@dataclass(frozen=True)
class Strategy:
    id: str
    version: int
    steps: tuple[TreatmentStep, ...]
    experiment: Experiment | None = None
    worklist_order: str = "policy"
    """How worklists rank its cases: `policy` (the propensity-model version in force), `rule-based`,
    or `propensity-model` (an experiment arm can test the model against the rules)."""


@dataclass(frozen=True)
class BalanceBand:
    name: str
    upper_minor: Mapping[str, int] | None  # per currency ("default" for others); None: open-ended

    def contains(self, amount_minor: int, currency: str) -> bool:
        if self.upper_minor is None:
            return True
        limit = self.upper_minor.get(currency, self.upper_minor.get("default"))
        return limit is None or amount_minor <= limit


@dataclass(frozen=True)
class SegmentRule:
    segment: str
    strategy_id: str
    buckets: frozenset[str] = frozenset()
    balance_bands: frozenset[str] = frozenset()
    products: frozenset[str] = frozenset()
    jurisdictions: frozenset[str] = frozenset()
    risk_score_min: int | None = None
    risk_score_max: int | None = None

    def matches(self, profile: SegmentationProfile, band: str) -> bool:
        if self.buckets and profile.bucket not in self.buckets:
            return False
        if self.balance_bands and band not in self.balance_bands:
            return False
        if self.products and profile.product not in self.products:
            return False
        if self.jurisdictions and profile.jurisdiction not in self.jurisdictions:
            return False
        if self.risk_score_min is not None and (
            profile.risk_score is None or profile.risk_score < self.risk_score_min
        ):
            return False
        return not (
            self.risk_score_max is not None
            and (profile.risk_score is None or profile.risk_score > self.risk_score_max)
        )


@dataclass(frozen=True)
class SegmentationProfile:
    """What segmentation looks at."""

    case_id: str
    bucket: str
    balance_minor: int
    currency: str
    product: str
    jurisdiction: str
    risk_score: int | None


@dataclass(frozen=True)
class StrategyDecision:
    segment: str
    strategy: Strategy
    experiment_id: str | None
    arm: str | None
    ruleset_version: int


@dataclass(frozen=True)
class Segmentation:
    version: int
    rules: tuple[SegmentRule, ...]
    strategies: Mapping[str, Strategy]
    balance_bands: tuple[BalanceBand, ...] = field(default_factory=tuple)
    stopped_arms: frozenset[tuple[str, str]] = frozenset()
    """(experiment id, arm) of the challengers stopped by a guard or a person: no case is given them."""

    @property
    def experiments(self) -> list[Experiment]:
        return [s.experiment for s in self.strategies.values() if s.experiment is not None]

    def stopped_in(self, experiment_id: str) -> frozenset[str]:
        return frozenset(arm for exp, arm in self.stopped_arms if exp == experiment_id)

    def __post_init__(self) -> None:
        if not self.rules:
            raise PolicyError("segmentation needs at least one rule")
        if any(r.buckets or r.balance_bands or r.products or r.jurisdictions for r in self.rules[-1:]) or (
            self.rules[-1].risk_score_min is not None or self.rules[-1].risk_score_max is not None
        ):
            raise PolicyError("the last segmentation rule must match every case (a default)")
        band_names = {b.name for b in self.balance_bands}
        for rule in self.rules:
            if rule.strategy_id not in self.strategies:
                raise PolicyError(f"rule {rule.segment} names unknown strategy {rule.strategy_id}")
            if unknown := rule.balance_bands - band_names:
                raise PolicyError(f"rule {rule.segment} names unknown balance bands {sorted(unknown)}")
        for strategy in self.strategies.values():
            if strategy.experiment is None:
                continue
            if sum(a.basis_points for a in strategy.experiment.arms) != BASIS_POINTS:
                raise PolicyError(f"experiment {strategy.experiment.id}: arms must add up to 100 %")
            for arm in strategy.experiment.arms:
                if arm.strategy_id not in self.strategies:
                    raise PolicyError(f"experiment arm {arm.name} names unknown strategy {arm.strategy_id}")

    def band_for(self, balance_minor: int, currency: str) -> str:
        for band in self.balance_bands:
            if band.contains(balance_minor, currency):
                return band.name
        return "any"

    def decide(self, profile: SegmentationProfile) -> StrategyDecision:
        band = self.band_for(profile.balance_minor, profile.currency)
        rule = next(r for r in self.rules if r.matches(profile, band))
        strategy = self.strategies[rule.strategy_id]
        if strategy.experiment is None:
            return StrategyDecision(rule.segment, strategy, None, None, self.version)
        arm = strategy.experiment.arm_for(profile.case_id, self.stopped_in(strategy.experiment.id))
        return StrategyDecision(
            rule.segment, self.strategies[arm.strategy_id], strategy.experiment.id, arm.name, self.version
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Segmentation:
        try:
            strategies = {sid: _strategy(sid, body) for sid, body in dict(data["strategies"]).items()}
            rules = tuple(_rule(r) for r in data["segments"])
            bands = tuple(
                BalanceBand(
                    str(b["name"]),
                    None
                    if b.get("upper_minor") is None
                    else {str(k): int(v) for k, v in b["upper_minor"].items()},
                )
                for b in data.get("balance_bands", [])
            )
            return cls(version=int(data["version"]), rules=rules, strategies=strategies, balance_bands=bands)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, PolicyError):
                raise
            raise PolicyError(f"invalid segmentation configuration: {exc!r}") from exc


def _strategy(strategy_id: str, body: Mapping[str, Any]) -> Strategy:
    steps = tuple(
        TreatmentStep(int(s["day"]), Channel(s["channel"]), str(s["template"])) for s in body.get("steps", [])
    )
    if [s.day_offset for s in steps] != sorted(s.day_offset for s in steps):
        raise PolicyError(f"strategy {strategy_id}: steps must be in day order")
    experiment = None
    if (exp := body.get("experiment")) is not None:
        arms = tuple(
            Arm(
                str(a["arm"]),
                round(float(a["percent"]) * 100),
                str(a.get("strategy", strategy_id)),
            )
            for a in exp["arms"]
        )
        if len(arms) < 2 or len({a.name for a in arms}) != len(arms):
            raise PolicyError(f"experiment of {strategy_id}: at least two arms, each named once")
        experiment = Experiment(
            str(exp["id"]),
            arms,
            ExperimentTest.from_mapping(exp.get("test") or {}, f"experiment {exp['id']}"),
        )
    order = str(body.get("worklist_order", "policy"))
    if order not in WORKLIST_ORDERS:
        raise PolicyError(
            f"strategy {strategy_id}: worklist_order {order!r} is not one of {sorted(WORKLIST_ORDERS)}"
        )
    return Strategy(strategy_id, int(body["version"]), steps, experiment, order)


def _rule(body: Mapping[str, Any]) -> SegmentRule:
    when: Mapping[str, Any] = body.get("when") or {}

    def names(key: str) -> frozenset[str]:
        values: Sequence[Any] = when.get(key) or ()
        return frozenset(str(v) for v in values)

    return SegmentRule(
        segment=str(body["id"]),
        strategy_id=str(body["strategy"]),
        buckets=names("buckets"),
        balance_bands=names("balance_bands"),
        products=names("products"),
        jurisdictions=names("jurisdictions"),
        risk_score_min=None if when.get("risk_score_min") is None else int(when["risk_score_min"]),
        risk_score_max=None if when.get("risk_score_max") is None else int(when["risk_score_max"]),
    )
