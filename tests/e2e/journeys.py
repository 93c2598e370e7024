"""Building blocks of the end-to-end scenarios: waiting on the read side, placements, staff, tokens.

Everything goes through the services' public HTTP APIs; events propagate over Kafka, so every
check of another service's view polls until a deadline instead of sleeping.
"""

from __future__ import annotations

import functools
import random
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from dcp_devstack import testing

from .platform_under_test import Platform

# How long an event may take from one service's commit to another service's read model.
PROPAGATION_SECONDS = 45.0
CREDITOR = "bank-e2e"


# Polls another service's view through HTTP: a probe's failed `expect` or a refused connection just
# means "not yet", and the polls back off further than in-process tests need.
eventually = functools.partial(
    testing.eventually,
    timeout=PROPAGATION_SECONDS,
    retry_on=(AssertionError, httpx.TransportError),
    max_interval=0.5,
)


def expect(response: httpx.Response, status: int) -> dict[str, Any]:
    """The JSON body of a response that must have `status` (else fail showing the body)."""
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url.path}: expected {status}, "
        f"got {response.status_code}: {response.text[:2000]}"
    )
    body: dict[str, Any] = response.json()
    return body


def phone_number(country_code: str) -> str:
    return f"+{country_code}{random.randint(10**8, 10**9 - 1)}"


def placement(
    jurisdiction: str,
    *,
    time_zone: str,
    language: str,
    currency: str,
    principal_minor: int,
    interest_minor: int = 0,
    fees_minor: int = 0,
    country_code: str,
    days_past_due: int = 20,
    debtor_id: str | None = None,
    phone: str | None = None,
    product: str = "credit_card",
) -> dict[str, Any]:
    """A `POST /cases` body: a debtor reachable by phone, SMS, e-mail and letter, with consent."""
    ref = f"acc-{uuid.uuid4().hex[:12]}"
    debtor_id = debtor_id or f"dbt-{uuid.uuid4().hex[:12]}"

    def money(amount: int) -> dict[str, Any]:
        return {"amount_minor": amount, "currency": currency}

    return {
        "placement_id": f"plc-{ref}",
        "debtor": {
            "debtor_id": debtor_id,
            "full_name": f"Debtor {debtor_id}",
            "phones": [
                {
                    "number": phone or phone_number(country_code),
                    "kind": "mobile",
                    "consent_to_call": True,
                    "consent_to_sms": True,
                }
            ],
            "emails": [{"address": f"{debtor_id}@example.org", "consent_to_email": True}],
            "address": {"lines": ["1 High Street"], "city": "Springfield", "country": jurisdiction},
            "language": language,
            "time_zone": time_zone,
            "time_zone_source": "address",
        },
        "account": {"creditor_id": CREDITOR, "account_reference": ref, "product": product},
        "amounts": {
            "principal": money(principal_minor),
            "interest": money(interest_minor),
            "fees": money(fees_minor),
            "total_balance": money(principal_minor + interest_minor + fees_minor),
        },
        "days_past_due": days_past_due,
        "jurisdiction": jurisdiction,
    }


async def register_staff(
    platform: Platform,
    staff_id: str,
    kind: str,
    jurisdictions: list[str],
    languages: list[str],
    channels: tuple[str, ...] = ("phone", "field_visit"),
) -> None:
    """Put the collector or agency in case-service's directory, qualified for these debtors and for the
    channels worked in person (contact-service checks them before a permit or an attempt)."""
    qualification = {"jurisdictions": jurisdictions, "languages": languages, "channels": list(channels)}
    async with platform.client("case", "supervisor", "sup-staff") as case:
        expect(
            await case.put(
                f"/staff/{staff_id}",
                json={"kind": kind, "capacity": 1000, "qualifications": [qualification]},
            ),
            200,
        )


async def open_case(platform: Platform, body: dict[str, Any], supervisor: str) -> dict[str, Any]:
    async with platform.client("case", "supervisor", supervisor) as case:
        return expect(await case.post("/cases", json=body), 201)


async def assign_directly(platform: Platform, case_id: str, assignee_id: str, supervisor: str) -> None:
    async with platform.client("case", "supervisor", supervisor) as case:
        view = expect(
            await case.post(
                f"/cases/{case_id}/assignment", json={"policy": "direct", "assignee_id": assignee_id}
            ),
            200,
        )
    assert view["assignee"]["id"] == assignee_id


async def contact_service_sees(client: httpx.AsyncClient, case_id: str) -> dict[str, bool]:
    """Wait until the contact service knows the case and lets `client` (its assignee) act on it;
    return the channels it allows now."""

    async def probe() -> dict[str, bool] | None:
        response = await client.get(f"/cases/{case_id}/contact-options")
        if response.status_code != 200:
            return None
        return {c["channel"]: c["allowed"] for c in response.json()["channels"]}

    return await eventually(probe, f"contact-service to know case {case_id} and its assignee")


async def contact_options(client: httpx.AsyncClient, case_id: str) -> dict[str, dict[str, Any]]:
    body = expect(await client.get(f"/cases/{case_id}/contact-options"), 200)
    return {c["channel"]: c for c in body["channels"]}


async def case_view(platform: Platform, case_id: str) -> dict[str, Any]:
    async with platform.client("case", "supervisor", "sup-reader") as case:
        return expect(await case.get(f"/cases/{case_id}"), 200)


async def wait_case(
    platform: Platform, case_id: str, what: str, condition: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        view = await case_view(platform, case_id)
        return view if condition(view) else None

    return await eventually(probe, f"case {case_id}: {what}")


async def trail(platform: Platform, case_id: str) -> list[dict[str, Any]]:
    """The auditor's trail of a case (every page)."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    async with platform.client("audit", "auditor", "aud-1") as audit:
        while True:
            params = {"limit": 500} | ({"cursor": cursor} if cursor else {})
            page = expect(await audit.get(f"/audit/cases/{case_id}/trail", params=params), 200)
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return items


def types_of(entries: list[dict[str, Any]]) -> list[str]:
    return [str(e["type"]).rpartition(".v")[0] for e in entries if e.get("type")]


async def wait_trail(platform: Platform, case_id: str, *types: str) -> list[dict[str, Any]]:
    """Wait until the case's audit trail holds an entry of each of `types` (base types, no `.vN`)."""

    async def probe() -> list[dict[str, Any]] | None:
        entries = await trail(platform, case_id)
        seen = set(types_of(entries))
        return entries if all(t in seen for t in types) else None

    return await eventually(probe, f"the audit trail of {case_id} to show {', '.join(types)}")


def only(entries: list[dict[str, Any]], base_type: str) -> list[dict[str, Any]]:
    return [e for e in entries if str(e.get("type", "")).rpartition(".v")[0] == base_type]
