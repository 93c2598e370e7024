"""Collectors see the cases assigned to them, their team (token claim `team`) or their agency (token
claim `agency_id`): the platform's one rule (`dcp_platform.auth.may_act_on_case`), as contact-service
and payment-service apply it."""

from __future__ import annotations

from typing import Any

import pytest

from case_service.api.deps import CaseApi
from case_service.application.handlers import execute
from dcp_events.catalogue.enums import AssigneeKind
from dcp_platform.auth import Role

from .conftest import SUPERVISOR, CaseHarness, bearer, placement_body

pytestmark = pytest.mark.integration


async def open_case(harness: CaseHarness, reference: str) -> str:
    response = await harness.client.post("/cases", json=placement_body(reference), headers=SUPERVISOR)
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"])


async def listed(harness: CaseHarness, headers: dict[str, str], **params: Any) -> list[str]:
    response = await harness.client.get("/cases", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [c["case_id"] for c in response.json()["items"]]


async def reads(harness: CaseHarness, case_id: str, headers: dict[str, str]) -> list[int]:
    return [
        (await harness.client.get(path, headers=headers)).status_code
        for path in (f"/cases/{case_id}", f"/cases/{case_id}/events")
    ]


async def test_a_collector_of_the_agency_a_case_is_placed_with_sees_it(harness: CaseHarness) -> None:
    case_id = await open_case(harness, "VIS-AGENCY-1")
    other_case = await open_case(harness, "VIS-AGENCY-2")
    staff = {
        "kind": "agency",
        "capacity": 100,
        "qualifications": [{"jurisdictions": ["GB"], "languages": ["en"], "channels": ["phone"]}],
    }
    put = await harness.client.put("/staff/agency-vis", json=staff, headers=SUPERVISOR)
    assert put.status_code == 200, put.text
    assigned = await harness.client.post(
        f"/cases/{case_id}/assignment",
        json={"policy": "direct", "assignee_id": "agency-vis"},
        headers=SUPERVISOR,
    )
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["assignee"] == {"kind": "agency", "id": "agency-vis"}

    agent = bearer(Role.COLLECTOR, "agent-1", agency_id="agency-vis")
    stranger = bearer(Role.COLLECTOR, "agent-2", agency_id="agency-other")
    assert await reads(harness, case_id, agent) == [200, 200]
    assert await reads(harness, case_id, stranger) == [403, 403]
    assert await reads(harness, other_case, agent) == [403, 403]  # not assigned at all

    assert await listed(harness, agent) == [case_id]
    assert await listed(harness, agent, assignee="agency-vis") == [case_id]
    assert await listed(harness, stranger) == []
    refused = await harness.client.get("/cases", params={"assignee": "agency-vis"}, headers=stranger)
    assert refused.status_code == 403

    # Acting on it too: a hold (collectors may place one on their own cases).
    hold = {"hold_type": "complaint", "reason": "debtor complained"}
    assert (
        await harness.client.post(f"/cases/{case_id}/holds", json=hold, headers=stranger)
    ).status_code == 403
    placed = await harness.client.post(f"/cases/{case_id}/holds", json=hold, headers=agent)
    assert placed.status_code == 201, placed.text


async def test_a_collector_of_the_team_a_case_is_assigned_to_sees_it(harness: CaseHarness) -> None:
    case_id = await open_case(harness, "VIS-TEAM-1")
    api: CaseApi = harness.app.state.case_api
    async with api.bus.unit_of_work(None) as uow:
        await execute(
            uow, api.env, case_id, lambda c: c.assign(AssigneeKind.TEAM, "team-vis", "pooled", "direct")
        )
    assert (await harness.case(case_id))["assignee"] == {"kind": "team", "id": "team-vis"}

    member = bearer(Role.COLLECTOR, "member-1", team="team-vis")
    outsider = bearer(Role.COLLECTOR, "member-2", team="team-other")
    # A collector whose subject is the team's id is not in the team.
    namesake = bearer(Role.COLLECTOR, "team-vis")
    assert await reads(harness, case_id, member) == [200, 200]
    assert await reads(harness, case_id, outsider) == [403, 403]
    assert await reads(harness, case_id, namesake) == [403, 403]
    assert case_id in await listed(harness, member)
    assert case_id not in await listed(harness, outsider)
    assert case_id not in await listed(harness, namesake)
    assert await reads(harness, case_id, bearer(Role.AUDITOR, "aud-1")) == [200, 200]
