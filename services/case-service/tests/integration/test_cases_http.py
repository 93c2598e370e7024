"""The case API over HTTP against the real PostgreSQL and Kafka: open, read, commands, roles, concurrency."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from dcp_events.catalogue.integration import case_id_for_account
from dcp_platform.auth import Role

from .conftest import SUPERVISOR, CaseHarness, bearer, eventually, placement_body

pytestmark = pytest.mark.integration


async def open_case(harness: CaseHarness, reference: str, **overrides: object) -> str:
    response = await harness.client.post(
        "/cases", json=placement_body(reference, **overrides), headers=SUPERVISOR
    )
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"])


async def put_collector(harness: CaseHarness, staff_id: str, **overrides: object) -> None:
    body = {
        "kind": "collector",
        "team": "early-gb",
        "capacity": 10,
        "qualifications": [{"jurisdictions": ["GB"], "languages": ["en"], "channels": ["phone"]}],
    }
    body.update(overrides)
    response = await harness.client.put(f"/staff/{staff_id}", json=body, headers=SUPERVISOR)
    assert response.status_code == 200, response.text


async def test_opening_is_idempotent_by_creditor_and_account_and_records_the_history(
    harness: CaseHarness,
) -> None:
    case_id = await open_case(harness, "OPEN-1")
    assert case_id == case_id_for_account("acme-bank", "OPEN-1")
    again = await harness.client.post("/cases", json=placement_body("OPEN-1"), headers=SUPERVISOR)
    assert again.status_code == 200
    assert again.json()["case_id"] == case_id

    case = await harness.case(case_id)
    assert (case["status"], case["stage"], case["bucket"], case["days_past_due"]) == (
        "open",
        "early",
        "1-30",
        20,
    )
    assert case["balance"] == {"amount_minor": 105000, "currency": "GBP"}
    assert case["strategy_id"] in {"standard", "sms-first"}

    events = (await harness.client.get(f"/cases/{case_id}/events", headers=SUPERVISOR)).json()
    assert [e["type"] for e in events] == [
        "collections.case.opened.v1",
        "collections.case.bucket_changed.v1",
        "collections.case.limitation_dated.v1",
        "collections.case.strategy_assigned.v1",
    ]
    assert [e["sequence"] for e in events] == [1, 2, 3, 4]
    assert events[0]["actor"] == "sup-1"


async def test_a_placement_that_is_not_past_due_is_refused_with_a_stable_problem_type(
    harness: CaseHarness,
) -> None:
    body = placement_body(
        "BAD-1", days_past_due=None, due_since=(harness.clock.now() + timedelta(days=3)).date().isoformat()
    )
    response = await harness.client.post("/cases", json=body, headers=SUPERVISOR)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "https://errors.dcp.example/invalid-placement"
    # The URI published before one scheme for every service, kept as an alias for integrators.
    assert response.json()["previous_type"] == "https://errors.dcp.example/case/invalid-placement"


async def test_roles_a_collector_sees_only_assigned_cases(harness: CaseHarness) -> None:
    case_id = await open_case(harness, "ROLE-1")
    assert (await harness.client.get(f"/cases/{case_id}")).status_code == 401
    collector = bearer(Role.COLLECTOR, "col-role")
    assert (await harness.client.get(f"/cases/{case_id}", headers=collector)).status_code == 403
    assert (
        await harness.client.post("/cases", json=placement_body("ROLE-2"), headers=collector)
    ).status_code == 403

    await put_collector(harness, "col-role", team="roles")
    assigned = await harness.client.post(
        f"/cases/{case_id}/assignment",
        json={"policy": "direct", "assignee_id": "col-role"},
        headers=SUPERVISOR,
    )
    assert assigned.status_code == 200, assigned.text
    assert (await harness.client.get(f"/cases/{case_id}", headers=collector)).status_code == 200
    page = (await harness.client.get("/cases", headers=collector)).json()
    assert [c["case_id"] for c in page["items"]] == [case_id]


async def test_assignment_never_goes_to_an_unqualified_or_expired_collector(harness: CaseHarness) -> None:
    case_id = await open_case(harness, "ASSIGN-1")
    today = harness.clock.now().date()
    await put_collector(
        harness,
        "col-expired",
        team="quals",
        qualifications=[
            {
                "jurisdictions": ["GB"],
                "languages": ["en"],
                "expires_on": (today - timedelta(days=1)).isoformat(),
            }
        ],
    )
    await put_collector(
        harness, "col-spanish", team="quals", qualifications=[{"jurisdictions": ["GB"], "languages": ["es"]}]
    )
    direct = await harness.client.post(
        f"/cases/{case_id}/assignment",
        json={"policy": "direct", "assignee_id": "col-expired"},
        headers=SUPERVISOR,
    )
    assert direct.status_code == 409
    assert direct.json()["type"] == "https://errors.dcp.example/assignee-not-qualified"
    none_left = await harness.client.post(
        f"/cases/{case_id}/assignment", json={"policy": "least_loaded", "team": "quals"}, headers=SUPERVISOR
    )
    assert none_left.status_code == 409
    assert none_left.json()["type"] == "https://errors.dcp.example/no-qualified-assignee"

    await put_collector(harness, "col-qualified", team="quals")
    chosen = await harness.client.post(
        f"/cases/{case_id}/assignment", json={"policy": "round_robin", "team": "quals"}, headers=SUPERVISOR
    )
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["assignee"] == {"kind": "collector", "id": "col-qualified"}
    events = (await harness.client.get(f"/cases/{case_id}/events", headers=SUPERVISOR)).json()
    assert events[-1]["data"]["policy"] == "round_robin"
    assert "round robin" in events[-1]["data"]["reason"]


async def test_a_hold_expiring_beyond_the_horizon_is_refused_by_name(harness: CaseHarness) -> None:
    case_id = await open_case(harness, "HOLD-FAR")
    now = harness.clock.now()
    far = await harness.client.post(
        f"/cases/{case_id}/holds",
        json={"hold_type": "dispute", "reason": "not mine", "expires_at": "9999-12-31T23:59:59Z"},
        headers=SUPERVISOR,
    )
    assert far.status_code == 422 and far.headers["content-type"].startswith("application/problem+json")
    [error] = far.json()["errors"]
    assert error["loc"] == ["body", "expires_at"] and error["type"] == "date_too_far_ahead"
    within = now.replace(year=now.year + 9).isoformat()
    near = await harness.client.post(
        f"/cases/{case_id}/holds",
        json={"hold_type": "dispute", "reason": "not mine", "expires_at": within},
        headers=SUPERVISOR,
    )
    assert near.status_code == 201, near.text


async def test_holds_block_escalation_until_released_and_close_rules_apply(harness: CaseHarness) -> None:
    case_id = await open_case(harness, "HOLD-1")
    placed = await harness.client.post(
        f"/cases/{case_id}/holds",
        json={"hold_type": "dispute", "hold_id": "h-1", "reason": "not mine"},
        headers=SUPERVISOR,
    )
    assert placed.status_code == 201, placed.text
    blocked = await harness.client.post(
        f"/cases/{case_id}/stage",
        json={"to_stage": "late", "reason": "supervisor review"},
        headers=SUPERVISOR,
    )
    assert blocked.status_code == 409
    assert blocked.json()["type"] == "https://errors.dcp.example/escalation-blocked-by-hold"

    released = await harness.client.delete(f"/cases/{case_id}/holds/h-1", headers=SUPERVISOR)
    assert released.status_code == 200
    assert released.json()["active_holds"] == 0
    assert (await harness.client.delete(f"/cases/{case_id}/holds/h-1", headers=SUPERVISOR)).status_code == 404
    moved = await harness.client.post(
        f"/cases/{case_id}/stage",
        json={"to_stage": "late", "reason": "supervisor review"},
        headers=SUPERVISOR,
    )
    assert moved.status_code == 200 and moved.json()["stage"] == "late"
    back = await harness.client.post(
        f"/cases/{case_id}/stage", json={"to_stage": "early", "reason": "undo"}, headers=SUPERVISOR
    )
    assert back.json()["type"] == "https://errors.dcp.example/stage-transition-not-allowed"

    not_paid = await harness.client.post(
        f"/cases/{case_id}/close", json={"reason": "paid_in_full"}, headers=SUPERVISOR
    )
    assert (
        not_paid.status_code == 409
        and not_paid.json()["type"] == "https://errors.dcp.example/close-not-allowed"
    )
    recalled = await harness.client.post(
        f"/cases/{case_id}/close", json={"reason": "recalled"}, headers=SUPERVISOR
    )
    assert recalled.json()["status"] == "closed" and recalled.json()["close_reason"] == "recalled"
    closed_again = await harness.client.post(
        f"/cases/{case_id}/close", json={"reason": "recalled"}, headers=SUPERVISOR
    )
    assert closed_again.json()["type"] == "https://errors.dcp.example/case-closed"


async def test_concurrent_commands_on_one_case_one_wins_the_other_gets_409(harness: CaseHarness) -> None:
    case_id = await open_case(harness, "RACE-1")
    version = (await harness.client.get(f"/cases/{case_id}", headers=SUPERVISOR)).headers["ETag"]

    async def hold(hold_id: str, hold_type: str) -> int:
        response = await harness.client.post(
            f"/cases/{case_id}/holds",
            json={"hold_type": hold_type, "hold_id": hold_id},
            headers={**SUPERVISOR, "If-Match": version},
        )
        return response.status_code

    statuses = sorted(await asyncio.gather(hold("a", "complaint"), hold("b", "attorney")))
    assert statuses == [201, 409]
    assert (await harness.case(case_id))["active_holds"] == 1


async def test_a_hold_with_an_expiry_is_released_by_its_timer(harness: CaseHarness) -> None:
    case_id = await open_case(harness, "EXPIRE-1")
    expires = harness.clock.now() + timedelta(hours=2)
    placed = await harness.client.post(
        f"/cases/{case_id}/holds",
        json={"hold_type": "breathing_space", "hold_id": "bs-1", "expires_at": expires.isoformat()},
        headers=SUPERVISOR,
    )
    assert placed.json()["active_holds"] == 1
    harness.move_clock(expires + timedelta(minutes=1))

    async def released() -> bool:
        return (await harness.case(case_id))["active_holds"] == 0

    from .conftest import eventually

    await eventually(released)
    events = (await harness.client.get(f"/cases/{case_id}/events", headers=SUPERVISOR)).json()
    assert events[-1]["type"] == "collections.case.hold_released.v1"
    assert events[-1]["data"]["reason"] == "hold expired"


async def test_listing_filters_and_pages_with_a_cursor(harness: CaseHarness) -> None:
    ids = {await open_case(harness, f"LIST-{n}", jurisdiction="IE", days_past_due=40 + n) for n in range(5)}
    seen: list[str] = []
    cursor = None
    while True:
        params = {"jurisdiction": "IE", "bucket": "31-60", "limit": 2, "balance_min": 100000}
        if cursor:
            params["cursor"] = cursor
        page = (await harness.client.get("/cases", params=params, headers=SUPERVISOR)).json()
        seen += [c["case_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 5
    none = (
        await harness.client.get(
            "/cases", params={"jurisdiction": "IE", "balance_max": 10}, headers=SUPERVISOR
        )
    ).json()
    assert none["items"] == []


async def test_values_the_event_models_refuse_are_422_problems_not_500s(harness: CaseHarness) -> None:
    """An empty note or evidence reference passes the request schema's bounds but not the event's:
    the answer is a 422 problem naming the field, and nothing is recorded."""
    case_id = await open_case(harness, "EMPTY-1")
    for path, body in (
        (f"/cases/{case_id}/holds", {"hold_type": "dispute", "evidence_ref": ""}),
        (f"/cases/{case_id}/close", {"reason": "recalled", "note": ""}),
    ):
        response = await harness.client.post(path, json=body, headers=SUPERVISOR)
        assert response.status_code == 422, (path, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["type"] == "https://errors.dcp.example/validation"
        assert any(("evidence_ref" in e["loc"]) or ("note" in e["loc"]) for e in problem["errors"]), problem
    view = (await harness.client.get(f"/cases/{case_id}", headers=SUPERVISOR)).json()
    assert view["status"] != "closed" and view["active_holds"] == 0


async def test_an_administrator_erases_a_debtors_personal_data_on_their_closed_cases(
    harness: CaseHarness,
) -> None:
    admin = bearer(Role.ADMIN, "adm-1")
    debtor = {
        "debtor_id": "dbt-forget-me",
        "full_name": "Ada Lovelace",
        "national_id": "QQ123456C",
        "phones": [
            {"number": "+447700900123", "kind": "mobile", "consent_to_call": True, "consent_to_sms": True}
        ],
        "emails": [{"address": "ada@example.org", "consent_to_email": True}],
        "address": {"lines": ["12 St James's Square"], "city": "London", "country": "GB"},
        "language": "en-GB",
        "time_zone": "Europe/London",
        "time_zone_source": "address",
    }
    closed = await open_case(harness, "FORGET-1", debtor=debtor)
    still_open = await open_case(harness, "FORGET-2", debtor=debtor)
    note = {"category": "conversation", "text": "Ada says she moved to 3 Elm Road; new job at the mill."}
    wrote = await harness.client.post(f"/cases/{closed}/notes", json=note, headers=SUPERVISOR)
    assert wrote.status_code == 201, wrote.text
    vulnerable = {
        "type": "health",
        "sub_type": "mental health",
        "description": "Ada is treated for anxiety at the Elm Clinic",
        "consent": {"given": True, "method": "verbal"},
        "source": "call",
    }
    flagged = await harness.client.post(
        f"/cases/{closed}/vulnerabilities", json=vulnerable, headers=SUPERVISOR
    )
    assert flagged.status_code == 201, flagged.text
    recalled = await harness.client.post(
        f"/cases/{closed}/close", json={"reason": "recalled"}, headers=SUPERVISOR
    )
    assert recalled.status_code == 200
    request = {"reason": "the debtor asked on 2026-11-30", "legal_basis": "UK GDPR Art. 17(1)(a)"}

    refused = await harness.client.post("/debtors/dbt-forget-me/erasure", json=request, headers=SUPERVISOR)
    assert refused.status_code == 403  # administrators only
    erased = await harness.client.post("/debtors/dbt-forget-me/erasure", json=request, headers=admin)
    assert erased.status_code == 200, erased.text
    assert erased.json() == {
        "debtor_id": "dbt-forget-me",
        "erased": [closed],
        "already_erased": [],
        "still_open": [still_open],
    }

    personal = ("Ada Lovelace", "QQ123456C", "+447700900123", "ada@example.org", "St James")
    auditor = bearer(Role.AUDITOR, "aud-1")
    as_auditor = (await harness.client.get(f"/cases/{still_open}", headers=auditor)).text
    as_auditor += (await harness.client.get(f"/cases/{still_open}/events", headers=auditor)).text
    assert not any(value in as_auditor for value in personal)  # auditors see personal data masked
    assert "+44*******123" in as_auditor and "a***@example.org" in as_auditor
    view = (await harness.client.get(f"/cases/{closed}", headers=SUPERVISOR)).text
    history = (await harness.client.get(f"/cases/{closed}/events", headers=SUPERVISOR)).text
    for value in personal:
        assert value not in view and value not in history, value
    assert "collections.case.erasure_completed" in history
    assert "Elm Road" not in history  # the note's text went with the rest
    [kept] = (await harness.client.get(f"/cases/{closed}/notes", headers=SUPERVISOR)).json()["notes"]
    assert (kept["text"], kept["category"], kept["author"]) == ("[erased]", "conversation", "sup-1")
    assert "Elm Clinic" not in history and "mental health" not in history  # the flag's details too
    [flag] = (await harness.client.get(f"/cases/{closed}/vulnerabilities", headers=SUPERVISOR)).json()[
        "flags"
    ]
    assert (flag["type"], flag["sub_type"], flag["description"]) == ("health", "[erased]", "[erased]")
    assert "Ada Lovelace" in (await harness.client.get(f"/cases/{still_open}", headers=SUPERVISOR)).text

    # What Kafka holds of the erased case was sealed under its data key, destroyed now; the open case
    # keeps its key.
    assert harness.data_keys_url is not None
    vault = await asyncpg.connect(harness.data_keys_url)
    try:
        rows = await vault.fetch("SELECT subject, wrapped_key IS NOT NULL AS live FROM data_keys")
        keys = {
            r["subject"].removeprefix(harness.prefix): r["live"] for r in rows
        }  # vault subjects: prefix + case
    finally:
        await vault.close()
    assert keys.get(closed) is False and keys.get(still_open) is True, keys
    published = await read_case_events(harness, {closed, still_open})
    assert published and not any(value in record for record in published for value in personal)
    assert all("sealeddata" in record for record in published if "collections.case.opened" in record)

    again = await harness.client.post("/debtors/dbt-forget-me/erasure", json=request, headers=admin)
    assert again.json()["erased"] == [] and again.json()["already_erased"] == [closed]
    unknown = await harness.client.post("/debtors/dbt-nobody/erasure", json=request, headers=admin)
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith(
        "application/problem+json"
    )
    empty = await harness.client.post(
        "/debtors/dbt-forget-me/erasure", json={"reason": "", "legal_basis": "x"}, headers=admin
    )
    assert empty.status_code == 422


async def test_a_closed_case_is_erased_when_its_retention_period_ends(harness: CaseHarness) -> None:
    """GB keeps a closed case's personal data six years (the policy file): then a durable timer erases
    it, citing the rule. Last in this module: it moves the shared clock six years on."""
    from .conftest import eventually

    case_id = await open_case(harness, "RETAIN-1")
    closed = await harness.client.post(
        f"/cases/{case_id}/close", json={"reason": "recalled"}, headers=SUPERVISOR
    )
    assert closed.status_code == 200
    harness.move_clock(harness.clock.now() + timedelta(days=365 * 6 - 2))
    await asyncio.sleep(1.0)
    assert (
        "Ada Lovelace" in (await harness.client.get(f"/cases/{case_id}", headers=SUPERVISOR)).text
    )  # not yet
    harness.move_clock(harness.clock.now() + timedelta(days=10))  # past the date six years on (leap days)

    async def erased() -> bool:
        return "Ada Lovelace" not in (await harness.client.get(f"/cases/{case_id}", headers=SUPERVISOR)).text

    await eventually(erased, 30)
    events = (await harness.client.get(f"/cases/{case_id}/events", headers=SUPERVISOR)).json()
    [erasure] = [e for e in events if e["type"] == "collections.case.erasure_completed.v1"]
    assert erasure["data"]["trigger"] == "retention"
    assert "Limitation Act 1980" in erasure["data"]["legal_basis"]
    assert "+447700900123" not in json.dumps(events)


async def read_case_events(harness: CaseHarness, case_ids: set[str]) -> list[str]:
    """The records case-service published on its topic for `case_ids`, as text."""
    consumer = AIOKafkaConsumer(
        harness.prefix + "collections.cases",
        bootstrap_servers=harness.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        out: list[str] = []
        for _ in range(10):
            batches = await consumer.getmany(timeout_ms=500)
            out += [
                r.value.decode()
                for records in batches.values()
                for r in records
                if r.value is not None and r.key is not None and r.key.decode() in case_ids
            ]
        return out
    finally:
        await consumer.stop()


async def test_an_auditor_unmasks_a_case_only_with_a_reason_and_the_disclosure_is_recorded(
    harness: CaseHarness,
) -> None:
    case_id = await open_case(harness, "UNMASK-1")
    auditor = bearer(Role.AUDITOR, "aud-unmask")
    masked = await harness.client.get(f"/cases/{case_id}", headers=auditor)
    assert masked.status_code == 200 and "Ada Lovelace" not in masked.text
    no_reason = await harness.client.get(f"/cases/{case_id}", params={"unmask": "true"}, headers=auditor)
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["loc"] == ["query", "reason"]
    reason = "complaint CMP-2026-114: the debtor disputes a call"
    shown = await harness.client.get(
        f"/cases/{case_id}/events", params={"unmask": "true", "reason": reason}, headers=auditor
    )
    assert shown.status_code == 200 and "Ada Lovelace" in shown.text

    async def disclosed() -> list[str]:
        published = await read_case_events(harness, {case_id})
        return [r for r in published if "collections.case.personal_data_disclosed" in r]

    [record] = await eventually(disclosed, "the disclosure to be published on collections.cases")
    event = json.loads(record)
    assert (event["actor"], event["actorrole"]) == ("aud-unmask", "auditor")
    assert event["data"] == {"view": "GET /cases/{case_id}/events", "reason": reason}
    # the case's own version did not move: a writer's If-Match still holds
    assert (
        masked.headers["ETag"]
        == (await harness.client.get(f"/cases/{case_id}", headers=auditor)).headers["ETag"]
    )
