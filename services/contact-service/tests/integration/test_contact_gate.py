"""The contact service end to end: case facts from collections.cases, the gate over HTTP, the events on
collections.contacts, the per-debtor serialisation of the caps, promises, requests and worklists."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dcp_events.catalogue import (
    CaseClosed,
    CaseHoldPlaced,
    CaseHoldReleased,
    CaseStrategyAssigned,
    ErasureCompleted,
    Money,
    PromiseBroken,
)
from dcp_events.catalogue.cases import TreatmentStep
from dcp_events.catalogue.enums import Channel, CloseReason, HoldType
from dcp_platform.auth import Role

from .conftest import ContactService, eventually, token

pytestmark = pytest.mark.integration

NY, LON, SHA = "America/New_York", "Europe/London", "Asia/Shanghai"
CONTACT_REFUSED = "https://errors.dcp.example/contact-refused"


def call(case_id: str, outcome: str = "no_answer", **extra: Any) -> dict[str, Any]:
    return {"case_id": case_id, "channel": "phone", "outcome": outcome, "duration_seconds": 30, **extra}


async def test_an_allowed_attempt_is_recorded_and_published(service: ContactService) -> None:
    service.next_local(NY, 12)
    case_id = await service.open_case("US")
    r = await service.client.post(
        "/contact-attempts", json=call(case_id, attempt_id="att-ok-1"), headers=token()
    )
    assert r.status_code == 201, r.text
    assert r.json()["decision"]["verdict"] == "allow"
    assert r.json()["decision"]["pack_version"] == "2026.1"
    again = await service.client.post(
        "/contact-attempts", json=call(case_id, attempt_id="att-ok-1"), headers=token()
    )
    assert again.status_code == 200  # idempotent on the attempt id
    [permitted, event] = await service.contact_events(case_id, expect=2)
    assert permitted.type == "collections.contact.permit_issued.v1"
    assert event.type == "collections.contact.attempted.v2"
    assert event.data["permit_id"] == permitted.data["permit_id"]
    assert event.data["rule_pack_id"] == "us-regf"
    assert event.data["debtor_time_zone"] == "America/New_York"
    assert event.actor == "col-1"
    history = await service.client.get(f"/cases/{case_id}/contacts", headers=token(Role.AUDITOR, "aud-1"))
    assert [c["decision"] for c in history.json()["contacts"]] == ["allow"]


async def test_a_refused_attempt_is_a_409_naming_the_rule_and_a_contact_blocked_event(
    service: ContactService,
) -> None:
    case_id = await service.open_case("US")
    late = service.next_local(NY, 22)
    r = await service.client.post("/contact-attempts", json=call(case_id), headers=token())
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"] == CONTACT_REFUSED
    assert body["rule_id"] == "US-REGF-TIME"
    assert body["citation"].startswith("12 CFR 1006.6(b)(1)(i)")
    opening = (late + timedelta(hours=10)).astimezone(ZoneInfo(NY)).replace(hour=8, minute=0)
    assert datetime.fromisoformat(body["next_allowed_at"]) == opening
    [blocked] = await service.contact_events(case_id, expect=1)
    assert blocked.type == "collections.contact.blocked.v1"
    assert blocked.data["rule_id"] == "US-REGF-TIME"
    assert blocked.data["rule_pack_version"] == "2026.1"
    history = await service.client.get(f"/cases/{case_id}/contacts", headers=token())
    assert history.json()["contacts"][0]["rule_id"] == "US-REGF-TIME"


async def test_two_simultaneous_calls_over_the_cap_get_one_allow_and_one_deny(
    service: ContactService,
) -> None:
    service.next_local(NY, 10)
    case_id = await service.open_case("US")
    for _ in range(6):
        r = await service.client.post("/contact-attempts", json=call(case_id), headers=token())
        assert r.status_code == 201, r.text
    first, second = await asyncio.gather(
        service.client.post("/contact-attempts", json=call(case_id), headers=token()),
        service.client.post("/contact-attempts", json=call(case_id), headers=token(Role.SUPERVISOR, "sup-1")),
    )
    statuses = sorted([first.status_code, second.status_code])
    assert statuses == [201, 409], (first.text, second.text)
    refused = first if first.status_code == 409 else second
    assert refused.json()["rule_id"] == "US-REGF-7IN7"
    contacts = (await service.client.get(f"/cases/{case_id}/contacts", headers=token())).json()["contacts"]
    assert sum(c["decision"] == "allow" for c in contacts) == 7


async def test_cn_connected_calls_race_across_two_agencies(service: ContactService) -> None:
    # Two outsourced agencies' dialers and the institution's own collector call the same debtor, each
    # on the case of the debtor it was given.
    debtor = f"dbt-{uuid.uuid4().hex[:8]}"
    own = await service.open_case("CN", debtor_id=debtor)
    case_a = await service.open_case("CN", debtor_id=debtor, agency="agency-a")
    case_b = await service.open_case("CN", debtor_id=debtor, agency="agency-b")
    agency_a = token(Role.DIALER, "dialer-a", agency_id="agency-a")
    agency_b = token(Role.DIALER, "dialer-b", agency_id="agency-b")
    service.next_local(SHA, 10)
    for case_id, headers in ((own, token()), (case_a, agency_a)):
        r = await service.client.post(
            "/contact-attempts", json=call(case_id, "right_party_contact"), headers=headers
        )
        assert r.status_code == 201, r.text
    a, b = await asyncio.gather(
        service.client.post("/contact-attempts", json=call(case_a, "refused"), headers=agency_a),
        service.client.post("/contact-attempts", json=call(case_b, "right_party_contact"), headers=agency_b),
    )
    assert sorted([a.status_code, b.status_code]) == [201, 409], (a.text, b.text)
    assert (a if a.status_code == 409 else b).json()["rule_id"] == "CN-NIFA-3CALLS"


async def test_a_dialer_works_its_agencys_cases_only_and_an_integration_records_no_contact(
    service: ContactService,
) -> None:
    ours = await service.open_case("US", agency="agency-a")
    theirs = await service.open_case("US", agency="agency-b")
    dialer = token(Role.DIALER, "dialer-a", agency_id="agency-a")
    service.next_local(NY, 11)
    check = {"channel": "phone", "party": "debtor"}
    assert (
        await service.client.post("/contact-checks", json={"case_id": ours, **check}, headers=dialer)
    ).status_code == 200
    refused = await service.client.post("/contact-checks", json={"case_id": theirs, **check}, headers=dialer)
    assert refused.status_code == 403
    unscoped = token(Role.DIALER, "dialer-x")  # no agency claim: works no case
    assert (
        await service.client.post("/contact-checks", json={"case_id": ours, **check}, headers=unscoped)
    ).status_code == 403
    # a person hears a promise or a dispute; a machine does not record one
    promise = {
        "case_id": ours,
        "amount": {"amount_minor": 1000, "currency": "USD"},
        "due_on": "2026-06-20",
        "channel": "phone",
    }
    assert (await service.client.post("/promises", json=promise, headers=dialer)).status_code == 403
    bank = token(Role.INTEGRATION, "core-banking")
    for path, body in (
        ("/contact-checks", {"case_id": ours, **check}),
        ("/contact-attempts", call(ours)),
        ("/promises", promise),
    ):
        assert (await service.client.post(path, json=body, headers=bank)).status_code == 403, path


async def test_holds_from_the_case_topic_block_until_released(service: ContactService) -> None:
    case_id = await service.open_case("GB")
    service.next_local(LON, 11)
    await service.publish(
        "collections.cases", case_id, CaseHoldPlaced(hold_id="h-1", hold_type=HoldType.BREATHING_SPACE)
    )

    async def phone_refused_by(rule: str | None) -> bool:
        r = await service.client.post(
            "/contact-checks", json={"case_id": case_id, "channel": "phone"}, headers=token()
        )
        return r.status_code == 200 and r.json()["rule_id"] == rule

    await eventually(lambda: phone_refused_by("GB-BS-STANDARD"))
    r = await service.client.post("/contact-attempts", json=call(case_id), headers=token())
    assert r.status_code == 409 and r.json()["rule_id"] == "GB-BS-STANDARD"
    await service.publish(
        "collections.cases",
        case_id,
        CaseHoldReleased(hold_id="h-1", hold_type=HoldType.BREATHING_SPACE, reason="ended"),
    )
    await eventually(lambda: phone_refused_by(None))


async def test_collectors_act_only_on_their_cases(service: ContactService) -> None:
    case_id = await service.open_case("US", collector="col-1")
    check = {"case_id": case_id, "channel": "letter"}
    assert (
        await service.client.post("/contact-checks", json=check, headers=token(subject="col-2"))
    ).status_code == 403
    assert (
        await service.client.post("/contact-checks", json=check, headers=token(Role.SUPERVISOR, "s"))
    ).status_code == 200
    assert (
        await service.client.post("/contact-checks", json=check, headers=token(Role.AUDITOR, "a"))
    ).status_code == 403
    assert (await service.client.post("/contact-checks", json=check)).status_code == 401
    unknown = {"case_id": "case-none", "channel": "letter"}
    assert (await service.client.post("/contact-checks", json=unknown, headers=token())).status_code == 404
    assert (await service.client.get("/worklist?collector=col-9", headers=token())).status_code == 403


async def test_unknown_jurisdiction_is_refused_and_recorded(service: ContactService) -> None:
    case_id = await service.open_case("FR")
    r = await service.client.post(
        "/contact-attempts", json={**call(case_id), "channel": "letter"}, headers=token()
    )
    assert r.status_code == 409
    assert r.json()["rule_id"] == "GATE-UNKNOWN-JURISDICTION"
    [blocked] = await service.contact_events(case_id, expect=1)
    assert blocked.data["rule_pack_id"] == "gate-policy"


async def test_debtor_requests_take_effect_at_once_and_are_published(service: ContactService) -> None:
    service.next_local(NY, 12)
    debtor = "dbt-requests"
    case_id = await service.open_case("US", debtor_id=debtor)
    other = await service.open_case("US", debtor_id=debtor)
    opt_out = {"case_id": case_id, "kind": "channel_opt_out", "received_via": "sms", "channel": "sms"}
    r = await service.client.post("/debtor-requests", json=opt_out, headers=token())
    assert r.status_code == 201, r.text
    assert sorted(r.json()["recorded_on_cases"]) == sorted([case_id, other])
    for cid in (case_id, other):
        sms = await service.client.post(
            "/contact-checks", json={"case_id": cid, "channel": "sms"}, headers=token()
        )
        assert sms.json()["rule_id"] == "US-REGF-OPTOUT"
    cease = {"case_id": case_id, "kind": "cease_communication", "received_via": "letter", "reason": "written"}
    assert (await service.client.post("/debtor-requests", json=cease, headers=token())).status_code == 201
    phone = await service.client.post(
        "/contact-checks", json={"case_id": case_id, "channel": "phone"}, headers=token()
    )
    assert phone.json()["rule_id"] == "US-REGF-CEASE"
    other_phone = await service.client.post(
        "/contact-checks", json={"case_id": other, "channel": "phone"}, headers=token()
    )
    assert other_phone.json()["verdict"] == "allow"  # a cease request is about this debt
    types = [e.type for e in await service.contact_events(case_id, expect=2)]
    assert types == ["collections.contact.channel_opted_out.v1", "collections.contact.cease_requested.v1"]


async def test_promises_in_the_case_currency_within_the_horizon(service: ContactService) -> None:
    service.next_local(NY, 12)
    case_id = await service.open_case("US")
    today = service.clock.now().date()
    body = {"case_id": case_id, "amount": {"amount_minor": 5000, "currency": "USD"}, "channel": "phone"}
    ok = await service.client.post(
        "/promises", json={**body, "due_on": str(today + timedelta(days=10))}, headers=token()
    )
    assert ok.status_code == 201, ok.text
    zero = {**body, "amount": {"amount_minor": 0, "currency": "USD"}, "due_on": str(today)}
    assert (await service.client.post("/promises", json=zero, headers=token())).status_code == 422
    euros = {**body, "amount": {"amount_minor": 5000, "currency": "EUR"}, "due_on": str(today)}
    assert (await service.client.post("/promises", json=euros, headers=token())).status_code == 422
    far = await service.client.post(
        "/promises", json={**body, "due_on": str(today + timedelta(days=60))}, headers=token()
    )
    assert far.status_code == 409 and far.json()["rule_id"] == "US-POLICY-PTP"
    [made] = await service.contact_events(case_id, expect=1)
    assert made.type == "collections.contact.promise_made.v1"
    assert made.data["amount"] == {"amount_minor": 5000, "currency": "USD"}


async def test_worklist_orders_promises_then_steps_then_expected_recovery(service: ContactService) -> None:
    service.next_local(NY, 12)
    who = "col-worklist"
    big = await service.open_case("US", collector=who, balance_minor=900_000, risk_score=100)
    stepped = await service.open_case("US", collector=who, balance_minor=100_000)
    promised = await service.open_case("US", collector=who, balance_minor=50_000)
    today = service.clock.now().date()
    body = {"case_id": promised, "amount": {"amount_minor": 5000, "currency": "USD"}, "channel": "phone"}
    r = await service.client.post(
        "/promises", json={**body, "due_on": str(today)}, headers=token(subject=who)
    )
    assert r.status_code == 201, r.text
    await service.publish(
        "collections.payments",
        promised,
        PromiseBroken(
            promise_id=r.json()["promise_id"],
            amount_promised=Money(amount_minor=5000, currency="USD"),
            amount_paid=Money(amount_minor=0, currency="USD"),
            due_on=today,
        ),
    )
    steps = [TreatmentStep(day_offset=0, channel=Channel.SMS, template="reminder-1")]
    await service.publish(
        "collections.cases",
        stepped,
        CaseStrategyAssigned(segment="s", strategy_id="soft", strategy_version=1, treatment=steps),
        time=service.clock.now() - timedelta(hours=1),
    )

    async def ordered() -> bool:
        r = await service.client.get("/worklist", headers=token(subject=who))
        items = r.json()["items"]
        return [i["case_id"] for i in items] == [promised, stepped, big] and items[0][
            "priority_reason"
        ] == "promise broken"

    await eventually(ordered)
    items = (
        await service.client.get(f"/worklist?collector={who}", headers=token(Role.SUPERVISOR, "s"))
    ).json()["items"]
    assert items[1]["priority_reason"] == "strategy step due: sms"
    assert items[2]["expected_recovery"] == {"amount_minor": 810_000, "currency": "USD"}
    channels = {c["channel"]: c for c in items[2]["channels"]}
    assert channels["letter"]["allowed"] is True
    assert set(channels) == {c.value for c in Channel}


async def test_an_erasure_removes_the_debtors_contact_points_from_the_case(service: ContactService) -> None:
    service.next_local(NY, 12)
    case_id = await service.open_case("US")
    made = await service.client.post(
        "/contact-attempts", json=call(case_id, contact_point="+12025550101"), headers=token()
    )
    assert made.status_code == 201, made.text
    auditor = token(Role.AUDITOR, "aud-1")
    supervisor = token(Role.SUPERVISOR, "sup-1")
    assert "+12025550101" in (await service.client.get(f"/cases/{case_id}/contacts", headers=supervisor)).text
    masked = (await service.client.get(f"/cases/{case_id}/contacts", headers=auditor)).json()
    assert [c["contact_point"] for c in masked["contacts"]] == ["+12******101"]  # auditors: masked
    # an audited unmask: with a reason, recorded on the case's topic before the number is shown
    reason = "complaint CMP-2026-114: which number was called"
    unmasked = await service.client.get(
        f"/cases/{case_id}/contacts", params={"unmask": "true", "reason": reason}, headers=auditor
    )
    assert [c["contact_point"] for c in unmasked.json()["contacts"]] == ["+12025550101"]
    disclosed = [
        e
        for e in await service.contact_events(case_id, expect=3, topic="collections.cases")
        if e.type == "collections.case.personal_data_disclosed.v1"
    ]
    who = [(e.source, e.actor, e.data["reason"]) for e in disclosed]
    assert who == [("/contact-service", "aud-1", reason)]
    await service.publish(
        "collections.cases",
        case_id,
        CaseClosed(reason=CloseReason.RECALLED, final_balance=Money(amount_minor=0, currency="USD")),
    )
    await service.publish(
        "collections.cases",
        case_id,
        ErasureCompleted(debtor_id="dbt-x", trigger="request", reason="asked", legal_basis="GDPR Art. 17"),
    )

    async def erased() -> bool:
        history = (await service.client.get(f"/cases/{case_id}/contacts", headers=auditor)).json()
        return all(c["contact_point"] is None for c in history["contacts"])

    await eventually(erased)
    history = (await service.client.get(f"/cases/{case_id}/contacts", headers=auditor)).json()
    assert [c["decision"] for c in history["contacts"]] == ["allow"]  # the attempt itself stays
    import asyncpg

    db = await asyncpg.connect(service.database_url)
    try:
        facts = await db.fetchval("SELECT facts::text FROM case_facts WHERE case_id = $1", case_id)
    finally:
        await db.close()
    assert "+12025550101" not in facts and "pat@example.org" not in facts


async def test_a_user_of_another_creditor_reads_and_records_nothing_on_the_case(
    service: ContactService,
) -> None:
    """The case is creditor `bank`'s (its CaseOpened's account): its collector acting for another
    creditor cannot ask the gate, record, read its history or options, or find it on a worklist."""
    service.next_local(NY, 11)
    case_id = await service.open_case("US")
    theirs = token(Role.COLLECTOR, "col-1", creditors=["other-bank"])
    ours = token(Role.COLLECTOR, "col-1", creditors=["bank"])
    check = {"case_id": case_id, "channel": "phone"}
    assert (await service.client.post("/contact-checks", json=check, headers=ours)).status_code == 200
    assert (await service.client.post("/contact-checks", json=check, headers=theirs)).status_code == 403
    assert (
        await service.client.post("/contact-attempts", json=call(case_id), headers=theirs)
    ).status_code == 403
    for path in (f"/cases/{case_id}/contacts", f"/cases/{case_id}/contact-options"):
        assert (await service.client.get(path, headers=theirs)).status_code == 403, path
    listed = (await service.client.get("/worklist", headers=theirs)).json()
    assert case_id not in {item["case_id"] for item in listed["items"]}
    assert case_id in {
        item["case_id"] for item in (await service.client.get("/worklist", headers=ours)).json()["items"]
    }
