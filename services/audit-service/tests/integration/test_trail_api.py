"""Ingest of every event type (and dead letters, and bytes that are not events) through the auditor API,
checkpoints, inclusion proofs, exports, the standalone verifier and the rebuild."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit_service.domain.checkpoints import load_public_key
from audit_service.domain.proofs import check_proof
from audit_service.main import cli
from dcp_devstack.testing import eventually
from dcp_events.catalogue.examples import EXAMPLE_CASE_ID, EXAMPLE_TIME, EXAMPLES
from dcp_platform.auth import Role

from .conftest import ADMIN, AUDITOR, AuditUnderTest, commitment_key, drop_database, new_database, token

pytestmark = pytest.mark.integration

CASE = EXAMPLE_CASE_ID


ERASED_CASE = "case-erased-elsewhere"


@pytest.fixture(scope="module")
async def fed(audit: AuditUnderTest) -> AuditUnderTest:
    """Every catalogue type once, in time order, plus a dead letter and a record that is not an event."""
    for i, (type_name, payload) in enumerate(sorted(EXAMPLES.items())):
        actor = "usr-bob" if type_name.startswith("collections.payment.") else "usr-alice"
        # the erasure of another case: this one's personal data stays readable for the tests below
        case = ERASED_CASE if type_name.startswith("collections.case.erasure_completed.") else CASE
        await audit.publish(
            payload, case, EXAMPLE_TIME + timedelta(minutes=i), actor=actor, jurisdiction="GB"
        )
    await audit.publish_raw(
        "collections.cases.dlq",
        b"\xffnot json at all",
        key=CASE.encode(),
        headers=[("dlq.error", b"cannot decode CloudEvent"), ("dlq.original.topic", b"collections.cases")],
    )
    await audit.publish_raw("integration.placements", b'{"hello":"not a cloudevent"}', key=b"k-1")
    await audit.wait_for_entries(len(EXAMPLES) + 2)
    return audit


async def test_every_event_type_and_dead_letter_is_recorded(fed: AuditUnderTest) -> None:
    response = await fed.get("/audit/entries", limit=1000)
    assert response.status_code == 200
    items = response.json()["items"]
    assert {i["type"] for i in items if i["type"]} == set(EXAMPLES)
    assert len(items) == len(EXAMPLES) + 2
    dead = next(i for i in items if i["topic"] == "collections.cases.dlq")
    assert dead["kind"] == "raw" and dead["dead_letter"]["error"] == "cannot decode CloudEvent"
    assert (
        next(i for i in items if i["topic"] == "integration.placements" and i["type"] is None)["kind"]
        == "json"
    )
    # Entry order inside a chain is the partition's offset order.
    for topic, partition in {(i["topic"], i["partition"]) for i in items}:
        chain = sorted(
            (i for i in items if (i["topic"], i["partition"]) == (topic, partition)), key=lambda i: i["seq"]
        )
        assert [i["offset"] for i in chain] == sorted(i["offset"] for i in chain)
        assert [i["seq"] for i in chain] == list(range(len(chain)))


async def test_the_ingest_group_reports_its_lag_as_every_consumer_group_does(fed: AuditUnderTest) -> None:
    sample = f'dcp_consumer_lag{{consumer_group="{fed.prefix}audit-service.trail",partition="'

    async def reported() -> bool:
        return sample in (await fed.client.get("/metrics")).text

    await eventually(reported, 30, "the audit group's lag on /metrics")


async def test_only_auditors_and_admins_get_in(fed: AuditUnderTest) -> None:
    for role in (Role.COLLECTOR, Role.SUPERVISOR, Role.INTEGRATION):
        for path in (
            "/audit/entries",
            f"/audit/cases/{CASE}/trail",
            "/audit/verify",
            "/audit/findings",
            "/audit/export",
            "/audit/checkpoints",
        ):
            assert (await fed.get(path, headers=token(role))).status_code == 403, (role, path)
    assert (await fed.client.get("/audit/entries")).status_code == 401
    assert (await fed.client.post("/audit/checkpoints", headers=token(Role.COLLECTOR))).status_code == 403
    assert (await fed.client.post("/audit/checkpoints", headers=AUDITOR)).status_code == 403  # auditors read
    assert (await fed.get("/audit/entries", headers=ADMIN)).status_code == 200


async def test_an_auditor_of_one_creditor_reads_only_that_creditors_cases(fed: AuditUnderTest) -> None:
    """The example case is creditor `acme-bank`'s (its CaseOpened's account)."""
    ours, theirs = token(Role.AUDITOR, creditors=["acme-bank"]), token(Role.AUDITOR, creditors=["other-bank"])
    mine = (await fed.get("/audit/entries", headers=ours, limit=1000)).json()["items"]
    assert mine and {e["case_id"] for e in mine} == {CASE}  # no other case's, no entry without a case
    assert (await fed.get("/audit/entries", headers=theirs)).json()["items"] == []
    assert (await fed.get(f"/audit/cases/{CASE}/trail", headers=ours)).status_code == 200
    assert (await fed.get(f"/audit/cases/{CASE}/trail", headers=theirs)).status_code == 404
    assert (await fed.get(f"/audit/entries/{mine[0]['id']}", headers=theirs)).status_code == 404
    exported = (await fed.get("/audit/export", headers=theirs)).text
    assert exported.strip() == "" and CASE not in exported
    assert (await fed.get("/audit/findings", headers=theirs)).status_code == 403  # by case only
    assert (await fed.get("/audit/findings", headers=theirs, case_id=CASE)).status_code == 404
    assert (await fed.get("/audit/findings", headers=ours, case_id=CASE)).status_code == 200
    # verification and checkpoints span every creditor's chains: platform-wide auditors only
    for path in ("/audit/verify", "/audit/checkpoints", "/audit/reconciliation"):
        assert (await fed.get(path, headers=ours)).status_code == 403, path


async def test_case_trail_is_in_time_order_with_actor_and_decision_evidence(fed: AuditUnderTest) -> None:
    body = (await fed.get(f"/audit/cases/{CASE}/trail")).json()
    items = body["items"]
    assert len(items) == len(
        EXAMPLES
    )  # every event of the case (all but the other case's erasure), its dead letter
    times = [i["time"] or i["kafka_time"] for i in items]
    assert times == sorted(times)
    blocked = next(i for i in items if i["type"] == "collections.contact.blocked.v1")
    assert blocked["decision"]["rule_id"] == "us.regf.call-frequency"
    assert blocked["decision"]["rule_pack_version"] == "2026.1"
    assert {i["actor"] for i in items if i["type"]} == {"usr-alice", "usr-bob"}
    page = (await fed.get(f"/audit/cases/{CASE}/trail", limit=5)).json()
    second = (await fed.get(f"/audit/cases/{CASE}/trail", limit=5, cursor=page["next_cursor"])).json()
    assert [i["id"] for i in page["items"] + second["items"]] == [i["id"] for i in items[:10]]


async def test_entries_filter_by_actor_type_time_and_paginate(fed: AuditUnderTest) -> None:
    bob = (await fed.get("/audit/entries", actor="usr-bob")).json()["items"]
    assert bob and all(i["actor"] == "usr-bob" for i in bob)
    attempted = (await fed.get("/audit/entries", type="collections.contact.attempted")).json()["items"]
    assert {i["type"] for i in attempted} == {
        "collections.contact.attempted.v1",
        "collections.contact.attempted.v2",
    }
    exact = (await fed.get("/audit/entries", type="collections.contact.attempted.v2")).json()["items"]
    assert len(exact) == 1
    start = (EXAMPLE_TIME + timedelta(minutes=3)).isoformat()
    end = (EXAMPLE_TIME + timedelta(minutes=6)).isoformat()
    window = (await fed.get("/audit/entries", case_id=CASE, **{"from": start, "to": end})).json()["items"]
    assert len(window) == 3
    seen: list[int] = []
    cursor = None
    while True:
        page = (await fed.get("/audit/entries", limit=7, **({"cursor": cursor} if cursor else {}))).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == len(EXAMPLES) + 2


async def test_personal_data_is_masked_unless_the_role_may_see_it(fed: AuditUnderTest) -> None:
    opened = (await fed.get("/audit/entries", type="collections.case.opened")).json()["items"][0]
    as_admin = (await fed.get(f"/audit/entries/{opened['id']}", headers=ADMIN)).json()
    text = json.dumps(opened)
    assert "+447700900123" not in text and "sian@example.org" not in text and "+44*******123" in text
    assert "+447700900123" in json.dumps(as_admin) and "sian@example.org" in json.dumps(as_admin)
    export = (await fed.get("/audit/export", format="jsonl")).text
    assert "+447700900123" not in export and "sian@example.org" not in export


async def test_checkpoint_proof_export_and_standalone_verifier(fed: AuditUnderTest, tmp_path: Path) -> None:
    created = await fed.client.post("/audit/checkpoints", headers=ADMIN)
    assert created.status_code == 201
    assert created.json()["signed"]["tree_size"] == len(EXAMPLES) + 2
    assert (await fed.client.post("/audit/checkpoints", headers=ADMIN)).status_code == 200  # nothing new

    verify = (await fed.get("/audit/verify")).json()
    assert verify["ok"] and verify["unsigned_entries"] == 0 and verify["entries"] == len(EXAMPLES) + 2

    key = (await fed.get("/audit/public-key")).json()
    entry = (await fed.get("/audit/entries", type="collections.contact.attempted.v2")).json()["items"][0]
    proof = (await fed.get(f"/audit/entries/{entry['id']}/proof")).json()
    assert check_proof(proof, load_public_key(key["public_key_pem"])) == []

    (tmp_path / "key.pem").write_text(key["public_key_pem"])
    (tmp_path / "checkpoints.json").write_text((await fed.get("/audit/checkpoints")).text)
    (tmp_path / "proof.json").write_text(json.dumps(proof))
    (tmp_path / "full.jsonl").write_text((await fed.get("/audit/export", headers=ADMIN, format="jsonl")).text)
    (tmp_path / "masked.jsonl").write_text((await fed.get("/audit/export", format="jsonl")).text)
    runner = CliRunner()
    files = [str(tmp_path / "checkpoints.json"), str(tmp_path / "key.pem")]
    full = runner.invoke(cli, ["verify", "trail", str(tmp_path / "full.jsonl"), *files])
    assert full.exit_code == 0, full.output
    assert "OK: complete and untampered" in full.output
    assert "personal-data fields opened and checked against their commitments" in full.output
    # the export for a role that may not see personal data holds none, and still verifies completely
    masked_text = (tmp_path / "masked.jsonl").read_text()
    assert "+447700900123" not in masked_text and "sian@example.org" not in masked_text
    masked = runner.invoke(cli, ["verify", "trail", str(tmp_path / "masked.jsonl"), *files])
    assert masked.exit_code == 0 and "OK: complete and untampered" in masked.output, masked.output
    assert "committed to, not opened" in masked.output
    # a personal value changed in the full export no longer opens its commitment
    (tmp_path / "altered.jsonl").write_text(
        (tmp_path / "full.jsonl").read_text().replace("+447700900123", "+447700900999")
    )
    altered = runner.invoke(cli, ["verify", "trail", str(tmp_path / "altered.jsonl"), *files])
    assert altered.exit_code == 1 and "personal data altered" in altered.output, altered.output
    proven = runner.invoke(cli, ["verify", "proof", str(tmp_path / "proof.json"), str(tmp_path / "key.pem")])
    assert proven.exit_code == 0, proven.output
    # An export missing an entry is incomplete.
    lines = (tmp_path / "full.jsonl").read_text().splitlines()
    (tmp_path / "short.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    short = runner.invoke(cli, ["verify", "trail", str(tmp_path / "short.jsonl"), *files])
    assert short.exit_code == 1 and "missing" in short.output

    rows = list(csv.reader(io.StringIO((await fed.get("/audit/export", format="csv")).text)))
    assert rows[0][:4] == ["id", "topic", "partition", "offset"] and len(rows) == len(EXAMPLES) + 3


async def test_rebuild_into_an_empty_database_gives_identical_chain_heads(
    fed: AuditUnderTest, database_server_url: str
) -> None:
    verify = (await fed.get("/audit/verify")).json()
    original = {f"{c['topic']}[{c['partition']}]": (c["entries"], c["head_hash"]) for c in verify["chains"]}
    target = await new_database(database_server_url)
    try:
        env = {
            "KAFKA_TOPIC_PREFIX": fed.prefix,
            "KAFKA_BOOTSTRAP_SERVERS": fed.bootstrap,
            "AUDIT_COMMITMENT_KEY": commitment_key(fed.signing_key),
        }
        result = await asyncio.to_thread(
            CliRunner().invoke, cli, ["rebuild", "--database-url", target], env=env
        )
        assert result.exit_code == 0, result.output
        rebuilt = json.loads(result.output[result.output.index("{") :])["chains"]
        assert {k: (v["size"], v["head_hash"]) for k, v in rebuilt.items()} == original
        again = await asyncio.to_thread(
            CliRunner().invoke, cli, ["rebuild", "--database-url", target], env=env
        )
        assert again.exit_code != 0  # never into a trail that is not empty
    finally:
        await drop_database(database_server_url, target)


async def test_an_auditor_unmasks_a_cases_trail_with_a_reason_and_the_disclosure_joins_the_trail(
    fed: AuditUnderTest,
) -> None:
    path = f"/audit/cases/{CASE}/trail"
    masked = (await fed.get(path)).text  # an auditor: outside AUDIT_PII_ROLES
    assert "+447700900123" not in masked and "+44*******123" in masked
    no_reason = await fed.get(path, unmask="true")
    assert no_reason.status_code == 422
    reason = "regulator enquiry REG-77: which number was called on the day"
    unmasked = await fed.get(path, unmask="true", reason=reason)
    assert unmasked.status_code == 200 and "+447700900123" in unmasked.text

    async def disclosed() -> list[dict[str, object]]:
        items = (await fed.get(path, headers=ADMIN, limit=1000)).json()["items"]
        return [
            e
            for e in items
            if e["type"] == "collections.case.personal_data_disclosed.v1"
            and e["event"]["data"]["reason"] == reason
        ]

    [entry] = await eventually(disclosed, 30, "the disclosure in the trail")
    assert (entry["actor"], entry["actor_role"]) == ("aud-1", "auditor")
    assert entry["event"]["data"] == {"view": "GET /audit/cases/{case_id}/trail", "reason": reason}
