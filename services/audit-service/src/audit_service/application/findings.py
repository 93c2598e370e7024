"""Compliance findings from the trail alone, with the gate's own rule packs (`dcp_compliance`).

The replay (`dcp_compliance.stream.ComplianceReplay`) counts what the gate counted (contacts made, live
permits as reservations) and re-decides, with the case's facts and the debtor's history as the stream
shows them just before it and with the pack version it names: every `ContactPermitIssued`, every attempt
no permit stands for, and every contact another system reported (at the time it took place). A denial is
a finding: the rule, the pack version, and the entries that prove it. So is an attempt that does not
match its permit (kind `permit`: unknown, another channel's, used before, expired) or names none
(`contact-without-permit`), with the permit's entries as evidence. This catches an attempt published
straight to the topic, bypassing the contact gate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from audit_service.adapters import trail
from audit_service.adapters.case_keys import CaseKeys
from dcp_compliance import ComplianceReplay, Decision
from dcp_compliance.packs import UnknownJurisdiction, UnknownPackVersion, load_pack
from dcp_compliance.stream import PermitFinding
from dcp_events import CloudEvent, EventError, decode_event
from dcp_events.canonical import to_canonical_bytes
from dcp_platform.sealing import SEALED_ATTRIBUTE, DataKeyVault, open_document

FINDING_TOPICS = ("collections.cases", "collections.contacts")

# Which earlier entries of the case prove a denial, by the kind of rule that denied.
_HOLD_TYPES = (
    "collections.case.hold_placed.",
    "collections.contact.cease_requested.",
    "collections.contact.dispute_raised.",
)
_VULNERABILITY_TYPES = (
    "collections.case.vulnerability_flagged.",
    "collections.case.vulnerability_reviewed.",
)
_COUNTING_KINDS = frozenset(
    {"call_cap", "conversation_cool_down", "daily_connected_cap", "max_contacts_per_person"}
)
# The entries the gate counts as contacts: attempts, and permits (a live permit is a reservation).
_CONTACT_TYPES = ("collections.contact.attempted.", "collections.contact.permit_issued.")
_PERMIT_TYPES = (*_CONTACT_TYPES, "collections.contact.permit_expired.")


@dataclass
class Finding:
    rule_id: str
    citation: str | None
    reason: str | None
    kind: str | None
    pack_id: str
    pack_version: str
    case_id: str
    attempt_entry_id: int
    occurred_at: datetime
    local_time: str | None
    time_zone: str | None
    evidence_entry_ids: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "rule_kind": self.kind,
            "citation": self.citation,
            "reason": self.reason,
            "pack_id": self.pack_id,
            "pack_version": self.pack_version,
            "case_id": self.case_id,
            "attempt_entry_id": self.attempt_entry_id,
            "occurred_at": self.occurred_at.isoformat(),
            "local_time": self.local_time,
            "time_zone": self.time_zone,
            "evidence_entry_ids": self.evidence_entry_ids,
        }


def _rule_kind(decision: Decision) -> str | None:
    try:
        pack = load_pack(decision.jurisdiction, version=decision.pack_version)
        return pack.rule(decision.rule_id or "").kind
    except (UnknownJurisdiction, UnknownPackVersion, KeyError):
        return None


@dataclass
class _CaseEntries:
    opened: int | None = None
    holds: list[int] = field(default_factory=list)
    vulnerabilities: list[int] = field(default_factory=list)
    attempts: list[tuple[datetime, int]] = field(default_factory=list)
    permits: dict[str, list[int]] = field(default_factory=dict)  # permit id: its issue, expiry, attempts


async def compute_findings(
    pool: asyncpg.Pool,
    case_id: str | None = None,
    keys: CaseKeys | None = None,
    vault: DataKeyVault | None = None,
) -> tuple[list[Finding], int]:
    """(findings, contacts re-decided) over the trail, in event-time order; `vault` opens the personal
    data producers sealed (contact points the rules compare), the redacted data is judged without it."""
    replay = ComplianceReplay()
    cases: dict[str, _CaseEntries] = {}
    findings: list[Finding] = []
    checked = 0
    # At one and the same instant, contacts come before case and payment changes: the gate decided on
    # what it knew at that instant, and a closure or hold stamped with the same time in another
    # service cannot have been known to it (no finding for a tie; any later contact is judged).
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        async for row in trail.stream_in_event_time(conn, list(FINDING_TOPICS), case_id):
            try:
                doc = row.opened(keys)["event"]
                if vault is not None and not row.erased and isinstance(doc.get(SEALED_ATTRIBUTE), str):
                    doc = open_document(doc, await vault.keys([str(doc.get("subject"))], create=False))
                event = decode_event(to_canonical_bytes(doc))
                judgement = replay.judge(event)
            except (EventError, ValueError):
                continue  # not a valid catalogue event: recorded in the trail, not judged
            seen = cases.setdefault(event.subject, _CaseEntries())
            kind = event.type
            if kind.startswith("collections.case.opened."):
                seen.opened = row.id
            elif kind.startswith(_HOLD_TYPES):
                seen.holds.append(row.id)
            elif kind.startswith(_VULNERABILITY_TYPES):
                seen.vulnerabilities.append(row.id)
            elif kind.startswith("collections.case.charge_frozen."):
                findings.append(_frozen_charge(event, row.id, seen))
                continue
            elif kind.startswith(_PERMIT_TYPES):
                permit_id = event.data.get("permit_id") if isinstance(event.data, dict) else None
                if isinstance(permit_id, str):
                    seen.permits.setdefault(permit_id, []).append(row.id)
            decision = judgement.decision
            if decision is not None:
                checked += 1
            if decision is not None and not decision.allowed:
                rule_kind = _rule_kind(decision)
                evidence = [row.id] + ([seen.opened] if seen.opened is not None else [])
                if rule_kind == "hold":
                    evidence += seen.holds
                elif rule_kind == "vulnerability":
                    # the flag that asked for the treatment, and the contacts a lower cap counted
                    evidence += seen.vulnerabilities + [i for _, i in seen.attempts]
                elif rule_kind in _COUNTING_KINDS:
                    evidence += [i for _, i in seen.attempts]
                findings.append(
                    Finding(
                        rule_id=decision.rule_id or "",
                        citation=decision.citation,
                        reason=decision.reason,
                        kind=rule_kind,
                        pack_id=decision.pack_id,
                        pack_version=decision.pack_version,
                        case_id=event.subject,
                        attempt_entry_id=row.id,
                        occurred_at=event.time,
                        local_time=decision.local_time,
                        time_zone=decision.time_zone,
                        evidence_entry_ids=sorted(set(evidence)),
                    )
                )
            findings += [_permit_finding(found, event, row.id, seen) for found in judgement.permit_findings]
            if kind.startswith(_CONTACT_TYPES):
                seen.attempts.append((event.time, row.id))
    return findings, checked


def _permit_finding(found: PermitFinding, event: CloudEvent, entry_id: int, seen: _CaseEntries) -> Finding:
    """An attempt its permit does not stand for (or with none): the attempt, the case, and every entry
    of the permit it names (its issue, its expiry, the attempts recorded on it) prove it."""
    evidence = {
        entry_id,
        *seen.permits.get(found.permit_id or "", ()),
        *([seen.opened] if seen.opened else []),
    }
    return Finding(
        rule_id=found.rule_id,
        citation=found.citation,
        reason=found.reason,
        kind=found.kind,
        pack_id=found.pack_id,
        pack_version=found.pack_version,
        case_id=found.case_id,
        attempt_entry_id=entry_id,
        occurred_at=event.time,
        local_time=None,
        time_zone=None,
        evidence_entry_ids=sorted(evidence),
    )


def _frozen_charge(event: CloudEvent, entry_id: int, seen: _CaseEntries) -> Finding:
    """A creditor's increase that arrived while a hold froze interest and charges: not applied by
    case-service, and a finding for the creditor's conduct (the entry holds the rule and citation)."""
    data = event.data if isinstance(event.data, dict) else {}
    amount = data.get("amount") or {}
    return Finding(
        rule_id=str(data.get("rule_id") or ""),
        citation=data.get("citation"),
        reason=(
            f"an increase of {amount.get('amount_minor')} {amount.get('currency')} arrived during a "
            f"{data.get('hold_type')} hold that freezes interest and charges; it was not applied"
        ),
        kind="charges_frozen",
        pack_id="",
        pack_version="",
        case_id=str(event.subject or ""),
        attempt_entry_id=entry_id,
        occurred_at=event.time,
        local_time=None,
        time_zone=None,
        evidence_entry_ids=sorted({entry_id, *seen.holds, *([seen.opened] if seen.opened else [])}),
    )
