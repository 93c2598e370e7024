"""The trail proves it is complete to an auditor who trusts neither the database nor its operators.

Each attack is made as the database superuser with the append-only triggers disabled, on a trail of its
own that was signed twice (the auditor's retained state holds the second checkpoint). Each is caught
by `/audit/verify` and by the standalone verifier given that retained state, which name the place.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from audit_service.adapters.checkpoint_log import read_published, read_witness
from audit_service.application.ingest import TrailWriter
from audit_service.domain.chain import link_hash
from audit_service.domain.checkpoints import (
    CheckpointSigner,
    key_id_of,
    new_body,
    public_key_pem,
    raw_public_key,
)
from audit_service.domain.verification import SignedCheckpoint
from audit_service.main import MIGRATIONS, cli, create_app
from audit_service.verifier import RetainedState
from dcp_devstack.testing import eventually, new_topic_prefix, service_under_test
from dcp_platform.signing_keys import private_key_pem

from .conftest import (
    ADMIN,
    AUDITOR,
    AuditUnderTest,
    audit_settings,
    drop_database,
    ingestor_assigned,
    migrate,
    new_database,
    start_service,
)
from .test_tamper import attempt

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
CONTACTS = "collections.contacts"


@dataclass
class Trail:
    audit: AuditUnderTest
    tmp: Path
    witness: Path

    @property
    def state(self) -> Path:
        return self.tmp / "retained.json"

    async def verify(self) -> dict[str, Any]:
        report: dict[str, Any] = (await self.audit.get("/audit/verify")).json()
        return report

    async def sign(self) -> int:
        response = await self.audit.client.post("/audit/checkpoints", headers=ADMIN)
        assert response.status_code in (200, 201), response.text
        return int(response.json()["seq"])

    async def offline(self, *, kafka: bool = False, state: bool = True) -> tuple[int, str]:
        audit = self.audit
        (self.tmp / "export.jsonl").write_text((await audit.get("/audit/export", headers=ADMIN)).text)
        (self.tmp / "checkpoints.json").write_text((await audit.get("/audit/checkpoints")).text)
        (self.tmp / "key.pem").write_text((await audit.get("/audit/public-key")).json()["public_key_pem"])
        args = [
            "verify",
            "trail",
            *(str(self.tmp / n) for n in ("export.jsonl", "checkpoints.json", "key.pem")),
        ]
        if state:
            args += ["--state", str(self.state)]
        if kafka:
            args += ["--kafka", audit.bootstrap, "--topic-prefix", audit.prefix]
        result = await asyncio.to_thread(CliRunner().invoke, cli, args)  # it may run its own event loop
        return result.exit_code, result.output

    async def superuser(self, *steps: str | tuple[Any, ...]) -> None:
        """Run statements (or (statement, *arguments)) as the superuser with the triggers off."""
        su = await self.audit.superuser()
        try:
            await su.execute("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
            await su.execute("ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_append_only")
            for step in steps:
                statement, *args = (step,) if isinstance(step, str) else step
                await su.execute(statement, *args)
        finally:
            await su.execute("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only")
            await su.execute("ALTER TABLE audit_checkpoints ENABLE TRIGGER audit_checkpoints_append_only")
            await su.close()

    async def chain_of(self, case_id: str) -> tuple[int, list[dict[str, Any]]]:
        """The contacts partition a case's entries are in, and that chain's rows in seq order."""
        su = await self.audit.superuser()
        try:
            partition = await su.fetchval(
                "SELECT partition FROM audit_entries WHERE case_id = $1 LIMIT 1", case_id
            )
            rows = await su.fetch(
                'SELECT id, seq, "offset", entry, prev_hash FROM audit_entries WHERE topic = $1 '
                "AND partition = $2 ORDER BY seq",
                CONTACTS,
                partition,
            )
        finally:
            await su.close()
        return partition, [dict(r) for r in rows]

    async def committed_in_kafka(self) -> None:
        async def caught_up() -> bool:
            report = await self.verify()
            return bool(report["kafka"]["compared"]) and report["kafka"]["behind"] == 0 and report["ok"]

        await eventually(caught_up, 30, "the trail's consumer group to commit in Kafka")


@pytest.fixture
async def fresh(kafka_bootstrap: str, database_server_url: str, tmp_path: Path) -> AsyncIterator[Trail]:
    """A trail of its own: 8 contacts on two cases, checkpoint 1, 2 more, checkpoint 2; the auditor
    verified it offline and retains checkpoint 2."""
    key = Ed25519PrivateKey.generate()
    witness = tmp_path / "witness"
    async with service_under_test(
        create_app,
        audit_settings(key, audit_witness_dir=witness, audit_ingest_grace_seconds=1.0),
        MIGRATIONS,
        database_server_url=database_server_url,
        kafka_bootstrap=kafka_bootstrap,
        base_url="http://audit",
        ready=ingestor_assigned,
        database_prefix="t_audit",
        topic_prefix="tc",
    ) as running:
        audit = AuditUnderTest(
            running.client,
            running.app.state.audit,
            running.settings,
            running.database_url,
            running.topic_prefix,
            kafka_bootstrap,
            key,
            running.producer,
        )
        trail = Trail(audit, tmp_path, witness)
        for n in range(8):
            await audit.publish(attempt(n), f"case-{'ab'[n % 2]}", T0 + timedelta(minutes=n))
        await audit.wait_for_entries(8)
        assert await trail.sign() == 1
        for n in (8, 9):
            await audit.publish(attempt(n), f"case-{'ab'[n % 2]}", T0 + timedelta(minutes=n))
        await audit.wait_for_entries(10)
        assert await trail.sign() == 2
        await trail.committed_in_kafka()
        code, output = await trail.offline()
        assert code == 0 and "OK: complete and untampered" in output, output
        assert "STATE retained checkpoint 2" in output
        yield trail


async def test_checkpoints_are_published_to_the_topic_and_the_witness(fresh: Trail) -> None:
    audit = fresh.audit
    published = await read_published(audit.bootstrap, audit.prefix + "audit.checkpoints")
    stored = (await audit.get("/audit/checkpoints")).json()["checkpoints"]
    assert sorted(published.checkpoints) == [1, 2] and published.conflicting == []
    for cp in stored:
        assert base64.b64encode(published.checkpoints[cp["seq"]].body).decode() == cp["body"]
    assert [c.seq for c in read_witness(fresh.witness)] == [1, 2]
    report = await fresh.verify()
    assert report["checkpoints"]["published"] == {"compared": True, "latest": 2}
    # the witness directory alone (without the database's checkpoints) verifies the export
    code, output = await fresh.offline(state=False)
    assert code == 0, output
    args = [str(fresh.tmp / "export.jsonl"), str(fresh.witness), str(fresh.tmp / "key.pem")]
    result = CliRunner().invoke(cli, ["verify", "trail", *args])
    assert result.exit_code == 0, result.output


async def test_one_changed_byte_is_caught(fresh: Trail) -> None:
    _, rows = await fresh.chain_of("case-a")
    target = rows[1]
    await fresh.superuser(
        (
            "UPDATE audit_entries SET entry = overlay(entry placing '9'::bytea from 40 for 1) WHERE id = $1",
            target["id"],
        )
    )
    report = await fresh.verify()
    broken = [c["first_broken_link"] for c in report["chains"] if c["first_broken_link"]]
    assert not report["ok"] and broken[0]["entry_id"] == target["id"], report
    code, output = await fresh.offline()
    assert code == 1 and f"BROKEN entry {target['id']} " in output, output


async def test_a_deleted_middle_entry_is_caught(fresh: Trail) -> None:
    partition, rows = await fresh.chain_of("case-a")
    await fresh.superuser(("DELETE FROM audit_entries WHERE id = $1", rows[1]["id"]))
    report = await fresh.verify()
    [chain] = [c for c in report["chains"] if c["first_broken_link"]]
    assert (chain["partition"], chain["first_broken_link"]["seq"]) == (partition, 2)
    assert "entries are missing" in chain["first_broken_link"]["reason"]
    code, output = await fresh.offline()
    assert code == 1 and f"{CONTACTS}[{partition}] seq 2" in output, output


async def test_two_swapped_entries_are_caught(fresh: Trail) -> None:
    partition, rows = await fresh.chain_of("case-a")
    first, second = rows[1]["id"], rows[2]["id"]
    await fresh.superuser(
        ("UPDATE audit_entries SET seq = -1 WHERE id = $1", first),
        ("UPDATE audit_entries SET seq = 1 WHERE id = $1", second),
        ("UPDATE audit_entries SET seq = 2 WHERE id = $1", first),
    )
    report = await fresh.verify()
    assert not report["ok"]
    [chain] = [c for c in report["chains"] if c["first_broken_link"]]
    assert chain["first_broken_link"]["entry_id"] == second
    code, output = await fresh.offline()
    assert code == 1 and f"BROKEN entry {second} ({CONTACTS}[{partition}] seq 1" in output, output


async def test_a_deleted_unsigned_tail_is_caught_against_kafka(fresh: Trail) -> None:
    audit = fresh.audit
    for n in (10, 11):
        await audit.publish(attempt(n), "case-a", T0 + timedelta(minutes=n))
    await audit.wait_for_entries(12)
    await eventually(
        functools.partial(_caught_up, fresh), 30, "the trail's consumer group to commit in Kafka"
    )
    partition, rows = await fresh.chain_of("case-a")
    tail = [r["id"] for r in rows[-2:]]
    await fresh.superuser(("DELETE FROM audit_entries WHERE id = ANY($1::bigint[])", tail))
    report = await fresh.verify()
    assert not report["ok"]
    [problem] = report["kafka"]["problems"]
    assert f"{CONTACTS}[{partition}]" in problem and "are missing" in problem
    code, output = await fresh.offline(kafka=True)
    assert code == 1 and f"KAFKA {CONTACTS}[{partition}]" in output, output
    # the checkpoint signed by then (the schedule would) also outlives the deletion
    response = await audit.client.post("/audit/checkpoints", headers=ADMIN)
    assert response.status_code in (200, 201)


async def _caught_up(trail: Trail) -> bool:
    report = await trail.verify()
    return bool(report["kafka"]["compared"]) and report["kafka"]["behind"] == 0


async def test_a_deleted_tail_then_new_records_is_caught_and_the_checkpoint_names_the_range(
    fresh: Trail,
) -> None:
    audit = fresh.audit
    for n in (10, 11):
        await audit.publish(attempt(n), "case-a", T0 + timedelta(minutes=n))
    await audit.wait_for_entries(12)
    partition, rows = await fresh.chain_of("case-a")
    await fresh.superuser(("DELETE FROM audit_entries WHERE id = $1", rows[-1]["id"]))
    await audit.publish(attempt(12), "case-a", T0 + timedelta(minutes=12))
    await audit.wait_for_entries(12)
    response = await audit.client.post("/audit/checkpoints", headers=ADMIN)
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == "https://errors.dcp.example/trail-not-signable"
    last = rows[-1]["seq"]
    assert f"{CONTACTS}[{partition}]: entries seq {last} to {last}" in problem["detail"], problem
    report = await fresh.verify()
    [chain] = [c for c in report["chains"] if c["first_broken_link"]]
    assert chain["first_broken_link"]["seq"] == last + 1
    code, output = await fresh.offline()
    assert code == 1 and f"{CONTACTS}[{partition}] seq {last + 1}" in output, output


async def _rewrite_from(trail: Trail, case_id: str, seq: int) -> int:
    """Change the entry at `seq` of the case's chain and recompute every hash after it."""
    partition, rows = await trail.chain_of(case_id)
    statements: list[tuple[Any, ...]] = []
    prev = bytes(32)
    for row in rows:
        entry = bytes(row["entry"])
        if row["seq"] == seq:
            entry = entry.replace(b'"no_answer"', b'"right_party_contact"')
        h = link_hash(prev, entry)
        statements.append(
            (
                "UPDATE audit_entries SET entry = $1, prev_hash = $2, hash = $3 WHERE id = $4",
                entry,
                prev,
                h,
                row["id"],
            )
        )
        prev = h
    await trail.superuser(*statements)
    return partition


async def test_a_rewrite_that_rehashes_everything_after_an_entry_is_caught(fresh: Trail) -> None:
    partition = await _rewrite_from(fresh, "case-a", 1)
    report = await fresh.verify()
    assert all(c["first_broken_link"] is None for c in report["chains"])
    assert not report["ok"]
    assert any(
        f"{CONTACTS}[{partition}]" in p and "entries were rewritten" in p
        for p in report["checkpoints"]["problems"]
    )
    code, output = await fresh.offline()
    assert code == 1 and "entries were rewritten" in output, output


async def test_a_rewrite_with_every_checkpoint_deleted_is_caught(fresh: Trail) -> None:
    partition = await _rewrite_from(fresh, "case-a", 1)
    await fresh.superuser("DELETE FROM audit_checkpoints")
    report = await fresh.verify()
    assert not report["ok"]
    problems = report["checkpoints"]["problems"]
    assert (
        "checkpoint 1: published to the checkpoint topic but missing from the database (deleted)" in problems
    )
    assert any("entries were rewritten" in p for p in problems)
    code, output = await fresh.offline()
    assert code == 1, output
    assert "RETAINED the newest checkpoint given is none, but checkpoint 2 was retained" in output
    assert f"RETAINED retained checkpoint 2: {CONTACTS}[{partition}]" in output


async def test_all_checkpoints_deleted_makes_verify_not_ok(fresh: Trail) -> None:
    await fresh.superuser("DELETE FROM audit_checkpoints")
    report = await fresh.verify()
    assert not report["ok"]
    code, output = await fresh.offline(state=False)
    assert code == 1 and "no checkpoint: nothing signed proves the trail complete" in output, output


async def test_only_the_newest_checkpoint_deleted_is_caught(fresh: Trail) -> None:
    await fresh.superuser("DELETE FROM audit_checkpoints WHERE seq = 2")
    report = await fresh.verify()
    assert not report["ok"]
    assert (
        "checkpoint 2: published to the checkpoint topic but missing from the database (deleted)"
        in report["checkpoints"]["problems"]
    )
    code, output = await fresh.offline()
    assert code == 1
    assert "RETAINED the newest checkpoint given is 1, but checkpoint 2 was retained" in output, output
    # Signing again would reuse seq 2: refused, naming what the topic holds and the database lost.
    again = await fresh.audit.client.post("/audit/checkpoints", headers=ADMIN)
    assert again.status_code == 409, again.text
    assert again.json()["type"].endswith("trail-not-signable")
    assert "checkpoints 2 to 2 were deleted from the database" in again.json()["detail"]


async def test_the_next_checkpoint_is_built_only_on_what_the_newest_one_signed(fresh: Trail) -> None:
    """The Merkle frontiers beside a checkpoint are not signed: changed in the database, they are not
    used (the chains are read again), and the next checkpoint still signs the true roots; a newest
    checkpoint whose body was changed is not signed over at all."""
    audit = fresh.audit
    await fresh.superuser(
        "UPDATE audit_checkpoints SET frontiers = (SELECT jsonb_object_agg(k, jsonb_set(v, '{frontier}', "
        "'[[0, \"" + "ab" * 32 + "\"]]'::jsonb)) FROM jsonb_each(frontiers) AS e(k, v)) WHERE seq = 2"
    )
    await audit.publish(attempt(40), "case-a", T0 + timedelta(minutes=40))
    await audit.wait_for_entries(11)
    assert await fresh.sign() == 3
    report = await fresh.verify()
    assert report["ok"], report
    await fresh.superuser(
        "UPDATE audit_checkpoints SET body = convert_to(replace(convert_from(body, 'UTF8'), "
        "'\"tree_size\"', '\"tree_size\" '), 'UTF8') WHERE seq = 3"
    )
    await audit.publish(attempt(41), "case-b", T0 + timedelta(minutes=41))
    await audit.wait_for_entries(12)
    refused = await audit.client.post("/audit/checkpoints", headers=ADMIN)
    assert refused.status_code == 409, refused.text
    assert "checkpoint 3 in the database does not carry a valid signature" in refused.json()["detail"]


async def test_a_checkpoint_forged_with_another_key_is_caught(fresh: Trail) -> None:
    forger = CheckpointSigner(Ed25519PrivateKey.generate())
    async with fresh.audit.runtime.pool.acquire() as conn:
        latest = await conn.fetchrow("SELECT body FROM audit_checkpoints WHERE seq = 2")
    body = new_body(3, T0, forger.key_id, bytes(latest["body"]), []).to_bytes()
    su = await fresh.audit.superuser()
    try:
        await su.execute(
            "INSERT INTO audit_checkpoints VALUES (3, $1, $2, $3, $4, 0, now(), '{}')",
            body,
            forger.sign(body),
            forger.key_id,
            bytes(32),
        )
    finally:
        await su.close()
    report = await fresh.verify()
    assert not report["ok"]
    assert any(p.startswith("checkpoint 3: signature invalid") for p in report["checkpoints"]["problems"])
    code, output = await fresh.offline()
    assert code == 1 and "CHECKPOINT checkpoint 3: signature invalid" in output, output


async def test_a_changed_query_column_is_caught(fresh: Trail) -> None:
    _, rows = await fresh.chain_of("case-b")
    target = rows[0]["id"]
    await fresh.superuser(("UPDATE audit_entries SET actor = 'usr-mallory' WHERE id = $1", target))
    report = await fresh.verify()
    [chain] = [c for c in report["chains"] if c["first_broken_link"]]
    assert chain["first_broken_link"]["entry_id"] == target
    assert "query columns differ from the entry bytes: actor" in chain["first_broken_link"]["reason"]
    code, output = await fresh.offline()
    assert code == 1 and f"BROKEN entry {target} " in output and "actor" in output, output


async def test_a_dropped_partition_chain_is_caught(fresh: Trail) -> None:
    partition, _ = await fresh.chain_of("case-b")
    await fresh.superuser(
        ("DELETE FROM audit_entries WHERE topic = $1 AND partition = $2", CONTACTS, partition)
    )
    report = await fresh.verify()
    assert not report["ok"]
    where = f"{CONTACTS}[{partition}]"
    assert any(where in p and "are missing" in p for p in report["kafka"]["problems"]), report["kafka"]
    assert any(where in p and "were signed" in p for p in report["checkpoints"]["problems"])
    code, output = await fresh.offline()
    assert code == 1 and f"{where} has 0 entries" in output, output


async def test_records_of_an_unwatched_catalogue_topic_are_caught(fresh: Trail) -> None:
    from dcp_devstack.kafka import create_topics_async

    audit = fresh.audit
    topic = "collections.settlements"  # not in the catalogue the trail watches
    await create_topics_async(audit.bootstrap, [audit.prefix + topic], partitions=1)
    await audit.publish_raw(topic, b'{"id": "x"}', key=b"case-a")
    report = await fresh.verify()
    assert not report["ok"]
    assert (
        f"{topic}: the topic holds 1 records but the trail does not watch it" in report["kafka"]["problems"]
    )


async def test_a_trail_whose_ingest_began_after_the_topic_start_is_caught(
    kafka_bootstrap: str, database_server_url: str, tmp_path: Path
) -> None:
    """Records 0-4 on a partition; the trail was fed from offset 2 on (a misconfigured or tampered
    ingest): the chain links up and is signed, but Kafka holds what it never recorded."""
    key = Ed25519PrivateKey.generate()
    prefix = await new_topic_prefix(kafka_bootstrap, "tl")
    tp = TopicPartition(prefix + CONTACTS, 0)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for n in range(5):
            await producer.send_and_wait(tp.topic, f"raw-{n}".encode(), partition=0)
    finally:
        await producer.stop()
    database_url = await new_database(database_server_url, "t_audit")
    await migrate(database_url)
    settings = audit_settings(key)(
        service_database_url=database_url, kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_prefix=prefix
    )
    pool = await asyncpg.create_pool(settings.trail_dsn, min_size=1, max_size=1)
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        consumer.seek(tp, 2)
        records = (await consumer.getmany(tp, timeout_ms=5000))[tp]
        assert [r.offset for r in records] == [2, 3, 4]
        await TrailWriter(pool, topic_prefix=prefix).write(tp, records)
    finally:
        await consumer.stop()
        await pool.close()
    manager, client, _, _ = await start_service(kafka_bootstrap, database_url, prefix, key)
    try:
        assert (await client.post("/audit/checkpoints", headers=ADMIN)).status_code == 201
        report = (await client.get("/audit/verify", headers=AUDITOR)).json()
        assert not report["ok"]
        assert (
            f"{CONTACTS}[0]: the chain begins at offset 2 but Kafka holds the partition from offset 0: "
            "entries at offsets 0 to 1 were never recorded"
        ) in report["kafka"]["problems"], report["kafka"]
        (tmp_path / "export.jsonl").write_text((await client.get("/audit/export", headers=ADMIN)).text)
        (tmp_path / "checkpoints.json").write_text(
            (await client.get("/audit/checkpoints", headers=AUDITOR)).text
        )
        pem = (await client.get("/audit/public-key", headers=AUDITOR)).json()["public_key_pem"]
        (tmp_path / "key.pem").write_text(pem)
        files = [str(tmp_path / n) for n in ("export.jsonl", "checkpoints.json", "key.pem")]
        result = CliRunner().invoke(cli, ["verify", "trail", *files])
        assert result.exit_code == 1
        assert f"{CONTACTS}[0]: the chain begins at offset 2, not 0" in result.output, result.output
    finally:
        await manager.aclose()
        await drop_database(database_server_url, database_url)


async def test_a_monitor_checks_each_newer_checkpoint_against_the_one_it_retained(fresh: Trail) -> None:
    """Without the trail: the auditor keeps checkpoint 1, asks for a consistency proof to the newest."""
    audit = fresh.audit
    first = (await audit.get("/audit/checkpoints")).json()["checkpoints"][0]
    monitor = fresh.tmp / "monitor.json"
    RetainedState(
        SignedCheckpoint(1, base64.b64decode(first["body"]), base64.b64decode(first["signature"])), []
    ).save(monitor)
    for n in (20, 21, 22):
        await audit.publish(attempt(n), f"case-{'ab'[n % 2]}", T0 + timedelta(minutes=n))
    await audit.wait_for_entries(13)
    assert await fresh.sign() == 3
    key = fresh.tmp / "key.pem"
    key.write_text((await audit.get("/audit/public-key")).json()["public_key_pem"])
    proof = (await audit.get("/audit/checkpoints/consistency", **{"from": 1, "to": 3})).json()
    assert {c["first_size"] for c in proof["chains"]} and all(c["second_size"] for c in proof["chains"])
    document = fresh.tmp / "consistency.json"
    document.write_text(json.dumps(proof))

    def check() -> tuple[int, str]:
        args = ["verify", "consistency", str(document), str(key), "--state", str(monitor)]
        result = CliRunner().invoke(cli, args)
        return result.exit_code, result.output

    code, output = await asyncio.to_thread(check)
    assert code == 0 and "OK: checkpoint 3 extends checkpoint 1" in output, output
    assert RetainedState.load(monitor).checkpoint.seq == 3  # type: ignore[union-attr]

    # a proof that does not start at the retained checkpoint (now 3) is refused
    document.write_text((await audit.get("/audit/checkpoints/consistency", **{"from": 2, "to": 3})).text)
    code, output = await asyncio.to_thread(check)
    assert code == 1 and "not at the retained checkpoint 3" in output, output

    # a path that does not prove the extension is refused
    monitor.unlink()
    grown = next(c for c in proof["chains"] if c["path"])
    grown["path"][0] = "00" * 32
    document.write_text(json.dumps(proof))
    code, output = await asyncio.to_thread(check)
    assert code == 1 and "history was rewritten" in output, output

    bad = await audit.get("/audit/checkpoints/consistency", **{"from": 3, "to": 1})
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/problem+json")
    missing = await audit.get("/audit/checkpoints/consistency", **{"from": 1, "to": 9})
    assert missing.status_code == 404


async def test_a_consistency_request_over_tampered_checkpoints_is_a_conflict(fresh: Trail) -> None:
    """Checkpoints swapped in the database (the later one signs less) or one overwritten with bytes that
    are no checkpoint: the proof cannot be given, and the answer names why."""
    audit = fresh.audit
    await fresh.superuser(
        "UPDATE audit_checkpoints AS c SET body = o.body FROM audit_checkpoints AS o "
        "WHERE c.seq + o.seq = 3 AND c.seq IN (1, 2)"
    )
    shrunk = await audit.get("/audit/checkpoints/consistency", **{"from": 1, "to": 2})
    assert shrunk.status_code == 409, shrunk.text
    problem = shrunk.json()
    assert problem["type"].endswith("checkpoint-not-an-extension")
    assert "checkpoint 2 does not extend checkpoint 1" in problem["detail"]
    await fresh.superuser(
        "UPDATE audit_checkpoints SET body = convert_to('not a checkpoint', 'UTF8') WHERE seq = 2"
    )
    unreadable = await audit.get("/audit/checkpoints/consistency", **{"from": 1, "to": 2})
    assert unreadable.status_code == 409, unreadable.text
    assert unreadable.json()["type"].endswith("checkpoint-unreadable")
    assert (await audit.get("/audit/checkpoints/consistency", **{"from": 1, "to": 10**15})).status_code == 404


async def test_a_rotated_signing_key_is_announced_by_the_old_one_and_followed_offline(fresh: Trail) -> None:
    audit = fresh.audit
    old_key, new_key = audit.signing_key, Ed25519PrivateKey.generate()
    args = (audit.bootstrap, audit.database_url, audit.prefix, new_key)

    manager, client, _, _ = await start_service(*args)
    try:
        await audit.publish(attempt(30), "case-a", T0 + timedelta(minutes=30))
        await audit.wait_for_entries(11)
        refused = await client.post("/audit/checkpoints", headers=ADMIN)
        assert refused.status_code == 409
        assert refused.json()["type"] == "https://errors.dcp.example/signing-key-not-announced"
    finally:
        await manager.aclose()

    manager, client, _, _ = await start_service(
        *args, audit_previous_signing_key=private_key_pem(old_key).decode()
    )
    try:
        announcing = await client.post("/audit/checkpoints", headers=ADMIN)
        assert announcing.status_code == 201
        body = announcing.json()["signed"]
        assert body["seq"] == 3 and body["key_id"] == key_id_of(old_key.public_key())
        assert body["next_key"] == raw_public_key(new_key.public_key())
        await audit.publish(attempt(31), "case-a", T0 + timedelta(minutes=31))
        await audit.wait_for_entries(12)
        signed = await client.post("/audit/checkpoints", headers=ADMIN)
        assert signed.status_code == 201 and signed.json()["signed"]["key_id"] == key_id_of(
            new_key.public_key()
        )
        report = (await client.get("/audit/verify", headers=AUDITOR)).json()
        assert report["ok"], report

        (fresh.tmp / "export.jsonl").write_text((await client.get("/audit/export", headers=ADMIN)).text)
        (fresh.tmp / "checkpoints.json").write_text(
            (await client.get("/audit/checkpoints", headers=AUDITOR)).text
        )
    finally:
        await manager.aclose()

    def offline(key_pem: bytes, state: bool) -> tuple[int, str]:
        (fresh.tmp / "trusted.pem").write_bytes(key_pem)
        files = [str(fresh.tmp / n) for n in ("export.jsonl", "checkpoints.json", "trusted.pem")]
        result = CliRunner().invoke(
            cli, ["verify", "trail", *files, *(["--state", str(fresh.state)] if state else [])]
        )
        return result.exit_code, result.output

    # only the new key, no retained state: the checkpoints before the rotation are not authenticated
    code, output = await asyncio.to_thread(offline, public_key_pem(new_key.public_key()).encode(), False)
    assert code == 1 and "neither trusted nor announced" in output, output
    # the auditor's original key (and retained state): the announcement is followed
    code, output = await asyncio.to_thread(offline, public_key_pem(old_key.public_key()).encode(), True)
    assert code == 0 and "STATE retained checkpoint 4" in output, output
    retained = RetainedState.load(fresh.state)
    assert retained is not None
    assert {key_id_of(k) for k in retained.keys} == {
        key_id_of(old_key.public_key()),
        key_id_of(new_key.public_key()),
    }


async def test_checkpoints_are_signed_after_every_n_entries_and_refreshed_on_the_interval(
    kafka_bootstrap: str, database_server_url: str, tmp_path: Path
) -> None:
    """No POST: 5 new entries sign a checkpoint; with nothing new, the schedule still signs a fresh
    one every interval (its age is what tells a verifier the signer is alive)."""
    key = Ed25519PrivateKey.generate()
    settings = audit_settings(key, audit_checkpoint_every_entries=5)
    async with service_under_test(
        create_app,
        settings,
        MIGRATIONS,
        database_server_url=database_server_url,
        kafka_bootstrap=kafka_bootstrap,
        base_url="http://audit",
        ready=ingestor_assigned,
        database_prefix="t_audit",
        topic_prefix="ta",
    ) as running:
        audit = AuditUnderTest(
            running.client,
            running.app.state.audit,
            running.settings,
            running.database_url,
            running.topic_prefix,
            kafka_bootstrap,
            key,
            running.producer,
        )
        for n in range(4):
            await audit.publish(attempt(n), "case-n", T0 + timedelta(minutes=n))
        await audit.wait_for_entries(4)
        assert (await audit.get("/audit/checkpoints")).json()["checkpoints"] == []
        await audit.publish(attempt(4), "case-n", T0 + timedelta(minutes=4))

        async def signed(count: int) -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = (await audit.get("/audit/checkpoints")).json()["checkpoints"]
            assert len(items) >= count
            return items

        [first] = await eventually(
            functools.partial(signed, 1), 30, "a checkpoint after 5 entries", retry_on=(AssertionError,)
        )
        assert first["signed"]["tree_size"] == 5
        published = await read_published(audit.bootstrap, audit.prefix + "audit.checkpoints")
        assert sorted(published.checkpoints) == [1]

        # a second replica on the same trail, signing on a short interval: fresh checkpoints though
        # nothing changed
        manager, client, _, _ = await start_service(
            kafka_bootstrap, audit.database_url, audit.prefix, key, audit_checkpoint_interval_seconds=0.5
        )
        try:

            async def refreshed() -> bool:
                items = (await client.get("/audit/checkpoints", headers=AUDITOR)).json()["checkpoints"]
                return len(items) >= 3 and items[-1]["signed"]["tree_size"] == 5

            await eventually(refreshed, 30, "fresh checkpoints over an unchanged trail")
        finally:
            await manager.aclose()
