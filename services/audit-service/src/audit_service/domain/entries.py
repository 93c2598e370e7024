"""Trail entries: the canonical bytes of one Kafka record, and the index fields derived from them.

The canonical entry is a JSON document (canonical JSON from `dcp_events.canonical`) holding the record's
coordinates, timestamp, key, headers, and the event itself. Its rules depend only on strict JSON and the
canonical encoding, never on the event catalogue, so a replay with a newer catalogue hashes the same.
A record that is not strict JSON (or has no value) is kept as raw bytes: nothing is ever dropped.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from audit_service.domain.commitments import Openings, SaltDeriver, commit, seal
from audit_service.domain.masking import is_personal, may_hold_personal
from dcp_events.canonical import loads_strict, to_canonical_bytes
from dcp_events.errors import CanonicalEncodingError, EventDecodeError

ENTRY_FORMAT: Final = 2
"""2: personal fields are committed to (`commitments`), their openings kept beside the entry."""


class EntryKind:
    JSON = "json"  # a JSON object (a CloudEvent, or JSON that is not a valid one)
    RAW = "raw"  # bytes that are not strict JSON: kept base64-encoded
    EMPTY = "empty"  # no value (tombstone)


@dataclass(frozen=True)
class RecordFacts:
    """What Kafka delivered, with the topic named without the deployment prefix."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def canonical_entry(record: RecordFacts, salts: SaltDeriver | None = None) -> bytes:
    """The canonical bytes of the entry for `record` (what the chain hashes)."""
    return build_entry(record, salts)[0]


def build_entry(
    record: RecordFacts, salts: SaltDeriver | None = None
) -> tuple[bytes, dict[str, Any], Openings]:
    """The entry document of `record`, its canonical bytes and the openings of its committed fields.
    Without `salts` nothing is committed (format 1 entries)."""
    salt = salts.for_record(record.topic, record.partition, record.offset) if salts is not None else None
    doc = _document(record, parse=True)
    try:
        return _finished(doc, salt, record.value or b"")
    except (CanonicalEncodingError, RecursionError):  # JSON that canonical JSON cannot hold: kept raw
        return _finished(_document(record, parse=False), salt, record.value or b"")


def _finished(
    doc: dict[str, Any], salt: Callable[[str], bytes] | None, raw: bytes
) -> tuple[bytes, dict[str, Any], Openings]:
    openings: Openings = {}
    if salt is not None:
        doc, openings = _sealed(doc, salt, raw)
    return to_canonical_bytes(doc), doc, openings


def _sealed(doc: dict[str, Any], salt: Callable[[str], bytes], raw: bytes) -> tuple[dict[str, Any], Openings]:
    """The document (changed in place: it is the ingest's own) with its personal fields committed."""
    openings: Openings = {}
    doc["format"] = ENTRY_FORMAT
    for i, header in enumerate(doc["headers"]):
        if is_personal(None, base64.b64decode(header[1]).decode("utf-8", errors="replace")):
            doc["headers"][i] = [header[0], commit(header[1], salt, f"/headers/{i}/1", openings)]
    kind = doc["kind"]
    if kind == EntryKind.JSON:
        if isinstance(doc["event"].get("data"), dict | list) and may_hold_personal(raw):
            seal(doc["event"]["data"], salt, "/event/data", openings=openings)
    elif kind == EntryKind.RAW and is_personal(
        None, base64.b64decode(doc["raw"]).decode("utf-8", errors="replace")
    ):
        doc["raw"] = commit(doc["raw"], salt, "/raw", openings)
    return doc, openings


def _document(record: RecordFacts, *, parse: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "format": 1,
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp_ms": record.timestamp_ms,
        "key": None if record.key is None else _b64(record.key),
        "headers": [[name, _b64(value or b"")] for name, value in record.headers],
    }
    value = record.value
    if value is None:
        doc["kind"] = EntryKind.EMPTY
        return doc
    doc["value_sha256"] = hashlib.sha256(value).hexdigest()
    if parse:
        try:
            parsed = loads_strict(value)
            if isinstance(parsed, dict):
                doc["kind"] = EntryKind.JSON
                doc["event"] = parsed
                return doc
        except (EventDecodeError, CanonicalEncodingError, RecursionError):
            pass
    doc["kind"] = EntryKind.RAW
    doc["raw"] = _b64(value)
    return doc


def parse_entry(entry: bytes) -> dict[str, Any]:
    """The entry document back from its canonical bytes."""
    doc = json.loads(entry)
    if not isinstance(doc, dict):
        raise ValueError("an entry is a JSON object")
    return doc


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class EntryIndex:
    """Columns kept next to the entry bytes for queries; always re-derivable from the bytes."""

    topic: str
    partition: int
    offset: int
    kind: str
    event_id: str | None
    event_type: str | None
    case_id: str | None
    actor: str | None
    actor_role: str | None
    event_time: datetime | None
    kafka_time: datetime


def index_of(doc: dict[str, Any]) -> EntryIndex:
    """The query columns of an entry document (CloudEvent attributes where present, else the key)."""
    event = doc.get("event") if isinstance(doc.get("event"), dict) else {}
    assert isinstance(event, dict)
    key_text: str | None = None
    if isinstance(doc.get("key"), str):
        try:
            key_text = base64.b64decode(doc["key"]).decode("utf-8") or None
        except (ValueError, UnicodeDecodeError):
            key_text = None
    return EntryIndex(
        topic=str(doc["topic"]),
        partition=int(doc["partition"]),
        offset=int(doc["offset"]),
        kind=str(doc["kind"]),
        event_id=_text(event.get("id")),
        event_type=_text(event.get("type")),
        case_id=_text(event.get("subject")) or key_text,
        actor=_text(event.get("actor")),
        actor_role=_text(event.get("actorrole")),
        event_time=_time(event.get("time")),
        kafka_time=datetime.fromtimestamp(int(doc["timestamp_ms"]) / 1000, tz=UTC),
    )


def header_text(doc: dict[str, Any], name: str) -> str | None:
    """A header of the entry as UTF-8 text (e.g. `dlq.error` on dead letters), or None."""
    for header_name, value in doc.get("headers", []):
        if header_name == name:
            try:
                return base64.b64decode(value).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                return None
    return None
