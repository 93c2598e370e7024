"""A candidate rule pack replayed over the trail before it is released: every contact of the window in
its jurisdiction decided again twice, with the version it was decided under and with the candidate,
and the difference reported (contacts it would have refused, by rule, and those it would have let
through that the version in force refuses).

First order: each contact is judged against the history as it happened (a contact the candidate
would have refused still counts towards the caps of the ones after it), which is what a manager
asks of a stricter pack: which of the contacts we made would it have stopped."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from audit_service.adapters import trail
from audit_service.adapters.case_keys import CaseKeys
from audit_service.application.findings import FINDING_TOPICS
from dcp_compliance import ComplianceReplay, PackError, RulePack, pack_from_document
from dcp_compliance.packs import RULE_PACK_POLICY_PREFIX
from dcp_events import EventError, decode_event
from dcp_events.canonical import to_canonical_bytes
from dcp_platform.errors import DomainError, ErrorKind
from dcp_platform.sealing import SEALED_ATTRIBUTE, DataKeyVault, open_document

POLICIES_TOPIC = "collections.policies"
MAX_LISTED = 200


class UnknownCandidate(DomainError, code="unknown-policy-version", kind=ErrorKind.NOT_FOUND):
    """The trail holds no proposed version of that rule pack."""


async def candidate_pack(
    pool: asyncpg.Pool, name: str, version: int, keys: CaseKeys | None = None
) -> RulePack:
    """The rule pack version `version` of policy `name`, as its PolicyVersionProposed put it in the trail."""
    if not name.startswith(RULE_PACK_POLICY_PREFIX):
        raise UnknownCandidate(f"{name} is not a rule pack (rule-pack-<JURISDICTION>)")
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        async for row in trail.stream_in_event_time(conn, [POLICIES_TOPIC], name):
            event = row.opened(keys).get("event")
            if not isinstance(event, dict) or not str(event.get("type", "")).startswith(
                "collections.policy.version_proposed."
            ):
                continue
            data = event.get("data") or {}
            if data.get("name") == name and data.get("policy_version") == version:
                try:
                    return pack_from_document(json.loads(str(data["document"])))
                except (PackError, ValueError, KeyError) as exc:
                    raise UnknownCandidate(
                        f"{name} version {version} in the trail is not a pack: {exc}"
                    ) from exc
    raise UnknownCandidate(f"the trail holds no proposed version {version} of {name}")


@dataclass
class _Change:
    case_id: str
    entry_id: int
    occurred_at: datetime
    rule_id: str | None
    citation: str | None
    reason: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "entry_id": self.entry_id,
            "occurred_at": self.occurred_at.isoformat(),
            "rule_id": self.rule_id,
            "citation": self.citation,
            "reason": self.reason,
        }


async def simulate_pack(
    pool: asyncpg.Pool,
    name: str,
    version: int,
    pack: RulePack,
    start: datetime,
    end: datetime,
    keys: CaseKeys | None = None,
    vault: DataKeyVault | None = None,
) -> dict[str, Any]:
    in_force = ComplianceReplay()
    candidate = ComplianceReplay(candidates={pack.jurisdiction: pack})
    rechecked = 0
    refused_now: list[_Change] = []
    allowed_now: list[_Change] = []
    by_rule: Counter[str] = Counter()
    released_by_rule: Counter[str] = Counter()
    versions: Counter[str] = Counter()
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        async for row in trail.stream_in_event_time(conn, list(FINDING_TOPICS)):
            try:
                doc = row.opened(keys)["event"]
                if vault is not None and not row.erased and isinstance(doc.get(SEALED_ATTRIBUTE), str):
                    doc = open_document(doc, await vault.keys([str(doc.get("subject"))], create=False))
                event = decode_event(to_canonical_bytes(doc))
                before = in_force.judge(event).decision
                after = candidate.judge(event).decision
            except (EventError, ValueError):
                continue
            if before is None or after is None or before.jurisdiction != pack.jurisdiction:
                continue
            if not start <= event.time < end:
                continue
            rechecked += 1
            versions[before.pack_version] += 1
            if before.allowed and not after.allowed:
                by_rule[after.rule_id or ""] += 1
                refused_now.append(
                    _Change(event.subject, row.id, event.time, after.rule_id, after.citation, after.reason)
                )
            elif not before.allowed and after.allowed:
                released_by_rule[before.rule_id or ""] += 1
                allowed_now.append(
                    _Change(event.subject, row.id, event.time, before.rule_id, before.citation, before.reason)
                )
    return {
        "simulation_id": f"sim-{uuid.uuid4()}",
        "policy": name,
        "candidate_version": version,
        "candidate_pack_version": pack.version,
        "jurisdiction": pack.jurisdiction,
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "contacts_rechecked": rechecked,
        "decided_before_under": dict(versions),
        "would_refuse": len(refused_now),
        "would_refuse_by_rule": dict(by_rule),
        "would_allow": len(allowed_now),
        "would_allow_by_rule": dict(released_by_rule),
        "refused_contacts": [c.to_json() for c in refused_now[:MAX_LISTED]],
        "allowed_contacts": [c.to_json() for c in allowed_now[:MAX_LISTED]],
        "listed_at_most": MAX_LISTED,
        "method": "each contact of the window decided again with the version it was decided under and "
        "with the candidate, against the history as it happened",
    }
