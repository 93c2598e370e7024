"""Contact permits, checked offline: what a permit's Ed25519 signature covers, how it is made and checked.

The contact service signs every permit it issues; a dialer, an SMS gateway or a letter house checks a
permit with the service's public key (served at ``GET /contact-permit-keys``) before it makes the
contact, without calling the platform:

    python -m dcp_compliance.permits verify --key keys.json permit.json [--contact-point +15551230000]

The signed body is canonical JSON (sorted keys, no spaces, UTF-8) of the permit id, case, channel,
the SHA-256 of the contact point (``contact_point_digest``), the rule pack and its version, and the
time the contact must start by (``not_after``, RFC 3339 UTC with ``Z``). The signature is 64 bytes in
unpadded base64url; the key id is the first 16 hex digits of the SHA-256 of the raw public key.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNED_FIELDS = (
    "permit_id",
    "case_id",
    "channel",
    "contact_point_sha256",
    "rule_pack_id",
    "rule_pack_version",
    "not_after",
)


def contact_point_digest(contact_point: str | None) -> str | None:
    """SHA-256 (hex) of a contact point as dialled or addressed: surrounding space removed, an e-mail
    address in lower case. None when the permit is for any of the channel's contact points."""
    if contact_point is None:
        return None
    point = contact_point.strip()
    if "@" in point:
        point = point.lower()
    return hashlib.sha256(point.encode()).hexdigest()


def _utc(value: datetime | str) -> str:
    at = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    if at.tzinfo is None:
        raise ValueError("not_after must carry its zone")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def signed_body(permit: Mapping[str, Any]) -> bytes:
    """The bytes a permit's signature covers (the fields of `SIGNED_FIELDS`, canonical JSON)."""
    missing = [f for f in SIGNED_FIELDS if f not in permit]
    if missing:
        raise ValueError(f"the permit lacks {', '.join(missing)}")
    body = {f: permit[f] for f in SIGNED_FIELDS}
    body["not_after"] = _utc(permit["not_after"])
    body["channel"] = str(getattr(permit["channel"], "value", permit["channel"]))
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class PermitSigner:
    """Holds the private key; never renders it (repr shows the key id only)."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id(self.public_key)

    def __repr__(self) -> str:
        return f"PermitSigner(key_id={self.key_id!r})"

    def sign(self, permit: Mapping[str, Any]) -> str:
        return _b64(self._key.sign(signed_body(permit)))

    def public_key_document(self) -> dict[str, str]:
        """The public key as ``GET /contact-permit-keys`` serves it."""
        return public_key_document(self.public_key)

    def sign_token(self, claims: Mapping[str, Any]) -> str:
        """A compact signed token (``<claims>.<signature>``, base64url) for links in messages, such as
        an opt-out link: whoever holds it may do what its claims say, nothing else."""
        body = _b64(json.dumps(dict(claims), sort_keys=True, separators=(",", ":")).encode())
        return f"{body}.{_b64(self._key.sign(body.encode()))}"

    def read_token(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this key signed; None when it is malformed or not ours."""
        body, _, signature = token.partition(".")
        try:
            self.public_key.verify(_unb64(signature), body.encode())
            claims = json.loads(_unb64(body))
        except (InvalidSignature, ValueError):
            return None
        return claims if isinstance(claims, dict) else None


def public_key_document(public_key: Ed25519PublicKey) -> dict[str, str]:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {
        "key_id": key_id(public_key),
        "algorithm": "Ed25519",
        "public_key": _b64(raw),
        "pem": pem.decode(),
    }


def parse_public_keys(document: Any) -> dict[str, Ed25519PublicKey]:
    """Public keys by key id, from what ``GET /contact-permit-keys`` serves (``{"keys": [...]}``), one
    such key, or a PEM text."""
    if isinstance(document, str):
        loaded = serialization.load_pem_public_key(document.encode())
        if not isinstance(loaded, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return {key_id(loaded): loaded}
    entries = document.get("keys", [document]) if isinstance(document, Mapping) else document
    keys: dict[str, Ed25519PublicKey] = {}
    for entry in entries:
        public = Ed25519PublicKey.from_public_bytes(_unb64(entry["public_key"]))
        keys[key_id(public)] = public
    return keys


@dataclass(frozen=True)
class PermitCheck:
    valid: bool
    reason: str

    def __bool__(self) -> bool:
        return self.valid


def verify_permit(
    permit: Mapping[str, Any],
    keys: Mapping[str, Ed25519PublicKey],
    *,
    now: datetime | None = None,
    contact_point: str | None = None,
    channel: str | None = None,
) -> PermitCheck:
    """Whether `permit` was signed by one of `keys` and has not been altered; with `now`, whether the
    contact may still start; with `contact_point` / `channel`, whether it is for that one."""
    try:
        body = signed_body(permit)
        signature = _unb64(str(permit["signature"]))
    except (KeyError, ValueError, TypeError) as exc:
        return PermitCheck(False, f"not a permit: {exc}")
    key = keys.get(str(permit.get("key_id", "")))
    if key is None:
        return PermitCheck(False, f"unknown signing key {permit.get('key_id')!r}")
    try:
        key.verify(signature, body)
    except InvalidSignature:
        return PermitCheck(False, "the signature does not match the permit (altered, or not ours)")
    if channel is not None and str(getattr(permit["channel"], "value", permit["channel"])) != channel:
        return PermitCheck(False, f"the permit is for {permit['channel']}, not {channel}")
    if contact_point is not None:
        signed_point = permit["contact_point_sha256"]
        if signed_point is not None and signed_point != contact_point_digest(contact_point):
            return PermitCheck(False, "the permit is for another contact point")
    if now is not None and now > datetime.fromisoformat(_utc(permit["not_after"]).replace("Z", "+00:00")):
        return PermitCheck(False, f"the permit's time is over (not after {permit['not_after']})")
    return PermitCheck(True, "valid")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dcp_compliance.permits", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser("verify", help="check a permit (JSON as the contact service answered it)")
    verify.add_argument("permit", type=Path, help="the permit JSON file ('-' for standard input)")
    verify.add_argument("--key", type=Path, required=True, help="GET /contact-permit-keys saved, or a PEM")
    verify.add_argument("--contact-point", help="the number or address about to be contacted")
    verify.add_argument("--channel", help="the channel about to be used")
    verify.add_argument("--now", action="store_true", help="also refuse a permit whose time is over")
    args = parser.parse_args(argv)
    permit_text = sys.stdin.read() if str(args.permit) == "-" else args.permit.read_text()
    key_text = args.key.read_text()
    try:
        keys = parse_public_keys(json.loads(key_text))
    except json.JSONDecodeError:
        keys = parse_public_keys(key_text)  # a PEM
    check = verify_permit(
        json.loads(permit_text),
        keys,
        now=datetime.now(UTC) if args.now else None,
        contact_point=args.contact_point,
        channel=args.channel,
    )
    print(("valid: " if check.valid else "INVALID: ") + check.reason)
    return 0 if check.valid else 1


if __name__ == "__main__":
    raise SystemExit(main())
