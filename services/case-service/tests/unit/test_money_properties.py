"""Property: whatever facts arrive, in whatever order (payments, over-payments, reversals, interest,
fees, costs, creditor restatements, a write-off), the parts never go below zero, the owed parts add up
to the balance, the money booked equals the payments less their reversals, and the events alone rebuild
the same state."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from case_service.adapters.policy_file import load_policy
from case_service.domain.case import Case
from case_service.domain.policy import CollectionPolicy
from dcp_events.catalogue.base import CaseAmounts
from dcp_events.catalogue.cases import CaseBalanceChanged
from dcp_events.catalogue.enums import BalanceChangeReason, CloseReason

from .conftest import TODAY, gbp, new_case

POLICY: CollectionPolicy = load_policy()

amounts = st.integers(min_value=1, max_value=20_000)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(0, 7), amounts),
        st.tuples(st.just("reverse"), st.integers(0, 7), st.just(0)),
        st.tuples(st.sampled_from(["interest", "fee", "costs"]), st.just(0), amounts),
        st.tuples(st.just("restate"), st.just(0), amounts),
        st.tuples(st.just("write_off"), st.just(0), st.just(0)),
    ),
    max_size=25,
)
CHARGES = {
    "interest": BalanceChangeReason.INTEREST,
    "fee": BalanceChangeReason.FEE,
    "costs": BalanceChangeReason.COSTS,
}


@settings(max_examples=300, deadline=None)
@given(opening=amounts, product=st.sampled_from(["credit_card", "personal_loan"]), script=steps)
def test_the_parts_always_add_up_whatever_facts_arrive(
    opening: int, product: str, script: list[tuple[str, int, int]]
) -> None:
    case = new_case(POLICY, balance=opening, product=product)
    history = []
    waterfall = POLICY.allocations.for_account("acme", product)
    paid: dict[str, int] = {}
    for action, n, amount in script:
        payment_id = f"p-{n}"
        if action == "pay":
            if case.apply_payment(payment_id, gbp(amount), waterfall):
                paid[payment_id] = amount
        elif action == "reverse":
            if case.reverse_payment(payment_id, gbp(paid.get(payment_id, 1))):
                paid.pop(payment_id)
        elif action in CHARGES and case.is_open:
            case.add_charge(CHARGES[action], gbp(amount), None)
        elif action == "restate":
            case.restate(
                CaseAmounts(principal=gbp(amount), interest=gbp(0), fees=gbp(0), total_balance=gbp(amount)),
                None,
            )
        elif action == "write_off" and case.is_open:
            case.close(CloseReason.WRITTEN_OFF, "uncollectable", TODAY)
        history += case.pull_changes()
        parts = case.parts
        assert parts is not None
        assert min(parts.principal, parts.interest, parts.fees, parts.costs, parts.credit) >= 0
        assert case.balance == gbp(parts.owed)
        assert case.is_open or case.close_reason is not None
        assert case.recovered_minor == sum(paid.values())
    for event in history:
        if isinstance(event, CaseBalanceChanged):
            assert event.allocation is not None and event.parts_after is not None
    opened = new_case(POLICY, balance=opening, product=product)
    rebuilt = Case.from_events(case.case_id, [*_opening_events(opened), *history])
    assert (rebuilt.parts, rebuilt.status, rebuilt.recovered_minor) == (
        case.parts,
        case.status,
        case.recovered_minor,
    )


def _opening_events(case: Case) -> list[object]:
    fresh = Case.open(
        case.case_id,
        debtor=case.debtor,  # type: ignore[arg-type]
        account=case.account,  # type: ignore[arg-type]
        amounts=case.amounts_at_placement,  # type: ignore[arg-type]
        due_since=case.due_since,  # type: ignore[arg-type]
        jurisdiction=case.jurisdiction,
        risk_score=case.risk_score,
        placement_id=None,
        today=TODAY,
        policy=POLICY,
    )
    return list(fresh.pull_changes())
