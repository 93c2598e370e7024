"""Personal data in published events is sealed: crypto-shredding at the producer.

An event whose data holds personal data (the policy of `dcp_platform.personal_data`) leaves its service
in two forms in one CloudEvent: `data` is the *redacted* payload (every personal value replaced, still a
valid payload of its type), and the extension attribute `sealeddata` holds the whole payload encrypted
(AES-256-GCM, bound to the event's id, subject and type) under the data key of the event's case. Keys
live in one key vault (`data_keys` in the database `DATA_KEYS_DATABASE_URL` names), wrapped by a master
key from the environment (`DATA_MASTER_KEYS`, envelope encryption). A consumer with the vault opens
`sealeddata` and handles the whole payload; once the case's key is destroyed (an erasure), nobody can:
every consumer, and every rebuild from Kafka, sees the redacted payload, while the record's bytes (what
the audit trail hashes) stay exactly as they were, so the chains still verify.

Master keys: `id:base64-of-32-bytes[,id:...]`; the first wraps new data keys, all unwrap (rotation: put
the new key first; data keys wrapped by an older one stay readable while it is listed).
"""

from __future__ import annotations

import base64
import functools
import logging
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from prometheus_client import Counter

from dcp_platform.personal_data import ERASED, is_personal

log = logging.getLogger(__name__)

SEALED_ATTRIBUTE: Final = "sealeddata"
"""The CloudEvents extension attribute that carries the sealed payload."""


_TOKEN_PREFIX: Final = "v1:"  # noqa: S105 - the format tag of a sealed payload, not a secret

SEALED_EVENTS = Counter("dcp_sealed_events_total", "Events published with their personal data sealed")
UNSEALED_EVENTS = Counter(
    "dcp_unsealed_events_total",
    "Sealed events consumed, by outcome (opened; erased: the case's data key is destroyed)",
    ["outcome"],
)


class SealError(Exception):
    """A sealed payload that does not open under its case's key (tampered, or not ours)."""


class MasterKeys:
    """The master keys by id; never renders them."""

    def __init__(self, keys: list[tuple[str, bytes]], *, setting: str = "DATA_MASTER_KEYS") -> None:
        if not keys:
            raise ValueError(f"{setting}: at least one master key is needed")
        for key_id, key in keys:
            if len(key) != 32:
                raise ValueError(f"{setting}: master key {key_id!r} must be 32 bytes")
        self.current_id = keys[0][0]
        self._keys = dict(keys)
        self._setting = setting

    def __repr__(self) -> str:
        return f"MasterKeys(current={self.current_id!r}, ids={sorted(self._keys)})"

    @classmethod
    def parse(cls, text: str, *, setting: str = "DATA_MASTER_KEYS") -> MasterKeys:
        pairs = []
        for part in text.split(","):
            key_id, _, material = part.strip().partition(":")
            if not key_id or not material:
                raise ValueError(f"{setting}: master keys are `id:base64[,id:base64]`")
            pairs.append((key_id, base64.b64decode(material)))
        return cls(pairs, setting=setting)

    def wrap(self, subject: str, data_key: bytes) -> tuple[str, bytes]:
        nonce = os.urandom(12)
        sealed = AESGCM(self._keys[self.current_id]).encrypt(nonce, data_key, subject.encode())
        return self.current_id, nonce + sealed

    def unwrap(self, subject: str, key_id: str, wrapped: bytes) -> bytes:
        key = self._keys.get(key_id)
        if key is None:
            raise KeyError(f"master key {key_id!r} is not configured ({self._setting})")
        return AESGCM(key).decrypt(wrapped[:12], wrapped[12:], subject.encode())


# --- the redacted payload ------------------------------------------------------------------------


def redacted(node: Any, key: str | None = None) -> Any:
    """A copy of a payload with every personal value replaced, keeping it a valid payload of its type:
    a personal text becomes "[erased]" (names, ids, addresses, contact points), free text keeps its
    words with phone numbers and e-mail addresses masked, and a list entry that holds personal data
    (a phone, an e-mail address) is dropped."""
    if isinstance(node, dict):
        return {k: redacted(v, k) for k, v in node.items()}
    if isinstance(node, list):
        return [redacted(v, key) for v in node if not (isinstance(v, dict) and holds_personal(v))]
    if isinstance(node, str) and is_personal(key, node):
        if key is None or _is_free_text(key, node):
            from dcp_platform.personal_data import mask_text

            return mask_text(node)
        return ERASED
    return node


def _is_free_text(key: str, value: str) -> bool:
    """A text that is personal only for what it mentions (a note quoting a number), not by its name."""
    return not is_personal(key, "") and (" " in value.strip())


def holds_personal(node: Any, key: str | None = None) -> bool:
    if isinstance(node, dict):
        return any(holds_personal(v, k) for k, v in node.items())
    if isinstance(node, list):
        return any(holds_personal(v, key) for v in node)
    return isinstance(node, str) and is_personal(key, node)


# --- sealing one payload ------------------------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def _cipher(key: bytes) -> AESGCM:
    return AESGCM(key)


def _context(event_id: str, subject: str, event_type: str) -> bytes:
    return f"{event_id}\n{subject}\n{event_type}".encode()


def seal_payload(key: bytes, plain: bytes, *, event_id: str, subject: str, event_type: str) -> str:
    """The `sealeddata` token of a payload's canonical JSON bytes."""
    nonce = os.urandom(12)
    sealed = _cipher(key).encrypt(nonce, plain, _context(event_id, subject, event_type))
    return _TOKEN_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def open_payload(key: bytes, token: str, *, event_id: str, subject: str, event_type: str) -> bytes:
    """The canonical JSON bytes a token seals; SealError when it does not open (tampered, or moved to
    another event)."""
    if not token.startswith(_TOKEN_PREFIX):
        raise SealError(f"{SEALED_ATTRIBUTE} is not a v1 token")
    try:
        raw = base64.urlsafe_b64decode(token[len(_TOKEN_PREFIX) :])
        return _cipher(key).decrypt(raw[:12], raw[12:], _context(event_id, subject, event_type))
    except (InvalidTag, ValueError) as exc:
        raise SealError(f"{SEALED_ATTRIBUTE} does not open under the case's data key") from exc


# --- the key vault ------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS data_keys (
    subject text PRIMARY KEY,
    master_key_id text,
    wrapped_key bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    destroyed_at timestamptz,
    destroyed_reason text,
    CONSTRAINT data_key_or_tombstone CHECK ((destroyed_at IS NULL) = (wrapped_key IS NOT NULL))
)
"""
_SCHEMA_LOCK: Final = 7_200_001

DESTROYED: Final = b""
"""A vault answer for a subject whose key was destroyed (an erasure): nothing opens any more."""


@dataclass
class _Cached:
    key: bytes
    until: float


class DataKeyVault:
    """Data keys of cases, shared by every service: created by the first producer that needs one,
    destroyed by an erasure (the row stays as a tombstone, so no key is ever created again for it).

    Keys are cached for `ttl` seconds; a destruction made by another process is honoured here within
    that time (and at once in the process that destroyed it)."""

    def __init__(self, dsn: str, master: MasterKeys, *, ttl: float = 60.0, namespace: str = "") -> None:
        self._dsn = dsn
        self.master = master
        # Prepended to every subject in the vault (the deployment's topic prefix: deployments and test
        # runs that share one vault database keep their keys apart).
        self._namespace = namespace
        self._ttl = ttl
        self._pool: asyncpg.Pool | None = None
        self._cache: dict[str, _Cached] = {}
        self._destroyed: set[str] = set()

    def __repr__(self) -> str:
        return f"DataKeyVault({self.master!r})"

    async def start(self) -> None:
        if self._pool is not None:
            return
        pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=4, command_timeout=30)
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
                await conn.execute(_SCHEMA)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def stop(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def _connection_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            await self.start()
        assert self._pool is not None
        return self._pool

    async def keys(self, subjects: Iterable[str], *, create: bool) -> dict[str, bytes]:
        """The data key of each subject: `DESTROYED` for an erased one; with `create`, a new key for one
        that has none (a subject missing from the answer has no key and none was created)."""
        ns = self._namespace
        named = await self._keys({ns + s for s in subjects}, create=create)
        return {s.removeprefix(ns): k for s, k in named.items()}

    async def _keys(self, subjects: set[str], *, create: bool) -> dict[str, bytes]:
        now = time.monotonic()
        found: dict[str, bytes] = {}
        missing: list[str] = []
        for subject in subjects:
            if subject in self._destroyed:
                found[subject] = DESTROYED
                continue
            cached = self._cache.get(subject)
            if cached is not None and cached.until > now:
                found[subject] = cached.key
            else:
                missing.append(subject)
        if not missing:
            return found
        pool = await self._connection_pool()
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT subject, master_key_id, wrapped_key FROM data_keys WHERE subject = ANY($1::text[])",
                missing,
            )
            stored = {r["subject"]: r for r in rows}
            absent = [s for s in missing if s not in stored]
            if create and absent:
                new = {s: os.urandom(32) for s in absent}
                wrapped = {s: self.master.wrap(s, k) for s, k in new.items()}
                await conn.execute(
                    """INSERT INTO data_keys (subject, master_key_id, wrapped_key)
                       SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])
                       ON CONFLICT (subject) DO NOTHING""",
                    list(wrapped),
                    [w[0] for w in wrapped.values()],
                    [w[1] for w in wrapped.values()],
                )
                # Read back: another producer may have created the key a moment before.
                rows = await conn.fetch(
                    """SELECT subject, master_key_id, wrapped_key FROM data_keys
                       WHERE subject = ANY($1::text[])""",
                    absent,
                )
                stored.update({r["subject"]: r for r in rows})
        for subject in missing:
            row = stored.get(subject)
            if row is None:
                continue
            if row["wrapped_key"] is None:
                self._destroyed.add(subject)
                self._cache.pop(subject, None)
                found[subject] = DESTROYED
                continue
            key = self.master.unwrap(subject, row["master_key_id"], bytes(row["wrapped_key"]))
            self._cache[subject] = _Cached(key, now + self._ttl)
            found[subject] = key
        return found

    async def destroy(self, subjects: Iterable[str], reason: str) -> None:
        """Destroy the data keys of `subjects` for good (a tombstone stays, also for a subject that
        never had a key, so none is created later)."""
        chosen = sorted({self._namespace + s for s in subjects})
        if not chosen:
            return
        pool = await self._connection_pool()
        await pool.execute(
            """INSERT INTO data_keys (subject, master_key_id, wrapped_key, destroyed_at, destroyed_reason)
               SELECT s, NULL, NULL, now(), $2 FROM unnest($1::text[]) AS s
               ON CONFLICT (subject) DO UPDATE SET master_key_id = NULL, wrapped_key = NULL,
                   destroyed_at = coalesce(data_keys.destroyed_at, now()),
                   destroyed_reason = coalesce(data_keys.destroyed_reason, excluded.destroyed_reason)""",
            chosen,
            reason,
        )
        for subject in chosen:
            self._destroyed.add(subject)
            self._cache.pop(subject, None)
        log.info("data keys destroyed for %d case(s)", len(chosen))

    async def rewrap(self) -> int:
        """Wrap every live data key under the current master key (after a rotation); returns how many
        were rewrapped. Older master keys may be removed from the setting afterwards."""
        pool = await self._connection_pool()
        count = 0
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT subject, master_key_id, wrapped_key FROM data_keys
                   WHERE wrapped_key IS NOT NULL AND master_key_id <> $1""",
                self.master.current_id,
            )
            for row in rows:
                key = self.master.unwrap(row["subject"], row["master_key_id"], bytes(row["wrapped_key"]))
                key_id, wrapped = self.master.wrap(row["subject"], key)
                await conn.execute(
                    """UPDATE data_keys SET master_key_id = $2, wrapped_key = $3
                       WHERE subject = $1 AND wrapped_key IS NOT NULL""",
                    row["subject"],
                    key_id,
                    wrapped,
                )
                count += 1
        return count


# --- events -------------------------------------------------------------------------------------


class EventSealer:
    """Seals the personal data of outgoing events (the relay) and opens it in incoming ones (the
    consumers), through one vault."""

    def __init__(self, vault: DataKeyVault) -> None:
        self.vault = vault

    async def seal(self, attributes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The CloudEvent attributes to publish: those whose data holds personal data get the redacted
        data and `sealeddata` (only the redacted data once the case's key is destroyed)."""
        from dcp_events.canonical import to_canonical_bytes

        personal = [i for i, a in enumerate(attributes) if holds_personal(a.get("data"))]
        if not personal:
            return attributes
        keys = await self.vault.keys({str(attributes[i]["subject"]) for i in personal}, create=True)
        out = list(attributes)
        for i in personal:
            event = dict(attributes[i])
            data = event["data"]
            key = keys.get(str(event["subject"]), DESTROYED)
            event["data"] = redacted(data)
            if key is not DESTROYED and key:
                event[SEALED_ATTRIBUTE] = seal_payload(
                    key,
                    to_canonical_bytes(data),
                    event_id=str(event["id"]),
                    subject=str(event["subject"]),
                    event_type=str(event["type"]),
                )
                SEALED_EVENTS.inc()
            out[i] = event
        return out

    async def open(self, events: Mapping[int, Any]) -> dict[int, Any | SealError]:
        """For each sealed CloudEvent (by position): the event with its whole data (and no
        `sealeddata`), the event as it is when its case's key is destroyed, or the SealError."""
        import orjson

        from dcp_events.catalogue.registry import model_for

        if not events:
            return {}
        keys = await self.vault.keys({str(e.subject) for e in events.values()}, create=False)
        out: dict[int, Any | SealError] = {}
        for index, event in events.items():
            key = keys.get(str(event.subject))
            if key is None or key is DESTROYED or not key:
                UNSEALED_EVENTS.labels("erased").inc()
                out[index] = event.model_copy(update={SEALED_ATTRIBUTE: None})
                continue
            try:
                plain = open_payload(
                    key,
                    event.sealeddata,
                    event_id=str(event.id),
                    subject=str(event.subject),
                    event_type=event.type,
                )
                data = orjson.loads(plain)
                model_for(event.type).model_validate(data)
            except SealError as exc:
                out[index] = exc
                continue
            except Exception as exc:  # the sealed payload is not a valid payload of its type
                out[index] = SealError(f"{SEALED_ATTRIBUTE} is not a valid {event.type} payload: {exc}")
                continue
            UNSEALED_EVENTS.labels("opened").inc()
            out[index] = event.model_copy(update={"data": data, SEALED_ATTRIBUTE: None})
        return out


DEAD_LETTER_HEADER: Final = "dlq.sealed"
"""Set (to "v1") on a dead letter whose value is the original record sealed (`seal_dead_letter`)."""


def dead_letter_subject(key: bytes | None, topic: str) -> str:
    """The vault subject a dead letter is sealed under: its case (the record's key), else its topic's."""
    return key.decode("utf-8", "replace") if key else f"dead-letters:{topic}"


def _dead_letter_context(topic: str, partition: int, offset: int) -> dict[str, str]:
    return {"event_id": f"{topic}/{partition}/{offset}", "event_type": "dead-letter"}


async def seal_dead_letter(
    vault: DataKeyVault, topic: str, partition: int, offset: int, key: bytes | None, value: bytes
) -> bytes | None:
    """A record that goes to a dead-letter topic with personal data in the clear, sealed under its
    case's key (bound to its original coordinates); None when that case's key is destroyed (its
    personal data was erased: the letter keeps only its headers)."""
    subject = dead_letter_subject(key, topic)
    found = await vault.keys([subject], create=True)
    data_key = found.get(subject, DESTROYED)
    if not data_key:
        return None
    return seal_payload(
        data_key, value, subject=subject, **_dead_letter_context(topic, partition, offset)
    ).encode("ascii")


async def open_dead_letter(
    vault: DataKeyVault, topic: str, partition: int, offset: int, key: bytes | None, value: bytes
) -> bytes | None:
    """The original record of a sealed dead letter (None: its case's key is destroyed)."""
    subject = dead_letter_subject(key, topic)
    found = await vault.keys([subject], create=False)
    data_key = found.get(subject)
    if not data_key:
        return None
    return open_payload(
        data_key, value.decode("ascii"), subject=subject, **_dead_letter_context(topic, partition, offset)
    )


def vault_from(dsn: str | None, master_keys: str | None, namespace: str = "") -> DataKeyVault | None:
    """The vault the settings name (None: sealing is off)."""
    if not dsn:
        return None
    if not master_keys:
        raise ValueError("DATA_MASTER_KEYS is required with DATA_KEYS_DATABASE_URL")
    return DataKeyVault(dsn, MasterKeys.parse(master_keys), namespace=namespace)


def open_document(doc: Mapping[str, Any], keys: Mapping[str, bytes]) -> dict[str, Any]:
    """A CloudEvent as JSON (what the trail stores) with its whole data where its case's key in `keys`
    opens `sealeddata`, and without the token; the redacted data where it does not (an erasure)."""
    import orjson

    out = {k: v for k, v in doc.items() if k != SEALED_ATTRIBUTE}
    token = doc.get(SEALED_ATTRIBUTE)
    key = keys.get(str(doc.get("subject")))
    if not isinstance(token, str) or not key:
        return out
    try:
        plain = open_payload(
            key,
            token,
            event_id=str(doc.get("id")),
            subject=str(doc.get("subject")),
            event_type=str(doc.get("type")),
        )
    except SealError:
        return out
    out["data"] = orjson.loads(plain)
    return out


def sealed_subjects(docs: Iterable[Mapping[str, Any]]) -> set[str]:
    """The subjects of the documents that carry a sealed payload."""
    return {str(d.get("subject")) for d in docs if isinstance(d.get(SEALED_ATTRIBUTE), str)}


def main() -> None:
    """`python -m dcp_platform.sealing rewrap`: after a master key rotation (the new key first in
    DATA_MASTER_KEYS, the old ones still listed), wrap every live data key under the new one."""
    import asyncio

    import typer

    from dcp_platform.settings import ServiceSettings

    app = typer.Typer(add_completion=False, help="The key vault of the personal data sealed in events.")

    @app.command()
    def rewrap() -> None:
        """Wrap every live data key under the first master key of DATA_MASTER_KEYS."""
        settings = ServiceSettings()
        keys = settings.data_master_keys.get_secret_value() if settings.data_master_keys else None
        vault = vault_from(settings.vault_dsn, keys)
        if vault is None:
            typer.echo("DATA_KEYS_DATABASE_URL is not set", err=True)
            raise typer.Exit(2)

        async def run() -> int:
            try:
                return await vault.rewrap()
            finally:
                await vault.stop()

        count = asyncio.run(run())
        typer.echo(f"{count} data key(s) rewrapped under master key {vault.master.current_id!r}")

    @app.command()
    def status() -> None:
        """How many data keys are live and destroyed, per master key (no key is shown)."""
        settings = ServiceSettings()
        dsn = settings.vault_dsn
        if dsn is None:
            typer.echo("DATA_KEYS_DATABASE_URL is not set", err=True)
            raise typer.Exit(2)

        async def run() -> list[tuple[str, int]]:
            conn = await asyncpg.connect(dsn)
            try:
                rows = await conn.fetch(
                    """SELECT coalesce(master_key_id, '(destroyed)') AS master, count(*) AS keys
                       FROM data_keys GROUP BY 1 ORDER BY 1"""
                )
                return [(str(r["master"]), int(r["keys"])) for r in rows]
            finally:
                await conn.close()

        for master, count in asyncio.run(run()):
            typer.echo(f"{master}\t{count}")

    app()


if __name__ == "__main__":
    main()
