"""Crypto-shredding of the trail's personal data: the openings of a case's committed personal fields are
encrypted (AES-256-GCM) under a data key of that case; the data key is kept wrapped by a master key from
the environment (envelope encryption). Erasing a case destroys its data key: the openings can no longer
be read, while the entries, which hold only commitments, still verify.

Master keys: `AUDIT_MASTER_KEYS` = `id:base64-of-32-bytes[,id:...]`; the first wraps new data keys, all
unwrap (rotation: put the new key first; older data keys stay readable while their master key is listed).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from audit_service.domain.commitments import Openings, SaltDeriver
from dcp_platform.sealing import MasterKeys as MasterKeys  # the platform's envelope encryption

ENCRYPTED: Final = b"\x01"
"""The first byte of encrypted openings (plaintext openings, from before, start with `{`)."""


@dataclass(frozen=True)
class CaseKey:
    """A case's data key as stored: wrapped, or erased."""

    master_key_id: str | None
    wrapped: bytes | None
    erased_at: datetime | None

    @property
    def erased(self) -> bool:
        return self.erased_at is not None


ERASED: Final = object()


class CaseKeys:
    """Data keys of cases: created on first use, cached, destroyed by an erasure."""

    def __init__(self, master: MasterKeys, salts: SaltDeriver | None = None) -> None:
        self.master = master
        # The commitment salts: an opening is shown only where it matches its commitment.
        self.salts = salts
        self._cache: dict[str, bytes | object] = {}

    def forget_all(self, case_ids: Iterable[str]) -> None:
        """A transaction that created or erased these keys rolled back: what it cached of them goes
        (read again from the database), so no key the database never kept is used again."""
        for case_id in case_ids:
            self._cache.pop(case_id, None)

    def key_of(self, case_id: str, stored: CaseKey | None) -> bytes | None:
        """The plain data key of a case from its stored row (None: erased or never created)."""
        if stored is None or stored.erased or stored.wrapped is None or stored.master_key_id is None:
            return None
        cached = self._cache.get(case_id)
        if isinstance(cached, bytes):
            return cached
        plain = self.master.unwrap(case_id, stored.master_key_id, stored.wrapped)
        self._cache[case_id] = plain
        return plain

    async def for_writing(
        self, conn: asyncpg.Connection, case_ids: set[str], created: set[str] | None = None
    ) -> dict[str, bytes | None]:
        """The data key of each case (created if it has none); None for an erased case."""
        found: dict[str, bytes | None] = {}
        missing = []
        for case_id in case_ids:
            cached = self._cache.get(case_id)
            if cached is ERASED:
                found[case_id] = None
            elif isinstance(cached, bytes):
                found[case_id] = cached
            else:
                missing.append(case_id)
        if not missing:
            return found
        new = {case_id: os.urandom(32) for case_id in missing}
        wrapped = {case_id: self.master.wrap(case_id, key) for case_id, key in new.items()}
        inserted = await conn.fetch(
            """INSERT INTO audit_case_keys (case_id, master_key_id, wrapped_key)
               SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])
               ON CONFLICT (case_id) DO NOTHING RETURNING case_id""",
            list(wrapped),
            [w[0] for w in wrapped.values()],
            [w[1] for w in wrapped.values()],
        )
        for r in inserted:  # ours: one round trip for the usual case, a case seen for the first time
            found[r["case_id"]] = self._cache[r["case_id"]] = new[r["case_id"]]
            if created is not None:
                created.add(r["case_id"])
        others = [case_id for case_id in missing if case_id not in found]
        if not others:
            return found
        stored = await conn.fetch(
            """SELECT case_id, master_key_id, wrapped_key, erased_at FROM audit_case_keys
               WHERE case_id = ANY($1::text[])""",
            others,
        )
        for r in stored:
            row = CaseKey(r["master_key_id"], _bytes(r["wrapped_key"]), r["erased_at"])
            data_key = self.key_of(r["case_id"], row)
            found[r["case_id"]] = data_key
            if data_key is None:
                self._cache[r["case_id"]] = ERASED
        return found

    async def erase(
        self, conn: asyncpg.Connection, case_id: str, event_id: str | None, erased: set[str] | None = None
    ) -> None:
        """Destroy the case's data key (kept as an erased row, so later entries store no openings)."""
        await conn.execute(
            """INSERT INTO audit_case_keys (case_id, master_key_id, wrapped_key, erased_at, erasure_event_id)
               VALUES ($1, NULL, NULL, now(), $2)
               ON CONFLICT (case_id) DO UPDATE SET master_key_id = NULL, wrapped_key = NULL,
                   erased_at = coalesce(audit_case_keys.erased_at, now()),
                   erasure_event_id = coalesce(
                       audit_case_keys.erasure_event_id, excluded.erasure_event_id
                   )""",
            case_id,
            event_id,
        )
        self._cache[case_id] = ERASED
        if erased is not None:
            erased.add(case_id)

    def forget(self, case_id: str) -> None:
        self._cache.pop(case_id, None)


def _bytes(value: bytes | memoryview | None) -> bytes | None:
    return bytes(value) if value is not None else None


@functools.lru_cache(maxsize=4096)
def _cipher(key: bytes) -> AESGCM:
    return AESGCM(key)


def encrypt_openings(key: bytes, openings: Openings, context: str) -> bytes:
    nonce = os.urandom(12)
    plain = json.dumps(openings, ensure_ascii=False, separators=(",", ":")).encode()
    return ENCRYPTED + nonce + _cipher(key).encrypt(nonce, plain, context.encode())


def decrypt_openings(key: bytes | None, raw: bytes | None, context: str) -> Openings | None:
    """The openings (None: erased, or none kept); plaintext openings from before are read as they are."""
    if not raw:
        return {}
    if not raw.startswith(ENCRYPTED):
        parsed = json.loads(raw)
        return parsed if isinstance(parsed, dict) else {}
    if key is None:
        return None
    plain = _cipher(key).decrypt(raw[1:13], raw[13:], context.encode())
    parsed = json.loads(plain)
    return parsed if isinstance(parsed, dict) else {}
