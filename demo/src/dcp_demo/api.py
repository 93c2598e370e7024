"""The services' public interfaces: HTTP clients with development tokens, and a Kafka producer."""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from dcp_events.canonical import encode_event
from dcp_events.catalogue.base import EventPayload
from dcp_events.catalogue.building import new_event

SERVICES = ("case", "contact", "payment", "audit")


@dataclass(frozen=True)
class Endpoints:
    case: str = "http://127.0.0.1:8001"
    contact: str = "http://127.0.0.1:8002"
    payment: str = "http://127.0.0.1:8003"
    audit: str = "http://127.0.0.1:8004"
    kafka_bootstrap: str = "127.0.0.1:19092"
    topic_prefix: str = ""

    def url(self, service: str) -> str:
        return str(getattr(self, service))


def _token_command() -> str:
    beside = Path(sys.executable).parent / "dcp-token"
    if beside.exists():
        return str(beside)
    found = shutil.which("dcp-token")
    if found is None:
        raise RuntimeError("the dcp-token command is not installed (make venv)")
    return found


@functools.cache
def token(role: str, subject: str, agency_id: str | None = None, team: str | None = None) -> str:
    """A development bearer token minted by `dcp-token`, the command `make token` runs."""
    args = [_token_command(), "--role", role, "--subject", subject, "--ttl", "43200"]
    if agency_id:
        args += ["--agency-id", agency_id]
    if team:
        args += ["--team", team]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()  # noqa: S603


class Api:
    """One pooled HTTP client per service; requests name the acting principal by its token."""

    def __init__(self, endpoints: Endpoints) -> None:
        self.endpoints = endpoints
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        self.clients = {
            name: httpx.AsyncClient(base_url=endpoints.url(name), timeout=120, limits=limits)
            for name in SERVICES
        }
        self.producer: AIOKafkaProducer | None = None

    async def __aenter__(self) -> Api:
        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.endpoints.kafka_bootstrap, acks="all", enable_idempotence=True
        )
        await self.producer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.producer is not None:
            await self.producer.stop()
        for client in self.clients.values():
            await client.aclose()

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        role: str = "admin",
        subject: str = "demo-admin",
        agency_id: str | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        all_headers = {"Authorization": f"Bearer {token(role, subject, agency_id)}", **(headers or {})}
        return await self.clients[service].request(
            method, path, json=json, params=params, content=content, headers=all_headers
        )

    async def ok(self, service: str, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer of a call that must succeed (raises with the problem body otherwise)."""
        response = await self.call(service, method, path, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {service}{path} -> {response.status_code}: {response.text[:500]}")
        return response.json()

    async def set_clock(self, now: datetime) -> None:
        """Move every service's manual clock (forward only)."""
        for service in SERVICES:
            await self.ok(service, "PUT", "/admin/clock", json={"now": now.isoformat()}, subject="demo-clock")

    async def clock(self) -> datetime:
        body = await self.ok("case", "GET", "/admin/clock", subject="demo-clock")
        return datetime.fromisoformat(str(body["now"]).replace("Z", "+00:00"))

    async def publish(
        self, payload: EventPayload, *, case_id: str, now: datetime, actor: str, jurisdiction: str | None
    ) -> None:
        """A CloudEvent built from the published catalogue, keyed by the case id, on its (prefixed) topic."""
        assert self.producer is not None
        event = new_event(
            payload,
            subject=case_id,
            source="/demo/first-demo-bank/core-banking",
            actor=actor,
            actorrole="integration",
            correlationid=str(uuid.uuid4()),
            jurisdiction=jurisdiction,
            time=now,
        )
        topic = self.endpoints.topic_prefix + payload.topic
        await self.producer.send_and_wait(topic, value=encode_event(event), key=case_id.encode())
