"""Personal data in an entry is committed to, not hashed in the clear: each personal field's value is
replaced by a salted SHA-256 commitment, and the value with its salt (the opening) is kept beside the
entry. The chain hashes the committed entry, so an export without the openings (what a role that may not
see personal data gets) still rehashes completely, and one with them proves every opened value.

What is personal is the masking policy's (`masking.is_personal`): names, national ids, phone numbers,
e-mail and postal addresses, contact points, and any text holding a phone number or e-mail address.
Salts are derived (HMAC-SHA256 under the service's commitment key) from the record's coordinates and
the field's path, so a rebuild from Kafka commits identically and the chain heads come out the same;
without the key nobody can test a guessed value against a commitment.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any, Final

from audit_service.domain.masking import is_personal
from dcp_events.canonical import to_canonical_bytes

COMMITMENT: Final = "$pii"
"""A committed field is the object {"$pii": "<hex SHA-256 of salt || canonical JSON of the value>"}."""

Openings = dict[str, list[Any]]
"""JSON pointer of a committed field -> [salt (base64), value]."""


def commitment(salt: bytes, value: Any) -> str:
    return hashlib.sha256(salt + to_canonical_bytes(value)).hexdigest()


def is_commitment(node: object) -> bool:
    return isinstance(node, dict) and len(node) == 1 and COMMITMENT in node


class SaltDeriver:
    """Salts from the commitment key; never renders the key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "SaltDeriver(***)"

    def for_record(self, topic: str, partition: int, offset: int) -> Callable[[str], bytes]:
        prefix = f"{topic}/{partition}/{offset}".encode()
        return lambda path: hmac.new(self._key, prefix + path.encode(), hashlib.sha256).digest()[:16]


def _pointer_part(part: str | int) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def seal(
    node: Any, salt: Callable[[str], bytes], path: str = "", key: str | None = None
) -> tuple[Any, Openings]:
    """`node` with each personal value replaced by its commitment, and the openings."""
    openings: Openings = {}

    def walk(value: Any, here: str, name: str | None) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, f"{here}/{_pointer_part(k)}", k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, f"{here}/{i}", name) for i, v in enumerate(value)]
        if isinstance(value, str) and is_personal(name, value):
            return commit(value, salt, here, openings)
        return value

    return walk(node, path, key), openings


def commit(value: Any, salt: Callable[[str], bytes], path: str, openings: Openings) -> dict[str, str]:
    """The commitment to `value` at `path` (whatever it holds), its opening added to `openings`."""
    s = salt(path)
    openings[path] = [base64.b64encode(s).decode("ascii"), value]
    return {COMMITMENT: commitment(s, value)}


def unseal(node: Any, openings: Openings, path: str = "") -> Any:
    """`node` with every commitment that has an opening replaced by the value (others stay committed)."""

    def walk(value: Any, here: str) -> Any:
        if is_commitment(value):
            opened = openings.get(here)
            return opened[1] if opened is not None else value
        if isinstance(value, dict):
            return {k: walk(v, f"{here}/{_pointer_part(k)}") for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, f"{here}/{i}") for i, v in enumerate(value)]
        return value

    return walk(node, path)


def commitments_in(node: Any, path: str = "") -> dict[str, str]:
    """JSON pointer -> commitment hex of every committed field."""
    found: dict[str, str] = {}

    def walk(value: Any, here: str) -> None:
        if is_commitment(value):
            found[here] = str(value[COMMITMENT])
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{here}/{_pointer_part(k)}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{here}/{i}")

    walk(node, path)
    return found


def opening_problems(doc: dict[str, Any], openings: Openings) -> list[str]:
    """Each opening must open a commitment of the entry (the value and salt hash to it)."""
    committed = commitments_in(doc)
    problems = []
    for pointer, (salt, value) in sorted(openings.items()):
        expected = committed.get(pointer)
        if expected is None:
            problems.append(f"an opening for {pointer}, where the entry commits to nothing")
        elif commitment(base64.b64decode(salt), value) != expected:
            problems.append(f"the value given for {pointer} is not the one the entry committed to")
    return problems


def encode_openings(openings: Openings) -> bytes | None:
    return json.dumps(openings, sort_keys=True, ensure_ascii=False).encode() if openings else None


def decode_openings(raw: bytes | None) -> Openings:
    if not raw:
        return {}
    parsed = json.loads(raw)
    return parsed if isinstance(parsed, dict) else {}
