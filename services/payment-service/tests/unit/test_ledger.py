"""The case ledger's rules: applying and holding payments, promises, plans, settlements, reversals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from dcp_events import catalogue as ev
from payment_service.domain.errors import (
    ActivePlanExists,
    ActiveSettlementExists,
    CaseAlreadyClosed,
    CaseUnknown,
    CurrencyMismatch,
    InvalidPaymentPlan,
    InvalidSettlement,
    PaymentAlreadyReversed,
    SupervisorApprovalRequired,
)
from payment_service.domain.ledger import (
    ArrangementPolicy,
    ArrangementStatus,
    CaseFacts,
    CaseLedger,
    PaymentStatus,
    discount_bps,
)

NOW = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
POLICY = ArrangementPolicy(
    promise_grace_days=2,
    installment_grace_days=3,
    settlement_grace_days=0,
    plan_max_term_months=24,
    plan_supervisor_term_months=6,
    plan_missed_installments_to_break=2,
    supervisor_discount_bps=2000,
    settlement_max_days=90,
    settlement_supervisor_days=30,
)
CASE = CaseFacts("case-1", "GBP", 100_000, "UTC", "GB", closed=False)


def gbp(minor: int) -> ev.Money:
    return ev.Money(amount_minor=minor, currency="GBP")


def pay(
    ledger: CaseLedger, pid: str, minor: int, at: datetime, case: CaseFacts | None = CASE
) -> list[object]:
    return list(
        ledger.receive_payment(
            payment_id=pid,
            amount=gbp(minor),
            method=ev.PaymentMethod.CARD,
            external_reference=f"ref-{pid}",
            received_at=at,
            case=case,
            now=at,
            policy=POLICY,
        )
    )


def replayed(ledger: CaseLedger) -> CaseLedger:
    """The same ledger rebuilt from its events (what the next command will see)."""
    events = list(ledger.pending)
    rebuilt = CaseLedger.from_events(ledger.case_id, [(e, NOW) for e in events])
    return rebuilt


# ---- payments ----------------------------------------------------------------------------------


def test_a_payment_for_an_open_case_is_applied() -> None:
    ledger = CaseLedger("case-1")
    [event] = pay(ledger, "p1", 5000, NOW)
    assert isinstance(event, ev.PaymentReceived)
    assert ledger.payments["p1"].status is PaymentStatus.APPLIED


def test_a_payment_in_another_currency_is_refused() -> None:
    ledger = CaseLedger("case-1")
    with pytest.raises(CurrencyMismatch):
        ledger.receive_payment(
            payment_id="p1",
            amount=ev.Money(amount_minor=5000, currency="EUR"),
            method=ev.PaymentMethod.CARD,
            external_reference="r",
            received_at=NOW,
            case=CASE,
            now=NOW,
            policy=POLICY,
        )
    assert ledger.pending == []


def test_a_payment_for_an_unknown_case_is_held_and_applied_when_the_case_appears() -> None:
    ledger = CaseLedger("case-1")
    [held] = pay(ledger, "p1", 5000, NOW, case=None)
    assert isinstance(held, ev.PaymentHeld) and held.reason is ev.UnappliedReason.UNKNOWN_CASE
    [applied] = ledger.apply_held_payments(CASE, NOW + timedelta(hours=1), POLICY)
    assert isinstance(applied, ev.PaymentReceived)
    assert applied.received_at == NOW  # the money arrived when it arrived
    assert ledger.payments["p1"].status is PaymentStatus.APPLIED


def test_a_held_payment_in_another_currency_than_the_case_that_appears_stays_held() -> None:
    ledger = CaseLedger("case-1")
    pay(ledger, "p1", 5000, NOW, case=None)
    [event] = ledger.apply_held_payments(
        CaseFacts("case-1", "USD", 100, "UTC", "US", closed=False), NOW, POLICY
    )
    assert isinstance(event, ev.PaymentHeld) and event.reason is ev.UnappliedReason.CURRENCY_MISMATCH


def test_a_payment_for_a_closed_case_is_applied_a_fact_case_service_books() -> None:
    ledger = CaseLedger("case-1")
    closed = CaseFacts("case-1", "GBP", 0, "UTC", "GB", closed=True)
    [event] = pay(ledger, "p1", 5000, NOW, case=closed)
    assert isinstance(event, ev.PaymentReceived)


def test_a_payment_is_reversed_once() -> None:
    ledger = CaseLedger("case-1")
    pay(ledger, "p1", 5000, NOW)
    [event] = ledger.reverse_payment(
        payment_id="p1",
        reason=ev.ReversalReason.CHARGEBACK,
        reversal_reference="cb-1",
        reversed_at=NOW,
        case=CASE,
        now=NOW,
        policy=POLICY,
    )
    assert isinstance(event, ev.PaymentReversed) and event.applied
    with pytest.raises(PaymentAlreadyReversed):
        ledger.reverse_payment(
            payment_id="p1",
            reason=ev.ReversalReason.CHARGEBACK,
            reversal_reference=None,
            reversed_at=NOW,
            case=CASE,
            now=NOW,
            policy=POLICY,
        )


def test_reversing_a_held_payment_does_not_touch_the_balance() -> None:
    ledger = CaseLedger("case-1")
    pay(ledger, "p1", 5000, NOW, case=None)
    [event] = ledger.reverse_payment(
        payment_id="p1",
        reason=ev.ReversalReason.RETURNED_PAYMENT,
        reversal_reference=None,
        reversed_at=NOW,
        case=None,
        now=NOW,
        policy=POLICY,
    )
    assert isinstance(event, ev.PaymentReversed) and not event.applied
    assert ledger.apply_held_payments(CASE, NOW, POLICY) == []


# ---- promises ----------------------------------------------------------------------------------


def promise(ledger: CaseLedger, minor: int = 5000, due_on: date = date(2027, 1, 20)) -> None:
    ledger.track_promise(
        promise_id="pr-1", amount=gbp(minor), due_on=due_on, made_at=NOW, case=CASE, now=NOW, policy=POLICY
    )


def test_a_promise_settles_at_the_end_of_its_grace_period() -> None:
    ledger = CaseLedger("case-1")
    promise(ledger)
    assert ledger.promises["pr-1"].settles_at == datetime(2027, 1, 23, tzinfo=UTC)
    assert ledger.settle_promise("pr-1", datetime(2027, 1, 22, 23, 59, tzinfo=UTC)) == []


def test_payments_in_the_window_keep_the_promise() -> None:
    ledger = CaseLedger("case-1")
    promise(ledger)
    pay(ledger, "p1", 2000, datetime(2027, 1, 15, tzinfo=UTC))
    pay(ledger, "p2", 3000, datetime(2027, 1, 22, 23, 0, tzinfo=UTC))  # in the grace period
    [event] = ledger.settle_promise("pr-1", datetime(2027, 1, 23, tzinfo=UTC))
    assert isinstance(event, ev.PromiseKept)
    assert event.amount_paid == gbp(5000) and event.payment_ids == ["p1", "p2"]


def test_a_short_payment_or_one_outside_the_window_breaks_the_promise() -> None:
    ledger = CaseLedger("case-1")
    pay(ledger, "p0", 9000, NOW - timedelta(days=1))  # before the promise was made
    promise(ledger)
    pay(ledger, "p1", 4999, datetime(2027, 1, 20, tzinfo=UTC))
    pay(ledger, "p2", 5000, datetime(2027, 1, 23, tzinfo=UTC))  # after the grace period
    [event] = ledger.settle_promise("pr-1", datetime(2027, 1, 23, tzinfo=UTC))
    assert isinstance(event, ev.PromiseBroken) and event.amount_paid == gbp(4999)
    assert ledger.settle_promise("pr-1", datetime(2027, 1, 24, tzinfo=UTC)) == []  # settled once


def test_a_reversal_breaks_a_kept_promise() -> None:
    ledger = CaseLedger("case-1")
    promise(ledger)
    pay(ledger, "p1", 5000, datetime(2027, 1, 15, tzinfo=UTC))
    ledger.settle_promise("pr-1", datetime(2027, 1, 23, tzinfo=UTC))
    events = ledger.reverse_payment(
        payment_id="p1",
        reason=ev.ReversalReason.CHARGEBACK,
        reversal_reference=None,
        reversed_at=datetime(2027, 2, 1, tzinfo=UTC),
        case=CASE,
        now=datetime(2027, 2, 1, tzinfo=UTC),
        policy=POLICY,
    )
    assert [type(e) for e in events] == [ev.PaymentReversed, ev.PromiseBroken]
    broken = events[1]
    assert isinstance(broken, ev.PromiseBroken)
    assert broken.reversed_payment_id == "p1" and broken.amount_paid == gbp(0)
    assert ledger.promises["pr-1"].status is ArrangementStatus.BROKEN


# ---- plans -------------------------------------------------------------------------------------


def agree(
    ledger: CaseLedger, installments: list[tuple[date, int]], *, supervisor: bool = False
) -> list[object]:
    total = sum(minor for _, minor in installments)
    return list(
        ledger.agree_plan(
            plan_id="plan-1",
            total=gbp(total),
            installments=[(d, gbp(m)) for d, m in installments],
            case=CASE,
            now=NOW,
            policy=POLICY,
            by_supervisor=supervisor,
        )
    )


# The whole balance (100 000) over three months: no discount, within a collector's limits.
THREE = [(date(2027, 1, 31), 30_000), (date(2027, 2, 28), 30_000), (date(2027, 3, 31), 40_000)]


def test_a_valid_plan_is_agreed() -> None:
    ledger = CaseLedger("case-1")
    [event] = agree(ledger, THREE)
    assert isinstance(event, ev.PaymentPlanAgreed) and event.total == gbp(100_000)


@pytest.mark.parametrize(
    ("installments", "total", "message"),
    [
        ([(date(2027, 1, 31), 10_000)], 20_000, "add up"),
        ([(date(2027, 1, 9), 10_000)], 10_000, "before today"),
        ([(date(2027, 2, 1), 5_000), (date(2027, 2, 1), 5_000)], 10_000, "increase"),
        ([(date(2029, 2, 1), 10_000)], 10_000, "maximum term"),
        ([(date(2027, 2, 1), 0), (date(2027, 3, 1), 10_000)], 10_000, "more than zero"),
        ([(date(2027, 2, 1), 200_000)], 200_000, "more than the balance"),
    ],
)
def test_plan_rules(installments: list[tuple[date, int]], total: int, message: str) -> None:
    ledger = CaseLedger("case-1")
    with pytest.raises(InvalidPaymentPlan, match=message):
        ledger.agree_plan(
            plan_id="plan-1",
            total=gbp(total),
            installments=[(d, ev.Money(amount_minor=m, currency="GBP")) for d, m in installments],
            case=CASE,
            now=NOW,
            policy=POLICY,
            by_supervisor=True,
        )


def test_an_installment_due_today_is_not_in_the_past() -> None:
    assert agree(CaseLedger("case-1"), [(date(2027, 1, 10), 1000)], supervisor=True)


def test_one_active_plan_per_case_and_only_for_open_known_cases() -> None:
    ledger = CaseLedger("case-1")
    agree(ledger, THREE)
    with pytest.raises(ActivePlanExists):
        agree(ledger, THREE)
    with pytest.raises(CaseUnknown):
        CaseLedger("x").agree_plan(
            plan_id="p", total=gbp(1), installments=[(date(2027, 2, 1), gbp(1))], case=None,
            now=NOW, policy=POLICY, by_supervisor=True,
        )  # fmt: skip
    with pytest.raises(CaseAlreadyClosed):
        CaseLedger("x").agree_plan(
            plan_id="p", total=gbp(1), installments=[(date(2027, 2, 1), gbp(1))],
            case=CaseFacts("x", "GBP", 10, "UTC", None, closed=True), now=NOW, policy=POLICY,
            by_supervisor=True,
        )  # fmt: skip


def test_a_long_or_discounted_plan_needs_a_supervisor() -> None:
    long_plan = [(date(2027, 1, 31), 50_000), (date(2027, 8, 31), 50_000)]  # 8 months > 6
    with pytest.raises(SupervisorApprovalRequired, match="8-month"):
        agree(CaseLedger("case-1"), long_plan)
    assert agree(CaseLedger("case-1"), long_plan, supervisor=True)
    discounted = [(date(2027, 2, 1), 79_999)]  # balance 100 000: a discount above 20 %
    with pytest.raises(SupervisorApprovalRequired, match="discount"):
        agree(CaseLedger("case-1"), discounted)
    assert agree(CaseLedger("case-1"), [(date(2027, 2, 1), 80_000)])  # exactly 20 %: a collector may


def test_payments_go_to_the_oldest_open_installment_and_complete_the_plan() -> None:
    ledger = CaseLedger("case-1")
    agree(ledger, THREE)
    pay(ledger, "p1", 45_000, NOW + timedelta(days=1))
    assert ledger.allocation(ledger.plans["plan-1"]).paid == [30_000, 15_000, 0]
    events = pay(ledger, "p2", 55_000, NOW + timedelta(days=2))
    assert [type(e) for e in events] == [ev.PaymentReceived, ev.PaymentPlanCompleted]
    assert ledger.plans["plan-1"].status is ArrangementStatus.COMPLETED


def test_payments_before_the_plan_do_not_count_toward_it() -> None:
    ledger = CaseLedger("case-1")
    pay(ledger, "p0", 100_000, NOW - timedelta(minutes=1))
    agree(ledger, THREE)
    assert ledger.allocation(ledger.plans["plan-1"]).paid == [0, 0, 0]


def test_an_installment_is_missed_at_its_due_date_plus_grace_and_two_misses_break_the_plan() -> None:
    ledger = CaseLedger("case-1")
    agree(ledger, THREE)
    pay(ledger, "p1", 4_000, NOW + timedelta(days=1))
    before = datetime(2027, 2, 3, 23, 59, tzinfo=UTC)  # Jan 31 + 3 days of grace, end of day
    assert ledger.installment_due("plan-1", 1, before, "UTC", POLICY) == []
    [missed] = ledger.installment_due("plan-1", 1, datetime(2027, 2, 4, tzinfo=UTC), "UTC", POLICY)
    assert isinstance(missed, ev.InstallmentMissed) and missed.amount_paid == gbp(4_000)
    assert ledger.plans["plan-1"].status is ArrangementStatus.ACTIVE
    events = ledger.installment_due("plan-1", 2, datetime(2027, 3, 4, tzinfo=UTC), "UTC", POLICY)
    assert [type(e) for e in events] == [ev.InstallmentMissed, ev.PaymentPlanBroken]
    assert ledger.plans["plan-1"].status is ArrangementStatus.BROKEN
    assert ledger.installment_due("plan-1", 3, datetime(2027, 4, 4, tzinfo=UTC), "UTC", POLICY) == []


def test_a_late_payment_fills_the_missed_installment_before_the_next() -> None:
    ledger = CaseLedger("case-1")
    agree(ledger, THREE)
    ledger.installment_due("plan-1", 1, datetime(2027, 2, 4, tzinfo=UTC), "UTC", POLICY)
    pay(ledger, "p1", 36_000, datetime(2027, 2, 10, tzinfo=UTC))
    assert ledger.allocation(ledger.plans["plan-1"]).paid == [30_000, 6_000, 0]


def test_a_reversal_after_the_deadline_misses_the_installment_it_had_paid() -> None:
    ledger = CaseLedger("case-1")
    agree(ledger, THREE)
    pay(ledger, "p1", 30_000, NOW + timedelta(days=1))
    assert ledger.installment_due("plan-1", 1, datetime(2027, 2, 4, tzinfo=UTC), "UTC", POLICY) == []
    events = ledger.reverse_payment(
        payment_id="p1",
        reason=ev.ReversalReason.RETURNED_PAYMENT,
        reversal_reference=None,
        reversed_at=datetime(2027, 2, 10, tzinfo=UTC),
        case=CASE,
        now=datetime(2027, 2, 10, tzinfo=UTC),
        policy=POLICY,
    )
    assert [type(e) for e in events] == [ev.PaymentReversed, ev.InstallmentMissed]
    missed = events[1]
    assert isinstance(missed, ev.InstallmentMissed) and missed.reversed_payment_id == "p1"


def test_a_reversal_reopens_a_completed_plan() -> None:
    ledger = CaseLedger("case-1")
    agree(ledger, THREE)
    pay(ledger, "p1", 100_000, NOW + timedelta(days=1))
    assert ledger.plans["plan-1"].status is ArrangementStatus.COMPLETED
    ledger.reverse_payment(
        payment_id="p1",
        reason=ev.ReversalReason.CHARGEBACK,
        reversal_reference=None,
        reversed_at=NOW + timedelta(days=2),
        case=CASE,
        now=NOW + timedelta(days=2),
        policy=POLICY,
    )
    assert ledger.plans["plan-1"].status is ArrangementStatus.ACTIVE
    assert replayed(ledger).plans["plan-1"].status is ArrangementStatus.ACTIVE


# ---- settlements -------------------------------------------------------------------------------


def settle(ledger: CaseLedger, minor: int, due_on: date, *, supervisor: bool = False) -> list[object]:
    return list(
        ledger.agree_settlement(
            settlement_id="stl-1",
            amount=gbp(minor),
            due_on=due_on,
            case=CASE,
            now=NOW,
            policy=POLICY,
            by_supervisor=supervisor,
        )
    )


def test_a_settlement_paid_by_its_deadline_is_paid() -> None:
    ledger = CaseLedger("case-1")
    [agreed] = settle(ledger, 80_000, date(2027, 1, 31))
    assert isinstance(agreed, ev.SettlementAgreed) and agreed.balance_at_agreement == gbp(100_000)
    pay(ledger, "p1", 50_000, datetime(2027, 1, 20, tzinfo=UTC))
    events = pay(ledger, "p2", 30_000, datetime(2027, 1, 31, 23, 59, tzinfo=UTC))
    assert [type(e) for e in events] == [ev.PaymentReceived, ev.SettlementPaid]
    paid = events[1]
    assert isinstance(paid, ev.SettlementPaid) and paid.payment_ids == ["p1", "p2"]
    assert ledger.settlement_due("stl-1", datetime(2027, 2, 1, tzinfo=UTC), "UTC", POLICY) == []


def test_a_settlement_not_paid_in_time_lapses_at_its_deadline() -> None:
    ledger = CaseLedger("case-1")
    settle(ledger, 80_000, date(2027, 1, 31))
    pay(ledger, "p1", 50_000, datetime(2027, 1, 20, tzinfo=UTC))
    assert ledger.settlement_due("stl-1", datetime(2027, 1, 31, 23, 59, tzinfo=UTC), "UTC", POLICY) == []
    [lapsed] = ledger.settlement_due("stl-1", datetime(2027, 2, 1, tzinfo=UTC), "UTC", POLICY)
    assert isinstance(lapsed, ev.SettlementLapsed) and lapsed.amount_paid == gbp(50_000)
    # A payment after the deadline does not revive it.
    assert [type(e) for e in pay(ledger, "p2", 30_000, datetime(2027, 2, 2, tzinfo=UTC))] == [
        ev.PaymentReceived
    ]


def test_the_settlement_deadline_is_the_end_of_the_due_day_in_the_debtors_time_zone() -> None:
    tokyo = CaseFacts("case-1", "GBP", 100_000, "Asia/Tokyo", "JP", closed=False)
    ledger = CaseLedger("case-1")
    ledger.agree_settlement(
        settlement_id="stl-1", amount=gbp(80_000), due_on=date(2027, 1, 31), case=tokyo, now=NOW,
        policy=POLICY, by_supervisor=False,
    )  # fmt: skip
    # 31 Jan ends at 15:00 UTC in Tokyo.
    assert (
        ledger.settlement_due("stl-1", datetime(2027, 1, 31, 14, 59, tzinfo=UTC), "Asia/Tokyo", POLICY) == []
    )
    assert ledger.settlement_due("stl-1", datetime(2027, 1, 31, 15, 0, tzinfo=UTC), "Asia/Tokyo", POLICY)


@pytest.mark.parametrize(
    ("minor", "due_on", "message"),
    [
        (0, date(2027, 1, 31), "more than zero"),
        (100_001, date(2027, 1, 31), "more than the balance"),
        (80_000, date(2027, 1, 9), "before today"),
        (80_000, date(2027, 4, 11), "longest allowed"),
    ],
)
def test_settlement_rules(minor: int, due_on: date, message: str) -> None:
    with pytest.raises(InvalidSettlement, match=message):
        settle(CaseLedger("case-1"), minor, due_on, supervisor=True)


def test_a_deep_or_distant_settlement_needs_a_supervisor_and_one_is_open_at_a_time() -> None:
    with pytest.raises(SupervisorApprovalRequired, match="discount"):
        settle(CaseLedger("case-1"), 50_000, date(2027, 1, 31))
    with pytest.raises(SupervisorApprovalRequired, match="days"):
        settle(CaseLedger("case-1"), 90_000, date(2027, 3, 1))
    ledger = CaseLedger("case-1")
    assert settle(ledger, 50_000, date(2027, 3, 1), supervisor=True)
    with pytest.raises(ActiveSettlementExists):
        settle(ledger, 90_000, date(2027, 1, 31))


def test_discount_in_basis_points() -> None:
    assert discount_bps(100_000, 80_000) == 2000
    assert discount_bps(100_000, 79_999) == 2001  # rounded up: never under-reports a discount
    assert discount_bps(100_000, 100_000) == 0
    assert discount_bps(0, 10) == 0
