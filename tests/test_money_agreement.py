"""Property: payment-service and case-service agree on every payment, whatever facts arrive.

Random sequences of payments (over-payments included), reversals, interest, fees and costs, and a
write-off: payment-service's ledger decides each payment and reversal, case-service's Case books what
the ledger published (as its consumer does), and the audit trail's reconciliation, run over the two
streams, finds no divergence. On the way the case's parts never go below zero and add up to its balance.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from audit_service.domain.reconciliation import Reconciliation
from case_service.adapters.policy_file import load_policy
from case_service.domain.case import Case
from dcp_events import catalogue as ev
from dcp_events.catalogue.base import CaseAmounts, Money
from dcp_events.catalogue.debtor import Account, Debtor
from dcp_events.catalogue.enums import BalanceChangeReason, CloseReason, PaymentMethod, ReversalReason
from payment_service.domain.ledger import ArrangementPolicy, CaseFacts, CaseLedger

POLICY = load_policy()
ARRANGEMENTS = ArrangementPolicy()
TODAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
CHARGES = {
    "interest": BalanceChangeReason.INTEREST,
    "fee": BalanceChangeReason.FEE,
    "costs": BalanceChangeReason.COSTS,
}


def usd(minor: int) -> Money:
    return Money(amount_minor=minor, currency="USD")


def opened(principal: int, product: str) -> Case:
    case = Case.open(
        "case-1",
        debtor=Debtor(
            debtor_id="d-1",
            full_name="Ada",
            language="en-US",
            time_zone="America/New_York",
            time_zone_source="address",
        ),
        account=Account(creditor_id="acme", account_reference="acc-1", product=product),
        amounts=CaseAmounts(
            principal=usd(principal), interest=usd(0), fees=usd(0), total_balance=usd(principal)
        ),
        due_since=TODAY - timedelta(days=40),
        jurisdiction="US",
        risk_score=500,
        placement_id=None,
        today=TODAY,
        policy=POLICY,
    )
    return case


def facts(case: Case) -> CaseFacts:
    assert case.balance is not None
    return CaseFacts(
        "case-1", "USD", case.balance.amount_minor, "America/New_York", "US", closed=not case.is_open
    )


steps = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(1, 30_000)),
        st.tuples(st.just("reverse"), st.integers(0, 9)),
        st.tuples(st.sampled_from(sorted(CHARGES)), st.integers(1, 5_000)),
        st.tuples(st.just("write_off"), st.just(0)),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(
    principal=st.integers(1, 50_000), product=st.sampled_from(["credit_card", "personal_loan"]), script=steps
)
def test_the_two_services_agree_on_every_payment(
    principal: int, product: str, script: list[tuple[str, int]]
) -> None:
    case = opened(principal, product)
    ledger = CaseLedger("case-1")
    waterfall = POLICY.allocations.for_account("acme", product)
    trail = Reconciliation()
    entry = 0

    def record(payload: object) -> None:
        nonlocal entry
        entry += 1
        trail.add(entry, NOW, "case-1", payload)

    for event in case.pull_changes():
        record(event)
    paid: list[str] = []
    for action, n in script:
        published: list[object] = []
        if action == "pay":
            payment_id = f"p-{len(paid)}"
            published = ledger.receive_payment(
                payment_id=payment_id,
                amount=usd(n),
                method=PaymentMethod.CARD,
                external_reference=f"ref-{payment_id}",
                received_at=NOW,
                case=facts(case),
                now=NOW,
                policy=ARRANGEMENTS,
            )
            paid.append(payment_id)
        elif action == "reverse" and paid:
            payment_id = paid[n % len(paid)]
            if ledger.payments[payment_id].status.value == "reversed":
                continue
            published = ledger.reverse_payment(
                payment_id=payment_id,
                reason=ReversalReason.CHARGEBACK,
                reversal_reference=None,
                reversed_at=NOW,
                case=facts(case),
                now=NOW,
                policy=ARRANGEMENTS,
            )
        elif action in CHARGES and case.is_open:
            case.add_charge(CHARGES[action], usd(n), None)
        elif action == "write_off" and case.is_open:
            case.close(CloseReason.WRITTEN_OFF, "uncollectable", TODAY)
        for event in published:
            record(event)
            # case-service's consumer: what payment-service applied or took back is booked
            if isinstance(event, ev.PaymentReceived):
                case.apply_payment(event.payment_id, event.amount, waterfall)
            elif isinstance(event, ev.PaymentReversed) and event.applied:
                case.reverse_payment(event.payment_id, event.amount)
        for event in case.pull_changes():
            record(event)
        parts = case.parts
        assert (
            parts is not None
            and min(parts.principal, parts.interest, parts.fees, parts.costs, parts.credit) >= 0
        )
        assert case.balance == usd(parts.owed)
    assert trail.divergences() == []
