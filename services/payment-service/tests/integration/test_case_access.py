"""Collectors see and act on the cases assigned to them, their team or their agency (ARCHITECTURE.md
section 6): the service learns the assignee from CaseAssigned on collections.cases, and every
case-scoped route checks it. Supervisors, admins, auditors (reads) and integration are not scoped."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from dcp_devstack.testing import token
from dcp_events.catalogue import AssigneeKind
from dcp_platform.auth import Role

from .conftest import (
    AUDITOR,
    COLLECTOR,
    INTEGRATION,
    OTHER_COLLECTOR,
    SUPERVISOR,
    Service,
    eventually,
    gbp,
)

pytestmark = pytest.mark.integration

FORBIDDEN = "https://errors.dcp.example/forbidden"


def new_case() -> str:
    return f"case-{uuid.uuid4().hex[:10]}"


def payment(case_id: str, minor: int = 1000) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "amount": gbp(minor),
        "method": "card",
        "external_reference": f"ref-{uuid.uuid4().hex[:12]}",
    }


def assert_forbidden(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == FORBIDDEN


async def open_assigned(service: Service, kind: AssigneeKind, assignee_id: str) -> str:
    case_id = new_case()
    await service.open_case(case_id, assignee=(kind, assignee_id))
    await eventually(lambda: service.case_known(case_id))
    return case_id


async def reassign(service: Service, case_id: str, kind: AssigneeKind, assignee_id: str) -> None:
    await service.assign(case_id, kind, assignee_id)
    await eventually(lambda: service.case_known(case_id))


async def case_reads(service: Service, case_id: str, headers: dict[str, str]) -> list[int]:
    """The status of every case-scoped read of `case_id` for the caller."""
    paths = [
        f"/cases/{case_id}/payments",
        f"/payments?case_id={case_id}",
        f"/promises?case_id={case_id}",
        f"/payment-plans?case_id={case_id}",
        f"/settlements?case_id={case_id}",
    ]
    return [(await service.client.get(path, headers=headers)).status_code for path in paths]


async def test_a_collector_may_not_touch_a_case_assigned_to_another(service: Service) -> None:
    case_id = await open_assigned(service, AssigneeKind.COLLECTOR, "collector-1")
    due_on = ((await service.now()) + timedelta(days=10)).date().isoformat()

    # collector-2 (team-2, agency-2): refused on every route of collector-1's case.
    assert_forbidden(await service.client.post("/payments", json=payment(case_id), headers=OTHER_COLLECTOR))
    for path in (
        f"/cases/{case_id}/payments",
        f"/payments?case_id={case_id}",
        f"/promises?case_id={case_id}",
        f"/payment-plans?case_id={case_id}",
        f"/settlements?case_id={case_id}",
    ):
        assert_forbidden(await service.client.get(path, headers=OTHER_COLLECTOR))
    # Within a collector's limits (on a balance of 1000.00, then 990.00): only the case check refuses.
    plan = {
        "case_id": case_id,
        "total": gbp(99_000),
        "installments": [{"due_on": due_on, "amount": gbp(99_000)}],
    }
    assert_forbidden(await service.client.post("/payment-plans", json=plan, headers=OTHER_COLLECTOR))
    settlement = {"case_id": case_id, "amount": gbp(95_000), "due_on": due_on}
    assert_forbidden(await service.client.post("/settlements", json=settlement, headers=OTHER_COLLECTOR))

    # collector-1, whose case it is, passes on the same routes.
    posted = await service.client.post("/payments", json=payment(case_id), headers=COLLECTOR)
    assert posted.status_code == 201, posted.text
    assert await case_reads(service, case_id, COLLECTOR) == [200] * 5
    agreed = await service.client.post("/payment-plans", json=plan, headers=COLLECTOR)
    assert agreed.status_code == 201, agreed.text

    # Reading one record by id checks its case too.
    payment_id, plan_id = posted.json()["payment_id"], agreed.json()["plan_id"]
    assert_forbidden(await service.client.get(f"/payments/{payment_id}", headers=OTHER_COLLECTOR))
    assert_forbidden(await service.client.get(f"/payment-plans/{plan_id}", headers=OTHER_COLLECTOR))
    assert (await service.client.get(f"/payments/{payment_id}", headers=COLLECTOR)).status_code == 200
    assert (await service.client.get(f"/payment-plans/{plan_id}", headers=COLLECTOR)).status_code == 200

    # Nothing the refused calls asked for was recorded.
    listed = (await service.client.get(f"/cases/{case_id}/payments", headers=SUPERVISOR)).json()["items"]
    assert [p["payment_id"] for p in listed] == [payment_id]
    plans = (await service.client.get(f"/payment-plans?case_id={case_id}", headers=SUPERVISOR)).json()
    assert [p["plan_id"] for p in plans] == [plan_id]
    settlements = (await service.client.get(f"/settlements?case_id={case_id}", headers=SUPERVISOR)).json()
    assert settlements == []

    # Not case-scoped: supervisors and auditors read it; an auditor reads but never acts.
    assert await case_reads(service, case_id, SUPERVISOR) == [200] * 5
    assert await case_reads(service, case_id, AUDITOR) == [200] * 5
    assert (await service.client.post("/payments", json=payment(case_id), headers=AUDITOR)).status_code == 403


async def test_team_and_agency_assignments_follow_case_assigned_events(service: Service) -> None:
    case_id = await open_assigned(service, AssigneeKind.TEAM, "team-2")

    # collector-2 is in team-2; collector-1 is in no team.
    posted = await service.client.post("/payments", json=payment(case_id), headers=OTHER_COLLECTOR)
    assert posted.status_code == 201, posted.text
    assert await case_reads(service, case_id, OTHER_COLLECTOR) == [200] * 5
    assert await case_reads(service, case_id, COLLECTOR) == [403] * 5
    assert_forbidden(await service.client.post("/payments", json=payment(case_id), headers=COLLECTOR))

    # Placed with collector-2's agency: still theirs.
    await reassign(service, case_id, AssigneeKind.AGENCY, "agency-2")
    assert await case_reads(service, case_id, OTHER_COLLECTOR) == [200] * 5
    assert await case_reads(service, case_id, COLLECTOR) == [403] * 5

    # Recalled and given to collector-1: the access moves with the assignment.
    await reassign(service, case_id, AssigneeKind.COLLECTOR, "collector-1")
    assert await case_reads(service, case_id, COLLECTOR) == [200] * 5
    assert await case_reads(service, case_id, OTHER_COLLECTOR) == [403] * 5
    assert_forbidden(
        await service.client.get(f"/payments/{posted.json()['payment_id']}", headers=OTHER_COLLECTOR)
    )


async def test_a_collector_lists_only_by_a_case_of_theirs(service: Service) -> None:
    for path in ("/payments", "/payments?status=unapplied", "/promises", "/payment-plans", "/settlements"):
        assert_forbidden(await service.client.get(path, headers=COLLECTOR))
        assert (await service.client.get(path, headers=SUPERVISOR)).status_code == 200
        assert (await service.client.get(path, headers=AUDITOR)).status_code == 200
        # the bank's system reads payments, not what was agreed with a debtor
        expected = 200 if path.startswith("/payments") else 403
        assert (await service.client.get(path, headers=INTEGRATION)).status_code == expected


async def test_a_collector_may_not_post_for_a_case_not_known_yet(service: Service) -> None:
    case_id = new_case()  # never opened: nobody's case yet
    assert_forbidden(await service.client.post("/payments", json=payment(case_id), headers=COLLECTOR))
    assert_forbidden(await service.client.get(f"/cases/{case_id}/payments", headers=COLLECTOR))
    assert (await service.client.get(f"/cases/{case_id}/payments", headers=SUPERVISOR)).json()["items"] == []

    # The bank (integration) and supervisors may: the payment is held until the case appears.
    for headers in (INTEGRATION, SUPERVISOR):
        held = await service.client.post("/payments", json=payment(case_id), headers=headers)
        assert held.status_code == 201, held.text
        assert (held.json()["status"], held.json()["unapplied_reason"]) == ("unapplied", "unknown_case")

    # An opened but not yet assigned case is nobody's either.
    unassigned = new_case()
    await service.open_case(unassigned, assignee=None)
    await eventually(lambda: service.case_known(unassigned))
    assert_forbidden(await service.client.post("/payments", json=payment(unassigned), headers=COLLECTOR))
    assert (
        await service.client.post("/payments", json=payment(unassigned), headers=SUPERVISOR)
    ).status_code == 201


async def test_a_user_of_another_creditor_reads_lists_and_posts_nothing_on_the_case(service: Service) -> None:
    """The case is creditor `acme`'s (its CaseOpened's account)."""
    case_id = new_case()
    await service.open_case(case_id)
    await eventually(lambda: service.case_known(case_id))
    ours = token(Role.SUPERVISOR, "sup-acme", creditors=["acme"])
    theirs = token(Role.SUPERVISOR, "sup-other", creditors=["other-bank"])
    bank = token(Role.INTEGRATION, "other-core-banking", creditors=["other-bank"])
    posted = await service.client.post("/payments", json=payment(case_id), headers=ours)
    assert posted.status_code == 201, posted.text
    for headers in (theirs, bank):
        assert_forbidden(await service.client.post("/payments", json=payment(case_id), headers=headers))
        assert_forbidden(await service.client.get(f"/cases/{case_id}/payments", headers=headers))
        assert_forbidden(
            await service.client.get(f"/payments/{posted.json()['payment_id']}", headers=headers)
        )
    for path in ("/payments", "/promises", "/payment-plans", "/settlements"):
        assert_forbidden(await service.client.get(path, headers=theirs))  # lists only by a case of theirs
    assert (
        await service.client.get("/payments", params={"case_id": case_id}, headers=ours)
    ).status_code == 200
