"""The contract of the payment service's unit of work: what the handlers rely on of the ports, passed
by the PostgreSQL adapter (tests/integration) and the in-memory one (tests/unit) alike, so the fast
application tests run on books that behave like the database.

Subclass `PaymentUnitOfWorkContract` with these fixtures:

- `env`: a `PaymentEnvironment` on a `ManualClock` (the contract moves it to fire timers);
- `begin`: `begin(tx=None)`, an async context manager yielding a unit of work in the caller's
  transaction `tx` (a consumer batch, a timer), or in a new one committed on exit and rolled back on
  an exception (the bus's unit-of-work factory);
- `transaction`: `transaction()`, an async context manager yielding such a caller's transaction;
- `fire_due`: `await fire_due(handlers)`, running the timers due at the clock's now through the
  handler of their kind, as the service's timer worker does.

Everything is observed through the port (`PaymentUnitOfWork`) and what a handler sees next. The port
reads back neither a case's assignee (the API's access check reads it), nor the read-model rows (the
API's queries read them), nor the timers: an assignment is held to change none of the case facts, a
projection to take every kind of row, again, and to leave the ledger with nothing touched, and timers
are observed by firing them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from dcp_events.catalogue.base import Money
from dcp_events.catalogue.enums import PaymentMethod, ReversalReason
from dcp_events.catalogue.payments import Household, StatementCategory, StatementFrequency, StatementSource
from dcp_platform.clock import ManualClock
from dcp_platform.eventsourcing.store import ConcurrencyConflict
from dcp_platform.eventsourcing.timers import DueTimer
from payment_service.application.ports import CaseRecord, PaymentEnvironment, PaymentReference
from payment_service.domain.ledger import ArrangementPolicy, CaseFacts, CaseLedger

NOW = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
TZ = "Europe/London"
POLICY = ArrangementPolicy(
    promise_grace_days=2,
    installment_grace_days=3,
    settlement_grace_days=0,
    plan_missed_installments_to_break=2,
)

ContractTimerHandler = Callable[[Any, DueTimer], Awaitable[None]]
FireDue = Callable[[Mapping[str, ContractTimerHandler]], Awaitable[None]]

# How long a unit of work holds its transaction open while a rival one starts (PostgreSQL: long
# enough for the rival to reach the row or key it must wait for; the outcome is the same if not).
RIVAL_HEAD_START = 0.1


def gbp(minor: int) -> Money:
    return Money(amount_minor=minor, currency="GBP")


def new_case_id() -> str:
    return f"case-{uuid4().hex}"


def facts(case_id: str, *, balance: int = 100_000) -> CaseFacts:
    return CaseFacts(case_id, "GBP", balance, TZ, "GB", closed=False)


def claim_for(case_id: str, *, amount: int = 2500) -> PaymentReference:
    return PaymentReference(f"psp-{uuid4().hex}", str(uuid4()), case_id, amount, "GBP")


def pay(ledger: CaseLedger, case: CaseFacts | None, minor: int, reference: str | None = None) -> str:
    payment_id = str(uuid4())
    ledger.receive_payment(
        payment_id=payment_id,
        amount=gbp(minor),
        method=PaymentMethod.CARD,
        external_reference=reference or f"psp-{uuid4().hex}",
        received_at=NOW,
        case=case,
        now=NOW,
        policy=POLICY,
    )
    return payment_id


def promise(ledger: CaseLedger, case: CaseFacts | None, promise_id: str, minor: int = 3000) -> None:
    ledger.track_promise(
        promise_id=promise_id,
        amount=gbp(minor),
        due_on=NOW.date() + timedelta(days=5),
        made_at=NOW,
        case=case,
        now=NOW,
        policy=POLICY,
    )


async def fired_at(
    env: PaymentEnvironment, fire_due: FireDue, kind: str, at: datetime
) -> list[tuple[str, datetime, dict[str, Any]]]:
    """The timers of `kind` that fire with the clock at `at`: (key, due at, payload), earliest first."""
    clock = env.clock
    assert isinstance(clock, ManualClock)
    clock.set(at)
    fired: list[tuple[str, datetime, dict[str, Any]]] = []

    async def record(_tx: Any, timer: DueTimer) -> None:
        fired.append((timer.key, timer.due_at, dict(timer.payload)))

    await fire_due({kind: record})
    return sorted(fired, key=lambda f: (f[1], f[0]))


class PaymentUnitOfWorkContract:
    # --- what the service knows of each case ---------------------------------------------------

    async def test_case_facts_are_recorded_and_read_back(self, begin: Any) -> None:
        case_id = new_case_id()
        opened = facts(case_id)
        async with begin() as uow:
            assert await uow.case_facts(case_id) is None
            await uow.record_case_opened(opened, NOW)
            assert await uow.case_facts(case_id) == opened  # its own writes, before the commit
        async with begin() as uow:
            assert await uow.case_facts(case_id) == opened
            await uow.record_case_balance(case_id, 60_000, NOW)
        async with begin() as uow:
            assert await uow.case_facts(case_id) == replace(opened, balance_minor=60_000)
            await uow.record_case_closed(case_id, 0, NOW)
        async with begin() as uow:
            assert await uow.case_facts(case_id) == replace(opened, balance_minor=0, closed=True)
            # A repeated CaseOpened replaces the facts.
            reopened = replace(opened, balance_minor=90_000, time_zone="UTC", jurisdiction=None)
            await uow.record_case_opened(reopened, NOW + timedelta(hours=1))
        async with begin() as uow:
            assert await uow.case_facts(case_id) == reopened

    async def test_case_records_are_read_and_written_many_at_a_time(self, begin: Any) -> None:
        first, second = new_case_id(), new_case_id()
        async with begin() as uow:
            await uow.record_case_opened(facts(first), NOW)
            await uow.record_case_assignment(first, "collector", "collector-1", NOW)
        async with begin() as uow:
            records = await uow.case_records([first, second])
            assert records == {first: CaseRecord(facts(first), ("collector", "collector-1"))}
            moved = CaseRecord(replace(facts(first), balance_minor=1, closed=True), ("agency", "ag-1"))
            await uow.save_case_records([moved, CaseRecord(facts(second))], NOW)
        async with begin() as uow:
            assert await uow.case_records([second, first]) == {
                first: moved,
                second: CaseRecord(facts(second)),
            }
            assert await uow.case_facts(first) == moved.facts
            assert await uow.case_records([]) == {}

    async def test_the_facts_of_a_case_never_opened_stay_unknown(self, begin: Any) -> None:
        case_id = new_case_id()
        async with begin() as uow:
            await uow.record_case_balance(case_id, 5_000, NOW)
            await uow.record_case_closed(case_id, 0, NOW)
            await uow.record_case_assignment(case_id, "collector", "collector-1", NOW)
            assert await uow.case_facts(case_id) is None
        async with begin() as uow:
            assert await uow.case_facts(case_id) is None

    async def test_an_assignment_changes_none_of_the_case_facts(self, begin: Any) -> None:
        # The port reads no assignee back (the API's access check does, from the adapter's own
        # query): what a handler can see of an assignment is that the facts stay as they were.
        case_id = new_case_id()
        opened = facts(case_id)
        async with begin() as uow:
            await uow.record_case_opened(opened, NOW)
            await uow.record_case_assignment(case_id, "collector", "collector-1", NOW)
        async with begin() as uow:
            assert await uow.case_facts(case_id) == opened
            await uow.record_case_assignment(case_id, "agency", "agency-1", NOW + timedelta(hours=1))
            await uow.record_case_balance(case_id, 70_000, NOW + timedelta(hours=2))
        async with begin() as uow:
            assert await uow.case_facts(case_id) == replace(opened, balance_minor=70_000)

    # --- payment references ----------------------------------------------------------------------

    async def test_a_payment_reference_is_claimed_once_and_found_by_its_payment(self, begin: Any) -> None:
        claim = claim_for(new_case_id())
        async with begin() as uow:
            assert await uow.reference_of_payment(claim.payment_id) is None
            assert await uow.claim_reference(claim) is None
            again = replace(claim, payment_id=str(uuid4()))
            assert await uow.claim_reference(again) == claim  # the same unit of work
            assert await uow.reference_of_payment(claim.payment_id) == claim
        async with begin() as uow:
            # Later, for another case and amount: the answer is the first claim, as it was.
            other = replace(claim, payment_id=str(uuid4()), case_id=new_case_id(), amount_minor=1)
            assert await uow.claim_reference(other) == claim
            assert await uow.reference_of_payment(claim.payment_id) == claim
            assert await uow.reference_of_payment(other.payment_id) is None

    async def test_of_concurrent_claims_of_a_reference_one_wins_and_the_other_sees_its_claim(
        self, begin: Any
    ) -> None:
        claim = claim_for(new_case_id())
        rival = replace(claim, payment_id=str(uuid4()))

        async def claim_rival() -> PaymentReference | None:
            async with begin() as uow:
                answer: PaymentReference | None = await uow.claim_reference(rival)
                return answer

        async with begin() as first:
            assert await first.claim_reference(claim) is None
            racing = asyncio.create_task(claim_rival())
            await asyncio.sleep(RIVAL_HEAD_START)
        assert await racing == claim
        async with begin() as uow:
            assert await uow.reference_of_payment(claim.payment_id) == claim
            assert await uow.reference_of_payment(rival.payment_id) is None

    async def test_overlapping_units_of_work_keep_both_their_writes(self, begin: Any) -> None:
        mine, theirs = new_case_id(), new_case_id()
        their_claim = claim_for(theirs)

        async def other_command() -> None:
            async with begin() as uow:
                await uow.record_case_opened(facts(theirs), NOW)
                assert await uow.claim_reference(their_claim) is None

        async with begin() as uow:
            await uow.record_case_opened(facts(mine), NOW)
            other = asyncio.create_task(other_command())
            await asyncio.sleep(RIVAL_HEAD_START)
        await other
        async with begin() as uow:
            assert await uow.case_facts(mine) == facts(mine)
            assert await uow.case_facts(theirs) == facts(theirs)
            assert await uow.reference_of_payment(their_claim.payment_id) == their_claim

    # --- the ledger repository -------------------------------------------------------------------

    async def test_a_ledger_is_saved_and_loaded(self, begin: Any) -> None:
        case_id = new_case_id()
        case = facts(case_id)
        async with begin() as uow:
            assert await uow.ledgers.find(case_id, uow.tx) is None
            ledger = CaseLedger.new(case_id)
            promise(ledger, case, "prm-1")
            payment_id = pay(ledger, case, 3000)
            recorded = await uow.ledgers.save(ledger, uow.tx, jurisdiction="GB")
            assert [e.stream_version for e in recorded] == [1, 2]
            assert (ledger.version, ledger.pending) == (2, [])
            assert (await uow.ledgers.find(case_id, uow.tx)).version == 2  # before the commit
        async with begin() as uow:
            loaded = await uow.ledgers.find(case_id, uow.tx)
            assert loaded is not None and loaded.version == 2
            assert loaded.payments == ledger.payments and loaded.promises == ledger.promises
            assert loaded.payments[payment_id].status == "applied"
            assert loaded.pending == [] and loaded.touched == set()  # a replay writes no read model
            promise(loaded, case, "prm-2")
            await uow.ledgers.save(loaded, uow.tx, jurisdiction="GB")
        async with begin() as uow:
            again = await uow.ledgers.find(case_id, uow.tx)
            assert again is not None and again.version == 3 and set(again.promises) == {"prm-1", "prm-2"}

    async def test_an_erasure_takes_the_statement_lines_and_keeps_the_totals(self, begin: Any) -> None:
        case_id, other_id = new_case_id(), new_case_id()
        for cid in (case_id, other_id):
            async with begin() as uow:
                ledger = CaseLedger.new(cid)
                ledger.record_financial_statement(
                    statement_id=f"fs-{cid}",
                    statement_date=NOW.date(),
                    source=StatementSource.DEBTOR_STATED,
                    household=Household(adults=1),
                    lines=[
                        (StatementCategory.INCOME, "salary", gbp(150_000), StatementFrequency.MONTHLY),
                        (StatementCategory.FIXED_COSTS, "rent", gbp(90_000), StatementFrequency.MONTHLY),
                    ],
                    savings=None,
                    recorded_by="col-1",
                    case=facts(cid),
                    now=NOW,
                )
                await uow.ledgers.save(ledger, uow.tx)
        async with begin() as uow:
            await uow.erase_statement_lines(case_id)
            await uow.erase_statement_lines(case_id)  # again: nothing more to take
        async with begin() as uow:
            erased = await uow.ledgers.find(case_id, uow.tx)
            kept = await uow.ledgers.find(other_id, uow.tx)
        assert erased is not None and kept is not None
        statement = erased.statements[f"fs-{case_id}"]
        assert statement.entries == [] and (statement.income_minor, statement.available_minor) == (
            150_000,
            60_000,
        )
        assert len(kept.statements[f"fs-{other_id}"].entries) == 2  # another case keeps its lines

    async def test_a_ledger_saved_from_a_stale_load_conflicts_and_keeps_nothing(self, begin: Any) -> None:
        case_id = new_case_id()
        case = facts(case_id)
        async with begin() as uow:
            ledger = CaseLedger.new(case_id)
            promise(ledger, case, "prm-1")
            await uow.ledgers.save(ledger, uow.tx)
        async with begin() as uow:
            stale = await uow.ledgers.find(case_id, uow.tx)
        async with begin() as uow:
            fresh = await uow.ledgers.find(case_id, uow.tx)
            promise(fresh, case, "prm-2")
            await uow.ledgers.save(fresh, uow.tx)
        with pytest.raises(ConcurrencyConflict):
            async with begin() as uow:
                await uow.record_case_opened(case, NOW)
                promise(stale, case, "prm-3")
                await uow.ledgers.save(stale, uow.tx)
        async with begin() as uow:
            loaded = await uow.ledgers.find(case_id, uow.tx)
            assert loaded is not None and loaded.version == 2
            assert set(loaded.promises) == {"prm-1", "prm-2"}
            assert await uow.case_facts(case_id) is None

    # --- read models -----------------------------------------------------------------------------

    async def test_every_kind_of_read_model_row_is_projected_and_projected_again(self, begin: Any) -> None:
        case_id = new_case_id()
        case = facts(case_id, balance=90_000)
        first_due = NOW.date() + timedelta(days=7)
        async with begin() as uow:
            await uow.record_case_opened(case, NOW)
            ledger = CaseLedger.new(case_id)
            promise(ledger, case, f"prm-{case_id}")
            ledger.agree_plan(
                plan_id=f"plan-{case_id}",
                total=gbp(30_000),
                installments=[(first_due, gbp(10_000)), (first_due + timedelta(days=30), gbp(20_000))],
                case=case,
                now=NOW,
                policy=POLICY,
                by_supervisor=True,
            )
            ledger.agree_settlement(
                settlement_id=f"stl-{case_id}",
                amount=gbp(80_000),
                due_on=NOW.date() + timedelta(days=10),
                case=case,
                now=NOW,
                policy=POLICY,
                by_supervisor=True,
            )
            payment_id = pay(ledger, case, 10_000)
            held_id = pay(ledger, None, 500)  # held: unapplied, with its reason
            assert {kind for kind, _ in ledger.touched} == {"payment", "promise", "plan", "settlement"}
            await uow.ledgers.save(ledger, uow.tx, jurisdiction="GB")
            await uow.project(ledger, TZ)
            assert ledger.touched == set()
        async with begin() as uow:
            loaded = await uow.ledgers.find(case_id, uow.tx)
            loaded.reverse_payment(
                payment_id=payment_id,
                reason=ReversalReason.CHARGEBACK,
                reversal_reference="cb-1",
                reversed_at=NOW,
                case=case,
                now=NOW,
                policy=POLICY,
            )
            assert ("payment", payment_id) in loaded.touched
            await uow.ledgers.save(loaded, uow.tx, jurisdiction="GB")
            await uow.project(loaded, TZ)  # the same rows again, changed
            assert loaded.touched == set()
            await uow.project(loaded, TZ)  # nothing touched: nothing to write
        async with begin() as uow:
            loaded = await uow.ledgers.find(case_id, uow.tx)
            assert loaded.payments[payment_id].status == "reversed"
            assert loaded.payments[held_id].status == "unapplied"
            await uow.project(CaseLedger.new(new_case_id()), TZ)  # a ledger without events

    # --- timers ----------------------------------------------------------------------------------

    async def test_timers_are_scheduled_moved_and_cancelled_and_fire_once(
        self, begin: Any, env: PaymentEnvironment, fire_due: FireDue
    ) -> None:
        kind = f"contract-{uuid4().hex[:12]}"
        async with begin() as uow:
            await uow.schedule_timer(kind, "a", NOW, {"case_id": "case-a", "number": 1})
            await uow.schedule_timer(kind, "b", NOW + timedelta(minutes=1))
            await uow.schedule_timer(kind, "a", NOW + timedelta(hours=1), {"case_id": "case-a", "number": 2})
            await uow.schedule_timer(kind, "c", NOW)
            await uow.cancel_timer(kind, "c")  # in the unit of work that scheduled it
            await uow.schedule_timer(kind, "d", NOW + timedelta(hours=2))
            await uow.cancel_timer(kind, "never-scheduled")
        async with begin() as uow:
            await uow.cancel_timer(kind, "d")  # in a later one
            with pytest.raises(ValueError):
                await uow.schedule_timer(kind, "naive", NOW.replace(tzinfo=None))

        assert await fired_at(env, fire_due, kind, NOW - timedelta(seconds=1)) == []
        assert await fired_at(env, fire_due, kind, NOW + timedelta(minutes=59)) == [
            ("b", NOW + timedelta(minutes=1), {})
        ]
        assert await fired_at(env, fire_due, kind, NOW + timedelta(hours=3)) == [
            ("a", NOW + timedelta(hours=1), {"case_id": "case-a", "number": 2})
        ]
        assert await fired_at(env, fire_due, kind, NOW + timedelta(hours=4)) == []  # each fired once

        async with begin() as uow:  # scheduled again after it fired: it fires again
            await uow.schedule_timer(kind, "b", NOW + timedelta(hours=5), {"again": True})
            await uow.cancel_timer(kind, "a")  # fired already: nothing to cancel
        assert await fired_at(env, fire_due, kind, NOW + timedelta(hours=5)) == [
            ("b", NOW + timedelta(hours=5), {"again": True})
        ]

    # --- transactions ----------------------------------------------------------------------------

    async def test_a_unit_of_work_that_raises_keeps_nothing(
        self, begin: Any, env: PaymentEnvironment, fire_due: FireDue
    ) -> None:
        known, new = new_case_id(), new_case_id()
        claim = claim_for(new)
        kind = f"contract-{uuid4().hex[:12]}"
        async with begin() as uow:
            await uow.record_case_opened(facts(known), NOW)
        with pytest.raises(RuntimeError):
            async with begin() as uow:
                await uow.record_case_balance(known, 1, NOW)
                await uow.record_case_closed(known, 0, NOW)
                await uow.record_case_assignment(known, "collector", "collector-1", NOW)
                await uow.record_case_opened(facts(new), NOW)
                assert await uow.claim_reference(claim) is None
                ledger = CaseLedger.new(new)
                pay(ledger, facts(new), 2500, claim.external_reference)
                await uow.ledgers.save(ledger, uow.tx, jurisdiction="GB")
                await uow.project(ledger, TZ)
                await uow.schedule_timer(kind, new, NOW, {"case_id": new})
                raise RuntimeError("the command failed")
        async with begin() as uow:
            assert await uow.case_facts(known) == facts(known)
            assert await uow.case_facts(new) is None
            assert await uow.reference_of_payment(claim.payment_id) is None
            assert await uow.ledgers.find(new, uow.tx) is None
            assert await uow.claim_reference(replace(claim, payment_id=str(uuid4()))) is None  # free
        assert await fired_at(env, fire_due, kind, NOW + timedelta(days=1)) == []

    async def test_units_of_work_in_the_callers_transaction_commit_or_roll_back_with_it(
        self, begin: Any, transaction: Any
    ) -> None:
        kept, dropped = new_case_id(), new_case_id()
        claim = claim_for(kept)
        async with transaction() as tx:  # a consumer batch: one command after another
            async with begin(tx) as uow:
                await uow.record_case_opened(facts(kept), NOW)
            async with begin(tx) as uow:
                assert await uow.case_facts(kept) == facts(kept)  # the batch's next command sees it
                assert await uow.claim_reference(claim) is None
        with pytest.raises(RuntimeError):
            async with transaction() as tx:
                async with begin(tx) as uow:
                    await uow.record_case_opened(facts(dropped), NOW)
                    await uow.record_case_balance(kept, 1, NOW)
                async with begin(tx) as uow:
                    assert await uow.case_facts(dropped) == facts(dropped)
                raise RuntimeError("the batch failed")
        async with begin() as uow:
            assert await uow.case_facts(kept) == facts(kept)
            assert await uow.case_facts(dropped) is None
            assert await uow.reference_of_payment(claim.payment_id) == claim
