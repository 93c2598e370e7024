"""The case service's use cases through its command bus and handler table, on the in-memory store
and books: the same handlers the routes, consumers, timers and imports run, without the stack."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from case_service.adapters.memory import InMemoryCaseService
from case_service.adapters.unit_of_work_contract import placement
from case_service.application import commands as c
from case_service.application.handlers import AGEING_TIMER, HOLD_EXPIRY_TIMER, INTEREST_TIMER
from case_service.application.ports import CaseEnvironment
from case_service.domain.assignment import AssignmentPolicy, Qualification, StaffMember
from case_service.domain.errors import CaseClosedError, CaseNotFound
from case_service.domain.policy import CollectionPolicy
from dcp_events.catalogue.base import Money
from dcp_events.catalogue.cases import CaseInterestAccrued
from dcp_events.catalogue.enums import AssigneeKind, CloseReason, HoldType, Stage
from dcp_platform.application import UnknownCommand
from dcp_platform.clock import ManualClock
from dcp_platform.eventsourcing.store import ConcurrencyConflict
from dcp_platform.testing.handler_table import assert_every_command_has_a_handler

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def gbp(minor: int) -> Money:
    return Money(amount_minor=minor, currency="GBP")


@pytest.fixture
def service(policy: CollectionPolicy) -> InMemoryCaseService:
    return InMemoryCaseService(CaseEnvironment(policy, ManualClock(NOW)))


def staff(
    member_id: str, kind: AssigneeKind = AssigneeKind.COLLECTOR, team: str | None = None
) -> StaffMember:
    return StaffMember(
        kind=kind,
        id=member_id,
        capacity=10,
        team=team,
        qualifications=(Qualification(frozenset({"GB"}), frozenset({"en"})),),
    )


async def test_a_placement_opens_one_case_and_a_repeat_opens_nothing(service: InMemoryCaseService) -> None:
    p = placement("ACC-1")
    assert await service.handle(c.OpenCase(p)) is True
    assert await service.handle(c.OpenCase(p)) is False
    case = await service.repository.get(p.case_id)
    assert case.is_open and case.balance == gbp(100_000)
    assert service.books.cases[p.case_id].version == case.version  # the read model projected with it


async def test_a_hold_with_an_expiry_sets_its_timer_and_a_release_cancels_it(
    service: InMemoryCaseService,
) -> None:
    p = placement("ACC-2")
    await service.handle(c.OpenCase(p))
    expires = NOW + timedelta(days=30)
    await service.handle(c.PlaceHold(p.case_id, "h-1", HoldType.DEBT_ADVICE, "adviser", expires))
    assert service.books.timers[(HOLD_EXPIRY_TIMER, f"{p.case_id}:h-1")][0] == expires
    await service.handle(c.ReleaseHold(p.case_id, "h-1", "plan agreed"))
    assert (HOLD_EXPIRY_TIMER, f"{p.case_id}:h-1") not in service.books.timers


async def test_closing_cancels_the_pending_hold_timers(service: InMemoryCaseService) -> None:
    p = placement("ACC-3")
    await service.handle(c.OpenCase(p))
    await service.handle(
        c.PlaceHold(p.case_id, "h-1", HoldType.COMPLAINT, "complaint", NOW + timedelta(days=5))
    )
    await service.handle(c.CloseCase(p.case_id, CloseReason.RECALLED, "recalled by the creditor"))
    assert [key for key in service.books.timers if key[0] == HOLD_EXPIRY_TIMER] == []
    with pytest.raises(CaseClosedError):
        await service.handle(c.ChangeStage(p.case_id, Stage.LATE, "too late"))


async def test_a_stale_if_match_is_a_conflict_and_changes_nothing(service: InMemoryCaseService) -> None:
    p = placement("ACC-4")
    await service.handle(c.OpenCase(p))
    version = (await service.repository.get(p.case_id)).version
    await service.handle(c.ChangeStage(p.case_id, Stage.LATE, "early escalation", expected_version=version))
    with pytest.raises(ConcurrencyConflict):
        await service.handle(c.ChangeStage(p.case_id, Stage.LEGAL, "again", expected_version=version))
    assert (await service.repository.get(p.case_id)).stage is Stage.LATE


async def test_a_failed_command_commits_nothing(service: InMemoryCaseService) -> None:
    p = placement("ACC-5")
    await service.handle(c.OpenCase(p))
    before = (await service.repository.get(p.case_id)).version
    with pytest.raises(CaseNotFound):
        await service.handle(c.ApplyPayment("no-such-case", "pay-1", gbp(10)))
    assert (await service.repository.get(p.case_id)).version == before


async def test_round_robin_moves_the_team_cursor(service: InMemoryCaseService) -> None:
    service.books.staff.update({m.id: m for m in (staff("col-a", team="t1"), staff("col-b", team="t1"))})
    first, second = placement("ACC-6"), placement("ACC-7")
    for p in (first, second):
        await service.handle(c.OpenCase(p))
    one = await service.handle(c.AssignCase(first.case_id, AssignmentPolicy.ROUND_ROBIN, team="t1"))
    two = await service.handle(c.AssignCase(second.case_id, AssignmentPolicy.ROUND_ROBIN, team="t1"))
    assert {one.id, two.id} == {"col-a", "col-b"}
    assert service.books.team_cursors["t1"] == two.id


async def test_reaching_the_agency_stage_places_the_case_with_an_agency(
    service: InMemoryCaseService, policy: CollectionPolicy
) -> None:
    assert policy.agency_at_stage is Stage.LEGAL
    service.books.staff["agency-1"] = staff("agency-1", AssigneeKind.AGENCY)
    p = placement("ACC-8")
    await service.handle(c.OpenCase(p))
    await service.handle(c.ChangeStage(p.case_id, Stage.LEGAL, "litigation review"))
    case = await service.repository.get(p.case_id)
    assert case.assignee is not None and case.assignee.kind is AssigneeKind.AGENCY


async def test_cases_opened_together_at_the_agency_stage_share_the_agencies_by_load(
    service: InMemoryCaseService, policy: CollectionPolicy
) -> None:
    service.books.staff["agency-1"] = staff("agency-1", AssigneeKind.AGENCY)
    service.books.staff["agency-2"] = staff("agency-2", AssigneeKind.AGENCY)
    legal_dpd = 120  # past the legal threshold (91 days): opened straight into the legal stage
    placements = [placement(f"ACC-L{n}", dpd=legal_dpd) for n in range(4)]
    await service.handle(c.OpenCases(list(enumerate(placements))))
    assignees = []
    for p in placements:
        case = await service.repository.get(p.case_id)
        assert case.stage is Stage.LEGAL and case.assignee is not None
        assignees.append(case.assignee.id)
        assert [e.event_type for e in await service.store.load(p.case_id)][
            -1
        ] == "collections.case.assigned.v1"
    assert sorted(assignees) == ["agency-1", "agency-1", "agency-2", "agency-2"]  # least loaded


async def test_an_import_chunk_opens_new_cases_counts_duplicates_and_keeps_refused_rows(
    service: InMemoryCaseService,
) -> None:
    await service.handle(c.OpenCase(placement("ACC-9")))
    await service.handle(c.CreateImport("imp-1", "csv", "portfolio.csv", "tester", 100))
    row = {
        "creditor_id": "acme",
        "account_reference": "ACC-10",
        "product": "credit_card",
        "debtor_id": "d-10",
        "full_name": "Grace Hopper",
        "language": "en-GB",
        "time_zone": "Europe/London",
        "currency": "GBP",
        "principal_minor": "5000",
        "days_past_due": "12",
        "jurisdiction": "GB",
    }
    again = {**row, "account_reference": "ACC-9", "debtor_id": "d-ACC-9"}
    progress = await service.handle(
        c.ImportChunk(
            "imp-1",
            [(1, row), (2, again), (3, "not a CSV row"), (4, {"creditor_id": "x"})],
            c.ImportProgress(),
            100,
        )
    )
    assert (progress.rows_read, progress.accepted, progress.duplicates, progress.rejected) == (4, 1, 1, 2)
    assert [r["row_number"] for r in service.books.rejections] == [3, 4]
    assert service.books.imports["imp-1"]["accepted"] == 1
    assert len(service.books.cases) == 2


async def test_the_ageing_run_escalates_and_schedules_tomorrow(service: InMemoryCaseService) -> None:
    p = placement("ACC-11", dpd=30)
    await service.handle(c.OpenCase(p))
    clock = service.env.clock
    assert isinstance(clock, ManualClock)
    clock.set(NOW + timedelta(days=2))
    aged = await service.handle(c.AgeCases())
    assert aged >= 1
    assert (await service.repository.get(p.case_id)).stage is Stage.LATE
    tomorrow = (NOW + timedelta(days=3)).date().isoformat()
    assert (AGEING_TIMER, tomorrow) in service.books.timers


async def test_a_case_saved_on_the_day_it_turns_is_still_aged_by_that_days_run(
    service: InMemoryCaseService,
) -> None:
    """A payment applied after midnight on the day the case turns 31 days past due, before the run
    reached it: the run still re-buckets and escalates it (the save must not push its date past today)."""
    p = placement("ACC-12", dpd=30)
    await service.handle(c.OpenCase(p))
    clock = service.env.clock
    assert isinstance(clock, ManualClock)
    clock.set(NOW + timedelta(days=1))
    await service.handle(c.ApplyPayment(p.case_id, "pay-12", gbp(1_000)))
    assert service.books.next_ageing_on[p.case_id] == clock.now().date()
    await service.handle(c.AgeCases())
    case = await service.repository.get(p.case_id)
    assert (case.bucket, case.stage) == ("31-60", Stage.LATE)
    assert service.books.next_ageing_on[p.case_id] == (NOW + timedelta(days=31)).date()  # 61 days past due


async def test_promise_and_contact_kpis_are_recorded_once(service: InMemoryCaseService) -> None:
    await service.handle(c.RecordPromiseMade("prm-1", "case-x", "col-1", NOW))
    await service.handle(c.RecordPromiseSettled("prm-1", "case-x", "kept", NOW))
    await service.handle(
        c.RecordContactActivity("ev-1", "case-x", "col-1", ("attempt", "right_party_contact"), NOW)
    )
    await service.handle(
        c.RecordContactActivity("ev-1", "case-x", "col-1", ("attempt", "right_party_contact"), NOW)
    )
    assert service.books.promises["prm-1"]["status"] == "kept"
    assert sorted(service.books.activity) == ["ev-1", "ev-1:rpc"]


async def test_a_command_without_a_handler_is_refused(service: InMemoryCaseService) -> None:
    with pytest.raises(UnknownCommand):
        await service.handle(object())


def test_every_command_has_a_handler() -> None:
    from case_service.application.handlers import COMMAND_HANDLERS

    assert_every_command_has_a_handler(
        c, COMMAND_HANDLERS, not_commands={c.Placement, c.ImportProgress, c.ErasureOutcome}
    )


async def test_the_monthly_interest_run_accrues_on_the_principal_and_a_freeze_charges_nothing(
    policy: CollectionPolicy,
) -> None:
    rated = dataclasses.replace(policy, interest_rates_bps={"credit_card": 2400})
    clock = ManualClock(NOW)
    service = InMemoryCaseService(CaseEnvironment(rated, clock))
    paying, frozen = placement("ACC-INT-1", balance=120_000), placement("ACC-INT-2", balance=120_000)
    await service.handle(c.OpenCase(paying))
    await service.handle(c.OpenCase(frozen))
    await service.handle(c.PlaceHold(frozen.case_id, "h-bs", HoldType.BREATHING_SPACE, "moratorium", None))

    clock.set(datetime(2027, 1, 1, 0, 0, tzinfo=UTC))  # 32 days since the opening on 30 November
    assert await service.handle(c.AccrueInterest()) == 2
    charged = await service.repository.get(paying.case_id)
    assert charged.parts is not None and charged.parts.interest == 2_525  # 120,000 x 24% x 32 / 365
    assert charged.balance == gbp(122_525)
    held = await service.repository.get(frozen.case_id)
    assert held.parts is not None and held.parts.interest == 0
    history = await service.store.load(frozen.case_id)
    stored = [r for r in history if r.event_type.startswith("collections.case.interest")]
    [accrual] = [CaseInterestAccrued.model_validate(r.payload) for r in stored]
    assert (accrual.amount, accrual.frozen_by) == (gbp(0), "GB-BS-STANDARD")
    assert (INTEREST_TIMER, "2027-02-01") in service.books.timers

    await service.handle(c.AccrueInterest())  # the same day again: nothing more
    assert (await service.repository.get(paying.case_id)).parts.interest == 2_525  # type: ignore[union-attr]
