"""Automatic allocation: new cases go to a qualified collector with room without a per-case call
(least loaded here; the skills include the channels the strategy works in person), and a collector
marked absent has their open cases rebalanced to the others."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from dcp_events.canonical import decode_event

from .conftest import SUPERVISOR, CaseHarness, placement_body

pytestmark = pytest.mark.integration


def _collector(channels: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "kind": "collector",
        "capacity": 10,
        "qualifications": [{"jurisdictions": ["GB"], "languages": ["cy"], "channels": channels}],
        **extra,
    }


async def _open_welsh(harness: CaseHarness, reference: str) -> str:
    body = placement_body(reference)
    body["debtor"] = {**body["debtor"], "language": "cy-GB"}
    r = await harness.client.post("/cases", json=body, headers=SUPERVISOR)
    assert r.status_code == 201, r.text
    return str(r.json()["case_id"])


async def _assignee(harness: CaseHarness, case_id: str) -> str | None:
    case = await harness.case(case_id)
    assignee = case["detail"]["assignee"]
    return None if assignee is None else str(assignee["id"])


async def test_new_cases_are_allocated_by_the_policy_and_rebalanced_when_a_collector_is_absent(
    harness: CaseHarness,
) -> None:
    for staff_id, channels in (
        ("col-cy-1", ["phone"]),
        ("col-cy-2", ["phone", "letter"]),
        ("col-cy-3", ["letter"]),
    ):
        r = await harness.client.put(f"/staff/{staff_id}", json=_collector(channels), headers=SUPERVISOR)
        assert r.status_code == 200, r.text
    case_ids = [await _open_welsh(harness, f"ALLOC-{n}") for n in range(4)]
    assignees = [await _assignee(harness, case_id) for case_id in case_ids]
    # the strategies call the debtor: col-cy-3 (no phone qualification) gets none; the load is shared
    assert sorted(assignees) == ["col-cy-1", "col-cy-1", "col-cy-2", "col-cy-2"], assignees
    events = (await harness.client.get(f"/cases/{case_ids[0]}/events", headers=SUPERVISOR)).json()
    [assigned] = [e["data"] for e in events if e["type"] == "collections.case.assigned.v1"]
    assert assigned["policy"] == "least_loaded" and assigned["reason"].startswith("automatic:")
    assert "channels phone" in assigned["reason"]

    absent = await harness.client.put(
        "/staff/col-cy-1", json=_collector(["phone"], active=False), headers=SUPERVISOR
    )
    assert absent.status_code == 200, absent.text
    after = [await _assignee(harness, case_id) for case_id in case_ids]
    assert after == ["col-cy-2"] * 4, after
    moved = [case_id for case_id, before in zip(case_ids, assignees, strict=True) if before == "col-cy-1"]
    events = (await harness.client.get(f"/cases/{moved[0]}/events", headers=SUPERVISOR)).json()
    rebalanced = [e["data"] for e in events if e["type"] == "collections.case.assigned.v1"][-1]
    assert rebalanced["reason"].startswith("rebalanced: col-cy-1 is absent")
    assert rebalanced["previous_assignee"]["id"] == "col-cy-1"


async def test_every_change_of_the_directory_is_published_on_collections_staff(harness: CaseHarness) -> None:
    """What contact-service checks before a permit and the audit trail keeps: the whole entry as it
    stands, each time it changes, keyed by the staff id."""
    staff_id = f"col-dir-{uuid.uuid4().hex[:6]}"
    for body in (_collector(["phone"]), _collector(["phone", "field_visit"], active=False)):
        assert (
            await harness.client.put(f"/staff/{staff_id}", json=body, headers=SUPERVISOR)
        ).status_code == 200
    consumer = AIOKafkaConsumer(
        harness.prefix + "collections.staff",
        bootstrap_servers=harness.bootstrap,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    mine: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 20
        while len(mine) < 2 and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    event = decode_event(record.value)
                    if event.subject == staff_id:
                        assert record.key == staff_id.encode()
                        mine.append({"type": event.type, **(event.data or {})})
    finally:
        await consumer.stop()
    assert [e["type"] for e in mine] == ["collections.staff.member_changed.v1"] * 2
    assert [(e["active"], e["qualifications"][0]["channels"]) for e in mine] == [
        (True, ["phone"]),
        (False, ["field_visit", "phone"]),
    ]
    assert mine[0]["qualifications"][0]["languages"] == ["cy"]
