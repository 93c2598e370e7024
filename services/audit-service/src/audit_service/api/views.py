"""How entries look in responses and exports (personal data masked unless the caller may see it)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from audit_service.adapters.case_keys import CaseKeys
from audit_service.adapters.trail import EntryRow
from audit_service.domain.commitments import SaltDeriver, is_commitment, salted
from audit_service.domain.entries import EntryKind
from audit_service.domain.masking import mask, mask_text
from dcp_platform.sealing import SEALED_ATTRIBUTE, open_document

_DECISION_FIELDS = ("rule_id", "citation", "reason", "rule_pack_id", "rule_pack_version", "next_allowed_at")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _headers(doc: dict[str, Any], reveal: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in doc.get("headers", []):
        if not isinstance(value, str):  # a commitment nobody can open any more
            out[name] = ERASED_MARK
            continue
        raw = base64.b64decode(value)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = "base64:" + value
        out[name] = text if reveal else mask_text(text)
    return out


def decision_evidence(event: dict[str, Any]) -> dict[str, Any] | None:
    """For a refused contact: the rule, its citation and the rule pack version that decided."""
    data = event.get("data")
    if not isinstance(data, dict) or not str(event.get("type", "")).startswith(
        "collections.contact.blocked."
    ):
        return None
    return {"decision": "deny", **{k: data.get(k) for k in _DECISION_FIELDS}}


def entry_view(
    row: EntryRow,
    *,
    reveal: bool,
    keys: CaseKeys | None = None,
    data_keys: Mapping[str, bytes] | None = None,
) -> dict[str, Any]:
    """An entry as responses show it; `data_keys` (the vault's keys of the rows' cases) open the
    personal data its producer sealed, for the view only: the entry bytes keep the sealed copy."""
    doc = row.opened(keys)
    ix = row.index
    view: dict[str, Any] = {
        "id": row.id,
        "topic": row.topic,
        "partition": row.partition,
        "offset": row.offset,
        "seq": row.seq,
        "kind": ix.kind,
        "event_id": ix.event_id,
        "type": ix.event_type,
        "case_id": ix.case_id,
        "actor": ix.actor,
        "actor_role": ix.actor_role,
        "time": _iso(ix.event_time),
        "kafka_time": _iso(ix.kafka_time),
        "ingested_at": _iso(row.ingested_at),
        # a copy of an event the chain already holds at that seq (a producer re-sent it); else null
        "redelivery_of": row.redelivery_of,
        # the case's personal data was erased: its fields show as "[erased]" (the entry still verifies)
        "erased": row.erased,
        "prev_hash": row.prev_hash.hex(),
        "hash": row.hash.hex(),
        "headers": _headers(doc, reveal),
    }
    if ix.kind == EntryKind.JSON:
        event = _erased_fields(doc["event"])
        if isinstance(event, dict) and isinstance(event.get(SEALED_ATTRIBUTE), str):
            # an erased case's sealed data stays closed, also while a vault key may still be cached
            event = open_document(event, {} if row.erased else (data_keys or {}))
            view["sealed"] = True
        view["event"] = event if reveal else mask(event)
        view["decision"] = decision_evidence(view["event"])
    elif ix.kind == EntryKind.RAW:
        if not isinstance(doc["raw"], str):  # committed, and no longer openable
            view["raw"] = {"size": None, "sha256": None, "erased": True}
        else:
            view["raw"] = {"size": len(base64.b64decode(doc["raw"])), "sha256": doc.get("value_sha256")}
        if reveal and isinstance(doc["raw"], str):
            view["raw"]["base64"] = doc["raw"]
    if row.topic.endswith(".dlq"):
        view["dead_letter"] = {
            k.removeprefix("dlq."): v for k, v in view["headers"].items() if k.startswith("dlq.")
        }
    return view


def _erased_fields(node: Any) -> Any:
    """Commitments nobody can open any more (an erasure) shown as `[erased]`."""
    if is_commitment(node):
        return ERASED_MARK
    if isinstance(node, dict):
        return {k: _erased_fields(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_erased_fields(v) for v in node]
    return node


ERASED_MARK = "[erased]"


def export_line(
    row: EntryRow,
    *,
    reveal: bool,
    salts: SaltDeriver | None = None,
    keys: CaseKeys | None = None,
    data_keys: Mapping[str, bytes] | None = None,
) -> dict[str, Any]:
    """One JSON Lines record: the view, plus the entry bytes the standalone verifier rehashes, and (for
    a role that may see personal data) the openings of its committed fields, with their salts."""
    line = entry_view(row, reveal=reveal, keys=keys, data_keys=data_keys)
    # The entry bytes hold personal data only as commitments: everyone gets them, and they rehash.
    line["entry"] = base64.b64encode(row.entry).decode("ascii")
    openings = row.openings_with(keys) if reveal and row.openings else None
    if openings and salts is not None:
        salt = salts.for_record(row.topic, row.partition, row.offset)
        line["openings"] = salted(openings, salt)
    return line


CSV_COLUMNS = [
    "id",
    "topic",
    "partition",
    "offset",
    "seq",
    "kind",
    "event_id",
    "type",
    "case_id",
    "actor",
    "actor_role",
    "time",
    "kafka_time",
    "redelivery_of",
    "prev_hash",
    "hash",
    "data",
]


def csv_row(
    row: EntryRow,
    *,
    reveal: bool,
    keys: CaseKeys | None = None,
    data_keys: Mapping[str, bytes] | None = None,
) -> list[str]:
    view = entry_view(row, reveal=reveal, keys=keys, data_keys=data_keys)
    event = view.get("event")
    data = event.get("data") if isinstance(event, dict) else view.get("raw")
    values = {**view, "data": json.dumps(data, ensure_ascii=False, sort_keys=True)}
    return ["" if values.get(c) is None else str(values[c]) for c in CSV_COLUMNS]
