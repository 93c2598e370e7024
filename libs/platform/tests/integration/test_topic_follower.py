"""A topic every replica reads whole: from its first offset, without a consumer group, then followed;
a follower started later (a restart, a new replica) applies everything again, in order."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from dcp_events.canonical import encode_event
from dcp_events.envelope import CloudEvent
from dcp_platform.eventsourcing.follower import TopicFollower

from .conftest import eventually

pytestmark = pytest.mark.integration


def _event(n: int, event_id: str | None = None) -> CloudEvent:
    return CloudEvent(
        id=event_id or str(uuid.uuid4()),
        source="/case-service",
        type="collections.policy.version_approved.v1",
        time="2026-11-29T08:00:00Z",
        subject="rule-pack-GB",
        data={"name": "rule-pack-GB", "policy_version": n, "approver": "sup-2"},
        actor="sup-2",
        actorrole="supervisor",
        correlationid="corr-1",
    )


async def test_every_follower_applies_the_whole_topic_and_what_follows(kafka_bootstrap: str) -> None:
    topic = f"t{uuid.uuid4().hex[:8]}.collections.policies"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    first: list[int] = []
    later: list[int] = []
    try:
        # no topic yet: caught up at once, nothing to apply
        early = TopicFollower(kafka_bootstrap, topic, lambda e: first.append(int(e.data["policy_version"])))
        await early.start()
        assert early.caught_up.is_set() and first == []
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        finally:
            await admin.close()
        twice = _event(2)
        for event in (_event(1), twice, twice, _event(3)):  # a redelivered copy is applied once
            await producer.send_and_wait(topic, encode_event(event), key=b"rule-pack-GB")
        await eventually(lambda: _async(first == [1, 2, 3]), "the first follower to apply the topic")

        # a follower started after them (a restart) reads them all again before it is caught up
        restarted = TopicFollower(
            kafka_bootstrap, topic, lambda e: later.append(int(e.data["policy_version"]))
        )
        await restarted.start()
        assert restarted.caught_up.is_set() and later == [1, 2, 3]
        await producer.send_and_wait(topic, encode_event(_event(4)), key=b"rule-pack-GB")
        await eventually(lambda: _async(first[-1:] == [4] and later[-1:] == [4]), "both to follow on")
        await restarted.stop()
        await early.stop()
    finally:
        await producer.stop()


async def _async(value: bool) -> bool:
    return value
