"""The shared case-access rule: collectors act on cases assigned to them, their team or their agency;
auditors read any case and act on none; supervisors, admins and integration are not case-scoped."""

from __future__ import annotations

from enum import StrEnum

import pytest

from dcp_platform.auth import (
    CaseAccess,
    CaseAssignment,
    Principal,
    Role,
    collector_assignees,
    is_case_scoped,
    may_act_on_case,
    require_case_access,
)
from dcp_platform.problems import Forbidden

ALICE = Principal(subject="alice", role=Role.COLLECTOR, agency_id="agency-1", team="team-1")
LONER = Principal(subject="bob", role=Role.COLLECTOR)


def case(kind: str | None, ident: str | None) -> CaseAssignment:
    return CaseAssignment("case-1", kind, ident)


@pytest.mark.parametrize(
    ("assignment", "allowed"),
    [
        (case("collector", "alice"), True),
        (case("team", "team-1"), True),
        (case("agency", "agency-1"), True),
        (case("collector", "carol"), False),
        (case("team", "team-2"), False),
        (case("agency", "agency-2"), False),
        # An id equal to one of the claims, under another kind, is not a match.
        (case("collector", "team-1"), False),
        (case("team", "alice"), False),
        (case("agency", "team-1"), False),
        (case("collector", "agency-1"), False),
        (case("unknown-kind", "alice"), False),
        (case(None, None), False),
        (case("collector", None), False),
        (None, False),
    ],
)
@pytest.mark.parametrize("access", list(CaseAccess))
def test_a_collector_passes_only_on_their_own_team_or_agency_case(
    assignment: CaseAssignment | None, allowed: bool, access: CaseAccess
) -> None:
    assert may_act_on_case(ALICE, assignment, access) is allowed


def test_a_collector_without_team_or_agency_claims_matches_only_their_own_cases() -> None:
    assert may_act_on_case(LONER, case("collector", "bob"))
    assert not may_act_on_case(LONER, case("team", "team-1"))
    assert not may_act_on_case(LONER, case("agency", "agency-1"))
    # An empty claim is no claim.
    empty = Principal(subject="bob", role=Role.COLLECTOR, team="", agency_id="")
    assert collector_assignees(empty) == {("collector", "bob")}


def test_the_assignee_kind_may_be_the_events_enum() -> None:
    class AssigneeKind(StrEnum):  # as dcp_events.catalogue.enums.AssigneeKind
        TEAM = "team"

    assert may_act_on_case(ALICE, CaseAssignment("case-1", AssigneeKind.TEAM, "team-1"))


def test_collector_assignees_are_the_pairs_lists_filter_on() -> None:
    assert collector_assignees(ALICE) == {
        ("collector", "alice"),
        ("team", "team-1"),
        ("agency", "agency-1"),
    }


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.ADMIN, Role.INTEGRATION])
@pytest.mark.parametrize("access", list(CaseAccess))
def test_staff_and_integration_are_not_case_scoped(role: Role, access: CaseAccess) -> None:
    principal = Principal(subject="staff", role=role)
    assert not is_case_scoped(principal)
    for assignment in (case("collector", "someone-else"), case(None, None), None):
        assert may_act_on_case(principal, assignment, access)
        require_case_access(principal, assignment, access)


def test_auditors_read_every_case_and_act_on_none() -> None:
    auditor = Principal(subject="aud", role=Role.AUDITOR)
    assert may_act_on_case(auditor, case("collector", "alice"), CaseAccess.READ)
    assert may_act_on_case(auditor, None, CaseAccess.READ)
    assert not may_act_on_case(auditor, case("collector", "alice"), CaseAccess.ACT)
    with pytest.raises(Forbidden) as refused:
        require_case_access(auditor, case("collector", "alice"))
    assert "auditor" in str(refused.value.detail)


def test_acting_is_the_default() -> None:
    auditor = Principal(subject="aud", role=Role.AUDITOR)
    assert not may_act_on_case(auditor, case("collector", "alice"))


def test_require_case_access_is_a_403_problem_naming_the_case() -> None:
    require_case_access(ALICE, case("team", "team-1"))
    with pytest.raises(Forbidden) as refused:
        require_case_access(ALICE, case("collector", "carol"), CaseAccess.READ)
    problem = refused.value
    assert problem.status == 403
    assert problem.extra == {"case_id": "case-1"}
    assert "case-1" in str(problem.detail)
    with pytest.raises(Forbidden) as unknown:
        require_case_access(ALICE, None)
    assert unknown.value.extra == {}
    assert is_case_scoped(ALICE)
