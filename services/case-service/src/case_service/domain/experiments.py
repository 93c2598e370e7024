"""Champion/challenger experiments judged honestly: intention to treat, intervals, an always-valid test
and harm guards.

- **Intention to treat.** A case counts in the arm it was first given in the experiment, whatever
  happens to it after (re-segmented into pre-legal, moved off a stopped arm, closed): leaving an arm
  is an outcome of its treatment, not a reason to drop the case from it.
- **Intervals.** A share of cases (right-party contact, cure, a harm) gets a Wilson interval; the
  recovery rate (recovered / placed, per currency) is a ratio of sums with a delta-method interval.
- **Always valid.** Each challenger's difference from the champion is tested with a mixture
  sequential probability ratio test (Johari, Pekelis and Walsh, "Always valid inference", 2017): a
  normal mixture N(0, tau^2) over the difference gives the likelihood ratio

      Lambda = sqrt(v / (v + tau^2)) * exp(tau^2 * d^2 / (2 v (v + tau^2)))

  for an estimate d with variance v. By Ville's inequality the chance that Lambda ever reaches 1/alpha
  when there is no difference is at most alpha, however often it is looked at, so a manager may read
  the figures every day. Inverting it gives the confidence sequence, an interval valid at every look.
- **Harm guards.** A guard is a share of cases with a harm (complaints, disputes, holds, gate refusals,
  harm to customers flagged vulnerable); a challenger whose interval for the difference lies wholly
  above the guard's `max_increase` is worse beyond its threshold, and is stopped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from case_service.domain.errors import PolicyError

GUARDS = ("complaints", "disputes", "holds", "gate_refusals", "vulnerable_harm")
"""What the guards watch: a case counts once it has one such event since its enrolment.
`vulnerable_harm`: a complaint, dispute, hold or refusal on a case flagged vulnerable."""

Z_95 = 1.959963984540054


@dataclass(frozen=True)
class Guard:
    name: str
    max_increase: float  # the challenger's share may exceed the champion's by this much (0..1)


@dataclass(frozen=True)
class ExperimentTest:
    """How an experiment is judged: the error rate and mixing scale of the sequential test, the
    guards' own error rate (looser: a harm is stopped on less evidence than a win is declared),
    and the cases an arm needs before anything is concluded."""

    alpha: float = 0.05
    tau: float = 0.05
    guard_alpha: float = 0.10
    min_cases: int = 30
    guards: tuple[Guard, ...] = field(
        default_factory=lambda: tuple(Guard(g, 0.0 if g == "vulnerable_harm" else 0.02) for g in GUARDS)
    )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str) -> ExperimentTest:
        default = cls()
        alpha = float(data.get("alpha", default.alpha))
        tau = float(data.get("tau", default.tau))
        guard_alpha = float(data.get("guard_alpha", default.guard_alpha))
        min_cases = int(data.get("min_cases", default.min_cases))
        for name, value in (("alpha", alpha), ("guard_alpha", guard_alpha)):
            if not 0 < value < 1:
                raise PolicyError(f"{where}: {name} {value} must be between 0 and 1")
        if not 0 < tau <= 1:
            raise PolicyError(f"{where}: tau {tau} must be in (0, 1]")
        if min_cases < 2:
            raise PolicyError(f"{where}: min_cases {min_cases} must be at least 2")
        given: Mapping[str, Any] = data.get("guards") or {}
        if unknown := set(given) - set(GUARDS):
            raise PolicyError(f"{where}: unknown guards {sorted(unknown)} (known: {', '.join(GUARDS)})")
        guards = []
        for guard in default.guards:
            spec = given.get(guard.name)
            if spec is False:
                continue  # a guard turned off for this experiment
            limit = guard.max_increase if spec is None else float((spec or {}).get("max_increase", 0))
            if not 0 <= limit <= 1:
                raise PolicyError(f"{where}: guard {guard.name} max_increase {limit} out of 0..1")
            guards.append(Guard(guard.name, limit))
        return cls(alpha, tau, guard_alpha, min_cases, tuple(guards))


# --- estimates ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """A rate with its variance and a 95 % interval (None when there is nothing to estimate)."""

    value: float | None
    variance: float
    n: int
    low: float | None
    high: float | None
    successes: int | None = None  # for a share: the count it is a share of


def share(successes: int, n: int) -> Estimate:
    """A share of `n` with the Wilson score interval (sound near 0 and 1 and for small n)."""
    if n == 0:
        return Estimate(None, 0.0, 0, None, None)
    p = successes / n
    z2 = Z_95 * Z_95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z_95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return Estimate(p, p * (1 - p) / n, n, max(0.0, centre - half), min(1.0, centre + half), successes)


def ratio(numerators: Sequence[int], denominators: Sequence[int]) -> Estimate:
    """sum(y) / sum(x) over cases, with the delta-method variance of a ratio estimator."""
    n = len(denominators)
    total_x = sum(denominators)
    if n == 0 or total_x <= 0:
        return Estimate(None, 0.0, n, None, None)
    r = sum(numerators) / total_x
    if n < 2:
        return Estimate(r, 0.0, n, None, None)
    mean_x = total_x / n
    residuals = [y - r * x for y, x in zip(numerators, denominators, strict=True)]
    variance = sum(e * e for e in residuals) / (n - 1) / (n * mean_x * mean_x)
    half = Z_95 * math.sqrt(variance)
    # a rate of money recovered is not below nothing unless reversals outweigh the payments
    low = max(0.0, r - half) if r >= 0 else r - half
    return Estimate(r, variance, n, low, r + half)


# --- the always-valid comparison ---------------------------------------------------------------------


def mixture_likelihood_ratio(difference: float, variance: float, tau: float) -> float:
    """The normal-mixture SPRT statistic for an estimated difference with the given variance."""
    if variance <= 0:
        return math.inf if difference != 0 else 1.0
    t2 = tau * tau
    exponent = t2 * difference * difference / (2 * variance * (variance + t2))
    return math.sqrt(variance / (variance + t2)) * math.exp(min(exponent, 700.0))


def confidence_sequence_half_width(variance: float, tau: float, alpha: float) -> float:
    """Half the width of the always-valid interval: the differences theta with
    Lambda(d - theta) < 1/alpha."""
    if variance <= 0:
        return 0.0
    t2 = tau * tau
    return math.sqrt(
        2 * variance * (variance + t2) / t2 * math.log(math.sqrt((variance + t2) / variance) / alpha)
    )


@dataclass(frozen=True)
class Comparison:
    """A challenger's rate minus the champion's, with its always-valid interval and p-value."""

    difference: float | None
    low: float | None
    high: float | None
    p_value: float | None
    verdict: str  # better, worse, no_difference_yet, too_few_cases


def compare(
    champion: Estimate, challenger: Estimate, test: ExperimentTest, *, alpha: float | None = None
) -> Comparison:
    alpha = test.alpha if alpha is None else alpha
    if champion.value is None or challenger.value is None or min(champion.n, challenger.n) < test.min_cases:
        return Comparison(None, None, None, None, "too_few_cases")
    d = challenger.value - champion.value
    if champion.successes is not None and challenger.successes is not None:
        # two shares: the pooled variance, as a test of no difference has it (the arms' own
        # variances are near nothing while an event is rare, and would conclude on noise)
        pooled = (champion.successes + challenger.successes) / (champion.n + challenger.n)
        v = pooled * (1 - pooled) * (1 / champion.n + 1 / challenger.n)
    else:
        v = champion.variance + challenger.variance
    if v <= 0:  # both arms all-or-nothing: nothing varies, nothing can be concluded
        return Comparison(d, d, d, 1.0, "no_difference_yet")
    half = confidence_sequence_half_width(v, test.tau, alpha)
    p = min(1.0, 1.0 / mixture_likelihood_ratio(d, v, test.tau))
    verdict = "better" if d - half > 0 else "worse" if d + half < 0 else "no_difference_yet"
    return Comparison(d, d - half, d + half, p, verdict)


# --- an experiment's figures ----------------------------------------------------------------------


@dataclass(frozen=True)
class EnrolledCase:
    """One case as the experiment sees it, from its enrolment to the end of the period."""

    arm: str
    currency: str
    placed_minor: int
    recovered_minor: int
    right_party_contact: bool
    cured: bool
    promises_kept: int
    promises_broken: int
    harms: frozenset[str]  # the guards this case has an event for


@dataclass(frozen=True)
class GuardStatus:
    guard: str
    max_increase: float
    champion: Estimate
    challenger: Estimate
    comparison: Comparison
    breached: bool


@dataclass(frozen=True)
class ArmFigures:
    arm: str
    cases: int
    recovery: Mapping[str, Estimate]  # per currency
    right_party_contact: Estimate
    cure: Estimate
    promise_kept: Estimate
    harms: Mapping[str, Estimate]


def _figures(arm: str, cases: Sequence[EnrolledCase], guards: Sequence[str]) -> ArmFigures:
    currencies = sorted({c.currency for c in cases})
    kept = sum(c.promises_kept for c in cases)
    settled = kept + sum(c.promises_broken for c in cases)
    return ArmFigures(
        arm=arm,
        cases=len(cases),
        recovery={
            cur: ratio(
                [c.recovered_minor for c in cases if c.currency == cur],
                [c.placed_minor for c in cases if c.currency == cur],
            )
            for cur in currencies
        },
        right_party_contact=share(sum(c.right_party_contact for c in cases), len(cases)),
        cure=share(sum(c.cured for c in cases), len(cases)),
        promise_kept=share(kept, settled),
        harms={g: share(sum(g in c.harms for c in cases), len(cases)) for g in guards},
    )


@dataclass(frozen=True)
class ChallengerReport:
    arm: str
    recovery: Mapping[str, Comparison]
    right_party_contact: Comparison
    cure: Comparison
    promise_kept: Comparison
    guards: tuple[GuardStatus, ...]

    @property
    def breached(self) -> GuardStatus | None:
        return next((g for g in self.guards if g.breached), None)


@dataclass(frozen=True)
class ExperimentReport:
    experiment_id: str
    champion_arm: str
    arms: tuple[ArmFigures, ...]
    challengers: tuple[ChallengerReport, ...]


def evaluate(
    experiment_id: str, arm_names: Sequence[str], cases: Sequence[EnrolledCase], test: ExperimentTest
) -> ExperimentReport:
    """The experiment's figures per arm, each challenger against the champion (the first arm), and
    the guards' status."""
    guard_names = [g.name for g in test.guards]
    by_arm: dict[str, list[EnrolledCase]] = {a: [] for a in arm_names}
    for case in cases:
        by_arm.setdefault(case.arm, []).append(case)
    figures = {a: _figures(a, by_arm[a], guard_names) for a in by_arm}
    champion = figures[arm_names[0]]
    challengers = []
    for arm in list(by_arm)[1:]:
        mine = figures[arm]
        guards = []
        for guard in test.guards:
            comparison = compare(
                champion.harms[guard.name], mine.harms[guard.name], test, alpha=test.guard_alpha
            )
            breached = comparison.low is not None and comparison.low > guard.max_increase
            guards.append(
                GuardStatus(
                    guard.name,
                    guard.max_increase,
                    champion.harms[guard.name],
                    mine.harms[guard.name],
                    comparison,
                    breached,
                )
            )
        challengers.append(
            ChallengerReport(
                arm=arm,
                recovery={
                    cur: compare(champion.recovery[cur], est, test)
                    for cur, est in mine.recovery.items()
                    if cur in champion.recovery
                },
                right_party_contact=compare(champion.right_party_contact, mine.right_party_contact, test),
                cure=compare(champion.cure, mine.cure, test),
                promise_kept=compare(champion.promise_kept, mine.promise_kept, test),
                guards=tuple(guards),
            )
        )
    return ExperimentReport(experiment_id, arm_names[0], tuple(figures.values()), tuple(challengers))
