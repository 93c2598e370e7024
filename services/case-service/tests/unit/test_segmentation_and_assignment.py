"""Segmentation rules, the champion/challenger split, buckets, and assignment policies."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from case_service.domain.ageing import AgeingPolicy, Bucket
from case_service.domain.assignment import (
    AssignmentPolicy,
    Candidate,
    CaseProfile,
    Qualification,
    StaffMember,
    check_direct,
    choose,
)
from case_service.domain.errors import (
    AssigneeAtCapacity,
    AssigneeNotQualified,
    NoQualifiedAssignee,
    PolicyError,
)
from case_service.domain.policy import CollectionPolicy
from case_service.domain.segmentation import Segmentation, SegmentationProfile, split_slot
from dcp_events.catalogue.enums import AssigneeKind, Stage

TODAY = date(2026, 11, 30)


def profile(case_id: str = "c", **kw: object) -> SegmentationProfile:
    values: dict[str, object] = {
        "case_id": case_id,
        "bucket": "1-30",
        "balance_minor": 100_000,
        "currency": "GBP",
        "product": "credit_card",
        "jurisdiction": "GB",
        "risk_score": 100,
    }
    values.update(kw)
    return SegmentationProfile(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("dpd", "bucket"),
    [
        (0, "current"),
        (1, "1-30"),
        (30, "1-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "91-180"),
        (180, "91-180"),
        (181, "181+"),
        (5000, "181+"),
    ],
)
def test_default_buckets(policy: CollectionPolicy, dpd: int, bucket: str) -> None:
    assert policy.ageing.bucket_for(dpd) == bucket


def test_buckets_and_thresholds_are_configurable_and_checked() -> None:
    ageing = AgeingPolicy(
        buckets=(Bucket("early", 1, 14), Bucket("late", 15, None)), stage_thresholds={Stage.LATE: 15}
    )
    assert ageing.bucket_for(14) == "early" and ageing.stage_for(15) is Stage.LATE
    assert ageing.next_change_on(date(2026, 11, 1), date(2026, 11, 5)) == date(2026, 11, 16)
    with pytest.raises(PolicyError):
        AgeingPolicy(buckets=(Bucket("a", 1, 10), Bucket("b", 12, None)))
    with pytest.raises(PolicyError):
        AgeingPolicy(stage_thresholds={Stage.LATE: 90, Stage.LEGAL: 30})


def test_segmentation_rules_pick_the_first_match(policy: CollectionPolicy) -> None:
    seg = policy.segmentation
    assert seg.decide(profile(bucket="91-180", balance_minor=600_000)).segment == "legal-review"
    assert seg.decide(profile(risk_score=800)).segment == "high-risk"
    assert seg.decide(profile(balance_minor=10_000)).segment == "early-low-balance"
    assert seg.decide(profile(balance_minor=10_000)).strategy.id == "digital-first"
    assert seg.decide(profile(risk_score=None)).segment == "default"
    # balance bands are per currency: 100,000 yen is a low balance
    assert seg.decide(profile(balance_minor=100_000, currency="JPY")).segment == "early-low-balance"


def test_the_split_is_stable_and_close_to_the_configured_percentages(policy: CollectionPolicy) -> None:
    seg = policy.segmentation
    ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"case-{n}")) for n in range(10_000)]
    arms = [seg.decide(profile(case_id)).arm for case_id in ids]
    assert arms == [seg.decide(profile(case_id)).arm for case_id in ids]  # stable
    share = arms.count("challenger-a") / len(arms)
    assert 0.18 <= share <= 0.22  # configured 20 %
    decision = seg.decide(profile(next(i for i, a in zip(ids, arms, strict=True) if a == "challenger-a")))
    assert (decision.strategy.id, decision.experiment_id) == ("sms-first", "standard-vs-sms-first-2026q4")
    assert split_slot("exp", "case") == split_slot("exp", "case") and 0 <= split_slot("exp", "case") < 10_000


def test_a_rule_set_without_a_default_or_with_bad_arms_is_refused() -> None:
    base = {
        "version": 1,
        "strategies": {"s": {"version": 1, "steps": [{"day": 0, "channel": "letter", "template": "t"}]}},
        "segments": [{"id": "only", "when": {"buckets": ["1-30"]}, "strategy": "s"}],
    }
    with pytest.raises(PolicyError, match="default"):
        Segmentation.from_mapping(base)
    bad_arms = {
        **base,
        "segments": [{"id": "all", "strategy": "s"}],
        "strategies": {
            "s": {
                "version": 1,
                "experiment": {"id": "e", "arms": [{"arm": "a", "percent": 60}, {"arm": "b", "percent": 30}]},
            }
        },
    }
    with pytest.raises(PolicyError, match="100"):
        Segmentation.from_mapping(bad_arms)


def collector(
    staff_id: str,
    *,
    team: str = "t",
    capacity: int = 5,
    languages: tuple[str, ...] = ("en",),
    expires: date | None = None,
) -> StaffMember:
    return StaffMember(
        kind=AssigneeKind.COLLECTOR,
        id=staff_id,
        capacity=capacity,
        team=team,
        qualifications=(Qualification(frozenset({"GB"}), frozenset(languages), expires_on=expires),),
    )


CASE = CaseProfile("GB", "en-GB")


def test_least_loaded_picks_the_lowest_utilisation_among_the_qualified() -> None:
    pool = [
        Candidate(collector("a"), 4),
        Candidate(collector("b"), 1),
        Candidate(collector("c", languages=("fr",)), 0),  # not qualified for English
        Candidate(collector("d", expires=TODAY - timedelta(days=1)), 0),  # qualification expired
    ]
    assert choose(AssignmentPolicy.LEAST_LOADED, CASE, pool, TODAY).id == "b"


def test_round_robin_cycles_through_the_team_skipping_full_and_unqualified() -> None:
    pool = [
        Candidate(collector("a"), 0),
        Candidate(collector("b"), 5),  # full
        Candidate(collector("c"), 0),
        Candidate(collector("x", team="other"), 0),
    ]
    first = choose(AssignmentPolicy.ROUND_ROBIN, CASE, pool, TODAY, team="t")
    second = choose(AssignmentPolicy.ROUND_ROBIN, CASE, pool, TODAY, team="t", last_assigned_in_team=first.id)
    third = choose(AssignmentPolicy.ROUND_ROBIN, CASE, pool, TODAY, team="t", last_assigned_in_team=second.id)
    assert [first.id, second.id, third.id] == ["a", "c", "a"]


def test_no_one_qualified_is_an_error_never_a_wrong_assignment() -> None:
    pool = [Candidate(collector("a", expires=TODAY - timedelta(days=1)), 0)]
    with pytest.raises(NoQualifiedAssignee):
        choose(AssignmentPolicy.LEAST_LOADED, CASE, pool, TODAY)
    with pytest.raises(NoQualifiedAssignee):
        choose(AssignmentPolicy.AGENCY, CASE, pool, TODAY)
    assert (
        choose(AssignmentPolicy.LEAST_LOADED, CASE, [Candidate(collector("a", expires=TODAY), 0)], TODAY).id
        == "a"
    )


def test_direct_assignment_checks_qualification_and_capacity() -> None:
    with pytest.raises(AssigneeNotQualified):
        check_direct(Candidate(collector("a", languages=("de",)), 0), CASE, TODAY, "r")
    with pytest.raises(AssigneeAtCapacity):
        check_direct(Candidate(collector("a", capacity=2), 2), CASE, TODAY, "r")
    assert check_direct(Candidate(collector("a"), 0), CASE, TODAY, "r").policy is AssignmentPolicy.DIRECT
