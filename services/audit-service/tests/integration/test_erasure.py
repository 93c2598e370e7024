"""Erasure in the trail: an ErasureCompleted destroys the case's data key. No response shows the case's
personal data any more, to any role, and the trail still verifies, online and offline; a rebuild from
Kafka gives the same chain heads and erases again."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit_service.main import cli
from dcp_devstack.testing import eventually
from dcp_events.catalogue import ContactAttempted, ErasureCompleted
from dcp_events.catalogue.enums import Channel, ContactOutcome, ContactParty
from dcp_events.catalogue.examples import EXAMPLES

from .conftest import ADMIN, AuditUnderTest, commitment_key, drop_database, new_database
from .test_tamper import T0

pytestmark = pytest.mark.integration

ERASED, KEPT = "case-erase-me", "case-keep-me"
PHONE, EMAIL, NAME = "+447700900123", "sian@example.org", "Siân Ní Bhriain"


def call(n: int) -> ContactAttempted:
    return ContactAttempted(
        attempt_id=f"att-erase-{n}",
        channel=Channel.PHONE,
        party=ContactParty.DEBTOR,
        collector_id="usr-alice",
        agency_id=None,
        outcome=ContactOutcome.NO_ANSWER,
        duration_seconds=0,
        recording_ref=None,
        contact_point=PHONE,
    )


def erasure() -> ErasureCompleted:
    return ErasureCompleted(
        debtor_id="dbt-7781",
        trigger="request",
        reason="asked to be forgotten",
        legal_basis="UK GDPR Art. 17(1)(a)",
    )


def shows_personal_data(text: str) -> bool:
    return (
        PHONE in text
        or EMAIL in text
        or NAME in text
        or "+44*******123" in text
        or "s***@example.org" in text
    )


async def test_an_erased_case_shows_no_personal_data_and_the_trail_still_verifies(
    audit: AuditUnderTest, tmp_path: Path, database_server_url: str
) -> None:
    opened = EXAMPLES["collections.case.opened.v1"]
    for case in (ERASED, KEPT):
        await audit.publish(opened, case, T0)
        await audit.publish(call(1 if case == ERASED else 2), case, T0 + timedelta(minutes=1))
    await audit.wait_for_entries(4)
    before = (await audit.get(f"/audit/cases/{ERASED}/trail", headers=ADMIN)).text
    assert PHONE in before and NAME in before

    await audit.publish(erasure(), ERASED, T0 + timedelta(minutes=2))
    await audit.publish(call(3), ERASED, T0 + timedelta(minutes=3))  # after the erasure: kept without it
    await audit.wait_for_entries(6)

    for headers in (ADMIN, {}):
        trail = (
            await audit.get(f"/audit/cases/{ERASED}/trail", **({"headers": headers} if headers else {}))
        ).json()
        text = json.dumps(trail, ensure_ascii=False)
        assert not shows_personal_data(text), text[:2000]
        assert all(item["erased"] for item in trail["items"])
        assert "[erased]" in text
    kept = (await audit.get(f"/audit/cases/{KEPT}/trail", headers=ADMIN)).text
    assert PHONE in kept and NAME in kept  # another case of the same example debtor is untouched
    export = (await audit.get("/audit/export", headers=ADMIN)).text
    erased_lines = [json.loads(line) for line in export.splitlines() if f'"{ERASED}"' in line]
    assert erased_lines and all("openings" not in line for line in erased_lines)
    assert not any(shows_personal_data(json.dumps(line, ensure_ascii=False)) for line in erased_lines)

    # the chains hold commitments only: they verify as before, online and offline
    assert (await audit.client.post("/audit/checkpoints", headers=ADMIN)).status_code == 201
    report = (await audit.get("/audit/verify")).json()
    assert report["ok"], report
    (tmp_path / "export.jsonl").write_text(export)
    (tmp_path / "checkpoints.json").write_text((await audit.get("/audit/checkpoints")).text)
    (tmp_path / "key.pem").write_text((await audit.get("/audit/public-key")).json()["public_key_pem"])
    files = [str(tmp_path / n) for n in ("export.jsonl", "checkpoints.json", "key.pem")]
    offline = CliRunner().invoke(cli, ["verify", "trail", *files])
    assert offline.exit_code == 0 and "OK: complete and untampered" in offline.output, offline.output

    # a rebuild from Kafka: the same chain heads, and the erasure applied again
    original = {f"{c['topic']}[{c['partition']}]": (c["entries"], c["head_hash"]) for c in report["chains"]}
    target = await new_database(database_server_url)
    try:
        env = {
            "KAFKA_TOPIC_PREFIX": audit.prefix,
            "KAFKA_BOOTSTRAP_SERVERS": audit.bootstrap,
            "AUDIT_COMMITMENT_KEY": commitment_key(audit.signing_key),
        }
        result = await asyncio.to_thread(
            CliRunner().invoke, cli, ["rebuild", "--database-url", target], env=env
        )
        assert result.exit_code == 0, result.output
        rebuilt = json.loads(result.output[result.output.index("{") :])["chains"]
        assert {k: (v["size"], v["head_hash"]) for k, v in rebuilt.items()} == original
        import asyncpg

        su = await asyncpg.connect(target)
        try:
            erased = await su.fetchval(
                "SELECT erased_at IS NOT NULL AND wrapped_key IS NULL FROM audit_case_keys "
                "WHERE case_id = $1",
                ERASED,
            )
            kept_key = await su.fetchval(
                "SELECT wrapped_key IS NOT NULL FROM audit_case_keys WHERE case_id = $1", KEPT
            )
        finally:
            await su.close()
        assert erased and kept_key
    finally:
        await drop_database(database_server_url, target)


async def test_a_case_key_from_a_transaction_that_rolled_back_is_never_used(database_server_url: str) -> None:
    """An ingest batch the database refused: the key it created is not kept; the next batch creates
    and stores one (openings under a key the database never kept could never be read)."""
    import os

    import asyncpg

    from audit_service.adapters.case_keys import CaseKeys, MasterKeys

    from .conftest import migrate

    url = await new_database(database_server_url, "t_audit_keys")
    try:
        await migrate(url)
        keys = CaseKeys(MasterKeys([("k1", os.urandom(32))]))
        conn = await asyncpg.connect(url)
        try:
            created: set[str] = set()
            with pytest.raises(RuntimeError):
                async with conn.transaction():
                    await keys.for_writing(conn, {"case-rolled-back"}, created)
                    raise RuntimeError("the batch failed")
            assert created == {"case-rolled-back"}
            keys.forget_all(created)
            async with conn.transaction():
                again = await keys.for_writing(conn, {"case-rolled-back"}, set())
            stored = await conn.fetchval(
                "SELECT count(*) FROM audit_case_keys WHERE case_id = 'case-rolled-back'"
            )
        finally:
            await conn.close()
        assert stored == 1 and again["case-rolled-back"] is not None
    finally:
        await drop_database(database_server_url, url)


async def test_an_opening_changed_in_the_database_is_never_shown_as_the_value(audit: AuditUnderTest) -> None:
    """The openings beside an entry are not hashed: one written into the database (as plaintext, the
    form of old rows) that does not match its commitment stays committed in every view."""
    case = "case-forged-opening"
    await audit.publish(call(7), case, T0 + timedelta(minutes=7))
    su = await audit.superuser()
    try:

        async def recorded() -> int | None:
            found: int | None = await su.fetchval("SELECT id FROM audit_entries WHERE case_id = $1", case)
            return found

        entry_id = await eventually(recorded, "the attempt to be in the trail")
        real = await audit.get(f"/audit/entries/{entry_id}", headers=ADMIN)
        assert PHONE in real.text
        pointer = "/event/data/contact_point"
        await su.execute("ALTER TABLE audit_entries DISABLE TRIGGER USER")
        try:
            await su.execute(
                "UPDATE audit_entries SET openings = convert_to($1, 'UTF8') WHERE id = $2",
                json.dumps({pointer: "+15550001111"}),
                entry_id,
            )
        finally:
            await su.execute("ALTER TABLE audit_entries ENABLE TRIGGER USER")
    finally:
        await su.close()
    shown = (await audit.get(f"/audit/entries/{entry_id}", headers=ADMIN)).text
    assert "+15550001111" not in shown and PHONE not in shown
