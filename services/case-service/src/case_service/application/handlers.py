"""The case service's use cases, one handler per command, and the table the command bus runs them from.

A handler loads the case through the unit of work's repository, runs the domain command, and saves
what it recorded; the save projects the read models in the same transaction, then the handler keeps
the case's timers (hold expiries) and the policy's reactions (agency placement at a stage) in step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from prometheus_client import Counter

from case_service.application import commands as c
from case_service.application import policies
from case_service.application.imports import placement_from_row
from case_service.application.ports import CaseEnvironment, CaseUnitOfWork, ExperimentBook
from case_service.domain.ageing import next_midnight
from case_service.domain.assignment import (
    AssignmentPolicy,
    Candidate,
    CaseProfile,
    Choice,
    StaffMember,
    check_direct,
    choose,
)
from case_service.domain.case import Case, Freeze
from case_service.domain.errors import (
    AssigneeNotQualified,
    CaseNotFound,
    CaseRuleViolation,
    NoQualifiedAssignee,
)
from case_service.domain.experiments import ExperimentReport, GuardStatus, evaluate
from case_service.domain.policy import PERSON_CHANNELS
from case_service.domain.segmentation import Experiment
from dcp_compliance import charges_freeze, load_pack, vulnerability_treatment
from dcp_compliance.limitation import RestartEvent
from dcp_compliance.packs import HoldBlocks, UnknownJurisdiction, VulnerabilityTreatment
from dcp_events.catalogue.cases import (
    CaseClosed,
    CaseEvent,
    CaseHoldPlaced,
    CaseHoldReleased,
    CaseReopened,
    CaseStageChanged,
    CaseStrategyAssigned,
    CaseVulnerabilityFlagged,
    CaseVulnerabilityRemoved,
    CaseVulnerabilityReviewed,
)
from dcp_events.catalogue.enums import AssigneeKind, Channel, CloseReason, HoldType, VulnerabilityType
from dcp_events.catalogue.policies import ExperimentArmStopped, GuardReading
from dcp_events.catalogue.staff import StaffMemberChanged, StaffQualification
from dcp_platform.application import Handler
from dcp_platform.eventsourcing.store import ConcurrencyConflict

log = logging.getLogger(__name__)

HOLD_EXPIRY_TIMER = "case.hold_expiry"
RETENTION_TIMER = "case.retention"
AGEING_TIMER = "case.ageing"
INTEREST_TIMER = "case.interest"
VULNERABILITY_REVIEW_TIMER = "case.vulnerability_review"
DEFAULT_REVIEW_DAYS = 90
"""A flag's review interval when neither the request nor the pack's rule for its type gives one."""

T = TypeVar("T")


# --- the shared steps ---------------------------------------------------------------------------


async def load(uow: CaseUnitOfWork, case_id: str, expected_version: int | None = None) -> Case:
    case = await uow.cases.find(case_id, uow.tx)
    if case is None:
        raise CaseNotFound(case_id)
    if expected_version is not None and expected_version != case.version:
        raise ConcurrencyConflict(case_id, expected_version)
    return case


async def save(uow: CaseUnitOfWork, env: CaseEnvironment, case: Case) -> list[CaseEvent]:
    """Append what the case recorded (its read models project in the same transaction), then keep
    its timers and the policy's reactions in step."""
    changes = list(case.pending)
    if not changes:
        return []
    await uow.cases.save(case, uow.tx)
    await _keep_timers(uow, env, case, changes)
    if reached_agency_stage(env, case, changes):
        await place_with_agency(uow, env, case)
    elif needs_allocation(env, case, changes):
        allocator = Allocator(env, await uow.candidates(AssigneeKind.COLLECTOR))
        if await allocator.allocate(uow, case):
            await save(uow, env, case)
            await allocator.keep_cursors(uow)
    return changes


def needs_allocation(env: CaseEnvironment, case: Case, changes: Sequence[CaseEvent]) -> bool:
    """A new or re-segmented case in house, under a policy that allocates automatically."""
    if not env.policy.automatic_assignment.enabled or not case.is_open:
        return False
    if case.assignee is not None and case.assignee.kind is not AssigneeKind.COLLECTOR:
        return False  # with an agency or a team: theirs to allocate
    return any(isinstance(e, CaseStrategyAssigned) for e in changes)


class Allocator:
    """Allocates cases in house by the strategy's policy (least loaded or round robin within a team),
    among collectors qualified for the case's jurisdiction, language and the channels its strategy
    works in person, with room; loads and round-robin cursors kept across one batch."""

    def __init__(self, env: CaseEnvironment, pool: list[Candidate]) -> None:
        self.env, self.pool = env, pool
        self.cursors: dict[str, str | None] = {}
        self.moved: set[str] = set()

    async def allocate(self, uow: CaseUnitOfWork, case: Case, why: str = "automatic") -> bool:
        assert case.debtor is not None
        policy_name, team = self.env.policy.automatic_assignment.for_strategy(
            case.strategy.strategy_id if case.strategy else None
        )
        steps = case.strategy.treatment if case.strategy and case.strategy.treatment else []
        skills = frozenset(s.channel.value for s in steps) & PERSON_CHANNELS
        profile = CaseProfile(case.jurisdiction, case.debtor.language, skills)
        today = self.env.today()
        if case.assignee is not None and why == "automatic":
            current = next((c for c in self.pool if c.member.id == case.assignee.id), None)
            fits = current is not None and current.member.qualified_for(
                profile.jurisdiction, profile.language, today, skills
            )
            if fits and current is not None and (team is None or current.member.team == team):
                return False  # re-segmented, and the collector still fits
        policy = AssignmentPolicy(policy_name)
        if policy is AssignmentPolicy.ROUND_ROBIN and team is not None and team not in self.cursors:
            self.cursors[team] = await uow.team_cursor(team)
        try:
            choice = choose(
                policy,
                profile,
                self.pool,
                today,
                team=team,
                last_assigned_in_team=self.cursors.get(team or ""),
            )
        except NoQualifiedAssignee:
            return False  # stays as it is; a supervisor's worklist shows it unallocated
        if not case.assign(
            choice.kind, choice.id, f"{why}: {choice.reason}", choice.policy.value, self.env.policy.version
        ):
            return False
        for n, candidate in enumerate(self.pool):
            if candidate.member.id == choice.id:
                self.pool[n] = replace(candidate, open_cases=candidate.open_cases + 1)
        if policy is AssignmentPolicy.ROUND_ROBIN and team is not None:
            self.cursors[team] = choice.id
            self.moved.add(team)
        return True

    async def keep_cursors(self, uow: CaseUnitOfWork) -> None:
        for team in sorted(self.moved):
            last = self.cursors.get(team)
            if last is not None:
                await uow.move_team_cursor(team, last)
        self.moved.clear()


async def execute(
    uow: CaseUnitOfWork,
    env: CaseEnvironment,
    case_id: str,
    command: Callable[[Case], T],
    expected_version: int | None = None,
) -> T:
    case = await load(uow, case_id, expected_version)
    result = command(case)
    await save(uow, env, case)
    return result


def reached_agency_stage(env: CaseEnvironment, case: Case, changes: Sequence[CaseEvent]) -> bool:
    stage = env.policy.agency_at_stage
    return (
        stage is not None
        and case.is_open
        and any(isinstance(e, CaseStageChanged) and e.to_stage is stage for e in changes)
        and (case.assignee is None or case.assignee.kind is not AssigneeKind.AGENCY)
    )


async def place_with_agency(uow: CaseUnitOfWork, env: CaseEnvironment, case: Case) -> None:
    """Agency placement at a stage: the least-loaded qualified agency, if any (else stays in house)."""
    if assign_to_agency(env, case, await uow.candidates(AssigneeKind.AGENCY)):
        await save(uow, env, case)


def assign_to_agency(env: CaseEnvironment, case: Case, pool: list[Candidate]) -> bool:
    """Assign the case to the least-loaded qualified agency of `pool` (whose load then counts the
    case); False when none is qualified and has room (the case stays in house)."""
    assert case.debtor is not None
    try:
        choice = choose(
            AssignmentPolicy.AGENCY, CaseProfile(case.jurisdiction, case.debtor.language), pool, env.today()
        )
    except NoQualifiedAssignee:
        return False
    case.assign(choice.kind, choice.id, choice.reason, choice.policy.value, env.policy.version)
    for n, candidate in enumerate(pool):
        if candidate.member.kind is choice.kind and candidate.member.id == choice.id:
            pool[n] = replace(candidate, open_cases=candidate.open_cases + 1)
    return True


def add_years(moment: datetime, years: int) -> datetime:
    """`years` later, on the same date (29 February: the 28th)."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


async def _keep_timers(
    uow: CaseUnitOfWork, env: CaseEnvironment, case: Case, changes: Sequence[CaseEvent]
) -> None:
    for change in changes:
        if isinstance(change, CaseHoldPlaced) and change.expires_at is not None:
            await uow.schedule_timer(
                HOLD_EXPIRY_TIMER,
                f"{case.case_id}:{change.hold_id}",
                change.expires_at,
                {"case_id": case.case_id, "hold_id": change.hold_id},
            )
        elif isinstance(change, CaseHoldReleased):
            await uow.cancel_timer(HOLD_EXPIRY_TIMER, f"{case.case_id}:{change.hold_id}")
        elif isinstance(change, CaseClosed):
            for key in await uow.pending_timer_keys(HOLD_EXPIRY_TIMER, f"{case.case_id}:"):
                await uow.cancel_timer(HOLD_EXPIRY_TIMER, key)
            retention = env.policy.retention_for(case.jurisdiction)
            if retention is not None and not case.erased:
                await uow.schedule_timer(
                    RETENTION_TIMER,
                    case.case_id,
                    add_years(env.clock.now(), retention.years),
                    {"case_id": case.case_id, "years": retention.years, "citation": retention.citation},
                )
        elif isinstance(change, CaseReopened):
            await uow.cancel_timer(RETENTION_TIMER, case.case_id)  # open again: the data is needed
        elif isinstance(change, CaseVulnerabilityFlagged | CaseVulnerabilityReviewed):
            prefix = f"{case.case_id}:{change.flag_id}:"
            for key in await uow.pending_timer_keys(VULNERABILITY_REVIEW_TIMER, prefix):
                await uow.cancel_timer(VULNERABILITY_REVIEW_TIMER, key)
            # due once the review day has passed without a review (UTC)
            due = datetime.combine(change.review_on + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
            await uow.schedule_timer(
                VULNERABILITY_REVIEW_TIMER,
                f"{prefix}{change.review_on.isoformat()}",
                due,
                {"case_id": case.case_id, "flag_id": change.flag_id},
            )
        elif isinstance(change, CaseVulnerabilityRemoved):
            prefix = f"{case.case_id}:{change.flag_id}:"
            for key in await uow.pending_timer_keys(VULNERABILITY_REVIEW_TIMER, prefix):
                await uow.cancel_timer(VULNERABILITY_REVIEW_TIMER, key)


def new_case(placement: c.Placement, env: CaseEnvironment) -> Case:
    """The one place a case is opened from a placement (REST, the placements topic, imports)."""
    today = env.today()
    return Case.open(
        placement.case_id,
        debtor=placement.debtor,
        account=placement.account,
        amounts=placement.amounts,
        due_since=placement.due_since,
        jurisdiction=placement.jurisdiction,
        risk_score=placement.risk_score,
        placement_id=placement.placement_id,
        today=today,
        policy=env.policy,
    )


# --- placements -----------------------------------------------------------------------------------


async def open_case(command: c.OpenCase, uow: CaseUnitOfWork, env: CaseEnvironment) -> bool:
    """Open the placed account's case; False when it is already placed (placements are idempotent)."""
    case_id = command.placement.case_id
    if await uow.cases.exists(case_id, uow.tx):
        return False
    case = new_case(command.placement, env)
    try:
        await save(uow, env, case)
    except ConcurrencyConflict:
        return False  # opened concurrently by another placement of the same account
    return True


async def open_cases(command: c.OpenCases, uow: CaseUnitOfWork, env: CaseEnvironment) -> dict[str, Any]:
    """A chunk of a bulk import or a batch of consumed placements: one multi-row append and one
    multi-row projection for all of it."""
    existing = await uow.existing_case_ids([p.case_id for _, p in command.placements])
    rejections: list[tuple[int, str]] = []
    fresh: list[tuple[Case, list[CaseEvent]]] = []
    numbers: dict[str, int] = {}
    duplicates = 0
    agencies: list[Candidate] | None = None
    allocator: Allocator | None = None

    def cause_of(number: int) -> AbstractContextManager[object]:
        return nullcontext() if command.cause is None else command.cause(number)

    for number, placement in command.placements:
        if placement.case_id in existing:
            duplicates += 1
            continue
        try:
            case = new_case(placement, env)
        except CaseRuleViolation as exc:
            rejections.append((number, str(exc)))
            continue
        if reached_agency_stage(env, case, list(case.pending)):
            if agencies is None:
                agencies = await uow.candidates(AssigneeKind.AGENCY)  # once per chunk
            assign_to_agency(env, case, agencies)
        elif needs_allocation(env, case, list(case.pending)):
            if allocator is None:
                allocator = Allocator(env, await uow.candidates(AssigneeKind.COLLECTOR))  # once per chunk
            await allocator.allocate(uow, case)
        existing.add(case.case_id)
        fresh.append((case, list(case.pending)))
        numbers[case.case_id] = number

    opened = await uow.open_new([case for case, _ in fresh], lambda case: cause_of(numbers[case.case_id]))
    kept = {id(case) for case in opened}
    changed = [(case, changes) for case, changes in fresh if id(case) in kept]
    duplicates += len(fresh) - len(changed)
    await uow.project(changed)
    if allocator is not None:
        await allocator.keep_cursors(uow)
    return {"accepted": len(changed), "duplicates": duplicates, "rejections": rejections}


async def update_placement(command: c.UpdatePlacement, uow: CaseUnitOfWork, env: CaseEnvironment) -> None:
    today = env.today()

    def apply(case: Case) -> None:
        if command.amounts is not None:
            case.restate(command.amounts, command.placement_id, freeze_for(case, env))
        if case.is_open and command.days_past_due is not None:
            due = today - timedelta(days=command.days_past_due) if command.days_past_due else None
            case.redate(due, today, env.policy, "placement update from the creditor")
        if case.is_open:
            case.update_debtor(command.phones, command.emails, command.address)

    await execute(uow, env, command.case_id, apply)


async def recall_placement(command: c.RecallPlacement, uow: CaseUnitOfWork, env: CaseEnvironment) -> None:
    today = env.today()

    def close(case: Case) -> None:
        if case.is_open:
            case.close(CloseReason.RECALLED, command.reason, today)

    await execute(uow, env, command.case_id, close)


# --- case work (REST) -----------------------------------------------------------------------------


async def assign_case(command: c.AssignCase, uow: CaseUnitOfWork, env: CaseEnvironment) -> Choice:
    case = await load(uow, command.case_id, command.expected_version)
    choice = await _choose(uow, env, case, command)
    case.assign(choice.kind, choice.id, choice.reason, choice.policy.value)
    if choice.policy is AssignmentPolicy.ROUND_ROBIN and choice.team is not None:
        await uow.move_team_cursor(choice.team, choice.id)
    await save(uow, env, case)
    return choice


async def _choose(uow: CaseUnitOfWork, env: CaseEnvironment, case: Case, command: c.AssignCase) -> Choice:
    assert case.debtor is not None
    profile = CaseProfile(case.jurisdiction, case.debtor.language)
    today = env.today()
    if command.policy is AssignmentPolicy.DIRECT:
        if command.assignee_id is None:
            raise ValueError("direct assignment names an assignee_id")
        pool = {candidate.member.id: candidate for candidate in await uow.candidates()}
        candidate = pool.get(command.assignee_id)
        if candidate is None:
            raise AssigneeNotQualified(f"{command.assignee_id} is not an active collector or agency")
        reason = (
            command.reason
            or f"assigned by a supervisor to {candidate.member.kind.value} {candidate.member.id}"
        )
        return check_direct(candidate, profile, today, reason)
    if command.policy is AssignmentPolicy.RECALL:
        case.require_with_agency()
    kind = AssigneeKind.AGENCY if command.policy is AssignmentPolicy.AGENCY else AssigneeKind.COLLECTOR
    candidates = await uow.candidates(kind)
    last = None
    if command.policy is AssignmentPolicy.ROUND_ROBIN:
        if command.team is None:
            raise ValueError("round robin assignment names a team")
        last = await uow.team_cursor(command.team)
    choice = choose(command.policy, profile, candidates, today, team=command.team, last_assigned_in_team=last)
    if command.reason:
        return Choice(
            choice.kind, choice.id, choice.policy, f"{choice.reason}; {command.reason}", choice.team
        )
    return choice


REBALANCE_BATCH = 1000


async def upsert_staff_member(
    command: c.UpsertStaffMember, uow: CaseUnitOfWork, env: CaseEnvironment
) -> None:
    """Join or change the staff directory; a collector marked absent (inactive) has their open cases
    rebalanced to the qualified collectors left, by each case's strategy's policy (when the policy
    allocates automatically)."""
    member = command.member
    await uow.upsert_member(member, env.now())
    # The directory's change, on collections.staff: contact-service checks each person's
    # qualifications before a permit or an attempt, and the audit trail keeps who could do what.
    await uow.cases.append_entry(f"staff-{member.id}", member.id, [staff_changed(member)], uow.tx)
    if member.active or member.kind is not AssigneeKind.COLLECTOR:
        return
    if not env.policy.automatic_assignment.enabled:
        return
    case_ids = await uow.open_case_ids_assigned_to(AssigneeKind.COLLECTOR, member.id, REBALANCE_BATCH)
    if not case_ids:
        return
    cases = await uow.cases.find_many(case_ids, uow.tx)
    allocator = Allocator(env, await uow.candidates(AssigneeKind.COLLECTOR))
    for case in cases.values():
        await allocator.allocate(uow, case, why=f"rebalanced: {member.id} is absent")
    for case, changes in await uow.save_together(list(cases.values())):
        await _keep_timers(uow, env, case, changes)
    await allocator.keep_cursors(uow)


def staff_changed(member: StaffMember) -> StaffMemberChanged:
    return StaffMemberChanged(
        kind=member.kind,
        staff_id=member.id,
        team=member.team,
        capacity=member.capacity,
        active=member.active,
        qualifications=[
            StaffQualification(
                jurisdictions=sorted(q.jurisdictions),
                languages=sorted(q.languages),
                channels=sorted(Channel(ch) for ch in q.channels),
                expires_on=q.expires_on,
            )
            for q in member.qualifications
        ],
    )


async def change_stage(command: c.ChangeStage, uow: CaseUnitOfWork, env: CaseEnvironment) -> None:
    today = env.today()
    await execute(
        uow,
        env,
        command.case_id,
        lambda case: case.escalate(command.to_stage, today, command.reason),
        command.expected_version,
    )


async def place_hold(command: c.PlaceHold, uow: CaseUnitOfWork, env: CaseEnvironment) -> None:
    now = env.now()
    await execute(
        uow,
        env,
        command.case_id,
        lambda case: case.place_hold(
            command.hold_id,
            command.hold_type,
            reason=command.reason,
            expires_at=command.expires_at,
            now=now,
            evidence_ref=command.evidence_ref,
        ),
        command.expected_version,
    )


async def add_note(command: c.AddNote, uow: CaseUnitOfWork, env: CaseEnvironment) -> None:
    await execute(
        uow,
        env,
        command.case_id,
        lambda case: case.add_note(
            command.note_id,
            command.category,
            command.text,
            command.visible_to,
            command.author,
            command.supersedes,
        ),
        None,
    )


async def refer_to_legal(command: c.ReferToLegal, uow: CaseUnitOfWork, env: CaseEnvironment) -> str:
    today = env.today()

    def refer(case: Case) -> str:
        return case.refer_to_legal(
            command.referral_id,
            command.handler,
            command.handler_id,
            command.reason,
            by=command.by,
            supervisor=command.supervisor,
            threshold=env.policy.legal_approval_threshold(case.currency),
            today=today,
            documents=command.documents,
        )

    return await execute(uow, env, command.case_id, refer)


async def approve_legal_referral(
    command: c.ApproveLegalReferral, uow: CaseUnitOfWork, env: CaseEnvironment
) -> None:
    today = env.today()
    await execute(
        uow,
        env,
        command.case_id,
        lambda case: case.approve_legal_referral(command.referral_id, by=command.by, today=today),
    )


async def record_legal_step(command: c.RecordLegalStep, uow: CaseUnitOfWork, env: CaseEnvironment) -> None:
    today = env.today()
    await execute(
        uow,
        env,
        command.case_id,
        lambda case: case.record_legal_step(command.step, today, freeze_for(case, env)),
    )


def _treatment(
    case: Case, env: CaseEnvironment, flag_type: VulnerabilityType
) -> tuple[str, str, VulnerabilityTreatment] | None:
    """The rule id, pack version and treatment of the case's pack for flags of `flag_type`."""
    rule = vulnerability_treatment(case.jurisdiction, flag_type, env.now())
    if rule is None:
        return None
    assert isinstance(rule.parameters, VulnerabilityTreatment)
    try:
        version = load_pack(case.jurisdiction, at=env.now()).version
    except UnknownJurisdiction:
        return None
    return rule.id, version, rule.parameters


def _refer(case: Case, env: CaseEnvironment, flag_id: str) -> None:
    flag = case.vulnerabilities.get(flag_id)
    if flag is None or not case.is_open:
        return
    found = _treatment(case, env, flag.vulnerability_type)
    if found is not None and found[2].refer_to_team is not None:
        case.refer_to_specialist(flag_id, found[2].refer_to_team, found[0], found[1])


async def flag_vulnerability(command: c.FlagVulnerability, uow: CaseUnitOfWork, env: CaseEnvironment) -> None:
    today = env.today()

    def flag(case: Case) -> None:
        review_on = command.review_on
        if review_on is None:
            found = _treatment(case, env, command.vulnerability_type)
            days = found[2].review_days if found is not None and found[2].review_days else DEFAULT_REVIEW_DAYS
            review_on = today + timedelta(days=days)
        case.flag_vulnerability(
            command.flag_id,
            command.vulnerability_type,
            sub_type=command.sub_type,
            description=command.description,
            consent=command.consent,
            review_on=review_on,
            recorded_by=command.recorded_by,
            source=command.source,
            today=today,
        )
        _refer(case, env, command.flag_id)

    await execute(uow, env, command.case_id, flag)


async def review_vulnerability(
    command: c.ReviewVulnerability, uow: CaseUnitOfWork, env: CaseEnvironment
) -> None:
    today = env.today()

    def review(case: Case) -> None:
        case.review_vulnerability(
            command.flag_id,
            command.outcome,
            reviewed_by=command.reviewed_by,
            today=today,
            review_on=command.review_on,
            vulnerability_type=command.vulnerability_type,
            sub_type=command.sub_type,
            description=command.description,
            consent=command.consent,
            reason=command.reason,
        )
        _refer(case, env, command.flag_id)  # a change of type may call for a specialist team

    await execute(uow, env, command.case_id, review)


async def mark_vulnerability_review_due(
    command: c.MarkVulnerabilityReviewDue, uow: CaseUnitOfWork, env: CaseEnvironment
) -> None:
    today = env.today()
    await execute(uow, env, command.case_id, lambda case: case.mark_review_due(command.flag_id, today))


async def hold_for_debtor_request(
    command: c.HoldForDebtorRequest, uow: CaseUnitOfWork, env: CaseEnvironment
) -> None:
    def hold(case: Case) -> None:
        if case.is_open:
            case.place_hold(
                command.hold_id, command.hold_type, reason=command.reason, expires_at=None, now=command.at
            )

    await execute(uow, env, command.case_id, hold)


async def release_hold(command: c.ReleaseHold, uow: CaseUnitOfWork, env: CaseEnvironment) -> None:
    today = env.today()
    await execute(
        uow,
        env,
        command.case_id,
        lambda case: case.release_hold(command.hold_id, command.reason, today, env.policy),
        command.expected_version,
    )


async def release_hold_on_verification(
    command: c.ReleaseHoldOnVerification, uow: CaseUnitOfWork, env: CaseEnvironment
) -> None:
    today = env.today()

    def release(case: Case) -> None:
        hold = case.holds.get(command.hold_id)
        if case.is_open and hold is not None and hold.hold_type is HoldType.VERIFICATION_PENDING:
            case.release_hold(command.hold_id, command.reason, today, env.policy, verified=True)

    await execute(uow, env, command.case_id, release)


async def expire_hold(command: c.ExpireHold, uow: CaseUnitOfWork, env: CaseEnvironment) -> None:
    today = env.today()

    def expire(case: Case) -> None:
        if case.is_open and command.hold_id in case.holds:
            case.release_hold(command.hold_id, "hold expired", today, env.policy)

    await execute(uow, env, command.case_id, expire)


def freeze_for(case: Case, env: CaseEnvironment) -> Freeze | None:
    """The rule of the case's jurisdiction that freezes its charges under one of its holds, if any."""
    rule = charges_freeze(case.jurisdiction, [h.hold_type for h in case.holds.values()], env.now())
    if rule is None:
        return None
    assert isinstance(rule.parameters, HoldBlocks)
    hold = next(h for h in case.holds.values() if h.hold_type in rule.parameters.hold_types)
    return Freeze(rule.id, rule.citation, hold.hold_type)


async def add_charge(command: c.AddCharge, uow: CaseUnitOfWork, env: CaseEnvironment) -> None:
    await execute(
        uow,
        env,
        command.case_id,
        lambda case: case.add_charge(
            command.reason, command.amount, command.reference, freeze_for(case, env)
        ),
        command.expected_version,
    )


async def close_case(command: c.CloseCase, uow: CaseUnitOfWork, env: CaseEnvironment) -> None:
    today = env.today()
    await execute(
        uow,
        env,
        command.case_id,
        lambda case: case.close(command.reason, command.note, today),
        command.expected_version,
    )


async def erase_debtor(command: c.EraseDebtor, uow: CaseUnitOfWork, env: CaseEnvironment) -> c.ErasureOutcome:
    """Each closed case of the debtor records ErasureCompleted (its read model and stored events lose
    the personal data with it); an open case is left as it is and named."""
    case_ids = await uow.case_ids_of_debtor(command.debtor_id)
    if command.case_ids:
        case_ids = [i for i in case_ids if i in set(command.case_ids)]
    erased, already, still_open = [], [], []
    for case_id in case_ids:
        case = await load(uow, case_id)
        if case.is_open:
            still_open.append(case_id)
            continue
        if case.erase_personal_data(command.debtor_id, command.trigger, command.reason, command.legal_basis):
            await save(uow, env, case)
            await uow.redact_stored_events(case_id)
            erased.append(case_id)
        else:
            already.append(case_id)
    await _destroy_data_keys(env, erased + already, command.reason)
    return c.ErasureOutcome(erased, already, still_open)


async def _destroy_data_keys(env: CaseEnvironment, case_ids: Sequence[str], reason: str) -> None:
    """What Kafka holds of the cases' personal data was sealed under their data keys: destroyed
    before the erasure commits (a retry destroys nothing twice), it can never be read again."""
    if env.keys is not None and case_ids:
        await env.keys.destroy(case_ids, reason)


async def erase_after_retention(
    command: c.EraseAfterRetention, uow: CaseUnitOfWork, env: CaseEnvironment
) -> None:
    """The retention period of a closed case ran out: its personal data is erased (a reopened or
    already erased case is left alone)."""
    case = await load(uow, command.case_id)
    if case.is_open or case.erased or case.debtor is None:
        return
    reason = f"the retention period of {command.years} years after closure ended"
    if case.erase_personal_data(case.debtor.debtor_id, "retention", reason, command.citation):
        await save(uow, env, case)
        await uow.redact_stored_events(case.case_id)
        await _destroy_data_keys(env, [case.case_id], reason)


# --- what payment-service reports -----------------------------------------------------------------


async def apply_payment(command: c.ApplyPayment, uow: CaseUnitOfWork, env: CaseEnvironment) -> None:
    def apply(case: Case) -> None:
        account = case.account
        waterfall = env.policy.allocations.for_account(
            account.creditor_id if account else None, account.product if account else None
        )
        case.apply_payment(command.payment_id, command.amount, waterfall, command.paid_on or env.today())

    await execute(uow, env, command.case_id, apply)


async def restart_limitation(command: c.RestartLimitation, uow: CaseUnitOfWork, env: CaseEnvironment) -> None:
    restart = RestartEvent(kind=command.kind, on=command.on)
    await execute(uow, env, command.case_id, lambda case: case.date_limitation(restart))


async def reverse_payment(command: c.ReversePayment, uow: CaseUnitOfWork, env: CaseEnvironment) -> None:
    await execute(
        uow, env, command.case_id, lambda case: case.reverse_payment(command.payment_id, command.amount)
    )


async def record_arrangement(command: c.RecordArrangement, uow: CaseUnitOfWork, env: CaseEnvironment) -> None:
    today = env.today()

    def apply(case: Case) -> None:
        if command.status == "active":
            case.arrangement_started(command.kind, command.arrangement_id, command.until)
        else:
            case.arrangement_ended(command.kind, command.arrangement_id, command.status, today, env.policy)

    await execute(uow, env, command.case_id, apply)


async def record_settlement(command: c.RecordSettlement, uow: CaseUnitOfWork, env: CaseEnvironment) -> None:
    await execute(
        uow,
        env,
        command.case_id,
        lambda case: case.record_settlement(command.settlement_id, command.amount, command.due_on),
    )


async def lapse_settlement(command: c.LapseSettlement, uow: CaseUnitOfWork, env: CaseEnvironment) -> None:
    def lapse(case: Case) -> None:
        if case.is_open and case.settlement is not None:
            s = case.settlement
            case.record_settlement(command.settlement_id, s.amount, s.due_on, lapsed=True)

    await execute(uow, env, command.case_id, lapse)


async def pay_settlement(command: c.PaySettlement, uow: CaseUnitOfWork, env: CaseEnvironment) -> None:
    await execute(
        uow,
        env,
        command.case_id,
        lambda case: case.settlement_paid(command.settlement_id, command.amount, command.due_on),
    )


# --- ageing and the KPI read models ---------------------------------------------------------------


async def age_cases(command: c.AgeCases, uow: CaseUnitOfWork, env: CaseEnvironment) -> int:
    """One batch of the daily ageing; schedules the next batch at once, or tomorrow's run."""
    now, today = env.now(), env.today()
    case_ids = await uow.case_ids_needing_ageing(today, command.batch)
    cases = await uow.cases.find_many(case_ids, uow.tx)  # the batch's streams in one read
    agencies: list[Candidate] | None = None
    allocator: Allocator | None = None
    for case in cases.values():
        case.age(today, env.policy)
        if reached_agency_stage(env, case, list(case.pending)):
            if agencies is None:
                agencies = await uow.candidates(AssigneeKind.AGENCY)
            assign_to_agency(env, case, agencies)
        elif needs_allocation(env, case, list(case.pending)):
            if allocator is None:
                allocator = Allocator(env, await uow.candidates(AssigneeKind.COLLECTOR))
            await allocator.allocate(uow, case)
    saved = await uow.save_together(list(cases.values()))  # one append, one projection
    for case, changes in saved:
        await _keep_timers(uow, env, case, changes)
    changed = {case.case_id for case, _ in saved}
    await uow.keep_ageing_dates([case for case in cases.values() if case.case_id not in changed])
    if allocator is not None:
        await allocator.keep_cursors(uow)
    if len(case_ids) == command.batch:  # more to do: continue at once, in a new transaction
        await uow.schedule_timer(AGEING_TIMER, f"{today.isoformat()}:after:{case_ids[-1]}", now)
    else:
        tomorrow = next_midnight(now)
        await uow.schedule_timer(AGEING_TIMER, tomorrow.date().isoformat(), tomorrow)
    return len(case_ids)


def next_month_start(now: datetime) -> datetime:
    """00:00 UTC on the first day of the month after `now`."""
    first = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first + timedelta(days=32)).replace(day=1)


async def accrue_interest(command: c.AccrueInterest, uow: CaseUnitOfWork, env: CaseEnvironment) -> int:
    """One batch of the monthly interest run: each open case of a product with a rate accrues up to
    today; the next batch continues at once, else next month's run is scheduled."""
    now, today = env.now(), env.today()
    rates = env.policy.interest_rates_bps
    case_ids = (
        await uow.open_case_ids_of_products(sorted(rates), command.after, command.batch) if rates else []
    )
    cases = await uow.cases.find_many(case_ids, uow.tx)
    for case in cases.values():
        assert case.account is not None
        rate = rates.get(case.account.product)
        if rate:
            case.accrue_interest(today, rate, env.policy.interest_day_count, freeze_for(case, env))
    await uow.save_together(list(cases.values()))
    if len(case_ids) == command.batch:
        await uow.schedule_timer(
            INTEREST_TIMER, f"{today.isoformat()}:after:{case_ids[-1]}", now, {"after": case_ids[-1]}
        )
    else:
        due = next_month_start(now)
        await uow.schedule_timer(INTEREST_TIMER, due.date().isoformat(), due)
    return len(case_ids)


async def record_promise_made(
    command: c.RecordPromiseMade, uow: CaseUnitOfWork, env: CaseEnvironment
) -> None:
    await uow.promise_made(command.promise_id, command.case_id, command.collector_id, command.at)


async def record_promise_settled(
    command: c.RecordPromiseSettled, uow: CaseUnitOfWork, env: CaseEnvironment
) -> None:
    await uow.promise_settled(command.promise_id, command.case_id, command.status, command.at)


async def record_contact_activity(
    command: c.RecordContactActivity, uow: CaseUnitOfWork, env: CaseEnvironment
) -> None:
    at = command.at or env.now()
    for n, kind in enumerate(command.kinds):
        event_id = command.event_id if n == 0 else f"{command.event_id}:{_ACTIVITY_SUFFIX.get(kind, kind)}"
        await uow.collector_activity(event_id, command.collector_id, command.case_id, kind, at)


_ACTIVITY_SUFFIX = {"right_party_contact": "rpc"}


# --- bulk imports ----------------------------------------------------------------------------------


async def create_import(command: c.CreateImport, uow: CaseUnitOfWork, env: CaseEnvironment) -> None:
    await uow.insert_import(command, env.now())


async def set_import_status(command: c.SetImportStatus, uow: CaseUnitOfWork, env: CaseEnvironment) -> None:
    values: dict[str, Any] = {"status": command.status}
    if command.status in ("completed", "failed"):
        values["finished_at"] = env.now()
        values["error"] = command.error
    await uow.update_import(command.import_id, values)


async def import_chunk(command: c.ImportChunk, uow: CaseUnitOfWork, env: CaseEnvironment) -> c.ImportProgress:
    """Validate the rows, open the cases of the valid ones (one multi-row append), record the refused
    rows and the progress, all in one transaction."""
    today = env.today()
    rejections: list[tuple[int, str]] = []
    placements: list[tuple[int, c.Placement]] = []
    for number, raw in command.rows:
        if isinstance(raw, str):
            rejections.append((number, raw))
            continue
        try:
            placement = placement_from_row(raw, today)
            if command.creditors is not None and placement.account.creditor_id not in command.creditors:
                rejections.append(
                    (number, f"the importer does not act for creditor {placement.account.creditor_id}")
                )
                continue
            placements.append((number, placement))
        except ValueError as exc:
            rejections.append((number, str(exc)))
        except (
            TypeError,
            KeyError,
            ArithmeticError,
            RecursionError,
        ) as exc:  # one row's fault, never the import's
            rejections.append((number, f"not a valid row ({type(exc).__name__}: {exc})"[:500]))
    opened = await open_cases(c.OpenCases(placements), uow, env)
    rejections += opened["rejections"]
    await uow.insert_rejections(
        [{"import_id": command.import_id, "row_number": n, "reason": reason} for n, reason in rejections]
    )
    before = command.progress
    after = c.ImportProgress(
        rows_read=before.rows_read + len(command.rows),
        accepted=before.accepted + opened["accepted"],
        duplicates=before.duplicates + opened["duplicates"],
        rejected=before.rejected + len(rejections),
        bytes_read=command.bytes_read,
    )
    await uow.update_import(
        command.import_id,
        {
            "rows_read": after.rows_read,
            "accepted": after.accepted,
            "duplicates": after.duplicates,
            "rejected": after.rejected,
            "bytes_read": after.bytes_read,
        },
    )
    return after


# --- experiments: the review of the harm guards ----------------------------------------------------
# A durable timer reads every running experiment's guards, stops a challenger worse than its
# champion beyond one (ExperimentArmStopped on collections.policies, a metric an alert watches), and
# moves the open cases of stopped arms to the champion's strategy.

EXPERIMENT_REVIEW_TIMER = "case.experiment_review"
REVIEW_EVERY = timedelta(hours=1)

ARMS_STOPPED = Counter(
    "dcp_experiment_arms_stopped_total",
    "Challenger arms stopped because a harm guard was breached (alerted on)",
    ["experiment_id", "arm", "guard"],
)


def _bp(value: float | None) -> int:
    return 0 if value is None else max(-10_000, min(10_000, round(value * 10_000)))


def guard_reading(status: GuardStatus, alpha: float) -> GuardReading:
    return GuardReading(
        guard=status.guard,
        champion_cases=status.champion.n,
        champion_rate_bp=_bp(status.champion.value),
        challenger_cases=status.challenger.n,
        challenger_rate_bp=_bp(status.challenger.value),
        difference_low_bp=_bp(status.comparison.low),
        difference_high_bp=_bp(status.comparison.high),
        max_increase_bp=_bp(status.max_increase),
        alpha_bp=_bp(alpha),
    )


async def experiment_report(
    book: ExperimentBook, experiment: Experiment, start: datetime, end: datetime
) -> ExperimentReport:
    cases = await book.enrolled_cases(experiment.id, start, end)
    return evaluate(experiment.id, [a.name for a in experiment.arms], cases, experiment.test)


async def review_experiments(command: c.ReviewExperiments, uow: CaseUnitOfWork, env: CaseEnvironment) -> int:
    """One review; returns the cases moved off stopped arms (a full batch: the next review is now)."""
    now = env.now()
    book = uow.experiment_book()
    if book is None:
        return 0
    stopped = await book.stops()
    env.stop_arms(frozenset(stopped))
    for experiment in env.policy.segmentation.experiments:
        since = await book.first_enrolment(experiment.id)
        if since is None:
            continue
        report = await experiment_report(book, experiment, since, now + timedelta(microseconds=1))
        for challenger in report.challengers:
            breached = challenger.breached
            if breached is None or (experiment.id, challenger.arm) in stopped:
                continue
            reading = guard_reading(breached, experiment.test.guard_alpha)
            reason = (
                f"{breached.guard}: {challenger.arm} worse than {report.champion_arm} beyond the guard's "
                f"{breached.max_increase:.1%} margin ({breached.challenger.value or 0:.1%} of "
                f"{breached.challenger.n} cases against {breached.champion.value or 0:.1%} "
                f"of {breached.champion.n})"
            )
            if not await book.stop_arm(
                experiment.id, challenger.arm, now, reason, reading.model_dump(mode="json")
            ):
                continue
            await uow.cases.append_entry(
                f"experiment-{experiment.id}",
                experiment.id,
                [
                    ExperimentArmStopped(
                        experiment_id=experiment.id,
                        arm=challenger.arm,
                        champion_arm=report.champion_arm,
                        reason=reason,
                        guard=reading,
                        stopped_by="case-service",
                        enrolled_since=since.date(),
                    )
                ],
                uow.tx,
            )
            ARMS_STOPPED.labels(experiment.id, challenger.arm, breached.guard).inc()
            log.warning(
                "experiment arm stopped by its guard: %s %s: %s", experiment.id, challenger.arm, reason
            )
            stopped[(experiment.id, challenger.arm)] = {"stopped_at": now, "reason": reason}
    env.stop_arms(frozenset(stopped))
    moved = 0
    for experiment_id, arm in sorted(stopped):
        case_ids = await book.open_case_ids_in_arm(experiment_id, arm, None, command.batch - moved)
        cases = await uow.cases.find_many(case_ids, uow.tx)
        for case in cases.values():
            case.reconsider_strategy(env.policy)
            await save(uow, env, case)
        moved += len(case_ids)
        if moved >= command.batch:
            break
    due = now if moved >= command.batch else now + REVIEW_EVERY
    await uow.schedule_timer(EXPERIMENT_REVIEW_TIMER, f"after:{now.isoformat()}", due)
    return moved


async def record_contact_outcome(
    command: c.RecordContactOutcome, uow: CaseUnitOfWork, env: CaseEnvironment
) -> None:
    await uow.contact_outcome(
        command.event_id, command.case_id, command.channel, command.right_party, command.at
    )


async def record_case_signal(command: c.RecordCaseSignal, uow: CaseUnitOfWork, env: CaseEnvironment) -> None:
    await uow.case_signal(command.case_id, command.kind, command.at)


COMMAND_HANDLERS: dict[type, Handler[CaseUnitOfWork, CaseEnvironment]] = {
    c.OpenCase: open_case,
    c.EraseDebtor: erase_debtor,
    c.EraseAfterRetention: erase_after_retention,
    c.OpenCases: open_cases,
    c.UpdatePlacement: update_placement,
    c.RecallPlacement: recall_placement,
    c.AssignCase: assign_case,
    c.UpsertStaffMember: upsert_staff_member,
    c.ChangeStage: change_stage,
    c.PlaceHold: place_hold,
    c.AddNote: add_note,
    c.FlagVulnerability: flag_vulnerability,
    c.ReviewVulnerability: review_vulnerability,
    c.MarkVulnerabilityReviewDue: mark_vulnerability_review_due,
    c.HoldForDebtorRequest: hold_for_debtor_request,
    c.ReleaseHold: release_hold,
    c.ReleaseHoldOnVerification: release_hold_on_verification,
    c.ReferToLegal: refer_to_legal,
    c.ApproveLegalReferral: approve_legal_referral,
    c.RecordLegalStep: record_legal_step,
    c.ExpireHold: expire_hold,
    c.CloseCase: close_case,
    c.AddCharge: add_charge,
    c.ApplyPayment: apply_payment,
    c.RestartLimitation: restart_limitation,
    c.ReversePayment: reverse_payment,
    c.RecordSettlement: record_settlement,
    c.RecordArrangement: record_arrangement,
    c.LapseSettlement: lapse_settlement,
    c.PaySettlement: pay_settlement,
    c.AgeCases: age_cases,
    c.AccrueInterest: accrue_interest,
    c.RecordPromiseMade: record_promise_made,
    c.RecordPromiseSettled: record_promise_settled,
    c.RecordContactActivity: record_contact_activity,
    c.RecordCaseSignal: record_case_signal,
    c.RecordContactOutcome: record_contact_outcome,
    c.ReviewExperiments: review_experiments,
    c.ProposePolicyVersion: policies.propose_policy_version,
    c.ApprovePolicyVersion: policies.approve_policy_version,
    c.ActivatePolicyVersion: policies.activate_policy_version,
    c.TrainPropensityModel: policies.train_propensity_model,
    c.CreateImport: create_import,
    c.SetImportStatus: set_import_status,
    c.ImportChunk: import_chunk,
}
