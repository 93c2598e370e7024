"""Payments go to the oldest installment still open."""

from __future__ import annotations

from payment_service.domain.allocation import allocate


def test_a_payment_fills_the_oldest_open_installment_first() -> None:
    result = allocate([100, 100, 100], [("p1", 150)])
    assert result.paid == [100, 50, 0]
    assert result.splits == {"p1": [(1, 100), (2, 50)]}


def test_later_payments_continue_where_the_last_stopped() -> None:
    result = allocate([100, 100, 100], [("p1", 60), ("p2", 60), ("p3", 100)])
    assert result.paid == [100, 100, 20]
    assert result.splits["p2"] == [(1, 40), (2, 20)]
    assert result.total_paid == 220


def test_overpayment_is_left_unallocated() -> None:
    result = allocate([100, 50], [("p1", 200)])
    assert result.paid == [100, 50]
    assert result.unallocated == 50


def test_nothing_paid_leaves_every_installment_open() -> None:
    assert allocate([100, 100], []).paid == [0, 0]
