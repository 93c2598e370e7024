"""Contact permits end to end: the gate decides before the contact and reserves its place, dialers at a
cap's edge race for one permit, an unused permit expires by durable timer, outcomes on spent permits
are recorded and answered 409, permits are checked offline, and contacts other systems report on
integration.contacts count in the caps."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from contact_service.adapters.unit_of_work_contract import case_opened
from dcp_compliance.permits import parse_public_keys, verify_permit
from dcp_events.catalogue import Account, Assignee, CaseAssigned, case_id_for_account
from dcp_events.catalogue.enums import AssigneeKind, Channel, ContactOutcome
from dcp_events.catalogue.integration import ContactReported
from dcp_platform.auth import Role

from .conftest import ContactService, eventually, token

pytestmark = pytest.mark.integration

NY, SHA = "America/New_York", "Asia/Shanghai"
PROBLEMS = "https://errors.dcp.example/"
ADMIN = token(Role.ADMIN, "admin-1")


def call(case_id: str, outcome: str = "no_answer", **extra: Any) -> dict[str, Any]:
    return {"case_id": case_id, "channel": "phone", "outcome": outcome, "duration_seconds": 30, **extra}


async def move_clock(service: ContactService, to: datetime) -> None:
    """The service's manual clock, moved through its admin route (which wakes its timers)."""
    r = await service.client.put("/admin/clock", json={"now": to.isoformat()}, headers=ADMIN)
    assert r.status_code == 200, r.text


async def permit(service: ContactService, case_id: str, headers: dict[str, str], **extra: Any) -> Any:
    return await service.client.post(
        "/contact-permits", json={"case_id": case_id, "channel": "phone", **extra}, headers=headers
    )


async def test_two_dialers_at_the_caps_edge_get_one_permit_and_one_refusal(service: ContactService) -> None:
    service.next_local(NY, 10)
    case_id = await service.open_case("US", agency="agency-p")
    dialer_a = token(Role.DIALER, "dialer-a", agency_id="agency-p")
    dialer_b = token(Role.DIALER, "dialer-b", agency_id="agency-p")
    for _ in range(6):
        r = await service.client.post("/contact-attempts", json=call(case_id), headers=dialer_a)
        assert r.status_code == 201, r.text
    a, b = await asyncio.gather(permit(service, case_id, dialer_a), permit(service, case_id, dialer_b))
    assert sorted([a.status_code, b.status_code]) == [201, 409], (a.text, b.text)
    refused = a if a.status_code == 409 else b
    assert refused.json()["rule_id"] == "US-REGF-7IN7"
    assert refused.json()["attempt_id"].startswith("pmt-")  # the ContactBlocked's id
    issued = (b if refused is a else a).json()
    assert issued["status"] == "issued" and issued["channel"] == "phone"
    # The permit's reservation holds the seventh place: a dry run now is refused as well.
    check = await service.client.post(
        "/contact-checks", json={"case_id": case_id, "channel": "phone"}, headers=dialer_a
    )
    assert check.json()["rule_id"] == "US-REGF-7IN7"


async def test_an_unused_permit_expires_by_timer_and_frees_its_place(service: ContactService) -> None:
    start = service.next_local(NY, 10)
    case_id = await service.open_case("US")
    for _ in range(6):
        assert (
            await service.client.post("/contact-attempts", json=call(case_id), headers=token())
        ).status_code == 201
    held = await permit(service, case_id, token())
    assert held.status_code == 201, held.text
    body = held.json()
    assert datetime.fromisoformat(body["not_after"]) == start + timedelta(minutes=15)
    assert (await permit(service, case_id, token())).status_code == 409  # the seventh place is reserved
    await move_clock(service, datetime.fromisoformat(body["expires_at"]) + timedelta(seconds=1))
    service.clock.set(datetime.fromisoformat(body["expires_at"]) + timedelta(seconds=1))

    async def expired() -> bool:
        r = await service.client.get(f"/contact-permits/{body['permit_id']}", headers=token())
        return r.json()["status"] == "expired"

    await eventually(expired)
    again = await permit(service, case_id, token())
    assert again.status_code == 201, again.text
    types = [e.type for e in await service.contact_events(case_id, expect=15)]
    assert "collections.contact.permit_expired.v1" in types


async def test_an_outcome_on_a_used_or_expired_permit_is_recorded_and_refused(
    service: ContactService,
) -> None:
    service.next_local(NY, 11)
    case_id = await service.open_case("US")
    first = (await permit(service, case_id, token())).json()
    pid = first["permit_id"]
    outcome = {"outcome": "right_party_contact", "duration_seconds": 120}
    used = await service.client.post(f"/contact-permits/{pid}/outcome", json=outcome, headers=token())
    assert used.status_code == 201, used.text
    assert used.json()["attempt_id"] == f"att-{pid}"
    repeat = await service.client.post(f"/contact-permits/{pid}/outcome", json=outcome, headers=token())
    assert repeat.status_code == 200  # the same outcome again: answered, not recorded twice
    reused = await service.client.post(
        f"/contact-permits/{pid}/outcome", json={**outcome, "attempt_id": "att-second-call"}, headers=token()
    )
    assert reused.status_code == 409
    assert reused.json()["type"] == PROBLEMS + "permit-used" and reused.json()["recorded"] is True

    # US-REGF-7AFTER: after a conversation, no call for 7 days. Next week, a permit that is never used
    # in time: its outcome comes after its expiry.
    service.clock.set(service.clock.now() + timedelta(days=8))
    service.next_local(NY, 11)
    late = (await permit(service, case_id, token())).json()
    service.clock.set(datetime.fromisoformat(late["expires_at"]) + timedelta(minutes=1))
    expired = await service.client.post(
        f"/contact-permits/{late['permit_id']}/outcome", json={"outcome": "no_answer"}, headers=token()
    )
    assert expired.status_code == 409, expired.text
    assert expired.json()["type"] == PROBLEMS + "permit-expired"
    contacts = (await service.client.get(f"/cases/{case_id}/contacts", headers=token())).json()["contacts"]
    recorded = {c["attempt_id"] for c in contacts if c["decision"] == "allow"}
    assert {f"att-{pid}", "att-second-call", f"att-{late['permit_id']}"} <= recorded  # facts all counted
    unknown = await service.client.post("/contact-permits/pmt-nope/outcome", json=outcome, headers=token())
    assert unknown.status_code == 404


async def test_a_permit_is_checked_offline_and_a_tampered_one_refused(
    service: ContactService, tmp_path: Path
) -> None:
    service.next_local(NY, 12)
    case_id = await service.open_case("US")
    issued = (await permit(service, case_id, token(), contact_point="+12025550101")).json()
    keys_doc = (await service.client.get("/contact-permit-keys", headers=token(Role.AUDITOR, "aud-1"))).json()
    keys = parse_public_keys(keys_doc)
    assert verify_permit(issued, keys, contact_point="+12025550101", channel="phone")
    assert not verify_permit(issued, keys, contact_point="+12025550199")  # another number
    tampered = {**issued, "not_after": "2030-01-01T00:00:00Z"}
    assert not verify_permit(tampered, keys)
    assert not verify_permit({**issued, "case_id": "case-other"}, keys)
    # The command a dialer or gateway runs, on files.
    (tmp_path / "keys.json").write_text(json.dumps(keys_doc))
    (tmp_path / "permit.json").write_text(json.dumps(issued))
    (tmp_path / "tampered.json").write_text(json.dumps(tampered))
    cli = [sys.executable, "-m", "dcp_compliance.permits", "verify", "--key", str(tmp_path / "keys.json")]
    ok = subprocess.run([*cli, str(tmp_path / "permit.json")], capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and ok.stdout.startswith("valid"), ok.stdout + ok.stderr
    bad = subprocess.run([*cli, str(tmp_path / "tampered.json")], capture_output=True, text=True, check=False)
    assert bad.returncode == 1 and "INVALID" in bad.stdout


async def open_account(service: ContactService, jurisdiction: str, reference: str, debtor_id: str) -> str:
    """A case whose id is its account's (as case-service opens placements), assigned to col-1."""
    case_id = case_id_for_account("bank", reference)
    opened = case_opened(case_id, jurisdiction, debtor_id=debtor_id).model_copy(
        update={"account": Account(creditor_id="bank", account_reference=reference, product="card")}
    )
    await service.publish("collections.cases", case_id, opened, jurisdiction=jurisdiction)
    assigned = CaseAssigned(assignee=Assignee(kind=AssigneeKind.COLLECTOR, id="col-1"), reason="test")
    await service.publish("collections.cases", case_id, assigned, jurisdiction=jurisdiction)

    async def known() -> bool:
        return (
            await service.client.get(f"/cases/{case_id}/contact-options", headers=token())
        ).status_code == 200

    await eventually(known)
    return case_id


async def report(
    service: ContactService, case_id: str, reference: str, outcome: ContactOutcome, at: datetime
) -> None:
    reported = ContactReported(
        report_id=f"rep-{uuid.uuid4().hex[:12]}",
        source="agency-dialer-acme",
        account=Account(creditor_id="bank", account_reference=reference, product="card"),
        channel=Channel.PHONE,
        outcome=outcome,
        contacted_at=at,
        duration_seconds=40,
    )
    await service.publish(
        "integration.contacts",
        case_id,
        reported,
        source="/agency-dialer-acme",
        actor="agency-dialer-acme",
        actorrole="integration",
    )


async def test_calls_reported_on_integration_contacts_count_in_the_us_and_cn_caps(
    service: ContactService,
) -> None:
    now = service.next_local(NY, 9)
    ref_us = f"acct-{uuid.uuid4().hex[:8]}"
    us = await open_account(service, "US", ref_us, f"dbt-{uuid.uuid4().hex[:8]}")
    for n in range(7):
        await report(service, us, ref_us, ContactOutcome.NO_ANSWER, now - timedelta(hours=n + 1))

    async def seven_recorded() -> bool:
        r = await service.client.get(f"/cases/{us}/contacts", headers=token())
        return len(r.json()["contacts"]) == 7

    await eventually(seven_recorded)
    contacts = (await service.client.get(f"/cases/{us}/contacts", headers=token())).json()["contacts"]
    assert {c["outcome"] for c in contacts} == {"no_answer"}
    refused = await permit(service, us, token())
    assert refused.status_code == 409 and refused.json()["rule_id"] == "US-REGF-7IN7"

    now = service.next_local(SHA, 10)
    ref_cn = f"acct-{uuid.uuid4().hex[:8]}"
    cn = await open_account(service, "CN", ref_cn, f"dbt-{uuid.uuid4().hex[:8]}")
    for n in range(3):
        await report(
            service, cn, ref_cn, ContactOutcome.RIGHT_PARTY_CONTACT, now - timedelta(minutes=10 * (n + 1))
        )

    async def three_recorded() -> bool:
        r = await service.client.get(f"/cases/{cn}/contacts", headers=token())
        return len(r.json()["contacts"]) == 3

    await eventually(three_recorded)
    refused_cn = await permit(service, cn, token())
    assert refused_cn.status_code == 409 and refused_cn.json()["rule_id"] == "CN-NIFA-3CALLS"
    events = await service.contact_events(cn, expect=3)
    assert {e.data["reported_by"] for e in events if e.type == "collections.contact.attempted.v2"} == {
        "agency-dialer-acme"
    }


async def test_a_dialer_takes_a_batch_of_permits_for_a_worklist_and_reports_outcomes(
    service: ContactService,
) -> None:
    service.next_local(NY, 14)
    collector = f"col-{uuid.uuid4().hex[:6]}"
    first = await service.open_case("US", collector=collector)
    second = await service.open_case("US", collector=collector)
    quiet = await service.open_case("US", collector=collector)
    headers = token(subject=collector)
    cease = {"case_id": quiet, "kind": "cease_communication", "received_via": "letter"}
    assert (await service.client.post("/debtor-requests", json=cease, headers=headers)).status_code == 201
    dialer = token(Role.SUPERVISOR, "dialer-host")
    batch = await service.client.post(
        "/dialer/permits", json={"collector_id": collector, "limit": 5}, headers=dialer
    )
    assert batch.status_code == 200, batch.text
    body = batch.json()
    assert {p["case_id"] for p in body["permits"]} == {first, second}
    assert [s["case_id"] for s in body["skipped"]] == [quiet]
    assert body["skipped"][0]["rule_id"] == "US-REGF-CEASE"
    assert all(p["contact_point"] and p["signature"] for p in body["permits"])
    for p in body["permits"]:
        r = await service.client.post(
            f"/contact-permits/{p['permit_id']}/outcome", json={"outcome": "voicemail"}, headers=dialer
        )
        assert r.status_code == 201, r.text
    contacts = (await service.client.get(f"/cases/{first}/contacts", headers=headers)).json()["contacts"]
    assert [c["outcome"] for c in contacts] == ["voicemail"]
    own = await service.client.post("/dialer/permits", json={"collector_id": "someone-else"}, headers=headers)
    assert own.status_code == 403


async def test_a_contact_reported_before_its_case_arrived_is_kept_and_counted_once_it_does(
    service: ContactService,
) -> None:
    now = service.next_local(NY, 9)
    reference = f"acct-{uuid.uuid4().hex[:8]}"
    case_id = case_id_for_account("bank", reference)
    await report(service, case_id, reference, ContactOutcome.RIGHT_PARTY_CONTACT, now - timedelta(hours=2))
    db = await asyncpg.connect(service.database_url)
    try:

        async def parked() -> bool:
            return bool(await db.fetchval("SELECT count(*) FROM parked_reports WHERE case_id = $1", case_id))

        await eventually(parked)  # a fact, not a dead letter
    finally:
        await db.close()
    assert await open_account(service, "US", reference, f"dbt-{uuid.uuid4().hex[:8]}") == case_id

    async def recorded() -> bool:
        r = await service.client.get(f"/cases/{case_id}/contacts", headers=token())
        return len(r.json()["contacts"]) == 1

    await eventually(recorded)
    # A conversation two hours ago, reported by the agency: no call for seven days (US-REGF-7AFTER).
    refused = await permit(service, case_id, token())
    assert refused.status_code == 409 and refused.json()["rule_id"] == "US-REGF-7AFTER"
