"""The experiment statistics: intervals, the always-valid sequential test (its false-stop rate over a
fixed set of seeds, its power), the harm guards, and the policy that configures them."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from case_service.domain.errors import PolicyError
from case_service.domain.experiments import (
    EnrolledCase,
    ExperimentTest,
    compare,
    confidence_sequence_half_width,
    evaluate,
    mixture_likelihood_ratio,
    ratio,
    share,
)
from case_service.domain.segmentation import Segmentation, SegmentationProfile

SEEDS = range(400)
"""The fixed seed set of the statistical tests: the figures below are exact for it."""


def _stops_falsely_or_truly(seed: int, rate_a: float, rate_b: float, days: int = 90) -> bool:
    """Twenty cases a day, a fifth to the challenger, each with an outcome; the manager looks every
    day and stops at the first verdict."""
    rng = random.Random(seed)
    test = ExperimentTest()
    n_a = n_b = s_a = s_b = 0
    for _day in range(days):
        for _ in range(20):
            if rng.random() < 0.2:
                n_b += 1
                s_b += rng.random() < rate_b
            else:
                n_a += 1
                s_a += rng.random() < rate_a
        if compare(share(s_a, n_a), share(s_b, n_b), test).verdict in ("better", "worse"):
            return True
    return False


@pytest.mark.parametrize("rate", [0.02, 0.2, 0.5])
def test_looking_every_day_at_arms_with_no_difference_stops_falsely_at_most_at_the_nominal_rate(
    rate: float,
) -> None:
    false_stops = sum(_stops_falsely_or_truly(seed, rate, rate) for seed in SEEDS)
    assert false_stops / len(SEEDS) <= ExperimentTest().alpha, false_stops


def test_a_naive_daily_look_at_a_fixed_sample_interval_would_stop_falsely_far_more_often() -> None:
    """Why the sequential test: the same daily looks with a 95 % fixed-sample interval."""

    def naive(seed: int) -> bool:
        rng = random.Random(seed)
        n_a = n_b = s_a = s_b = 0
        for _day in range(90):
            for _ in range(20):
                if rng.random() < 0.2:
                    n_b, s_b = n_b + 1, s_b + (rng.random() < 0.2)
                else:
                    n_a, s_a = n_a + 1, s_a + (rng.random() < 0.2)
            if n_a >= 30 and n_b >= 30:
                a, b = share(s_a, n_a), share(s_b, n_b)
                assert a.value is not None and b.value is not None
                if abs(b.value - a.value) > 1.96 * math.sqrt(a.variance + b.variance):
                    return True
        return False

    assert sum(naive(seed) for seed in SEEDS[:200]) / 200 > 0.15


def test_a_real_difference_is_found() -> None:
    found = sum(_stops_falsely_or_truly(seed, 0.2, 0.3) for seed in SEEDS[:100])
    assert found >= 70, found


def test_recovery_rates_with_no_difference_stop_falsely_at_most_at_the_nominal_rate() -> None:
    def run(seed: int) -> bool:
        rng = random.Random(seed)
        arms: dict[str, tuple[list[int], list[int]]] = {"a": ([], []), "b": ([], [])}
        for _day in range(60):
            for _ in range(20):
                paid, placed = arms["b" if rng.random() < 0.2 else "a"]
                balance = rng.randint(10_000, 500_000)
                payment = int(balance * rng.random()) if rng.random() < 0.25 else 0
                paid.append(balance if rng.random() < 0.05 else payment)
                placed.append(balance)
            verdict = compare(ratio(*arms["a"]), ratio(*arms["b"]), ExperimentTest()).verdict
            if verdict in ("better", "worse"):
                return True
        return False

    assert sum(run(seed) for seed in SEEDS[:200]) / 200 <= ExperimentTest().alpha


def test_the_interval_is_where_the_likelihood_ratio_reaches_one_over_alpha() -> None:
    variance, tau, alpha = 0.0004, 0.05, 0.05
    half = confidence_sequence_half_width(variance, tau, alpha)
    assert mixture_likelihood_ratio(half, variance, tau) == pytest.approx(1 / alpha)
    assert mixture_likelihood_ratio(half * 0.99, variance, tau) < 1 / alpha


def test_wilson_interval_and_the_ratio_estimate() -> None:
    ten = share(10, 100)
    assert ten.value == 0.1
    assert (ten.low, ten.high) == (pytest.approx(0.0552, abs=1e-4), pytest.approx(0.1744, abs=1e-4))
    assert share(0, 0).value is None
    recovered = ratio([50, 0, 100], [100, 100, 100])
    assert (
        recovered.value == 0.5 and recovered.low is not None and recovered.low < 0.5 < (recovered.high or 0)
    )


def _case(arm: str, *harms: str) -> EnrolledCase:
    return EnrolledCase(arm, "GBP", 1000, 0, False, False, 0, 0, frozenset(harms))


def test_a_guard_is_breached_only_when_the_challenger_is_worse_beyond_its_margin() -> None:
    test = ExperimentTest(tau=0.5, min_cases=4)
    worse = [_case("champion") for _ in range(20)] + [_case("challenger", "complaints") for _ in range(20)]
    report = evaluate("e", ["champion", "challenger"], worse, test)
    [challenger] = report.challengers
    assert challenger.breached is not None and challenger.breached.guard == "complaints"
    same = [_case("champion", "complaints") for _ in range(20)] + [
        _case("challenger", "complaints") for _ in range(20)
    ]
    assert evaluate("e", ["champion", "challenger"], same, test).challengers[0].breached is None
    few = [_case("champion"), _case("challenger", "complaints")]
    assert evaluate("e", ["champion", "challenger"], few, test).challengers[0].breached is None
    # a margin of 100 % can never be exceeded
    lenient = ExperimentTest.from_mapping(
        {"tau": 0.5, "min_cases": 4, "guards": {"complaints": {"max_increase": 1}}}, "e"
    )
    assert evaluate("e", ["champion", "challenger"], worse, lenient).challengers[0].breached is None


def test_an_experiment_policy_is_checked_and_a_stopped_arm_gives_its_cases_to_the_champion() -> None:
    def policy(test: dict[str, object]) -> Segmentation:
        return Segmentation.from_mapping(
            {
                "version": 1,
                "segments": [{"id": "all", "strategy": "a"}],
                "strategies": {
                    "a": {
                        "version": 1,
                        "experiment": {
                            "id": "x",
                            "arms": [
                                {"arm": "champion", "percent": 50},
                                {"arm": "b", "percent": 50, "strategy": "b"},
                            ],
                            "test": test,
                        },
                    },
                    "b": {"version": 1},
                },
            }
        )

    with pytest.raises(PolicyError, match="unknown guards"):
        policy({"guards": {"weather": {"max_increase": 0.1}}})
    with pytest.raises(PolicyError, match="alpha"):
        policy({"alpha": 2})
    segmentation = policy({})

    def arms(s: Segmentation) -> set[str | None]:
        return {
            s.decide(SegmentationProfile(f"case-{n}", "1-30", 100, "GBP", "card", "GB", None)).arm
            for n in range(40)
        }

    assert arms(segmentation) == {"champion", "b"}
    assert arms(replace(segmentation, stopped_arms=frozenset({("x", "b")}))) == {"champion"}
