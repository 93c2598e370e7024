"""Tamper evidence: the database refuses changes, the service's role cannot make them, and a superuser who
bypasses the trigger is caught by `/audit/verify` and by the standalone verifier, which name the entry."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from audit_service.domain.checkpoints import CheckpointSigner, new_body
from audit_service.main import cli
from dcp_events.catalogue import ContactAttempted
from dcp_events.catalogue.enums import Channel, ContactOutcome, ContactParty

from .conftest import ADMIN, AuditUnderTest, eventually

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


def attempt(n: int) -> ContactAttempted:
    return ContactAttempted(
        attempt_id=f"att-{n}",
        channel=Channel.PHONE,
        party=ContactParty.DEBTOR,
        collector_id="usr-alice",
        agency_id=None,
        outcome=ContactOutcome.NO_ANSWER,
        duration_seconds=n,
        recording_ref=None,
    )


@pytest.fixture(scope="module")
async def signed(audit: AuditUnderTest) -> AuditUnderTest:
    for n in range(6):
        await audit.publish(attempt(n), "case-tamper", T0 + timedelta(minutes=n))
    await audit.wait_for_entries(6)
    assert (await audit.client.post("/audit/checkpoints", headers=ADMIN)).status_code == 201
    return audit


async def test_the_service_role_cannot_update_delete_or_truncate_even_without_the_trigger(
    signed: AuditUnderTest,
) -> None:
    su = await signed.superuser()
    try:
        await su.execute("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
        async with signed.runtime.pool.acquire() as conn:
            for statement in (
                "UPDATE audit_entries SET actor = 'someone-else'",
                "DELETE FROM audit_entries",
                "TRUNCATE audit_entries",
                "DELETE FROM audit_checkpoints",
            ):
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(statement)
    finally:
        await su.execute("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only")
        await su.close()
    assert await signed.entry_count() == 6


async def test_the_trigger_refuses_update_delete_and_truncate_even_to_a_superuser(
    signed: AuditUnderTest,
) -> None:
    su = await signed.superuser()
    try:
        for statement in (
            "UPDATE audit_entries SET actor = 'someone-else'",
            "DELETE FROM audit_entries WHERE seq = 0",
            "TRUNCATE audit_entries",
            "UPDATE audit_checkpoints SET key_id = 'x'",
        ):
            with pytest.raises(asyncpg.RaiseError, match="append-only"):
                await su.execute(statement)
    finally:
        await su.close()
    assert (await signed.get("/audit/verify")).json()["ok"]


async def _export(audit: AuditUnderTest, tmp_path: Path, checkpoints: str | None = None) -> list[str]:
    (tmp_path / "export.jsonl").write_text((await audit.get("/audit/export", headers=ADMIN)).text)
    (tmp_path / "checkpoints.json").write_text(checkpoints or (await audit.get("/audit/checkpoints")).text)
    (tmp_path / "key.pem").write_text((await audit.get("/audit/public-key")).json()["public_key_pem"])
    return [str(tmp_path / n) for n in ("export.jsonl", "checkpoints.json", "key.pem")]


async def test_a_forged_checkpoint_signature_is_rejected(signed: AuditUnderTest, tmp_path: Path) -> None:
    document = json.loads((await signed.get("/audit/checkpoints")).text)
    forged = document["checkpoints"][-1]
    forger = CheckpointSigner(Ed25519PrivateKey.generate())
    forged["signature"] = base64.b64encode(forger.sign(base64.b64decode(forged["body"]))).decode()
    files = await _export(signed, tmp_path, json.dumps(document))
    result = CliRunner().invoke(cli, ["verify", "trail", *files])
    assert result.exit_code == 1 and "signature invalid" in result.output, result.output

    # A forged checkpoint slipped into the database by a superuser is rejected by /audit/verify too.
    body = new_body(99, T0, forger.key_id, None, []).to_bytes()
    su = await signed.superuser()
    try:
        await su.execute(
            "INSERT INTO audit_checkpoints VALUES (99, $1, $2, $3, $4, 0, now(), '{}')",
            body,
            forger.sign(body),
            forger.key_id,
            bytes(32),
        )
        report = (await signed.get("/audit/verify")).json()
        assert not report["ok"]
        assert any("checkpoint 99: signature invalid" in p for p in report["checkpoints"]["problems"])
    finally:
        await su.execute("ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_append_only")
        await su.execute("DELETE FROM audit_checkpoints WHERE seq = 99")
        await su.execute("ALTER TABLE audit_checkpoints ENABLE TRIGGER audit_checkpoints_append_only")
        await su.close()
    assert (await signed.get("/audit/verify")).json()["ok"]


async def test_a_superuser_who_bypasses_the_trigger_and_edits_a_payload_is_caught(
    signed: AuditUnderTest, tmp_path: Path
) -> None:
    su = await signed.superuser()
    try:
        target = await su.fetchrow(
            "SELECT id, topic, partition, seq FROM audit_entries WHERE entry LIKE '%\"att-3\"%'::bytea"
        )
        await su.execute("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
        await su.execute(
            """UPDATE audit_entries SET entry = convert_to(replace(convert_from(entry, 'UTF8'),
               '"no_answer"', '"right_party_contact"'), 'UTF8') WHERE id = $1""",
            target["id"],
        )
        await su.execute("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only")
    finally:
        await su.close()

    report = (await signed.get("/audit/verify")).json()
    assert not report["ok"]
    chain = next(
        c for c in report["chains"] if (c["topic"], c["partition"]) == (target["topic"], target["partition"])
    )
    broken = chain["first_broken_link"]
    assert broken["entry_id"] == target["id"] and broken["seq"] == target["seq"]
    assert "content altered" in broken["reason"]

    result = CliRunner().invoke(cli, ["verify", "trail", *await _export(signed, tmp_path)])
    assert result.exit_code == 1
    assert (
        f"BROKEN entry {target['id']} ({target['topic']}[{target['partition']}] seq {target['seq']}"
        in result.output
    )


async def test_a_rewrite_that_recomputes_the_hashes_is_caught_by_the_signed_checkpoint(
    signed: AuditUnderTest, tmp_path: Path
) -> None:
    """The forger recomputes the edited entry's hash and every later link: only the signature can tell."""
    from audit_service.domain.chain import link_hash

    su = await signed.superuser()
    try:
        target = await su.fetchrow(
            "SELECT topic, partition, seq FROM audit_entries WHERE entry LIKE '%\"att-3\"%'::bytea"
        )
        rows = await su.fetch(
            "SELECT id, entry, prev_hash FROM audit_entries WHERE topic = $1 AND partition = $2 ORDER BY seq",
            target["topic"],
            target["partition"],
        )
        await su.execute("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
        prev = bytes(32)
        for row in rows:
            h = link_hash(prev, bytes(row["entry"]))
            await su.execute(
                "UPDATE audit_entries SET prev_hash = $1, hash = $2 WHERE id = $3", prev, h, row["id"]
            )
            prev = h
        await su.execute("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only")
    finally:
        await su.close()
    report = (await signed.get("/audit/verify")).json()
    assert all(c["first_broken_link"] is None for c in report["chains"])
    assert not report["ok"] and "entries were rewritten" in report["checkpoints"]["problems"][0]
    result = CliRunner().invoke(cli, ["verify", "trail", *await _export(signed, tmp_path)])
    assert result.exit_code == 1 and "entries were rewritten" in result.output


async def test_a_deleted_tail_makes_the_next_checkpoint_a_409_problem_not_a_500(
    signed: AuditUnderTest,
) -> None:
    """Entries deleted after the last checkpoint, then new records: the checkpointer refuses to sign
    a chain that does not link up, and says so as problem+json (409 trail-not-signable)."""
    count = await signed.entry_count()
    for n in (7, 8):  # after the last checkpoint: not signed yet
        await signed.publish(attempt(n), "case-tamper", T0 + timedelta(minutes=n))
    await signed.wait_for_entries(count + 2)
    su = await signed.superuser()
    try:
        await su.execute("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
        newest = "SELECT max(id) FROM audit_entries WHERE case_id = 'case-tamper'"
        await su.execute(f"DELETE FROM audit_entries WHERE id = ({newest})")  # noqa: S608
        await su.execute("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only")
    finally:
        await su.close()
    await signed.publish(attempt(9), "case-tamper", T0 + timedelta(minutes=9))
    await signed.wait_for_entries(count + 2)
    response = await signed.client.post("/audit/checkpoints", headers=ADMIN)
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "https://errors.dcp.example/trail-not-signable"


async def test_a_tail_deleted_after_the_last_checkpoint_is_caught_against_kafka(
    signed: AuditUnderTest,
) -> None:
    """No checkpoint covers the newest entries; the superuser deletes them. The chains still link up
    and the checkpoints still verify, but Kafka, outside the database, holds the offset the trail's
    consumer group committed: the chain ends before it."""
    count = await signed.entry_count()
    for n in (20, 21, 22):
        await signed.publish(attempt(n), "case-tail", T0 + timedelta(minutes=n))
    await signed.wait_for_entries(count + 3)

    async def committed_in_kafka() -> bool:
        report = (await signed.get("/audit/verify")).json()
        return bool(report["kafka"]["compared"])

    await eventually(committed_in_kafka, 30, "verify to compare with Kafka")
    su = await signed.superuser()
    try:
        chain = await su.fetchrow(
            "SELECT topic, partition FROM audit_entries WHERE case_id = 'case-tail' LIMIT 1"
        )
        await su.execute("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
        await su.execute(
            "DELETE FROM audit_entries WHERE topic = $1 AND partition = $2 AND case_id = 'case-tail'",
            chain["topic"],
            chain["partition"],
        )
        await su.execute("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only")
    finally:
        await su.close()
    report = (await signed.get("/audit/verify")).json()
    assert report["ok"] is False
    [problem] = [p for p in report["kafka"]["problems"] if f"{chain['topic']}[{chain['partition']}]" in p]
    assert "are missing" in problem
