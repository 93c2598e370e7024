"""The checkpoint publisher with Kafka out of reach: the service starts, and publishing waits."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiokafka.errors import KafkaError

from audit_service.adapters.checkpoint_log import CheckpointPublisher, read_witness, write_witness
from audit_service.domain.verification import SignedCheckpoint


async def test_an_unreachable_kafka_does_not_stop_the_start_and_publishing_says_so(tmp_path: Path) -> None:
    publisher = CheckpointPublisher("127.0.0.1:9", "audit.checkpoints", tmp_path / "witness")
    await publisher.start()  # logs, does not raise
    assert (tmp_path / "witness").is_dir()
    with pytest.raises((KafkaError, OSError, TimeoutError)):
        await publisher.publish([(SignedCheckpoint(1, b"{}", b"sig"), "key")])
    assert publisher.published_seq == 0
    await publisher.stop()


def test_witness_files_are_written_once_and_read_in_order(tmp_path: Path) -> None:
    for seq in (2, 1, 10):
        write_witness(tmp_path, seq, b'{"seq": %d, "key_id": "k", "body": "e30=", "signature": "c2ln"}' % seq)
    write_witness(tmp_path, 1, b"never overwritten")
    assert [c.seq for c in read_witness(tmp_path)] == [1, 2, 10]
