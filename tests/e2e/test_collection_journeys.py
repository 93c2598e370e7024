"""The collection process end to end, through the services' public interfaces (HTTP and Kafka).

Each scenario takes its own fresh day on the shared manual clock (`platform.new_day()`) and lays its
times out from there, so the scenarios do not depend on each other or on their order.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dcp_events import encode_event, new_event
from dcp_events.catalogue.contacts import ContactAttempted

from .journeys import (
    assign_directly,
    contact_options,
    contact_service_sees,
    eventually,
    expect,
    only,
    open_case,
    placement,
    register_staff,
    trail,
    types_of,
    wait_case,
    wait_trail,
)
from .platform_under_test import Platform

pytestmark = pytest.mark.integration

US_PACK = ("us-regf", "2026.1")
GB_PACK = ("gb-conc", "2026.1")
CN_PACK = ("cn-nifa", "2026.1")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def attempt(
    case_id: str, channel: str = "phone", outcome: str = "right_party_contact", **extra: Any
) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "attempt_id": f"att-{uuid.uuid4().hex}",
        "channel": channel,
        "outcome": outcome,
        "duration_seconds": 120 if channel == "phone" else 0,
        **extra,
    }


def refused(response_body: dict[str, Any], rule_id: str, pack: tuple[str, str]) -> None:
    assert response_body["type"].endswith("/contact-refused"), response_body
    assert response_body["rule_id"] == rule_id, response_body
    assert (response_body["rule_pack_id"], response_body["rule_pack_version"]) == pack, response_body
    assert response_body["citation"], response_body


# --- 1. a US case from placement to paid in full, and the auditor's proof of it --------------------------


async def test_us_case_from_placement_to_paid_in_full_with_a_verified_trail(
    platform: Platform, tmp_path: Path
) -> None:
    day = platform.new_day()  # 00:00 UTC = 19:00 the evening before in New York (EST, UTC-5)
    await platform.set_clock(day + timedelta(hours=14))  # 09:00 in New York
    await register_staff(platform, "col-us-1", "collector", ["US"], ["en"])
    body = placement(
        "US",
        time_zone="America/New_York",
        language="en-US",
        currency="USD",
        principal_minor=120_000,
        interest_minor=4_550,
        fees_minor=2_500,
        country_code="1212",
    )
    opened = await open_case(platform, body, "sup-us")
    case_id = opened["case_id"]
    assert opened["status"] == "open"
    assert opened["balance"] == {"amount_minor": 127_050, "currency": "USD"}
    assert opened["strategy_id"] is not None and opened["segment"] is not None  # strategy assigned
    await assign_directly(platform, case_id, "col-us-1", "sup-us")

    async with platform.client("contact", "collector", "col-us-1") as contact:
        await contact_service_sees(contact, case_id)

        # 21:30 in New York: the gate refuses the call, names the rule and when it may be made.
        await platform.set_clock(day + timedelta(days=1, hours=2, minutes=30))
        late_call = attempt(case_id)
        problem = expect(await contact.post("/contact-attempts", json=late_call), 409)
        refused(problem, "US-REGF-TIME", US_PACK)
        assert problem["time_zone"] == "America/New_York"
        assert utc(problem["next_allowed_at"]) == day + timedelta(days=1, hours=13)  # 08:00 local

        # 09:00 the next morning: allowed; the debtor answers and promises to pay in full within a week.
        await platform.set_clock(day + timedelta(days=1, hours=14))
        morning_call = attempt(case_id)
        accepted = expect(await contact.post("/contact-attempts", json=morning_call), 201)
        assert accepted["decision"]["verdict"] == "allow"
        due_on = (day + timedelta(days=8)).date()
        promise = expect(
            await contact.post(
                "/promises",
                json={
                    "case_id": case_id,
                    "amount": {"amount_minor": 127_050, "currency": "USD"},
                    "due_on": due_on.isoformat(),
                    "channel": "phone",
                    "attempt_id": morning_call["attempt_id"],
                },
            ),
            201,
        )
        history = expect(await contact.get(f"/cases/{case_id}/contacts"), 200)["contacts"]
    decisions = {c["attempt_id"]: c for c in history}
    assert decisions[late_call["attempt_id"]]["decision"] == "deny"
    assert decisions[late_call["attempt_id"]]["rule_id"] == "US-REGF-TIME"
    assert decisions[morning_call["attempt_id"]]["decision"] == "allow"
    assert decisions[morning_call["attempt_id"]]["outcome"] == "right_party_contact"

    promise_id = promise["promise_id"]
    async with platform.client("payment", "auditor", "aud-1") as payments:

        async def promise_state(status: str) -> dict[str, Any] | None:
            response = await payments.get(f"/promises/{promise_id}")
            return (
                response.json()
                if response.status_code == 200 and response.json()["status"] == status
                else None
            )

        tracked = await eventually(lambda: promise_state("open"), "payment-service to track the promise")
        assert tracked["amount"] == {"amount_minor": 127_050, "currency": "USD"}
        assert tracked["due_on"] == due_on.isoformat()

        # Core banking posts the payment three days later, well before the promise falls due.
        await platform.set_clock(day + timedelta(days=4, hours=15))
        async with platform.client("payment", "integration", "core-banking") as bank:
            payment = expect(
                await bank.post(
                    "/payments",
                    json={
                        "case_id": case_id,
                        "amount": {"amount_minor": 127_050, "currency": "USD"},
                        "method": "bank_transfer",
                        "external_reference": f"bank-{uuid.uuid4().hex[:12]}",
                    },
                ),
                201,
            )
        assert payment["status"] == "applied"
        closed = await wait_case(platform, case_id, "closed paid in full", lambda c: c["status"] == "closed")
        assert closed["close_reason"] == "paid_in_full"
        assert closed["balance"] == {"amount_minor": 0, "currency": "USD"}

        # The promise is settled at its deadline (due date plus grace, end of day in New York): kept.
        await platform.set_clock(utc(tracked["settles_at"]) + timedelta(minutes=1))
        kept = await eventually(lambda: promise_state("kept"), "the promise to be kept")
        assert kept["amount_paid"] == {"amount_minor": 127_050, "currency": "USD"}

    # The auditor's trail shows every step, with its actor and evidence.
    steps = (
        "collections.case.opened",
        "collections.case.strategy_assigned",
        "collections.case.assigned",
        "collections.contact.blocked",
        "collections.contact.attempted",
        "collections.contact.promise_made",
        "collections.payment.promise_tracked",
        "collections.payment.received",
        "collections.case.balance_changed",
        "collections.case.closed",
        "collections.payment.promise_kept",
    )
    entries = await wait_trail(platform, case_id, *steps)
    assert all(e["actor"] and e["actor_role"] for e in entries if e["type"]), entries
    actors = {base: (e["actor"], e["actor_role"]) for e in entries for base in [types_of([e])[0]]}
    assert actors["collections.case.opened"] == ("sup-us", "supervisor")
    assert actors["collections.case.assigned"] == ("sup-us", "supervisor")
    assert actors["collections.contact.blocked"] == ("col-us-1", "collector")
    assert actors["collections.contact.attempted"] == ("col-us-1", "collector")
    assert actors["collections.contact.promise_made"] == ("col-us-1", "collector")
    assert actors["collections.payment.received"] == ("core-banking", "integration")
    [blocked] = only(entries, "collections.contact.blocked")
    assert blocked["decision"]["decision"] == "deny"
    assert blocked["decision"]["rule_id"] == "US-REGF-TIME"
    assert (blocked["decision"]["rule_pack_id"], blocked["decision"]["rule_pack_version"]) == US_PACK
    assert blocked["decision"]["citation"].startswith("12 CFR 1006.6(b)(1)(i)")
    [attempted] = only(entries, "collections.contact.attempted")
    assert attempted["event"]["data"]["outcome"] == "right_party_contact"
    [closed_entry] = only(entries, "collections.case.closed")
    assert closed_entry["event"]["data"]["reason"] == "paid_in_full"
    [received] = only(entries, "collections.payment.received")
    assert received["event"]["data"]["amount"] == {"amount_minor": 127_050, "currency": "USD"}
    times = [e["time"] for e in entries]
    assert times == sorted(times), "the trail is in time order"

    # Verification: the chains hold, and a signed checkpoint covers every entry of the case.
    async with platform.client("audit", "admin", "adm-1") as admin:
        checkpoint = await admin.post("/audit/checkpoints")  # signing is an operator's act
    async with platform.client("audit", "auditor", "aud-1") as audit:
        assert checkpoint.status_code in (200, 201), checkpoint.text
        verification = expect(await audit.get("/audit/verify"), 200)
        assert verification["ok"] is True, verification
        assert all(c["first_broken_link"] is None for c in verification["chains"])
        assert verification["checkpoints"]["problems"] == []
        signed = {(c["topic"], c["partition"]): c["size"] for c in checkpoint.json()["signed"]["chains"]}
        for entry in entries:
            size = signed[(entry["topic"], entry["partition"])]
            assert entry["seq"] < size, f"entry {entry['id']} is not covered by the signed checkpoint"
        key = tmp_path / "public-key.json"
        key.write_text((await audit.get("/audit/public-key")).text)
        for entry in (blocked, closed_entry):
            proof = tmp_path / f"proof-{entry['id']}.json"
            proof.write_text(json.dumps(expect(await audit.get(f"/audit/entries/{entry['id']}/proof"), 200)))
            # The auditor's offline verifier, which trusts only the public key.
            verifier = Path(sys.executable).parent / "audit-verify"
            result = subprocess.run(
                [str(verifier), "proof", str(proof), str(key)], capture_output=True, text=True, check=False
            )
            assert result.returncode == 0, result.stdout + result.stderr


# --- 2. a GB case under breathing space ----------------------------------------------------------------


async def test_gb_breathing_space_refuses_every_contact_until_it_expires(platform: Platform) -> None:
    day = platform.new_day()  # London is on UTC in winter
    await platform.set_clock(day + timedelta(hours=9))
    await register_staff(platform, "col-gb-1", "collector", ["GB"], ["en"])
    body = placement(
        "GB",
        time_zone="Europe/London",
        language="en-GB",
        currency="GBP",
        principal_minor=85_000,
        country_code="447",
    )
    case_id = (await open_case(platform, body, "sup-gb"))["case_id"]
    await assign_directly(platform, case_id, "col-gb-1", "sup-gb")

    # The Insolvency Service notifies a standard breathing space; it ends at a known date.
    expires_at = day + timedelta(days=21)
    async with platform.client("case", "supervisor", "sup-gb") as case:
        held = expect(
            await case.post(
                f"/cases/{case_id}/holds",
                json={
                    "hold_type": "breathing_space",
                    "reason": "standard breathing space (Debt Respite Scheme)",
                    "expires_at": expires_at.isoformat(),
                    "evidence_ref": "insolvency-service-notice-1",
                },
            ),
            201,
        )
    assert held["active_holds"] == 1

    channels = ("phone", "sms", "email", "letter")
    async with platform.client("contact", "collector", "col-gb-1") as contact:
        await contact_service_sees(contact, case_id)

        async def all_refused_by_breathing_space() -> dict[str, dict[str, Any]] | None:
            options = await contact_options(contact, case_id)
            return options if all(options[c]["rule_id"] == "GB-BS-STANDARD" for c in channels) else None

        options = await eventually(all_refused_by_breathing_space, "the gate to learn of the breathing space")
        assert not any(o["allowed"] for o in options.values()), options

        # Every channel is refused, on the first day and on the last day of the moratorium.
        for moment in (day + timedelta(hours=10), expires_at - timedelta(hours=10)):
            await platform.set_clock(moment)
            for channel in channels:
                problem = expect(await contact.post("/contact-attempts", json=attempt(case_id, channel)), 409)
                refused(problem, "GB-BS-STANDARD", GB_PACK)
            promise = await contact.post(
                "/promises",
                json={
                    "case_id": case_id,
                    "amount": {"amount_minor": 10_000, "currency": "GBP"},
                    "due_on": (moment + timedelta(days=7)).date().isoformat(),
                    "channel": "phone",
                },
            )
            assert promise.status_code == 409, promise.text

        # At expiry a timer releases the hold; from then on, contact is allowed again.
        await platform.set_clock(expires_at + timedelta(hours=10))
        released = await wait_case(
            platform, case_id, "breathing space released", lambda c: c["active_holds"] == 0
        )
        assert released["detail"]["holds"] == []

        async def phone_allowed() -> bool:
            return bool((await contact_options(contact, case_id))["phone"]["allowed"])

        await eventually(phone_allowed, "the gate to allow the phone after expiry")
        after = expect(await contact.post("/contact-attempts", json=attempt(case_id)), 201)
        assert after["decision"]["verdict"] == "allow"

    entries = await wait_trail(
        platform, case_id, "collections.case.hold_placed", "collections.case.hold_released"
    )
    blocked = only(entries, "collections.contact.blocked")
    assert len(blocked) == 2 * len(channels)
    assert {b["decision"]["rule_id"] for b in blocked} == {"GB-BS-STANDARD"}
    [hold] = only(entries, "collections.case.hold_placed")
    assert (hold["actor"], hold["event"]["data"]["hold_type"]) == ("sup-gb", "breathing_space")


# --- 3. a CN debtor: the daily cap counts every agency; field visits are recorded -------------------


async def test_cn_fourth_connected_call_refused_across_two_agencies_and_unrecorded_visit_refused(
    platform: Platform,
) -> None:
    day = platform.new_day()  # 08:00 in Shanghai
    await platform.set_clock(day + timedelta(hours=1))  # 09:00 in Shanghai
    for agency in ("agency-a", "agency-b"):
        await register_staff(platform, agency, "agency", ["CN"], ["zh"])
    # One debtor, two loans, each placed with a different agency.
    debtor_id, phone = f"dbt-{uuid.uuid4().hex[:12]}", "+8613800138000"
    cases: dict[str, str] = {}
    for agency in ("agency-a", "agency-b"):
        body = placement(
            "CN",
            time_zone="Asia/Shanghai",
            language="zh-CN",
            currency="CNY",
            principal_minor=5_000_00,
            country_code="86",
            debtor_id=debtor_id,
            phone=phone,
            product="personal_loan",
        )
        cases[agency] = (await open_case(platform, body, "sup-cn"))["case_id"]
        await assign_directly(platform, cases[agency], agency, "sup-cn")

    await platform.set_clock(day + timedelta(hours=2))  # 10:00 in Shanghai
    agent_a = platform.client("contact", "collector", "agent-a1", agency_id="agency-a")
    agent_b = platform.client("contact", "collector", "agent-b1", agency_id="agency-b")
    async with agent_a, agent_b:
        await contact_service_sees(agent_a, cases["agency-a"])
        await contact_service_sees(agent_b, cases["agency-b"])
        a_case, b_case = cases["agency-a"], cases["agency-b"]
        # Connected calls 1 and 2 by agency A; an unanswered call is not a connected call.
        for outcome in ("right_party_contact", "no_answer", "refused"):
            expect(await agent_a.post("/contact-attempts", json=attempt(a_case, outcome=outcome)), 201)
        # Connected call 3 by agency B, about the other loan.
        expect(await agent_b.post("/contact-attempts", json=attempt(b_case)), 201)
        # The fourth connected call of the day is refused, whichever agency places it.
        for client, case_id in ((agent_b, b_case), (agent_a, a_case)):
            problem = expect(await client.post("/contact-attempts", json=attempt(case_id)), 409)
            refused(problem, "CN-NIFA-3CALLS", CN_PACK)
            assert "3 connected calls" in problem["reason"]
            # The count restarts at midnight, inside the quiet hours: the next call is at 08:00 tomorrow.
            assert utc(problem["next_allowed_at"]) == day + timedelta(days=1)

        # A field visit must be recorded in full: without a recording reference it is refused.
        visit = attempt(a_case, "field_visit")
        problem = expect(await agent_a.post("/contact-attempts", json=visit), 409)
        refused(problem, "CN-NIFA-RECORD", CN_PACK)
        recorded = attempt(a_case, "field_visit", recording_ref="rec-visit-0001")
        expect(await agent_a.post("/contact-attempts", json=recorded), 201)
        history = expect(await agent_a.get(f"/cases/{a_case}/contacts"), 200)["contacts"]
    by_id = {c["attempt_id"]: c for c in history}
    assert by_id[visit["attempt_id"]]["decision"] == "deny"
    assert by_id[visit["attempt_id"]]["rule_id"] == "CN-NIFA-RECORD"
    assert by_id[recorded["attempt_id"]]["recording_ref"] == "rec-visit-0001"
    assert {c["agency_id"] for c in history} == {"agency-a"}

    entries = await wait_trail(platform, b_case, "collections.contact.blocked")
    [blocked] = only(entries, "collections.contact.blocked")
    assert (blocked["actor"], blocked["event"]["data"]["agency_id"]) == ("agent-b1", "agency-b")
    assert blocked["decision"]["rule_id"] == "CN-NIFA-3CALLS"
    async with platform.client("audit", "auditor", "aud-1") as audit:
        for case_id in cases.values():
            findings = expect(await audit.get("/audit/findings", params={"case_id": case_id}), 200)
            assert findings["findings"] == [], "the gate let nothing through that the audit refuses"


# --- 4. a dispute stops collection until it is released; a cease request ---------------------------


async def _us_case(
    platform: Platform, collector: str, supervisor: str, principal_minor: int, days_past_due: int = 20
) -> str:
    await register_staff(platform, collector, "collector", ["US"], ["en"])
    body = placement(
        "US",
        time_zone="America/Chicago",
        language="en-US",
        currency="USD",
        principal_minor=principal_minor,
        country_code="1312",
        days_past_due=days_past_due,
    )
    body["debtor"]["address"] = {
        "lines": ["400 W Lake St"],
        "city": "Chicago",
        "region": "IL",
        "postal_code": "60606",
        "country": "US",
    }
    case_id = str((await open_case(platform, body, supervisor))["case_id"])
    await assign_directly(platform, case_id, collector, supervisor)
    return case_id


async def test_a_collector_contacts_only_over_the_channels_the_directory_qualifies_them_for(
    platform: Platform,
) -> None:
    """case-service's staff directory reaches the gate over collections.staff: a collector no longer
    qualified for calls is refused a call (recorded, with the rule), and allowed again once qualified."""
    day = platform.new_day()
    await platform.set_clock(day + timedelta(hours=15))  # 09:00 in Chicago
    case_id = await _us_case(platform, "col-us-5", "sup-us5", 25_000)
    async with platform.client("contact", "collector", "col-us-5") as contact:
        await contact_service_sees(contact, case_id)
        await register_staff(platform, "col-us-5", "collector", ["US"], ["en"], channels=("field_visit",))

        async def check(rule_id: str | None) -> bool:
            decision = expect(
                await contact.post("/contact-checks", json={"case_id": case_id, "channel": "phone"}), 200
            )
            return bool(decision.get("rule_id") == rule_id)

        await eventually(
            lambda: check("PLATFORM-STAFF-QUALIFIED"), "the gate to learn of the directory change"
        )
        problem = expect(
            await contact.post("/contact-permits", json={"case_id": case_id, "channel": "phone"}), 409
        )
        assert problem["rule_id"] == "PLATFORM-STAFF-QUALIFIED"
        assert "no current qualification for US debtors speaking en-US by phone" in problem["reason"]
        [blocked] = only(
            await wait_trail(platform, case_id, "collections.contact.blocked"), "collections.contact.blocked"
        )
        assert blocked["decision"]["rule_id"] == "PLATFORM-STAFF-QUALIFIED"

        await register_staff(platform, "col-us-5", "collector", ["US"], ["en"], channels=("phone",))
        await eventually(lambda: check(None), "the gate to learn the collector may call again")
        expect(await contact.post("/contact-permits", json={"case_id": case_id, "channel": "phone"}), 201)
    directory = only(await trail(platform, "col-us-5"), "collections.staff.member_changed")
    assert len(directory) >= 3  # every change of the entry is in the audit trail, under the staff id


async def test_us_dispute_stops_collection_until_released_and_a_cease_request_stops_contact(
    platform: Platform,
) -> None:
    day = platform.new_day()  # Chicago is UTC-6 in winter
    await platform.set_clock(day + timedelta(hours=15))  # 09:00 in Chicago
    disputed = await _us_case(platform, "col-us-2", "sup-us2", 64_000)
    ceased = await _us_case(platform, "col-us-2", "sup-us2", 31_500)

    async with (
        platform.client("contact", "collector", "col-us-2") as contact,
        platform.client("case", "supervisor", "sup-us2") as case,
    ):
        for case_id in (disputed, ceased):
            await contact_service_sees(contact, case_id)

        # The debtor disputes the debt in writing, before any validation notice ended a validation
        # period: collection stops until verification is sent (12 CFR 1006.38(d)(2)).
        expect(
            await contact.post(
                "/debtor-requests",
                json={
                    "case_id": disputed,
                    "kind": "dispute",
                    "received_via": "letter",
                    "reason": "not my debt",
                },
            ),
            201,
        )
        view = await wait_case(platform, disputed, "a dispute hold", lambda c: c["active_holds"] == 1)
        [hold] = view["detail"]["holds"]
        assert hold["hold_type"] == "verification_pending"

        async def phone_refused_by(case_id: str, rule_id: str) -> bool:
            return bool((await contact_options(contact, case_id))["phone"]["rule_id"] == rule_id)

        await eventually(
            lambda: phone_refused_by(disputed, "US-REGF-VERIFY"), "the gate to learn of the dispute"
        )
        problem = expect(await contact.post("/contact-attempts", json=attempt(disputed)), 409)
        refused(problem, "US-REGF-VERIFY", US_PACK)
        assert problem["next_allowed_at"] is None  # not until the dispute is resolved
        # Sending the verification the dispute asks for is allowed; escalating the case is not.
        verification = attempt(disputed, "letter", outcome="no_answer", purpose="verification")
        expect(await contact.post("/contact-attempts", json=verification), 201)
        blocked = expect(
            await case.post(f"/cases/{disputed}/stage", json={"to_stage": "late", "reason": "no payment"}),
            409,
        )
        assert blocked["type"] == "https://errors.dcp.example/escalation-blocked-by-hold", blocked

        # No person may lift that hold; the verification sent the next day does, and collection resumes.
        await platform.set_clock(day + timedelta(days=1, hours=15))
        lifted = expect(
            await case.delete(f"/cases/{disputed}/holds/{hold['hold_id']}", params={"reason": "verified"}),
            409,
        )
        assert lifted["type"] == "https://errors.dcp.example/verification-required", lifted
        statement = {"document_id": "doc-stmt-1", "kind": "statement", "description": "last statement"}
        expect(
            await contact.post(
                f"/cases/{disputed}/disputes/{hold['hold_id']}/verification",
                json={"channel": "letter", "documents": [statement]},
            ),
            201,
        )
        await wait_case(platform, disputed, "the hold released", lambda c: c["active_holds"] == 0)

        async def phone_allowed(case_id: str) -> bool:
            return bool((await contact_options(contact, case_id))["phone"]["allowed"])

        await eventually(lambda: phone_allowed(disputed), "the gate to allow calls after the release")
        call = expect(await contact.post("/contact-attempts", json=attempt(disputed)), 201)
        assert call["decision"]["verdict"] == "allow"
        escalated = expect(
            await case.post(
                f"/cases/{disputed}/stage", json={"to_stage": "late", "reason": "dispute resolved"}
            ),
            200,
        )
        assert escalated["stage"] == "late"

        # The other debtor asks in writing to stop all communication.
        expect(
            await contact.post(
                "/debtor-requests",
                json={"case_id": ceased, "kind": "cease_communication", "received_via": "letter"},
            ),
            201,
        )
        await wait_case(platform, ceased, "a cease hold", lambda c: c["active_holds"] == 1)
        await eventually(lambda: phone_refused_by(ceased, "US-REGF-CEASE"), "the gate to learn of the cease")
        for channel in ("phone", "sms", "email", "letter"):
            problem = expect(await contact.post("/contact-attempts", json=attempt(ceased, channel)), 409)
            refused(problem, "US-REGF-CEASE", US_PACK)
        # Only telling the debtor that efforts end remains possible.
        notice = attempt(ceased, "letter", outcome="no_answer", purpose="termination_notice")
        expect(await contact.post("/contact-attempts", json=notice), 201)

    entries = await wait_trail(
        platform,
        disputed,
        "collections.contact.dispute_raised",
        "collections.case.hold_placed",
        "collections.contact.verification_sent",
        "collections.case.hold_released",
        "collections.case.stage_changed",
    )
    assert only(entries, "collections.contact.verification_sent")[0]["actor"] == "col-us-2"
    assert only(entries, "collections.contact.dispute_raised")[0]["actor"] == "col-us-2"
    ceased_entries = await wait_trail(
        platform, ceased, "collections.contact.cease_requested", "collections.case.hold_placed"
    )
    assert {b["decision"]["rule_id"] for b in only(ceased_entries, "collections.contact.blocked")} == {
        "US-REGF-CEASE"
    }


# --- 5. a plan agreed, installments missed, the plan broken, the case escalated ----------------------


async def test_payment_plan_missed_installments_break_it_and_the_case_is_escalated(
    platform: Platform,
) -> None:
    day = platform.new_day()
    await platform.set_clock(day + timedelta(hours=15))  # 09:00 in Chicago
    # Five days past due: still in the early stage when the plan breaks three weeks later.
    case_id = await _us_case(platform, "col-us-3", "sup-us3", 90_000, days_past_due=5)
    async with platform.client("contact", "collector", "col-us-3") as contact:
        await contact_service_sees(contact, case_id)
        call = attempt(case_id)
        expect(await contact.post("/contact-attempts", json=call), 201)

    # The debtor agrees to pay 900.00 in three weekly installments of 300.00.
    first_due = (day + timedelta(days=7)).date()
    async with platform.client("payment", "collector", "col-us-3") as payments:

        async def plan_agreed() -> dict[str, Any] | None:
            response = await payments.post(
                "/payment-plans",
                json={
                    "case_id": case_id,
                    "total": {"amount_minor": 90_000, "currency": "USD"},
                    "schedule": {"first_due_on": first_due.isoformat(), "count": 3, "frequency": "weekly"},
                    "channel": "phone",
                },
            )
            # The payment service learns of the case and of its assignment from collections.cases; until
            # then the case is unknown (404) or not yet this collector's (403).
            return expect(response, 201) if response.status_code not in (403, 404) else None

        plan = await eventually(plan_agreed, "payment-service to know the case and agree the plan")
        assert plan["status"] == "active"
        assert [i["amount"]["amount_minor"] for i in plan["installments"]] == [30_000, 30_000, 30_000]
        assert [i["due_on"] for i in plan["installments"]] == [
            (first_due + timedelta(weeks=n)).isoformat() for n in range(3)
        ]
        plan_id = plan["plan_id"]

        async def plan_state(condition: Any) -> dict[str, Any] | None:
            current = expect(await payments.get(f"/payment-plans/{plan_id}"), 200)
            return current if condition(current) else None

        # Nothing paid by the first deadline (due date plus grace): the installment is missed,
        # but one miss does not break the plan.
        await platform.set_clock(utc(plan["installments"][0]["deadline"]) + timedelta(hours=1))
        missed_once = await eventually(
            lambda: plan_state(lambda p: p["missed_installments"] == 1), "the first installment to be missed"
        )
        assert missed_once["status"] == "active"
        assert missed_once["installments"][0]["status"] == "missed"

        # The second is missed too: the plan is broken.
        await platform.set_clock(utc(plan["installments"][1]["deadline"]) + timedelta(hours=1))
        broken = await eventually(lambda: plan_state(lambda p: p["status"] == "broken"), "the plan to break")
        assert broken["missed_installments"] == 2
        assert broken["paid"] == {"amount_minor": 0, "currency": "USD"}

    # The supervisor escalates the case to the late stage, a few minutes later (the trail orders a
    # case's entries by event time: at one and the same instant it cannot tell which came first).
    await platform.set_clock(platform.now + timedelta(minutes=5))
    async with platform.client("case", "supervisor", "sup-us3") as case:
        escalated = expect(
            await case.post(
                f"/cases/{case_id}/stage", json={"to_stage": "late", "reason": "payment plan broken"}
            ),
            200,
        )
    assert (escalated["stage"], escalated["status"]) == ("late", "open")
    assert escalated["balance"] == {"amount_minor": 90_000, "currency": "USD"}

    entries = await wait_trail(
        platform,
        case_id,
        "collections.payment.plan_agreed",
        "collections.payment.installment_missed",
        "collections.payment.plan_broken",
        "collections.case.stage_changed",
    )
    assert only(entries, "collections.payment.plan_agreed")[0]["actor"] == "col-us-3"
    assert [
        e["event"]["data"]["installment_number"]
        for e in only(entries, "collections.payment.installment_missed")
    ] == [1, 2]
    [stage] = only(entries, "collections.case.stage_changed")
    assert (stage["actor"], stage["event"]["data"]["to_stage"]) == ("sup-us3", "late")
    types = types_of(entries)
    assert types.index("collections.payment.plan_broken") < types.index("collections.case.stage_changed")


# --- 6. a contact that bypassed the gate shows up in the audit findings --------------------------------


async def test_contact_published_past_the_gate_is_an_audit_finding(platform: Platform) -> None:
    day = platform.new_day()
    await platform.set_clock(day + timedelta(hours=15))  # 10:00 in New York
    body = placement(
        "US",
        time_zone="America/New_York",
        language="en-US",
        currency="USD",
        principal_minor=20_000,
        country_code="1646",
    )
    case_id = (await open_case(platform, body, "sup-us4"))["case_id"]
    await wait_trail(platform, case_id, "collections.case.opened")

    # A rogue dialer writes a call at 23:00 in New York straight onto the contacts topic.
    at = day + timedelta(days=1, hours=4)  # 23:00 EST
    payload = ContactAttempted(
        attempt_id=f"att-rogue-{uuid.uuid4().hex[:8]}",
        channel="phone",
        party="debtor",
        collector_id="col-rogue",
        agency_id=None,
        outcome="right_party_contact",
        duration_seconds=300,
        recording_ref=None,
    )
    event = new_event(
        payload,
        subject=case_id,
        source="/rogue-dialer",
        actor="col-rogue",
        actorrole="collector",
        correlationid=str(uuid.uuid4()),
        jurisdiction="US",
        time=at,
    )
    await platform.publish("collections.contacts", case_id, encode_event(event))

    async with platform.client("audit", "auditor", "aud-1") as audit:

        async def findings() -> list[dict[str, Any]] | None:
            found = expect(await audit.get("/audit/findings", params={"case_id": case_id}), 200)["findings"]
            return found if len(found) >= 2 else None

        found = await eventually(findings, "the audit to find the rogue call")
    # Twice wrong: made past the gate (no permit names it) and at 23:00 in the debtor's zone.
    assert sorted(f["rule_id"] for f in found) == ["GATE-NO-PERMIT", "US-REGF-TIME"]
    [finding] = [f for f in found if f["rule_id"] == "US-REGF-TIME"]
    assert (finding["pack_id"], finding["pack_version"]) == US_PACK
    assert finding["case_id"] == case_id
    assert finding["time_zone"] == "America/New_York"
    assert "23:00" in finding["local_time"], finding
    entries = await trail(platform, case_id)
    [rogue] = only(entries, "collections.contact.attempted")
    assert finding["attempt_entry_id"] == rogue["id"]
    assert rogue["actor"] == "col-rogue"
    assert rogue["id"] in finding["evidence_entry_ids"]
    assert only(entries, "collections.case.opened")[0]["id"] in finding["evidence_entry_ids"]


async def test_a_plan_being_paid_holds_escalation_past_91_days_and_its_breaking_resumes_it(
    platform: Platform,
) -> None:
    """Plan agreed at 80 days past due; the daily ageing passes 91 days with an installment paid and
    the case stays late (no legal stage, no agency); the plan breaks: the strategy is assigned again
    and the case escalates to legal."""
    day = platform.new_day()
    await platform.set_clock(day + timedelta(hours=15))
    case_id = await _us_case(platform, "col-us-4", "sup-us4", 90_000, days_past_due=80)
    first_due = (day + timedelta(days=3)).date()
    async with platform.client("payment", "collector", "col-us-4") as payments:

        async def plan_agreed() -> dict[str, Any] | None:
            response = await payments.post(
                "/payment-plans",
                json={
                    "case_id": case_id,
                    "total": {"amount_minor": 90_000, "currency": "USD"},
                    "schedule": {"first_due_on": first_due.isoformat(), "count": 3, "frequency": "weekly"},
                    "channel": "phone",
                },
            )
            return expect(response, 201) if response.status_code not in (403, 404) else None

        plan = await eventually(plan_agreed, "payment-service to know the case and agree the plan")
        await wait_trail(platform, case_id, "collections.case.arrangement_changed")
        async with platform.client("payment", "integration", "core-banking") as bank:
            expect(
                await bank.post(
                    "/payments",
                    json={
                        "case_id": case_id,
                        "amount": {"amount_minor": 30_000, "currency": "USD"},
                        "method": "bank_transfer",
                        "external_reference": f"bank-{uuid.uuid4().hex[:12]}",
                    },
                ),
                201,
            )
        # Twelve days on: 92 days past due, past the legal threshold; the daily ageing ran.
        await platform.set_clock(day + timedelta(days=12, hours=15))
        aged = await wait_case(platform, case_id, "aged past 91 days", lambda c: c["bucket"] == "91-180")
        assert aged["stage"] == "late"
        assert (aged["assignee"] or {}).get("kind") != "agency"

        # The second and third installments are missed: the plan breaks.
        await platform.set_clock(utc(plan["installments"][2]["deadline"]) + timedelta(hours=1))

        async def broken() -> dict[str, Any] | None:
            current = expect(await payments.get(f"/payment-plans/{plan['plan_id']}"), 200)
            return current if current["status"] == "broken" else None

        await eventually(broken, "the plan to break")
    legal = await wait_case(platform, case_id, "escalated to legal", lambda c: c["stage"] == "legal")
    assert legal["balance"] == {"amount_minor": 60_000, "currency": "USD"}

    async def settled_trail() -> list[dict[str, Any]] | None:
        # the trail is fed from the topics: wait for the break's consequences to reach it
        entries = await trail(platform, case_id)
        statuses = [
            e["event"]["data"]["status"] for e in only(entries, "collections.case.arrangement_changed")
        ]
        stages = [e["event"]["data"]["to_stage"] for e in only(entries, "collections.case.stage_changed")]
        return entries if statuses == ["active", "broken"] and "legal" in stages else None

    entries = await eventually(settled_trail, "the trail to show the broken plan and the legal stage")
    stages = [e["event"]["data"]["to_stage"] for e in only(entries, "collections.case.stage_changed")]
    assert stages[-1] == "legal" and "legal" not in stages[:-1]
    arrangements = only(entries, "collections.case.arrangement_changed")
    broke = next(e for e in arrangements if e["event"]["data"]["status"] == "broken")
    again = [e for e in only(entries, "collections.case.strategy_assigned") if e["id"] > broke["id"]]
    assert again, "the strategy is assigned again when the plan breaks"
