"""The four services as real processes, wired to the stack, for end-to-end tests through public interfaces.

Each session gets fresh databases and a fresh topic prefix, so the suite is hermetic on a shared
stack. The services run on a manual clock (dev only) that the tests move with `PUT /admin/clock`;
nothing here imports service code: only HTTP, Kafka and the published contracts.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from dcp_devstack.kafka import create_topics_async
from dcp_devstack.testing import bearer_token, new_database
from dcp_events import TOPICS as CATALOGUE_TOPICS

SERVICES = {
    "case": "case_service",
    "contact": "contact_service",
    "payment": "payment_service",
    "audit": "audit_service",
}
TOPICS = list(CATALOGUE_TOPICS)  # every topic of the catalogue, under the run's prefix


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# A development bearer token, minted in-process as `dcp-token` mints it (a process per token costs
# seconds). Cached for the session, so each lives four hours.
token = functools.cache(functools.partial(bearer_token, ttl_seconds=4 * 3600))


@dataclass
class RunningService:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Platform:
    """Handles on the running services, the broker and the clock."""

    kafka_bootstrap: str
    topic_prefix: str
    now: datetime
    services: dict[str, RunningService] = field(default_factory=dict)  # the first replica of each
    replicas: dict[str, list[RunningService]] = field(default_factory=dict)  # every process of each
    databases: dict[str, str] = field(default_factory=dict)
    data_keys_url: str = ""  # the run's key vault database
    envs: dict[str, dict[str, str]] = field(default_factory=dict)
    logs: Path | None = None

    def processes(self) -> list[RunningService]:
        return [replica for replicas in self.replicas.values() for replica in replicas]

    def url(self, service: str) -> str:
        return self.services[service].url

    def topic(self, name: str) -> str:
        return self.topic_prefix + name

    def client(
        self, service: str, role: str = "admin", subject: str = "admin-1", **claims: Any
    ) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token(role, subject, **claims)}"}
        return httpx.AsyncClient(base_url=self.url(service), headers=headers, timeout=30)

    async def set_clock(self, now: datetime) -> None:
        """Move every service's clock to `now`. The clocks only move forward: an earlier `now` is a
        mistake in the scenario (ValueError), so scenarios start from `new_day()`."""
        if now < self.now:
            raise ValueError(f"the platform clock is at {self.now.isoformat()}; {now.isoformat()} is earlier")
        self.now = now
        async with httpx.AsyncClient(timeout=30) as client:
            headers = {"Authorization": f"Bearer {token('admin', 'clock')}"}
            for service in self.services.values():
                response = await client.put(
                    f"{service.url}/admin/clock", json={"now": now.isoformat()}, headers=headers
                )
                response.raise_for_status()

    def new_day(self) -> datetime:
        """The next midnight UTC after the platform clock: a scenario's own fresh day.

        Each scenario lays out its times from this, so scenarios never depend on their order."""
        day = (self.now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return day

    async def publish(self, topic: str, key: str, value: bytes) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.kafka_bootstrap, acks="all", enable_idempotence=True
        )
        await producer.start()
        try:
            await producer.send_and_wait(self.topic(topic), value=value, key=key.encode())
        finally:
            await producer.stop()


async def create_topics(bootstrap: str, names: list[str], partitions: int = 3) -> None:
    await create_topics_async(bootstrap, names, partitions=partitions)


async def migrate(module: str, env: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        f"{module}.main",
        "migrate",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{module} migrate failed:\n{output.decode(errors='replace')[-3000:]}")


def own_env(platform: Platform, name: str, port: int) -> dict[str, str]:
    """The contact service's own URL (the SMS gateway's receipts and the opt-out links point there) and
    its letters directory, per process; the case service the audit service's console reads."""
    if name == "audit" and "case" in platform.services:
        return {"CONSOLE_CASE_SERVICE_URL": platform.services["case"].url}
    if name != "contact":
        return {}
    assert platform.logs is not None
    return {
        "CONTACT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "CONTACT_LETTERS_DIR": str(platform.logs / f"letters-{platform.topic_prefix.rstrip('.')}"),
    }


def launch(platform: Platform, name: str, replica: int) -> RunningService:
    """Start one process of a service (replica numbers from 1) in the service's consumer group."""
    assert platform.logs is not None
    port = free_port()
    suffix = "" if replica == 1 else f"-{replica}"
    log = platform.logs / f"{name}-service{suffix}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                f"{SERVICES[name]}.main:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env={**platform.envs[name], **own_env(platform, name, port)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    service = RunningService(name, port, process, log)
    platform.replicas.setdefault(name, []).append(service)
    platform.services.setdefault(name, service)
    return service


async def start_platform(
    kafka_bootstrap: str,
    database_server_url: str,
    start_at: datetime,
    logs: Path,
    *,
    replicas: dict[str, int] | None = None,
    partitions: int = 3,
) -> Platform:
    """The four services on fresh databases and topics; `replicas` processes of a service (default 1)
    share its database and consumer group, and one manual clock."""
    run = uuid.uuid4().hex[:8]
    platform = Platform(kafka_bootstrap=kafka_bootstrap, topic_prefix=f"e2e{run}.", now=start_at, logs=logs)
    await create_topics(kafka_bootstrap, [platform.topic(t) for t in TOPICS], partitions)
    await create_topics(kafka_bootstrap, [platform.topic(t) + ".dlq" for t in TOPICS], 3)
    envs = platform.envs
    # One key vault for the run's four services, as a deployment has: personal data is sealed.
    platform.data_keys_url = await new_database(database_server_url, f"e2e{run}_data_keys")
    master = "e2e:" + base64.b64encode(os.urandom(32)).decode()
    for name in SERVICES:
        database = await new_database(database_server_url, f"e2e{run}_{name}")
        platform.databases[name] = database
        envs[name] = {
            **os.environ,
            "DCP_ENV": "dev",
            "SERVICE_DATABASE_URL": database,
            "DATABASE_URL": database_server_url,
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "KAFKA_TOPIC_PREFIX": platform.topic_prefix,
            "CLOCK_MODE": "manual",
            "CLOCK_FIXED_AT": start_at.isoformat(),
            "CLOCK_FILE": str(logs / f"clock-{run}"),
            "DATA_KEYS_DATABASE_URL": platform.data_keys_url,
            "DATA_MASTER_KEYS": master,
        }
    # The four migrations are independent: run them side by side (each takes seconds to start).
    await asyncio.gather(*(migrate(module, envs[name]) for name, module in SERVICES.items()))
    for name in SERVICES:
        for replica in range(1, (replicas or {}).get(name, 1) + 1):
            launch(platform, name, replica)
    try:
        await wait_ready(platform)
    except BaseException:
        stop_platform(platform)  # one service failed to start: leave no orphans behind
        raise
    return platform


async def wait_ready(platform: Platform, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=5) as client:
        for service in platform.processes():
            while True:
                if service.process.poll() is not None:
                    raise RuntimeError(f"{service.name}-service exited:\n{service.log.read_text()[-3000:]}")
                try:
                    if (await client.get(f"{service.url}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{service.name}-service not ready:\n{service.log.read_text()[-3000:]}"
                    )
                await asyncio.sleep(0.2)


def stop_platform(platform: Platform) -> None:
    for service in platform.processes():
        if service.process.poll() is None:
            service.process.send_signal(signal.SIGTERM)
    for service in platform.processes():
        try:
            service.process.wait(30)
        except subprocess.TimeoutExpired:
            service.process.kill()
