"""The contract of the case service's unit of work: what the handlers rely on of the ports, passed by
the PostgreSQL adapter (tests/integration) and the in-memory one (tests/unit) alike, so the fast
application tests run on books that behave like the database.

Subclass `CaseUnitOfWorkContract` with a `begin` fixture: an async function returning an async
context manager that yields a unit of work in a new transaction (committed on exit, rolled back on
an exception), and an `env` fixture.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from case_service.application import commands as c
from case_service.application.handlers import new_case
from case_service.application.ports import CaseEnvironment
from case_service.domain.assignment import Qualification, StaffMember
from dcp_events.catalogue.base import CaseAmounts, Money
from dcp_events.catalogue.debtor import Account, Debtor
from dcp_events.catalogue.enums import AssigneeKind, CloseReason, HoldType
from dcp_platform.clock import ManualClock
from dcp_platform.eventsourcing.records import ConcurrencyConflict

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def placement(reference: str | None = None, *, dpd: int = 20, balance: int = 100_000) -> c.Placement:
    """A GB credit-card account `dpd` days past due (a new account reference when none is given)."""
    reference = reference or f"ACC-{uuid4().hex[:10]}"
    gbp = Money(amount_minor=balance, currency="GBP")
    zero = Money(amount_minor=0, currency="GBP")
    return c.Placement(
        debtor=Debtor(
            debtor_id=f"d-{reference}",
            full_name="Ada Lovelace",
            language="en-GB",
            time_zone="Europe/London",
            time_zone_source="address",
        ),
        account=Account(creditor_id="acme", account_reference=reference, product="credit_card"),
        amounts=CaseAmounts(principal=gbp, interest=zero, fees=zero, total_balance=gbp),
        due_since=NOW.date() - timedelta(days=dpd),
        jurisdiction="GB",
        risk_score=300,
    )


def member(member_id: str, kind: AssigneeKind = AssigneeKind.COLLECTOR, active: bool = True) -> StaffMember:
    return StaffMember(
        kind=kind,
        id=member_id,
        capacity=5,
        active=active,
        qualifications=(Qualification(frozenset({"GB"}), frozenset({"en"})),),
    )


class CaseUnitOfWorkContract:
    async def test_timers_are_scheduled_moved_listed_and_cancelled(self, begin: Any) -> None:
        key = uuid4().hex
        async with begin() as uow:
            await uow.schedule_timer("contract.kind", f"{key}:a", NOW, {"n": 1})
            await uow.schedule_timer("contract.kind", f"{key}:b", NOW)
            await uow.schedule_timer("contract.kind", f"{key}:a", NOW + timedelta(hours=1))  # moved
            await uow.schedule_timer("contract.other", f"{key}:c", NOW)
        async with begin() as uow:
            assert await uow.pending_timer_keys("contract.kind", f"{key}:") == [f"{key}:a", f"{key}:b"]
            await uow.cancel_timer("contract.kind", f"{key}:a")
        async with begin() as uow:
            assert await uow.pending_timer_keys("contract.kind", f"{key}:") == [f"{key}:b"]
            with pytest.raises(ValueError):
                await uow.schedule_timer("contract.kind", f"{key}:naive", NOW.replace(tzinfo=None))

    async def test_a_failed_unit_of_work_keeps_nothing(self, begin: Any) -> None:
        key = uuid4().hex
        with pytest.raises(RuntimeError):
            async with begin() as uow:
                await uow.schedule_timer("contract.kind", key, NOW)
                await uow.move_team_cursor(f"team-{key}", "col-1")
                raise RuntimeError("the command failed")
        async with begin() as uow:
            assert await uow.pending_timer_keys("contract.kind", key) == []
            assert await uow.team_cursor(f"team-{key}") is None

    async def test_a_debtors_cases_are_found_and_an_erasure_leaves_no_personal_data_to_replay(
        self, begin: Any, env: CaseEnvironment
    ) -> None:
        placed = placement()
        case = new_case(placed, env)
        async with begin() as uow:
            opened = await uow.open_new([case])
            await uow.project([(c, []) for c in opened])
        debtor_id = placed.debtor.debtor_id
        async with begin() as uow:
            assert await uow.case_ids_of_debtor(debtor_id) == [case.case_id]
            assert await uow.case_ids_of_debtor("nobody") == []
            loaded = await uow.cases.get(case.case_id, uow.tx)
            loaded.close(CloseReason.RECALLED, None, NOW.date())
            assert loaded.erase_personal_data(debtor_id, "request", "asked", "GDPR Art. 17")
            await uow.cases.save(loaded, uow.tx)
            await uow.redact_stored_events(case.case_id)
        async with begin() as uow:
            replayed = await uow.cases.get(case.case_id, uow.tx)
            assert replayed.erased and replayed.debtor is not None
            assert replayed.debtor.full_name == "[erased]" and replayed.debtor.debtor_id == debtor_id
            stored = [dict(e.payload) for e in await uow.cases.store.load(case.case_id, conn=uow.tx)]
            assert "Ada Lovelace" not in str(stored)

    async def test_the_team_cursor_remembers_the_last_assignee(self, begin: Any) -> None:
        team = f"team-{uuid4().hex[:8]}"
        async with begin() as uow:
            assert await uow.team_cursor(team) is None
            await uow.move_team_cursor(team, "col-1")
            await uow.move_team_cursor(team, "col-2")
        async with begin() as uow:
            assert await uow.team_cursor(team) == "col-2"

    async def test_new_cases_open_in_bulk_once_and_are_found(self, begin: Any, env: CaseEnvironment) -> None:
        placed = placement()
        first, second = new_case(placed, env), new_case(placement(), env)
        async with begin() as uow:
            opened = await uow.open_new([first])
            await uow.project([(case, []) for case in opened])
        again = new_case(placed, env)  # the same account placed again
        async with begin() as uow:
            opened = await uow.open_new([again, second])
            assert [case.case_id for case in opened] == [second.case_id]  # the placed one is left out
            assert opened[0].version > 0 and opened[0].pending == []
            await uow.project([(case, []) for case in opened])
        async with begin() as uow:
            ids = [first.case_id, second.case_id, "never-placed"]
            assert await uow.existing_case_ids(ids) == {first.case_id, second.case_id}
            assert (await uow.cases.get(second.case_id, uow.tx)).case_id == second.case_id

    async def test_cases_saved_together_append_and_project_each_or_none_when_one_moved_on(
        self, begin: Any, env: CaseEnvironment
    ) -> None:
        first, second = new_case(placement(dpd=30), env), new_case(placement(dpd=30), env)
        async with begin() as uow:
            opened = await uow.open_new([first, second])
            await uow.project([(case, []) for case in opened])
        tomorrow = NOW.date() + timedelta(days=1)
        async with begin() as uow:
            found = await uow.cases.find_many([first.case_id, second.case_id, "never-placed"], uow.tx)
            assert sorted(found) == sorted([first.case_id, second.case_id])
            for case in found.values():
                case.age(tomorrow, env.policy)  # 31 days past due: a new bucket
            saved = await uow.save_together(list(found.values()))
            assert sorted(case.case_id for case, changes in saved if changes) == sorted(found)
            assert all(case.pending == [] for case in found.values())
        async with begin() as uow:
            for case_id in (first.case_id, second.case_id):
                again = await uow.cases.get(case_id, uow.tx)
                assert again.version == found[case_id].version and again.bucket != first.bucket
        # One of them moved on meanwhile: a conflict, and the other is not saved either.
        async with begin() as uow:
            stale = await uow.cases.find_many([first.case_id, second.case_id], uow.tx)
        async with begin() as uow:
            moved = await uow.cases.get(first.case_id, uow.tx)
            moved.place_hold("h-1", HoldType.DEBT_ADVICE, reason="adviser", expires_at=None, now=NOW)
            await uow.cases.save(moved, uow.tx)
        async with begin() as uow:
            for case in stale.values():
                case.place_hold("h-2", HoldType.DEBT_ADVICE, reason="adviser", expires_at=None, now=NOW)
            with pytest.raises(ConcurrencyConflict):
                await uow.save_together(list(stale.values()))
        async with begin() as uow:
            untouched = await uow.cases.get(second.case_id, uow.tx)
            assert untouched.version == stale[second.case_id].version

    async def test_cases_due_for_ageing_are_listed_oldest_first(
        self, begin: Any, env: CaseEnvironment
    ) -> None:
        due_soon = new_case(placement(dpd=29), env)  # the bucket changes at 31 days past due
        async with begin() as uow:
            opened = await uow.open_new([due_soon])
            await uow.project([(case, []) for case in opened])
        async with begin() as uow:
            assert due_soon.case_id not in await uow.case_ids_needing_ageing(NOW.date(), 10_000)
            later = await uow.case_ids_needing_ageing(NOW.date() + timedelta(days=5), 10_000)
            assert due_soon.case_id in later

    async def test_an_ageing_date_is_kept_only_for_a_case_not_saved_since(
        self, begin: Any, env: CaseEnvironment
    ) -> None:
        looked_at, saved_since = new_case(placement(dpd=29), env), new_case(placement(dpd=29), env)
        async with begin() as uow:
            opened = await uow.open_new([looked_at, saved_since])
            await uow.project([(case, []) for case in opened])
        async with begin() as uow:
            seen = await uow.cases.find_many([looked_at.case_id, saved_since.case_id], uow.tx)
        async with begin() as uow:
            moved = await uow.cases.get(saved_since.case_id, uow.tx)
            moved.place_hold("h-1", HoldType.DEBT_ADVICE, reason="adviser", expires_at=None, now=NOW)
            await uow.cases.save(moved, uow.tx)
        day_31 = NOW.date() + timedelta(days=2)
        assert isinstance(env.clock, ManualClock)
        env.clock.set(NOW + timedelta(days=2))
        async with begin() as uow:
            for case in seen.values():
                case.age(day_31, env.policy)  # the bucket it turns to: its next date is at 61 days
            await uow.keep_ageing_dates(list(seen.values()))
        async with begin() as uow:
            due = await uow.case_ids_needing_ageing(day_31, 10_000)
            assert looked_at.case_id not in due
            assert saved_since.case_id in due  # saved meanwhile: its own save's date stands

    async def test_open_cases_of_products_are_listed_in_case_id_order_after_a_cursor(
        self, begin: Any, env: CaseEnvironment
    ) -> None:
        cases = sorted((new_case(placement(), env) for _ in range(3)), key=lambda case: case.case_id)
        async with begin() as uow:
            opened = await uow.open_new(cases)
            await uow.project([(case, []) for case in opened])
        ids = [case.case_id for case in cases]
        async with begin() as uow:
            listed = await uow.open_case_ids_of_products(["credit_card"], None, 10_000)
            assert [i for i in listed if i in ids] == ids
            after_first = await uow.open_case_ids_of_products(["credit_card"], ids[0], 10_000)
            assert ids[0] not in after_first and ids[1] in after_first
            assert await uow.open_case_ids_of_products(["mortgage"], None, 10_000) == []

    async def test_candidates_are_the_active_staff_of_a_kind_with_their_loads(
        self, begin: Any, env: CaseEnvironment
    ) -> None:
        tag = uuid4().hex[:8]
        async with begin() as uow:
            await uow.upsert_member(member(f"col-{tag}"), NOW)
            await uow.upsert_member(member(f"gone-{tag}", active=False), NOW)
            await uow.upsert_member(member(f"agency-{tag}", AssigneeKind.AGENCY), NOW)
            case = new_case(placement(), env)
            case.assign(AssigneeKind.COLLECTOR, f"col-{tag}", "contract", "direct")
            opened = await uow.open_new([case])
            await uow.project([(case, []) for case in opened])
        async with begin() as uow:
            collectors = {c.member.id: c.open_cases for c in await uow.candidates(AssigneeKind.COLLECTOR)}
            agencies = {c.member.id for c in await uow.candidates(AssigneeKind.AGENCY)}
            everyone = {c.member.id for c in await uow.candidates()}
        assert collectors.get(f"col-{tag}") == 1
        assert f"gone-{tag}" not in collectors and f"gone-{tag}" not in everyone
        assert f"agency-{tag}" in agencies and f"agency-{tag}" not in collectors
        assert {f"col-{tag}", f"agency-{tag}"} <= everyone
