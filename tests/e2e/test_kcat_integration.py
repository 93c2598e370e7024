"""Integration without Python: `kcat` as the creditor's and core banking's Kafka client.

A placement and a payment are written by hand as CloudEvents JSON text (no Python models), produced
with kcat onto the integration topics, and what the platform publishes on `collections.cases` and
`collections.payments` is read back with kcat and checked against the committed JSON Schemas. The
commands are the ones in the README's "Integrating over Kafka" section (there without the test's
topic prefix).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from .platform_under_test import Platform

pytestmark = pytest.mark.integration

SCHEMAS = Path(__file__).resolve().parents[2] / "contracts" / "schemas"

# An account's case id (the key and `subject`) is
# UUIDv5(6f1c7a52-3f0e-5d1b-9a51-0d0c0c0a5e11, "<creditor_id>\x1f<account_reference>").
CASE_ID = "68862345-39bd-55f2-8665-d5c3006eaf53"  # creditor-kcat / KCAT-0001

PLACEMENT = """
{
  "specversion": "1.0",
  "id": "6c997892-4595-47af-919c-566b78d2f6f3",
  "source": "/creditor-systems/kcat",
  "type": "integration.placement.placed.v1",
  "time": "2026-11-30T09:00:00Z",
  "subject": "68862345-39bd-55f2-8665-d5c3006eaf53",
  "datacontenttype": "application/json",
  "dataschema": "https://dcp.example/contracts/schemas/integration.placement.placed.v1.json",
  "actor": "creditor-kcat",
  "actorrole": "integration",
  "correlationid": "kcat-placement-0001",
  "jurisdiction": "GB",
  "data": {
    "placement_id": "PL-KCAT-0001",
    "debtor": {
      "debtor_id": "DEBTOR-KCAT-0001",
      "full_name": "Alex Example",
      "phones": [
        {"number": "+447700900123", "kind": "mobile", "consent_to_call": true, "consent_to_sms": true}
      ],
      "emails": [],
      "address": {"lines": ["1 Example Street"], "city": "Leeds", "postal_code": "LS1 1AA", "country": "GB"},
      "language": "en-GB",
      "time_zone": "Europe/London",
      "time_zone_source": "address"
    },
    "account": {"creditor_id": "creditor-kcat", "account_reference": "KCAT-0001", "product": "credit_card"},
    "amounts": {
      "principal": {"amount_minor": 100000, "currency": "GBP"},
      "interest": {"amount_minor": 2500, "currency": "GBP"},
      "fees": {"amount_minor": 1200, "currency": "GBP"},
      "total_balance": {"amount_minor": 103700, "currency": "GBP"}
    },
    "days_past_due": 20,
    "due_since": "2026-11-10",
    "jurisdiction": "GB",
    "risk_score": 420
  }
}
"""

PAYMENT = """
{
  "specversion": "1.0",
  "id": "a945d8c4-10e0-4c53-a8da-7134ae872668",
  "source": "/core-banking/kcat",
  "type": "integration.payment.posted.v1",
  "time": "2026-11-30T12:00:00Z",
  "subject": "68862345-39bd-55f2-8665-d5c3006eaf53",
  "datacontenttype": "application/json",
  "dataschema": "https://dcp.example/contracts/schemas/integration.payment.posted.v1.json",
  "actor": "core-banking",
  "actorrole": "integration",
  "correlationid": "kcat-payment-0001",
  "data": {
    "posting_id": "POST-KCAT-0001",
    "account": {"creditor_id": "creditor-kcat", "account_reference": "KCAT-0001", "product": "credit_card"},
    "amount": {"amount_minor": 25000, "currency": "GBP"},
    "method": "bank_transfer",
    "external_reference": "CB-KCAT-0001",
    "posted_at": "2026-11-30T12:00:00Z",
    "value_date": "2026-11-30"
  }
}
"""

DEADLINE_SECONDS = 60.0


def kcat() -> str:
    path = shutil.which("kcat")
    if path is None:
        pytest.fail("kcat is not installed: apt-get install kcat (Debian package `kcat`)")
    return path


def validate(event: dict[str, Any]) -> None:
    """The envelope against cloudevent.json, `data` against the schema of its type."""
    envelope = json.loads((SCHEMAS / "cloudevent.json").read_text())
    Draft202012Validator(envelope, format_checker=FormatChecker()).validate(event)
    data_schema = json.loads((SCHEMAS / f"{event['type']}.json").read_text())
    Draft202012Validator(data_schema, format_checker=FormatChecker()).validate(event["data"])


def produce(bootstrap: str, topic: str, key: str, text: str) -> None:
    # kcat sends one message per line: the hand-written JSON goes on one line (JSON allows that).
    one_line = text.strip().replace("\n", " ")
    result = subprocess.run(
        [
            kcat(),
            "-P",
            "-b",
            bootstrap,
            "-t",
            topic,
            "-k",
            key,
            "-H",
            "content-type=application/cloudevents+json",
        ],
        input=one_line,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def consume(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every message on the topic so far, as kcat's JSON envelopes (key, headers, payload...)."""
    result = subprocess.run(
        [kcat(), "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-J"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


async def read_case_messages(bootstrap: str, topic: str, *types: str) -> list[dict[str, Any]]:
    """kcat's envelopes of the kcat case's messages on `topic`, once every one of `types` is there."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        messages = [m for m in await asyncio.to_thread(consume, bootstrap, topic) if m["key"] == CASE_ID]
        seen = [json.loads(m["payload"])["type"] for m in messages]
        if all(t in seen for t in types):
            return messages
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{topic}: expected {types} for case {CASE_ID} within {DEADLINE_SECONDS}s; saw {seen}"
            )
        await asyncio.sleep(0.5)


@pytest.fixture(scope="module")
async def kcat_messages(platform: Platform) -> dict[str, list[dict[str, Any]]]:
    """Place the account and post the payment with kcat; read back what the platform published."""
    assert (
        str(uuid.uuid5(uuid.UUID("6f1c7a52-3f0e-5d1b-9a51-0d0c0c0a5e11"), "creditor-kcat\x1fKCAT-0001"))
        == CASE_ID
    )
    bootstrap = platform.kafka_bootstrap
    await asyncio.to_thread(produce, bootstrap, platform.topic("integration.placements"), CASE_ID, PLACEMENT)
    cases_topic, payments_topic = platform.topic("collections.cases"), platform.topic("collections.payments")
    await read_case_messages(bootstrap, cases_topic, "collections.case.opened.v1")
    await asyncio.to_thread(produce, bootstrap, platform.topic("integration.payments"), CASE_ID, PAYMENT)
    return {
        "collections.payments": await read_case_messages(
            bootstrap, payments_topic, "collections.payment.received.v1"
        ),
        "collections.cases": await read_case_messages(
            bootstrap,
            cases_topic,
            "collections.case.opened.v1",
            "collections.case.strategy_assigned.v1",
            "collections.case.balance_changed.v1",
        ),
    }


def test_hand_written_messages_follow_the_published_contracts() -> None:
    for text in (PLACEMENT, PAYMENT):
        validate(json.loads(text))


async def test_kcat_places_an_account_posts_a_payment_and_reads_schema_valid_events(
    platform: Platform, kcat_messages: dict[str, list[dict[str, Any]]]
) -> None:
    cases = [json.loads(m["payload"]) for m in kcat_messages["collections.cases"]]
    payments = [json.loads(m["payload"]) for m in kcat_messages["collections.payments"]]
    for event in cases + payments:
        validate(event)
        assert event["subject"] == CASE_ID
    [opened] = [e for e in cases if e["type"] == "collections.case.opened.v1"]
    assert opened["data"]["placement_id"] == "PL-KCAT-0001"
    assert opened["causationid"] == "6c997892-4595-47af-919c-566b78d2f6f3"  # caused by the placement
    assert opened["data"]["amounts"]["total_balance"] == {"amount_minor": 103700, "currency": "GBP"}
    [received] = [e for e in payments if e["type"] == "collections.payment.received.v1"]
    assert received["data"]["external_reference"] == "CB-KCAT-0001"
    assert received["data"]["amount"] == {"amount_minor": 25000, "currency": "GBP"}
    [balance] = [e for e in cases if e["type"] == "collections.case.balance_changed.v1"]
    assert balance["data"]["reason"] == "payment"
    assert balance["data"]["change"] == {"delta_minor": -25000, "currency": "GBP"}
    assert balance["data"]["balance_after"] == {"amount_minor": 78700, "currency": "GBP"}

    # The same case over REST: open, with the payment applied.
    async with platform.client("case", "supervisor", "sup-kcat") as case:
        view = (await case.get(f"/cases/{CASE_ID}")).json()
    assert (view["status"], view["balance"]) == ("open", {"amount_minor": 78700, "currency": "GBP"})


async def test_published_records_carry_the_structured_mode_content_type_header(
    kcat_messages: dict[str, list[dict[str, Any]]],
) -> None:
    for message in kcat_messages["collections.cases"] + kcat_messages["collections.payments"]:
        headers = message.get("headers") or []
        pairs = dict(zip(headers[::2], headers[1::2], strict=True))
        assert pairs.get("content-type") == "application/cloudevents+json", message
