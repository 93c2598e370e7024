"""The local stack works: Kafka takes idempotent produce + group consume, every service database accepts
connections, the mailbox keeps the mail sent to it, the SMS gateway sends, reports and simulates replies as
the platform's SMS adapter expects, and the status reports every component running."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiosmtplib
import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from dcp_devstack import (
    SERVICE_DATABASES,
    StackConfig,
    StackEndpoints,
    create_topics,
    database_url_for,
    ensure_stack,
    mailbox,
    smsgateway,
    stack_status,
)
from dcp_devstack.mailbox import read_messages, wait_for_messages_async
from dcp_devstack.procs import terminate
from dcp_devstack.smsgateway import read_sms, segments, signature
from dcp_devstack.testing import eventually

pytestmark = pytest.mark.integration


async def test_kafka_idempotent_produce_and_group_consume(kafka_bootstrap: str) -> None:
    topic = f"devstack.selftest.{uuid.uuid4().hex[:12]}"
    assert create_topics(kafka_bootstrap, [topic], partitions=3) == [topic]
    assert create_topics(kafka_bootstrap, [topic], partitions=3) == []  # idempotent

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        sent = {f"key-{i}".encode(): f"value-{i}".encode() for i in range(10)}
        for key, value in sent.items():
            await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"devstack-selftest-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: dict[bytes, bytes] = {}
    try:
        async with asyncio.timeout(30):
            while len(received) < len(sent):
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        assert record.key is not None and record.value is not None
                        received[record.key] = record.value
        await consumer.commit()
        assert len(consumer.assignment()) == 3
    finally:
        await consumer.stop()
    assert received == sent


@pytest.mark.parametrize("dbname", SERVICE_DATABASES)
async def test_service_database_accepts_connections(database_server_url: str, dbname: str) -> None:
    conn = await asyncpg.connect(database_url_for(database_server_url, dbname), timeout=10)
    try:
        assert await conn.fetchval("SELECT current_database()") == dbname
    finally:
        await conn.close()


async def test_postgres_settings(database_server_url: str, stack: StackEndpoints) -> None:
    conn = await asyncpg.connect(database_server_url, timeout=10)
    try:
        if stack_status()["postgres"]["managed"]:  # the embedded server is configured by dcp_devstack
            assert int(await conn.fetchval("SHOW max_connections")) == 300
        assert await conn.fetchval("SHOW fsync") == "on"
    finally:
        await conn.close()


def test_status_shows_both_running(stack: StackEndpoints) -> None:
    info = stack_status()
    assert info["kafka"]["running"] is True, info
    assert info["postgres"]["running"] is True, info
    assert info["kafka"]["bootstrap"] == stack.kafka_bootstrap
    assert info["postgres"]["database_url"] == stack.database_url


def test_database_url_for_keeps_server_and_query() -> None:
    assert (
        database_url_for("postgresql://postgres@127.0.0.1:15432/postgres?sslmode=disable", "case_service")
        == "postgresql://postgres@127.0.0.1:15432/case_service?sslmode=disable"
    )


@pytest.mark.integration
async def test_every_catalogue_topic_and_its_dead_letter_topic_exists(kafka_bootstrap: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    from dcp_devstack.stack import catalogue_topics
    from dcp_events import TOPICS

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    assert {"collections.cases", "integration.payments", "collections.payments.dlq"} <= set(
        catalogue_topics()
    )
    assert set(catalogue_topics()) == {*TOPICS, *(f"{t}.dlq" for t in TOPICS)}
    assert set(catalogue_topics()) <= existing


async def test_on_a_cluster_every_topic_has_three_copies_and_needs_two_in_sync(kafka_bootstrap: str) -> None:
    """`dcp-stack up --brokers 3`: the catalogue topics are replicated three times, and a write with
    acks=all needs two copies in sync (one broker may fail without losing an acknowledged event)."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    from dcp_devstack.config import StackConfig

    if StackConfig.from_env().kafka_brokers < 3:
        pytest.skip("the single-broker stack (make test-cluster runs this on three brokers)")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        assert len((await admin.describe_cluster())["brokers"]) == 3
        [described] = await admin.describe_topics(["collections.cases"])
        assert {len(p["replicas"]) for p in described["partitions"]} == {3}
        [response] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, "collections.cases", {"min.insync.replicas": None})]
        )
    finally:
        await admin.close()
    [(_, _, _, _, configs)] = response.resources
    assert {c[0]: c[1] for c in configs}["min.insync.replicas"] == "2"


# --- the mailbox ---------------------------------------------------------------------------------------


def _mailbox_dir(stack: StackEndpoints) -> Path:
    if not stack.mailbox_dir:
        pytest.skip("SMTP_HOST names a server of its own: no local mailbox to read")
    return Path(stack.mailbox_dir)


async def test_mail_sent_to_the_stack_mailbox_is_read_back(stack: StackEndpoints) -> None:
    directory = _mailbox_dir(stack)
    tag = uuid.uuid4().hex[:10]
    to, copy, bounces = f"debtor-{tag}@example.test", f"file-{tag}@example.test", f"bounces+{tag}@dcp.example"
    message = EmailMessage()
    message["From"] = "Collections <collections@dcp.example>"
    message["To"] = to
    message["Subject"] = f"Ihre Zahlung / 您的付款 {tag}"
    message.set_content("Guten Tag,\nbitte zahlen Sie bis Freitag. 请在周五前付款。\n")

    await aiosmtplib.send(
        message,
        hostname=stack.smtp_host,
        port=stack.smtp_port,
        start_tls=stack.smtp_starttls,
        sender=bounces,
        recipients=[to, copy],
    )

    [mail] = await wait_for_messages_async(directory, 1, match=lambda m: tag in m.subject)
    assert mail.subject == f"Ihre Zahlung / 您的付款 {tag}"
    assert mail.text() == "Guten Tag,\nbitte zahlen Sie bis Freitag. 请在周五前付款。\n"
    assert mail.message["To"] == to
    assert mail.envelope_from == bounces
    assert mail.envelope_to == (to, copy)  # the envelope, not the headers: the copy is in no header
    assert abs(time.time() - mail.received_at.timestamp()) < 60
    assert mail.path.parent == directory and mail.path.suffix == ".eml"


async def test_the_mailbox_keeps_the_message_verbatim_in_arrival_order(stack: StackEndpoints) -> None:
    directory = _mailbox_dir(stack)
    tag = uuid.uuid4().hex[:10]
    raws = [
        (
            f"From: a@dcp.example\r\nTo: b@example.test\r\nSubject: raw {tag} {i}\r\n"
            "X-Odd:   spacing kept \r\n\r\n"
            ".a line that starts with a dot (dot-stuffed on the wire)\r\nend\r\n"
        ).encode()
        for i in range(3)
    ]
    for raw in raws:
        await aiosmtplib.send(
            raw,
            hostname=stack.smtp_host,
            port=stack.smtp_port,
            sender="a@dcp.example",
            recipients=["b@x.test"],
        )

    mails = await wait_for_messages_async(directory, 3, match=lambda m: f"raw {tag}" in m.subject)
    assert [m.subject for m in mails] == [f"raw {tag} {i}" for i in range(3)]
    assert [m.path.read_bytes() for m in mails] == raws
    assert [m.path for m in mails] == [m.path for m in read_messages(directory) if f"raw {tag}" in m.subject]


# --- the SMS gateway -----------------------------------------------------------------------------------


@dataclasses.dataclass
class Webhook:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    """A real HTTP server in a thread that records every POST; ``answers`` scripts its status codes."""

    def __init__(self) -> None:
        self.received: list[Webhook] = []
        self.answers: dict[str, list[int]] = {}  # path -> statuses for the next calls (then 200)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append(Webhook(self.path, dict(self.headers.items()), body))
                scripted = receiver.answers.get(self.path)
                self.send_response(scripted.pop(0) if scripted else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def at(self, path: str) -> list[Webhook]:
        return [w for w in self.received if w.path == path]


@pytest.fixture
def webhooks() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def _gateway(stack: StackEndpoints) -> tuple[str, str]:
    if not stack.sms_dir:
        pytest.skip("SMS_GATEWAY_URL names a gateway of its own")
    return stack.sms_gateway_url, stack.sms_gateway_api_key


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _sms(to: str = "+15551230000", **extra: Any) -> dict[str, Any]:
    return {"to": to, "from": "DCP", "body": "Your payment of EUR 50.00 is due on Friday.", **extra}


def _assert_signed(webhook: Webhook, key: str) -> None:
    assert webhook.headers["X-Gateway-Signature"] == signature(key, webhook.body)
    assert abs(int(webhook.headers["X-Gateway-Timestamp"]) - time.time()) < 60
    assert webhook.headers["Content-Type"] == "application/json"


async def test_sms_is_recorded_and_its_receipt_posted_signed(
    stack: StackEndpoints, webhooks: WebhookReceiver
) -> None:
    url, key = _gateway(stack)
    ref = f"attempt-{uuid.uuid4()}"
    async with httpx.AsyncClient(base_url=url, headers=_bearer(key)) as client:
        response = await client.post(
            "/v1/messages", json=_sms(client_reference=ref, status_callback=webhooks.url("/receipts"))
        )
        assert response.status_code == 202, response.text
        accepted = response.json()
        assert accepted["id"].startswith("SM") and len(accepted["id"]) > 10
        assert accepted == {"id": accepted["id"], "status": "accepted", "to": "+15551230000", "segments": 1}

        async def receipt() -> list[Webhook]:
            return webhooks.at("/receipts")

        [webhook] = await eventually(receipt, 10, "the delivery receipt at the status_callback")
        _assert_signed(webhook, key)
        body = webhook.json()
        assert body == {
            "id": accepted["id"],
            "client_reference": ref,
            "status": "delivered",
            "to": "+15551230000",
            "error_code": None,
            "reported_at": body["reported_at"],
        }

        async def recorded() -> list[dict[str, Any]]:
            listed = (await client.get("/v1/messages", params={"client_reference": ref})).json()
            return [m for m in listed if m["receipt_status"] == 200]

        [listed] = await eventually(recorded, 10, "the message listed with its receipt answered")
    assert listed["id"] == accepted["id"]
    assert (listed["to"], listed["from"], listed["status"], listed["segments"]) == (
        "+15551230000",
        "DCP",
        "delivered",
        1,
    )
    assert listed["body"] == _sms()["body"] and listed["accepted_at"] and listed["reported_at"]
    [stored] = [m for m in read_sms(Path(stack.sms_dir)) if m["client_reference"] == ref]
    assert stored == listed


async def test_sms_gateway_refuses_a_missing_or_wrong_key(stack: StackEndpoints) -> None:
    url, key = _gateway(stack)
    async with httpx.AsyncClient(base_url=url) as client:
        for headers in ({}, _bearer(key + "x"), {"Authorization": key}):
            for response in (
                await client.post("/v1/messages", json=_sms(), headers=headers),
                await client.post("/v1/messages", content=b"not json", headers=headers),
                await client.get("/v1/messages", headers=headers),
            ):
                assert response.status_code == 401, response.text
                assert response.headers["content-type"] == "application/problem+json"
                assert response.json()["status"] == 401
        assert (await client.get("/healthz")).status_code == 200


async def test_the_same_client_reference_sends_one_message(
    stack: StackEndpoints, webhooks: WebhookReceiver
) -> None:
    url, key = _gateway(stack)
    ref = f"attempt-{uuid.uuid4()}"
    sms = _sms(client_reference=ref, status_callback=webhooks.url("/receipts"))
    async with httpx.AsyncClient(base_url=url, headers=_bearer(key)) as client:
        first, again = [(await client.post("/v1/messages", json=sms)) for _ in range(2)]
        assert first.status_code == again.status_code == 202
        assert again.json() == first.json()

        async def receipt() -> list[Webhook]:
            return webhooks.at("/receipts")

        await eventually(receipt, 10, "the receipt")
        await asyncio.sleep(0.5)  # a second send would have been reported by now
        assert len(webhooks.at("/receipts")) == 1
        listed = (await client.get("/v1/messages", params={"client_reference": ref})).json()
        assert [m["id"] for m in listed] == [first.json()["id"]]

        changed = await client.post("/v1/messages", json={**sms, "body": "another text"})
        assert changed.status_code == 409
        assert changed.json()["id"] == first.json()["id"]


@pytest.mark.parametrize(
    "sms",
    [
        _sms(to="5551230000"),  # not E.164
        _sms(to="+1555abc"),
        _sms(body=""),
        _sms(body="x" * 1601),
        _sms(client_reference=""),
        _sms(status_callback="ftp://example.test/x"),
        _sms(priority="high"),  # a member the provider does not know
        {"to": "+15551230000", "body": "no sender"},
    ],
)
async def test_an_invalid_message_is_422(stack: StackEndpoints, sms: dict[str, Any]) -> None:
    url, key = _gateway(stack)
    async with httpx.AsyncClient(base_url=url, headers=_bearer(key)) as client:
        response = await client.post("/v1/messages", json=sms)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"]


async def test_a_simulated_reply_reaches_the_webhook_signed(
    stack: StackEndpoints, webhooks: WebhookReceiver
) -> None:
    url, key = _gateway(stack)
    async with httpx.AsyncClient(base_url=url, headers=_bearer(key)) as client:
        response = await client.post(
            "/v1/simulate/inbound",
            json={"from": "+15551239999", "to": "DCP", "body": "STOP", "webhook": webhooks.url("/inbound")},
        )
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["id"].startswith("MO") and answer["webhook_status"] == 200
    [webhook] = webhooks.at("/inbound")  # delivered before the gateway answered
    _assert_signed(webhook, key)
    body = webhook.json()
    assert body == {
        "id": answer["id"],
        "from": "+15551239999",
        "to": "DCP",
        "body": "STOP",
        "received_at": body["received_at"],
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def own_gateway(tmp_path: Path, webhooks: WebhookReceiver) -> AsyncIterator[dict[str, Any]]:
    """A gateway of this test (``python -m dcp_devstack.smsgateway``) that fails +15550000001 and sends
    replies to ``webhooks``' /default-inbound; ``restart()`` stops and starts it on the same folder."""
    port, key, directory = _free_port(), "test-key", tmp_path / "sms"
    cmd = [
        sys.executable,
        "-m",
        "dcp_devstack.smsgateway",
        "--port",
        str(port),
        "--api-key",
        key,
        "--directory",
        str(directory),
        "--fail-numbers",
        "+15550000001, +15550000002",
        "--inbound-webhook",
        webhooks.url("/default-inbound"),
    ]
    url = f"http://127.0.0.1:{port}"
    procs: list[subprocess.Popen[bytes]] = []

    async def start() -> None:
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

        async def up() -> bool:
            return smsgateway.healthy(url)

        await eventually(up, 20, "the test's own gateway")

    async def restart() -> None:
        terminate(procs[-1].pid, 10, group=False)
        procs[-1].wait()
        await start()

    await start()
    try:
        yield {"url": url, "key": key, "directory": directory, "restart": restart}
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


async def test_listed_numbers_fail_receipts_are_retried_and_records_survive_a_restart(
    own_gateway: dict[str, Any], webhooks: WebhookReceiver
) -> None:
    url, key = own_gateway["url"], own_gateway["key"]
    webhooks.answers["/receipts"] = [503]  # the platform is briefly down: the first receipt is retried
    async with httpx.AsyncClient(base_url=url, headers=_bearer(key)) as client:
        failing = await client.post(
            "/v1/messages",
            json=_sms("+15550000001", client_reference="a-1", status_callback=webhooks.url("/receipts")),
        )
        fine = await client.post(
            "/v1/messages",
            json=_sms("+15550000003", client_reference="a-2", status_callback=webhooks.url("/receipts")),
        )
        assert failing.status_code == fine.status_code == 202

        async def receipts() -> list[Webhook]:
            received = webhooks.at("/receipts")
            return received if len(received) >= 3 else []  # one of them twice: 503, then 200

        received = await eventually(receipts, 15, "both receipts, the first one retried")
        bodies = {w.json()["client_reference"]: w.json() for w in received}
        assert (bodies["a-1"]["status"], bodies["a-1"]["error_code"]) == ("failed", "30003")
        assert (bodies["a-2"]["status"], bodies["a-2"]["error_code"]) == ("delivered", None)
        assert received[0].body == received[1].body or received[0].body == received[2].body

        replied = await client.post(
            "/v1/simulate/inbound", json={"from": "+15550000003", "to": "DCP", "body": "STOP"}
        )
        assert replied.status_code == 202 and replied.json()["webhook"] == webhooks.url("/default-inbound")
        assert [w.json()["body"] for w in webhooks.at("/default-inbound")] == ["STOP"]

        async def settled() -> list[dict[str, Any]]:
            listed = (await client.get("/v1/messages")).json()
            return listed if all(m["receipt_status"] == 200 for m in listed) else []

        before = await eventually(settled, 10, "both receipts answered 200")

    await own_gateway["restart"]()
    async with httpx.AsyncClient(base_url=url, headers=_bearer(key)) as client:
        assert (await client.get("/v1/messages")).json() == before
        again = await client.post(
            "/v1/messages",
            json=_sms("+15550000003", client_reference="a-2", status_callback=webhooks.url("/receipts")),
        )
        assert again.json()["id"] == fine.json()["id"]
    assert [m["id"] for m in read_sms(own_gateway["directory"])] == [m["id"] for m in before]
    assert {m["client_reference"]: m["receipt_attempts"] for m in before} in (
        {"a-1": 2, "a-2": 1},
        {"a-1": 1, "a-2": 2},
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("x" * 160, ("GSM-7", 1)),
        ("x" * 161, ("GSM-7", 2)),
        ("x" * 306, ("GSM-7", 2)),
        ("x" * 307, ("GSM-7", 3)),
        ("€" * 80, ("GSM-7", 1)),  # an extension character counts two
        ("€" * 81, ("GSM-7", 2)),
        ("Grüße, Señor! @£$", ("GSM-7", 1)),
        ("请" * 70, ("UCS-2", 1)),
        ("请" * 71, ("UCS-2", 2)),
        ("x" * 100 + "请", ("UCS-2", 2)),
        ("😀" * 35, ("UCS-2", 1)),  # two UTF-16 units each
    ],
)
def test_segments_of_a_message(body: str, expected: tuple[str, int]) -> None:
    assert segments(body) == expected


# --- the stack runs and reports them ---------------------------------------------------------------------


def test_status_lists_the_mailbox_and_the_sms_gateway(stack: StackEndpoints) -> None:
    info = stack_status()
    assert info["mailbox"]["running"] is True, info["mailbox"]
    assert info["mailbox"]["port"] == stack.smtp_port
    assert info["sms_gateway"]["running"] is True, info["sms_gateway"]
    assert info["sms_gateway"]["url"] == stack.sms_gateway_url
    for name in ("mailbox", "sms_gateway"):
        entry = info[name]
        assert set(entry) >= {"running", "port", "pid", "managed", "log"}
        if entry["managed"]:
            assert entry["pid"] is not None and Path(entry["log"]).is_file()

    shown = subprocess.run(
        [sys.executable, "-m", "dcp_devstack.cli", "status"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "250"},
        check=True,
    ).stdout
    assert "mailbox" in shown and "sms-gateway" in shown
    assert f"smtp://{stack.smtp_host}:{stack.smtp_port}" in shown and stack.sms_gateway_url in shown


def test_a_second_ensure_stack_reuses_the_mailbox_and_the_gateway(stack: StackEndpoints) -> None:
    cfg = StackConfig.from_env()
    before = (mailbox.running_pid(cfg), smsgateway.running_pid(cfg))
    again = ensure_stack(cfg)
    assert not {"mailbox", "sms_gateway"} & set(again.started_components)
    assert (mailbox.running_pid(cfg), smsgateway.running_pid(cfg)) == before
    assert again.sms_gateway_api_key == stack.sms_gateway_api_key
    env = dict(line.split("=", 1) for line in cfg.stack_env_file.read_text().splitlines())
    assert {k: env[k] for k in again.service_env()} == again.service_env()
    if stack.mailbox_dir:
        assert env["SMTP_HOST"] == "127.0.0.1" and env["SMTP_PORT"] == str(cfg.smtp_port)
        assert env["SMTP_STARTTLS"] == "false" and env["DCP_MAILBOX_DIR"] == str(cfg.mailbox_dir)
    if stack.sms_dir:
        assert env["SMS_GATEWAY_URL"] == f"http://127.0.0.1:{cfg.sms_port}"
        assert env["SMS_GATEWAY_API_KEY"] == stack.sms_gateway_api_key
        assert env["DCP_SMS_DIR"] == str(cfg.sms_dir)
        assert oct(cfg.sms_api_key_file.stat().st_mode & 0o777) == "0o600"


async def test_a_second_data_directory_runs_its_own_mailbox_and_gateway(
    stack: StackEndpoints, tmp_path: Path
) -> None:
    """Two stacks side by side (DCP_DATA_DIR and other ports): each keeps its own mail and messages."""
    shared = StackConfig.from_env()
    other = dataclasses.replace(
        shared, data_dir=tmp_path / "dev2", smtp_port=_free_port(), sms_port=_free_port()
    )
    try:
        assert mailbox.start(other) is True
        assert smsgateway.start(other, "second-key") is True
        assert mailbox.start(other) is False and smsgateway.start(other, "second-key") is False
        tag = uuid.uuid4().hex[:10]
        await aiosmtplib.send(
            f"Subject: second {tag}\r\n\r\nhi\r\n",
            hostname="127.0.0.1",
            port=other.smtp_port,
            sender="a@dcp.example",
            recipients=["b@example.test"],
        )
        await wait_for_messages_async(other.mailbox_dir, 1, match=lambda m: tag in m.subject)
        assert not [m for m in read_messages(shared.mailbox_dir) if tag in m.subject]
        async with httpx.AsyncClient(base_url=other.sms_gateway_url, headers=_bearer("second-key")) as client:
            assert (await client.post("/v1/messages", json=_sms(client_reference=tag))).status_code == 202
        assert [m["client_reference"] for m in read_sms(other.sms_dir)] == [tag]
        assert mailbox.running_pid(other) != mailbox.running_pid(shared)
    finally:
        smsgateway.stop(other)
        mailbox.stop(other)
    assert mailbox.running_pid(other) is None and smsgateway.running_pid(other) is None
    if stack.mailbox_dir:
        assert mailbox.answers("127.0.0.1", shared.smtp_port)  # the shared stack's mailbox still runs
