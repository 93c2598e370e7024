"""SIGTERM during a consumer batch and during an HTTP request: nothing lost, nothing doubled, prompt exit."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from dcp_events import encode_event
from dcp_events.envelope import CloudEvent
from dcp_platform.eventsourcing.postgres import create_engine
from dcp_platform.eventsourcing.schema import install

pytestmark = pytest.mark.integration

GRACE_SECONDS = 20  # uvicorn's graceful-shutdown timeout in dcp_platform.app.serve / Kubernetes' grace


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_service(
    database_url: str, kafka_bootstrap: str, topic: str, port: int, log: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).parent / "apps"),
        "SERVICE_DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "PROBE_TOPIC": topic,
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "shutdown_probe:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--timeout-graceful-shutdown",
        str(GRACE_SECONDS),
    ]
    with log.open("ab") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


async def wait_healthy(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            assert process.poll() is None, "the service exited during start-up"
            try:
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("service not healthy in time")


async def count(engine: Any, sql: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(sql))).scalar_one())


def event(n: int) -> bytes:
    return encode_event(
        CloudEvent(
            id=str(uuid.uuid4()),
            source="/test",
            type="collections.payment.received.v1",
            time="2026-11-29T08:00:00Z",
            subject=f"case-{n % 7}",
            data={"n": n},
            actor="t",
            actorrole="integration",
            correlationid="c",
        )
    )


async def test_sigterm_mid_batch_and_mid_request_loses_nothing_and_doubles_nothing(
    fresh_database: str, kafka_bootstrap: str, new_topic: Any, tmp_path: Path
) -> None:
    topic = await new_topic("shutdown")
    await new_topic_named(kafka_bootstrap, topic + ".out")
    engine = create_engine(fresh_database)
    await install(engine)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE probe_effects (event_id text)"))
    messages = 1500
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    for n in range(messages):
        await producer.send(topic, event(n), key=f"case-{n % 7}".encode())
    await producer.flush()
    await producer.stop()

    port = free_port()
    log = tmp_path / "service.log"
    process = start_service(fresh_database, kafka_bootstrap, topic, port, log)
    try:
        await wait_healthy(port, process)
        deadline = time.monotonic() + 60
        while await count(engine, "SELECT count(*) FROM probe_effects") < 50:  # consuming now
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient(timeout=GRACE_SECONDS) as client:
            request = asyncio.create_task(client.post(f"http://127.0.0.1:{port}/slow-commands/case-s"))
            await asyncio.sleep(0.5)  # the command is in flight
            sigterm_at = time.monotonic()
            process.send_signal(signal.SIGTERM)
            response = await request
        exit_code = await asyncio.to_thread(process.wait, GRACE_SECONDS + 10)
        stopped_after = time.monotonic() - sigterm_at
    finally:
        if process.poll() is None:
            process.kill()
    assert response.status_code == 200, response.text  # the in-flight request completed
    # uvicorn re-raises SIGTERM after a clean shutdown, so the process ends "killed by SIGTERM".
    assert exit_code in (0, -signal.SIGTERM), log.read_text()[-3000:]
    assert "Application shutdown complete" in log.read_text()
    assert stopped_after < GRACE_SECONDS
    assert await count(engine, "SELECT count(*) FROM events WHERE stream_id = 'case-s'") == 1
    consumed_before_restart = await count(engine, "SELECT count(*) FROM probe_effects")
    assert consumed_before_restart < messages  # the stop really came mid-stream

    process = start_service(fresh_database, kafka_bootstrap, topic, port, log)
    try:
        await wait_healthy(port, process)
        deadline = time.monotonic() + 90
        while await count(engine, "SELECT count(*) FROM probe_effects") < messages:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, GRACE_SECONDS + 10)
    assert await count(engine, "SELECT count(*) FROM probe_effects") == messages
    assert await count(engine, "SELECT count(DISTINCT event_id) FROM probe_effects") == messages
    assert await count(engine, "SELECT count(*) FROM outbox") == 0  # the command's event was published
    await engine.dispose()


async def new_topic_named(bootstrap: str, name: str) -> None:
    from dcp_devstack.kafka import create_topics_async

    await create_topics_async(bootstrap, [name], partitions=1)
