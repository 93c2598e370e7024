"""Personal data in an entry is committed to, not hashed in the clear: each personal field's value is
replaced by a salted SHA-256 commitment, and the value with its salt (the opening) is kept beside the
entry. The chain hashes the committed entry, so an export without the openings (what a role that may not
see personal data gets) still rehashes completely, and one with them proves every opened value.

What is personal is the masking policy's (`masking.is_personal`): names, national ids, phone numbers,
e-mail and postal addresses, contact points, and any text holding a phone number or e-mail address.
Salts are derived (keyed BLAKE2b under the service's commitment key) from the record's coordinates, then
the field's path, so a rebuild from Kafka commits identically and the chain heads come out the same;
without the key nobody can test a guessed value against a commitment.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any, Final

from audit_service.domain.masking import is_personal

COMMITMENT: Final = "$pii"
"""A committed field is the object {"$pii": "<base64 SHA-256 of salt || the value's UTF-8 bytes>"}."""

Openings = dict[str, str]
"""JSON pointer of a committed field -> its value: what is kept beside the entry (the salts are derived)."""

SaltedOpenings = dict[str, list[str]]
"""JSON pointer of a committed field -> [salt (base64), value]: what an export carries to be checked."""


def commitment(salt: bytes, value: str) -> str:
    """Base64 of SHA-256 of the salt then the value's UTF-8 bytes (every committed value is a string)."""
    return base64.b64encode(hashlib.sha256(salt + value.encode("utf-8")).digest()).decode("ascii")


def is_commitment(node: object) -> bool:
    return isinstance(node, dict) and len(node) == 1 and COMMITMENT in node


class SaltDeriver:
    """Salts from the commitment key; never renders the key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "SaltDeriver(***)"

    def for_record(self, topic: str, partition: int, offset: int) -> Callable[[str], bytes]:
        """The salt of each field of one record: a secret per record (keyed BLAKE2b, a PRF, of its
        coordinates) followed by the field's path and a NUL byte."""
        key, secret = self._key, b""

        def salt(path: str) -> bytes:
            nonlocal secret
            if not secret:  # most records commit nothing: derived on first use
                coordinates = f"{topic}/{partition}/{offset}".encode()
                secret = hashlib.blake2b(coordinates, key=key, digest_size=16).digest()
            return secret + path.encode() + b"\0"

        return salt


def _pointer_part(part: str | int) -> str:
    text = str(part)
    return text.replace("~", "~0").replace("/", "~1") if "~" in text or "/" in text else text


def seal(
    node: Any,
    salt: Callable[[str], bytes],
    path: str = "",
    key: str | None = None,
    *,
    openings: Openings | None = None,
) -> tuple[Any, Openings]:
    """`node` with each personal value replaced by its commitment, and the openings. Containers are
    sealed in place (the ingest hands over a freshly parsed document); a bare string is returned
    committed. One pass, paths built only where a field is committed or a container entered."""
    if openings is None:
        openings = {}
    if isinstance(node, str):
        return (commit(node, salt, path, openings) if is_personal(key, node) else node), openings
    stack: list[tuple[Any, str, str | None]] = [(node, path, key)]
    # A hot loop on the ingest path: exact type checks (JSON from the parser has no subclasses).
    while stack:
        container, at, name = stack.pop()
        if type(container) is dict:
            for k, v in container.items():
                kind = type(v)
                if kind is str:
                    if is_personal(k, v):
                        container[k] = commit(v, salt, f"{at}/{_pointer_part(k)}", openings)
                elif kind is dict or kind is list:
                    stack.append((v, f"{at}/{_pointer_part(k)}", k))
        elif type(container) is list:
            for i, v in enumerate(container):
                kind = type(v)
                if kind is str:
                    if is_personal(name, v):
                        container[i] = commit(v, salt, f"{at}/{i}", openings)
                elif kind is dict or kind is list:
                    stack.append((v, f"{at}/{i}", name))
    return node, openings


def commit(value: str, salt: Callable[[str], bytes], path: str, openings: Openings) -> dict[str, str]:
    """The commitment to `value` at `path` (whatever it holds), its opening added to `openings`."""
    openings[path] = value
    return {COMMITMENT: commitment(salt(path), value)}


def unseal(node: Any, openings: Openings, path: str = "", salt: Callable[[str], bytes] | None = None) -> Any:
    """`node` with every commitment that has an opening replaced by the value (others stay committed);
    with the record's `salt`, only an opening that matches its commitment (one changed in the
    database is never shown as the value)."""

    def walk(value: Any, here: str) -> Any:
        if is_commitment(value):
            opened = openings.get(here)
            if opened is None or (salt is not None and commitment(salt(here), opened) != value[COMMITMENT]):
                return value
            return opened
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


def opening_problems(doc: dict[str, Any], openings: SaltedOpenings) -> list[str]:
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


def salted(openings: Openings, salt: Callable[[str], bytes]) -> SaltedOpenings:
    """The openings with their salts, as an export carries them."""
    return {p: [base64.b64encode(salt(p)).decode("ascii"), v] for p, v in sorted(openings.items())}


def encode_openings(openings: Openings) -> bytes | None:
    return json.dumps(openings, ensure_ascii=False, separators=(",", ":")).encode() if openings else None


def decode_openings(raw: bytes | None) -> Openings:
    if not raw:
        return {}
    parsed = json.loads(raw)
    return parsed if isinstance(parsed, dict) else {}
