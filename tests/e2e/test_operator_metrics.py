"""Every metric an operator alerts on is exported by the running services (see docs/operations.md)."""

from __future__ import annotations

import pytest

from .platform_under_test import Platform

pytestmark = pytest.mark.integration

EVERY_SERVICE = [
    "http_requests_total",  # request rate
    "http_request_errors_total",  # error rate
    "http_request_duration_seconds",  # latency histogram
]
EVENT_SOURCED = [
    "dcp_events_appended_total",
    "dcp_events_published_total",
    "dcp_outbox_backlog",
    "dcp_outbox_oldest_age_seconds",
    "dcp_relay_errors_total",
    "dcp_events_consumed_total",
    "dcp_consumer_lag",  # per partition
    "dcp_dlq_published_total",
    "dcp_timers_fired_total",
]
EXPECTED = {
    "case": [*EVERY_SERVICE, *EVENT_SOURCED],
    "contact": [*EVERY_SERVICE, *EVENT_SOURCED, "dcp_gate_decisions_total"],  # refusals by rule
    "payment": [*EVERY_SERVICE, *EVENT_SOURCED],
    "audit": [
        *EVERY_SERVICE,
        "dcp_audit_entries_recorded_total",
        "dcp_audit_chain_head_offset",  # chain heads
        "dcp_audit_last_checkpoint_seq",
        "dcp_audit_last_checkpoint_age_seconds",
    ],
}


def families(exposition: str) -> set[str]:
    return {line.split()[2] for line in exposition.splitlines() if line.startswith("# TYPE ")}


@pytest.mark.parametrize("service", sorted(EXPECTED))
async def test_operator_metrics_are_exported(service: str, platform: Platform) -> None:
    async with platform.client(service) as client:
        await client.get("/healthz")
        exposition = (await client.get("/metrics")).text
    exported = families(exposition)
    missing = [
        name
        for name in EXPECTED[service]
        if name not in exported and name.removesuffix("_total") not in exported
    ]
    assert not missing, f"{service}-service does not export {missing}"
    assert f'service="{service}-service"' in exposition  # request metrics carry the service label
    if service != "audit":
        assert "\ndcp_outbox_backlog " in exposition  # a sample, not only its declaration
