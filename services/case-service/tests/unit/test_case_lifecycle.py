"""Every transition of the Case aggregate, allowed and refused."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from case_service.domain.case import Case, Freeze
from case_service.domain.errors import (
    CaseClosedError,
    ChargesFrozen,
    CloseNotAllowed,
    CurrencyMismatch,
    EscalationBlockedByHold,
    HoldConflict,
    HoldNotFound,
    InvalidPlacement,
    NotWithAgency,
    StageTransitionNotAllowed,
)
from case_service.domain.policy import CollectionPolicy
from dcp_events.catalogue.base import CaseAmounts, Money
from dcp_events.catalogue.cases import (
    CaseAssigned,
    CaseBalanceChanged,
    CaseBucketChanged,
    CaseChargeFrozen,
    CaseClosed,
    CaseHoldPlaced,
    CaseHoldReleased,
    CaseOpened,
    CaseRefundDue,
    CaseReopened,
    CaseStageChanged,
    CaseStrategyAssigned,
)
from dcp_events.catalogue.enums import AssigneeKind, BalanceChangeReason, CloseReason, HoldType, Stage

from .conftest import TODAY, gbp, new_case

NOW = datetime(2026, 11, 30, 10, tzinfo=UTC)


def types(events: list[object]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_opening_records_opened_bucket_and_strategy(policy: CollectionPolicy) -> None:
    case = Case.open(
        "c-1",
        debtor=new_case(policy).debtor,  # type: ignore[arg-type]
        account=new_case(policy).account,  # type: ignore[arg-type]
        amounts=new_case(policy).amounts_at_placement,  # type: ignore[arg-type]
        due_since=date(2026, 11, 10),
        jurisdiction="GB",
        risk_score=None,
        placement_id="p-1",
        today=TODAY,
        policy=policy,
    )
    changes = case.pull_changes()
    assert types(changes) == [
        "CaseOpened",
        "CaseBucketChanged",
        "CaseLimitationDated",
        "CaseStrategyAssigned",
    ]
    assert isinstance(changes[0], CaseOpened) and changes[0].days_past_due == 20
    assert isinstance(changes[1], CaseBucketChanged) and changes[1].to_bucket == "1-30"
    assert isinstance(changes[3], CaseStrategyAssigned) and changes[3].ruleset_version == policy.version
    assert (case.status, case.stage) == ("open", Stage.EARLY)


def test_a_case_placed_past_a_threshold_starts_at_that_stage(policy: CollectionPolicy) -> None:
    case = new_case(policy, due_since=TODAY - timedelta(days=95))
    assert (case.bucket, case.stage) == ("91-180", Stage.LEGAL)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"due_since": TODAY + timedelta(days=1)}, "future"),
        ({"due_since": TODAY}, "not past due"),
        ({"balance": 0}, "nothing is owed"),
    ],
)
def test_invalid_placements_are_refused(
    policy: CollectionPolicy, change: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidPlacement, match=message):
        new_case(policy, **change)  # type: ignore[arg-type]


def test_ageing_moves_the_bucket_re_segments_and_escalates_by_threshold(policy: CollectionPolicy) -> None:
    case = new_case(policy, due_since=date(2026, 11, 10))
    case.age(date(2026, 12, 11), policy)  # 31 DPD
    changes = case.pull_changes()
    assert "CaseBucketChanged" in types(changes) and "CaseStageChanged" in types(changes)
    assert (case.bucket, case.stage) == ("31-60", Stage.LATE)
    case.age(date(2026, 12, 11), policy)
    assert case.pull_changes() == []  # nothing new the same day


def test_ageing_across_month_ends_counts_calendar_days(policy: CollectionPolicy) -> None:
    case = new_case(policy, due_since=date(2026, 1, 31), today=date(2026, 2, 1))
    assert case.days_past_due(date(2026, 3, 2)) == 30  # February has 28 days
    case.age(date(2026, 3, 2), policy)
    assert case.bucket == "1-30"
    case.age(date(2026, 3, 3), policy)
    assert (case.bucket, case.stage) == ("31-60", Stage.LATE)
    case.age(date(2026, 5, 2), policy)  # 91 DPD across March and April
    assert (case.bucket, case.stage) == ("91-180", Stage.LEGAL)


def test_a_hold_that_forbids_escalation_holds_back_ageing_until_released(policy: CollectionPolicy) -> None:
    case = new_case(policy, due_since=date(2026, 11, 10))
    case.place_hold("h-1", HoldType.DISPUTE, reason="not mine", expires_at=None, now=NOW)
    case.age(date(2026, 12, 20), policy)
    assert case.stage is Stage.EARLY and case.bucket == "31-60"
    with pytest.raises(EscalationBlockedByHold):
        case.escalate(Stage.LEGAL, date(2026, 12, 20), "review")
    case.pull_changes()
    case.release_hold("h-1", "resolved", date(2026, 12, 20), policy)
    assert types(case.pull_changes()) == ["CaseHoldReleased", "CaseStageChanged"]
    assert case.stage is Stage.LATE


def test_a_cease_hold_stops_contact_not_escalation(policy: CollectionPolicy) -> None:
    case = new_case(policy)
    case.place_hold("h-1", HoldType.CEASE_COMMUNICATION, reason=None, expires_at=None, now=NOW)
    case.escalate(Stage.LATE, TODAY, "supervisor")
    assert case.stage is Stage.LATE


def test_holds_are_idempotent_by_id_and_checked(policy: CollectionPolicy) -> None:
    case = new_case(policy)
    assert case.place_hold("h-1", HoldType.BANKRUPTCY, reason=None, expires_at=None, now=NOW)
    assert not case.place_hold("h-1", HoldType.BANKRUPTCY, reason=None, expires_at=None, now=NOW)
    with pytest.raises(HoldConflict):
        case.place_hold("h-1", HoldType.DECEASED, reason=None, expires_at=None, now=NOW)
    with pytest.raises(HoldConflict, match="future"):
        case.place_hold(
            "h-2", HoldType.COMPLAINT, reason=None, expires_at=NOW - timedelta(seconds=1), now=NOW
        )
    with pytest.raises(HoldNotFound):
        case.release_hold("nope", "x", TODAY, policy)
    assert types(case.pull_changes()) == ["CaseHoldPlaced"]


def test_stages_move_only_forward_and_written_off_closes(policy: CollectionPolicy) -> None:
    case = new_case(policy)
    case.escalate(Stage.LEGAL, TODAY, "litigation approved")
    with pytest.raises(StageTransitionNotAllowed):
        case.escalate(Stage.LATE, TODAY, "back")
    with pytest.raises(StageTransitionNotAllowed):
        case.escalate(Stage.LEGAL, TODAY, "same")
    case.escalate(Stage.WRITTEN_OFF, TODAY, "uneconomic")
    changes = case.pull_changes()
    assert types(changes)[-2:] == ["CaseStageChanged", "CaseClosed"]
    assert isinstance(changes[-1], CaseClosed) and changes[-1].reason is CloseReason.WRITTEN_OFF


def test_payments_reduce_the_balance_and_zero_closes_paid_in_full(policy: CollectionPolicy) -> None:
    case = new_case(policy, balance=30_000)
    assert case.apply_payment("p-1", gbp(10_000))
    assert not case.apply_payment("p-1", gbp(10_000))  # the same payment twice
    assert case.reverse_payment("p-1", gbp(10_000))
    assert not case.reverse_payment("p-1", gbp(10_000))  # already reversed
    case.apply_payment("p-2", gbp(30_000))
    changes = case.pull_changes()
    balance_changes = [c for c in changes if isinstance(c, CaseBalanceChanged)]
    assert [c.change.delta_minor for c in balance_changes] == [-10_000, 10_000, -30_000]
    assert isinstance(changes[-1], CaseClosed) and changes[-1].reason is CloseReason.PAID_IN_FULL
    assert case.recovered_minor == 30_000


def test_a_foreign_currency_cannot_be_booked(policy: CollectionPolicy) -> None:
    case = new_case(policy, balance=30_000)
    with pytest.raises(CurrencyMismatch):
        case.apply_payment("p-1", Money(amount_minor=1, currency="EUR"))
    with pytest.raises(CurrencyMismatch):
        case.add_charge(BalanceChangeReason.FEE, Money(amount_minor=100, currency="USD"), None)
    assert case.pull_changes() == []


def parts(case: Case) -> tuple[int, int, int, int, int]:
    assert case.parts is not None
    p = case.parts
    return (p.principal, p.interest, p.fees, p.costs, p.credit)


def test_a_payment_is_split_by_the_waterfall_and_the_split_is_in_the_event(policy: CollectionPolicy) -> None:
    case = new_case(policy, balance=10_000)
    case.add_charge(BalanceChangeReason.INTEREST, gbp(500), "int-1")
    case.add_charge(BalanceChangeReason.FEE, gbp(300), "fee-1")
    case.add_charge(BalanceChangeReason.COSTS, gbp(200), "legal-1")
    case.pull_changes()
    case.apply_payment("p-1", gbp(700))  # costs -> fees -> interest -> principal
    [booked] = [c for c in case.pull_changes() if isinstance(c, CaseBalanceChanged)]
    assert [(a.part.value, a.delta_minor) for a in booked.allocation or []] == [
        ("costs", -200),
        ("fees", -300),
        ("interest", -200),
    ]
    assert booked.waterfall == "costs-fees-interest-principal"
    assert booked.parts_after is not None and booked.parts_after.interest == 300
    assert parts(case) == (10_000, 300, 0, 0, 0)
    assert case.balance == gbp(10_300)


def test_the_product_s_waterfall_wins_over_the_default(policy: CollectionPolicy) -> None:
    case = new_case(policy, balance=10_000, product="personal_loan")
    case.add_charge(BalanceChangeReason.FEE, gbp(300), "fee-1")
    case.add_charge(BalanceChangeReason.INTEREST, gbp(500), "int-1")
    waterfall = policy.allocations.for_account("acme", "personal_loan")
    case.apply_payment("p-1", gbp(1_000), waterfall)  # interest -> principal -> fees -> costs
    assert parts(case) == (9_500, 0, 300, 0, 0)


def test_an_over_payment_closes_paid_in_full_with_a_credit_due_back(policy: CollectionPolicy) -> None:
    case = new_case(policy, balance=5_000)
    case.apply_payment("p-1", gbp(7_000))
    changes = case.pull_changes()
    assert types(changes) == ["CaseBalanceChanged", "CaseRefundDue", "CaseClosed"]
    booked, refund, closed = changes
    assert isinstance(booked, CaseBalanceChanged) and booked.change.delta_minor == -5_000
    assert isinstance(refund, CaseRefundDue) and refund.amount == gbp(2_000) and refund.reference == "p-1"
    assert isinstance(closed, CaseClosed) and closed.reason is CloseReason.PAID_IN_FULL
    assert parts(case) == (0, 0, 0, 0, 2_000)
    assert case.recovered_minor == 7_000
    # paid again after closing: all of it is credit, the case stays closed
    case.apply_payment("p-2", gbp(100))
    assert types(case.pull_changes()) == ["CaseBalanceChanged", "CaseRefundDue"]
    assert (case.status, parts(case)) == ("closed", (0, 0, 0, 0, 2_100))


def test_reversing_the_closing_payment_reopens_the_case_with_the_balance_in_its_part(
    policy: CollectionPolicy,
) -> None:
    case = new_case(policy, balance=5_000)
    case.add_charge(BalanceChangeReason.FEE, gbp(1), "fee-1")
    case.apply_payment("p-1", gbp(5_000))  # the fee first, then 4,999 of principal
    case.apply_payment("p-2", gbp(1))
    assert case.status == "closed"
    case.pull_changes()
    case.reverse_payment("p-2", gbp(1))
    changes = case.pull_changes()
    assert types(changes) == ["CaseReopened", "CaseBalanceChanged"]
    reopened, booked = changes
    assert isinstance(reopened, CaseReopened) and reopened.previous_close_reason is CloseReason.PAID_IN_FULL
    assert isinstance(booked, CaseBalanceChanged) and booked.balance_after == gbp(1)
    assert (case.status, parts(case)) == ("open", (1, 0, 0, 0, 0))
    case.reverse_payment("p-1", gbp(5_000))
    assert parts(case) == (5_000, 0, 1, 0, 0)  # the fee it paid is owed again as a fee


def test_a_reversal_of_an_over_payment_takes_back_the_credit_first(policy: CollectionPolicy) -> None:
    case = new_case(policy, balance=5_000)
    case.apply_payment("p-1", gbp(7_000))
    case.reverse_payment("p-1", gbp(7_000))
    assert (case.status, parts(case)) == ("open", (5_000, 0, 0, 0, 0))


def test_a_payment_after_write_off_is_a_recovery_and_the_case_stays_written_off(
    policy: CollectionPolicy,
) -> None:
    case = new_case(policy, balance=5_000)
    case.close(CloseReason.WRITTEN_OFF, "uncollectable", TODAY)
    case.pull_changes()
    case.apply_payment("p-1", gbp(2_000))
    [booked] = case.pull_changes()
    assert isinstance(booked, CaseBalanceChanged) and booked.written_off
    assert (case.status, case.close_reason, case.balance) == ("closed", CloseReason.WRITTEN_OFF, gbp(3_000))
    assert case.recovered_after_write_off_minor == 2_000
    case.reverse_payment("p-1", gbp(2_000))
    assert (case.status, case.balance, case.recovered_after_write_off_minor) == ("closed", gbp(5_000), 0)


def test_a_settlement_closes_as_settled_once_paid_with_the_rest_waived(policy: CollectionPolicy) -> None:
    case = new_case(policy, balance=50_000)
    with pytest.raises(CloseNotAllowed):
        case.close(CloseReason.SETTLED, None, TODAY)
    case.record_settlement("s-1", gbp(30_000), TODAY + timedelta(days=10))
    case.apply_payment("p-1", gbp(30_000))
    case.settlement_paid("s-1", gbp(30_000), TODAY + timedelta(days=10))
    changes = case.pull_changes()
    waiver = [c for c in changes if isinstance(c, CaseBalanceChanged)][-1]
    assert waiver.reason is BalanceChangeReason.WAIVER and waiver.change.delta_minor == -20_000
    assert isinstance(changes[-1], CaseClosed) and changes[-1].reason is CloseReason.SETTLED


def test_a_lapsed_settlement_no_longer_closes_as_settled(policy: CollectionPolicy) -> None:
    case = new_case(policy, balance=50_000)
    case.record_settlement("s-1", gbp(30_000), TODAY)
    case.record_settlement("s-1", gbp(30_000), TODAY, lapsed=True)
    case.apply_payment("p-1", gbp(50_000))
    assert case.close_reason is CloseReason.PAID_IN_FULL


def test_closing_rules(policy: CollectionPolicy) -> None:
    case = new_case(policy)
    with pytest.raises(CloseNotAllowed):
        case.close(CloseReason.PAID_IN_FULL, None, TODAY)
    case.place_hold("h", HoldType.DECEASED, reason=None, expires_at=None, now=NOW)
    with pytest.raises(EscalationBlockedByHold):
        case.close(CloseReason.WRITTEN_OFF, None, TODAY)
    case.close(CloseReason.RECALLED, "sold", TODAY)
    assert case.status == "closed" and case.holds == {}
    with pytest.raises(CaseClosedError):
        case.close(CloseReason.RECALLED, None, TODAY)
    with pytest.raises(CaseClosedError):
        case.place_hold("h2", HoldType.COMPLAINT, reason=None, expires_at=None, now=NOW)
    with pytest.raises(CaseClosedError):
        case.escalate(Stage.LATE, TODAY, "x")


def test_a_case_that_becomes_current_is_cured_back_to_early(policy: CollectionPolicy) -> None:
    case = new_case(policy, due_since=TODAY - timedelta(days=40))
    assert case.stage is Stage.LATE
    case.redate(None, TODAY, policy, "creditor reports the account current")
    changes = case.pull_changes()
    assert isinstance(changes[0], CaseBucketChanged) and changes[0].to_bucket == "current"
    assert isinstance(changes[1], CaseStageChanged) and changes[1].to_stage is Stage.EARLY
    assert case.is_open and case.next_ageing_on(TODAY, policy) is None


def test_assignment_records_who_and_why_and_recall_needs_an_agency(policy: CollectionPolicy) -> None:
    case = new_case(policy)
    with pytest.raises(NotWithAgency):
        case.require_with_agency()
    assert case.assign(AssigneeKind.AGENCY, "ag-1", "legal stage", "agency_at_stage")
    assert not case.assign(AssigneeKind.AGENCY, "ag-1", "again", "direct")
    case.require_with_agency()
    case.assign(AssigneeKind.COLLECTOR, "col-1", "recalled", "recall")
    changes = [c for c in case.pull_changes() if isinstance(c, CaseAssigned)]
    assert changes[-1].previous_assignee is not None and changes[-1].previous_assignee.id == "ag-1"
    assert changes[-1].policy == "recall"


def test_the_aggregate_rebuilt_from_its_events_equals_the_live_one(policy: CollectionPolicy) -> None:
    case = Case.open(
        "c-r",
        debtor=new_case(policy).debtor,  # type: ignore[arg-type]
        account=new_case(policy).account,  # type: ignore[arg-type]
        amounts=new_case(policy, balance=9_000).amounts_at_placement,  # type: ignore[arg-type]
        due_since=date(2026, 11, 1),
        jurisdiction="GB",
        risk_score=10,
        placement_id=None,
        today=TODAY,
        policy=policy,
    )
    case.place_hold("h", HoldType.COMPLAINT, reason="r", expires_at=NOW + timedelta(days=1), now=NOW)
    case.apply_payment("p", gbp(1_000))
    history = case.pull_changes()
    rebuilt = Case.from_events("c-r", history)
    assert rebuilt.version == len(history)
    assert (rebuilt.balance, rebuilt.bucket, rebuilt.stage, rebuilt.holds) == (
        case.balance,
        case.bucket,
        case.stage,
        case.holds,
    )
    assert isinstance(history[4], CaseHoldPlaced) and not isinstance(history[4], CaseHoldReleased)


def test_a_plan_being_paid_pauses_escalation_and_a_broken_plan_resumes_it(policy: CollectionPolicy) -> None:
    case = new_case(policy, due_since=TODAY - timedelta(days=80))
    assert case.stage is Stage.LATE
    case.arrangement_started("plan", "plan-1", None)
    case.pull_changes()
    later = TODAY + timedelta(days=15)  # 95 days past due: legal, were it not for the plan
    case.age(later, policy)
    assert case.stage is Stage.LATE
    assert not [e for e in case.pull_changes() if isinstance(e, CaseStageChanged)]

    case.arrangement_ended("plan", "plan-1", "broken", later, policy)
    changes = case.pull_changes()
    assert types(changes) == ["CaseArrangementChanged", "CaseStrategyAssigned", "CaseStageChanged"]
    assert isinstance(changes[-1], CaseStageChanged) and changes[-1].to_stage is Stage.LEGAL


def test_a_promise_pauses_escalation_only_until_it_is_due(policy: CollectionPolicy) -> None:
    case = new_case(policy, due_since=TODAY - timedelta(days=85))
    case.arrangement_started("promise", "pr-1", TODAY + timedelta(days=10))
    case.age(TODAY + timedelta(days=8), policy)  # 93 days past due, the promise not yet due
    assert case.stage is Stage.LATE
    case.age(TODAY + timedelta(days=11), policy)  # the promise's due date passed
    assert case.stage is Stage.LEGAL


def test_a_kept_promise_or_a_completed_plan_ends_the_pause(policy: CollectionPolicy) -> None:
    case = new_case(policy, due_since=TODAY - timedelta(days=85))
    case.arrangement_started("plan", "plan-1", None)
    assert not case.arrangement_started("plan", "plan-1", None)  # the same fact twice
    case.arrangement_ended("plan", "plan-1", "completed", TODAY, policy)
    case.age(TODAY + timedelta(days=8), policy)
    assert case.stage is Stage.LEGAL


BREATHING_SPACE = Freeze("GB-BS-STANDARD", "Debt Respite Scheme Regulations 2020", HoldType.BREATHING_SPACE)


def test_a_freeze_refuses_a_charge_and_keeps_a_restated_increase_out_of_the_balance(
    policy: CollectionPolicy,
) -> None:
    case = new_case(policy, balance=10_000)
    with pytest.raises(ChargesFrozen) as refused:
        case.add_charge(BalanceChangeReason.INTEREST, gbp(250), "int-1", BREATHING_SPACE)
    assert refused.value.problem_members()["rule_id"] == "GB-BS-STANDARD"
    assert case.pull_changes() == []

    # the creditor restates principal down by 1,000 and adds 400 of interest: only the decrease applies
    restated = CaseAmounts(principal=gbp(9_000), interest=gbp(400), fees=gbp(0), total_balance=gbp(9_400))
    case.restate(restated, "upd-1", BREATHING_SPACE)
    frozen, booked = case.pull_changes()
    assert isinstance(frozen, CaseChargeFrozen) and frozen.amount == gbp(400)
    assert frozen.rule_id == "GB-BS-STANDARD" and frozen.hold_type is HoldType.BREATHING_SPACE
    assert isinstance(booked, CaseBalanceChanged) and booked.change.delta_minor == -1_000
    assert parts(case) == (9_000, 0, 0, 0, 0)
