"""What the audit service consumes is readable from its app without starting it, as for every service."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit_service.application.runtime import AuditRuntime, watched_topics
from audit_service.main import create_app
from audit_service.settings import AuditServiceSettings
from dcp_events import TOPICS, dlq_topic
from dcp_platform.clock import SystemClock
from dcp_platform.signing_keys import private_key_pem


def settings(**overrides: object) -> AuditServiceSettings:
    key = private_key_pem(Ed25519PrivateKey.generate()).decode()
    return AuditServiceSettings(audit_signing_key=key, **overrides)  # type: ignore[arg-type]


def test_the_ingest_group_and_its_topics_are_named_before_the_runtime_starts() -> None:
    runtime = AuditRuntime(settings(audit_extra_topics="partner.feed"), SystemClock())
    [ingest] = runtime.consumers
    assert ingest is runtime.ingestor
    assert ingest.group_id == "audit-service.trail"
    assert set(ingest.topics) == {*TOPICS, *(dlq_topic(t) for t in TOPICS), "partner.feed"}


def test_topics_are_named_without_the_prefix_the_group_with_it() -> None:
    prefixed = settings(kafka_topic_prefix="staging.")
    app = create_app(prefixed)
    [ingest] = app.state.audit.consumers
    assert ingest.group_id == "staging.audit-service.trail"
    assert [f"staging.{t}" for t in ingest.topics] == watched_topics(prefixed)
