"""The trail tables through asyncpg: appends (COPY), chain heads, queries, and streams for verify/export."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from cryptography.exceptions import InvalidTag

from audit_service.adapters.case_keys import CaseKey, CaseKeys, decrypt_openings
from audit_service.domain.chain import ChainHead, ChainId, Link
from audit_service.domain.commitments import Openings, unseal
from audit_service.domain.entries import EntryIndex, parse_entry
from audit_service.domain.verification import SignedCheckpoint, StoredEntry

_COLUMNS = (
    "topic",
    "partition",
    "offset",
    "seq",
    "entry",
    "prev_hash",
    "hash",
    "kind",
    "event_id",
    "event_type",
    "case_id",
    "actor",
    "actor_role",
    "event_time",
    "kafka_time",
    "redelivery_of",
    "openings",
)

_VERSIONED = re.compile(r"\.v[0-9]+$")

UNKEYED = "~unkeyed"
"""The key subject of entries without a case (a raw record without a key): erasure cannot target them."""

_ROW = f"""id, topic, partition, "offset", seq, entry, prev_hash, hash, kind, event_id, event_type, case_id,
          actor, actor_role, event_time, kafka_time, ingested_at, redelivery_of, openings,
          (SELECT ROW(k.master_key_id, k.wrapped_key, k.erased_at) FROM audit_case_keys k
           WHERE k.case_id = coalesce(audit_entries.case_id, '{UNKEYED}')) AS case_key"""  # noqa: S608


@dataclass(frozen=True)
class EntryRow:
    id: int
    topic: str
    partition: int
    offset: int
    seq: int
    entry: bytes
    prev_hash: bytes
    hash: bytes
    index: EntryIndex
    ingested_at: datetime
    redelivery_of: int | None = None  # the seq of the chain's first entry of this event id
    openings: bytes | None = None  # of the committed personal fields, encrypted under the case's key
    case_key: CaseKey | None = None  # that key as stored (None: the case has none)

    @property
    def key_subject(self) -> str:
        return self.index.case_id or UNKEYED

    @property
    def erased(self) -> bool:
        """The case's personal data was erased: the openings cannot be read any more."""
        return self.case_key is not None and self.case_key.erased

    def openings_with(self, keys: CaseKeys | None) -> Openings | None:
        """The openings, decrypted (None: erased, or no key at hand)."""
        if not self.openings:
            return {}
        try:
            key = keys.key_of(self.key_subject, self.case_key) if keys is not None else None
            return decrypt_openings(key, self.openings, self.opening_context)
        except (KeyError, ValueError, InvalidTag):  # a master key no longer listed, or tampered bytes
            return None

    @property
    def opening_context(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"

    def opened(self, keys: CaseKeys | None) -> dict[str, Any]:
        """The entry document with its personal fields opened (as Kafka delivered it); after an erasure,
        they stay commitments."""
        salts = keys.salts if keys is not None else None
        salt = salts.for_record(self.topic, self.partition, self.offset) if salts is not None else None
        opened: dict[str, Any] = unseal(parse_entry(self.entry), self.openings_with(keys) or {}, salt=salt)
        return opened

    def stored(self) -> StoredEntry:
        return StoredEntry(
            id=self.id,
            topic=self.topic,
            partition=self.partition,
            offset=self.offset,
            seq=self.seq,
            entry=self.entry,
            prev_hash=self.prev_hash,
            hash=self.hash,
            index=self.index,
            redelivery_of=self.redelivery_of,
        )


_ROW_WITHOUT_KEYS = _ROW[: _ROW.index(",\n          (SELECT ROW(")] + ", NULL AS case_key"


def _entry_row(r: asyncpg.Record) -> EntryRow:
    return EntryRow(
        id=r["id"],
        topic=r["topic"],
        partition=r["partition"],
        offset=r["offset"],
        seq=r["seq"],
        entry=bytes(r["entry"]),
        prev_hash=bytes(r["prev_hash"]),
        hash=bytes(r["hash"]),
        index=EntryIndex(
            topic=r["topic"],
            partition=r["partition"],
            offset=r["offset"],
            kind=r["kind"],
            event_id=r["event_id"],
            event_type=r["event_type"],
            case_id=r["case_id"],
            actor=r["actor"],
            actor_role=r["actor_role"],
            event_time=r["event_time"],
            kafka_time=r["kafka_time"],
        ),
        ingested_at=r["ingested_at"],
        redelivery_of=r["redelivery_of"],
        openings=bytes(r["openings"]) if r["openings"] is not None else None,
        case_key=_case_key(r["case_key"]),
    )


def _case_key(value: Any) -> CaseKey | None:
    if value is None:
        return None
    master_key_id, wrapped, erased_at = value
    return CaseKey(master_key_id, bytes(wrapped) if wrapped is not None else None, erased_at)


async def append(
    conn: asyncpg.Connection,
    links: Sequence[tuple[Link, EntryIndex]],
    redeliveries: Mapping[int, int] | None = None,
    openings: Mapping[int, bytes] | None = None,
) -> None:
    """Insert the links of one chain (COPY: needs only the INSERT privilege); `redeliveries` maps the seq
    of an entry that repeats an event id to the seq of the chain's first entry of it."""
    redeliveries = redeliveries or {}
    openings = openings or {}
    await conn.copy_records_to_table(
        "audit_entries",
        columns=_COLUMNS,
        records=[
            (
                index.topic,
                index.partition,
                link.offset,
                link.seq,
                link.entry,
                link.prev_hash,
                link.hash,
                index.kind,
                index.event_id,
                index.event_type,
                index.case_id,
                index.actor,
                index.actor_role,
                index.event_time,
                index.kafka_time,
                redeliveries.get(link.seq),
                openings.get(link.seq),
            )
            for link, index in links
        ],
    )


async def save_offset(conn: asyncpg.Connection, group: str, topic: str, partition: int, offset: int) -> None:
    await conn.execute(
        """
        INSERT INTO consumer_offsets (consumer_group, topic, partition, next_offset, updated_at)
        VALUES ($1, $2, $3, $4, now())
        ON CONFLICT (consumer_group, topic, partition)
        DO UPDATE SET next_offset = excluded.next_offset, updated_at = excluded.updated_at
        """,
        group,
        topic,
        partition,
        offset,
    )


async def first_entries_of(
    conn: asyncpg.Connection, chain: ChainId, event_ids: Sequence[str]
) -> dict[str, int]:
    """The seq of the chain's first entry of each of `event_ids` that it already holds."""
    rows = await conn.fetch(
        """SELECT event_id, min(seq) AS seq FROM audit_entries
           WHERE topic = $1 AND partition = $2 AND event_id = ANY($3::text[]) GROUP BY event_id""",
        chain.topic,
        chain.partition,
        list(event_ids),
    )
    return {r["event_id"]: r["seq"] for r in rows}


async def redelivery_count(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM audit_entries WHERE redelivery_of IS NOT NULL"))


async def head_of(conn: asyncpg.Connection, chain: ChainId) -> ChainHead | None:
    row = await conn.fetchrow(
        """SELECT seq, "offset", hash FROM audit_entries WHERE topic = $1 AND partition = $2
           ORDER BY seq DESC LIMIT 1""",
        chain.topic,
        chain.partition,
    )
    return ChainHead(row["seq"], row["offset"], bytes(row["hash"])) if row else None


async def chains(conn: asyncpg.Connection) -> list[ChainId]:
    rows = await conn.fetch("SELECT DISTINCT topic, partition FROM audit_entries ORDER BY topic, partition")
    return [ChainId(r["topic"], r["partition"]) for r in rows]


async def heads(conn: asyncpg.Connection) -> dict[ChainId, ChainHead]:
    result: dict[ChainId, ChainHead] = {}
    for chain in await chains(conn):
        head = await head_of(conn, chain)
        if head is not None:
            result[chain] = head
    return result


async def entry_count(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM audit_entries"))


async def entry_by_id(conn: asyncpg.Connection, entry_id: int) -> EntryRow | None:
    row = await conn.fetchrow(f"SELECT {_ROW} FROM audit_entries WHERE id = $1", entry_id)  # noqa: S608
    return _entry_row(row) if row else None


@dataclass(frozen=True)
class EntryFilter:
    actor: str | None = None
    event_type: str | None = None
    case_id: str | None = None
    topic: str | None = None
    time_from: datetime | None = None
    time_to: datetime | None = None
    creditors: tuple[str, ...] | None = None  # only these creditors' cases (None: every entry)

    def where(self, params: list[Any]) -> str:
        clauses: list[str] = []

        def param(value: Any) -> str:
            params.append(value)
            return f"${len(params)}"

        if self.actor is not None:
            clauses.append(f"actor = {param(self.actor)}")
        if self.event_type is not None:
            # A type without its version matches every version of it.
            if _VERSIONED.search(self.event_type):
                clauses.append(f"event_type = {param(self.event_type)}")
            else:
                clauses.append(f"event_type LIKE {param(self.event_type.replace('%', '') + '.v%')}")
        if self.case_id is not None:
            clauses.append(f"case_id = {param(self.case_id)}")
        if self.topic is not None:
            clauses.append(f"topic = {param(self.topic)}")
        if self.time_from is not None:
            clauses.append(f"coalesce(event_time, kafka_time) >= {param(self.time_from)}")
        if self.time_to is not None:
            clauses.append(f"coalesce(event_time, kafka_time) < {param(self.time_to)}")
        if self.creditors is not None:
            placeholder = param(list(self.creditors))  # a bound parameter ($n), never the values
            clauses.append(
                "case_id IN (SELECT case_id FROM audit_case_creditors"  # noqa: S608
                f" WHERE creditor_id = ANY({placeholder}::text[]))"
            )
        return " AND ".join(clauses) or "TRUE"


async def list_entries(
    conn: asyncpg.Connection, flt: EntryFilter, after_id: int, limit: int
) -> list[EntryRow]:
    params: list[Any] = []
    where = flt.where(params)
    params += [after_id, limit]
    rows = await conn.fetch(
        f"SELECT {_ROW} FROM audit_entries WHERE {where} AND id > ${len(params) - 1} "  # noqa: S608
        f"ORDER BY id LIMIT ${len(params)}",
        *params,
    )
    return [_entry_row(r) for r in rows]


async def case_trail(
    conn: asyncpg.Connection, case_id: str, after: tuple[datetime, int] | None, limit: int
) -> list[EntryRow]:
    """A case's entries across all topics, in event-time order (entry id breaks ties)."""
    if after is None:
        rows = await conn.fetch(
            f"""SELECT {_ROW} FROM audit_entries WHERE case_id = $1
                ORDER BY coalesce(event_time, kafka_time), id LIMIT $2""",  # noqa: S608
            case_id,
            limit,
        )
    else:
        rows = await conn.fetch(
            f"""SELECT {_ROW} FROM audit_entries WHERE case_id = $1
                AND (coalesce(event_time, kafka_time), id) > ($2, $3)
                ORDER BY coalesce(event_time, kafka_time), id LIMIT $4""",  # noqa: S608
            case_id,
            after[0],
            after[1],
            limit,
        )
    return [_entry_row(r) for r in rows]


async def stream_entries(
    conn: asyncpg.Connection,
    flt: EntryFilter,
    *,
    chain_order: bool = False,
    prefetch: int = 2000,
    with_keys: bool = True,
) -> AsyncIterator[EntryRow]:
    """Every matching entry, through a server-side cursor (call inside a transaction); `with_keys`
    False leaves out the case keys (verification needs no openings)."""
    params: list[Any] = []
    where = flt.where(params)
    order = "topic, partition, seq" if chain_order else "id"
    columns = _ROW if with_keys else _ROW_WITHOUT_KEYS
    query = f"SELECT {columns} FROM audit_entries WHERE {where} ORDER BY {order}"  # noqa: S608
    async for r in conn.cursor(query, *params, prefetch=prefetch):
        yield _entry_row(r)


async def stream_chain_hashes(
    conn: asyncpg.Connection, chain: ChainId, from_seq: int, to_seq: int | None = None
) -> AsyncIterator[tuple[int, int, bytes, bytes]]:
    """(seq, offset, prev_hash, hash) of a chain from `from_seq` (inside a transaction)."""
    query = """SELECT seq, "offset", prev_hash, hash FROM audit_entries WHERE topic = $1 AND partition = $2
               AND seq >= $3 AND ($4::bigint IS NULL OR seq < $4) ORDER BY seq"""
    async for r in conn.cursor(query, chain.topic, chain.partition, from_seq, to_seq, prefetch=5000):
        yield r["seq"], r["offset"], bytes(r["prev_hash"]), bytes(r["hash"])


@dataclass(frozen=True)
class CheckpointRow:
    seq: int
    body: bytes
    signature: bytes
    key_id: str
    created_at: datetime
    frontiers: dict[str, Any]

    def signed(self) -> SignedCheckpoint:
        return SignedCheckpoint(self.seq, self.body, self.signature)


def _checkpoint_row(r: asyncpg.Record) -> CheckpointRow:
    return CheckpointRow(
        seq=r["seq"],
        body=bytes(r["body"]),
        signature=bytes(r["signature"]),
        key_id=r["key_id"],
        created_at=r["created_at"],
        frontiers=json.loads(r["frontiers"]),
    )


async def checkpoints(
    conn: asyncpg.Connection, after_seq: int = 0, limit: int | None = None
) -> list[CheckpointRow]:
    rows = await conn.fetch(
        """SELECT seq, body, signature, key_id, created_at, frontiers::text AS frontiers
           FROM audit_checkpoints WHERE seq > $1 ORDER BY seq LIMIT $2""",
        after_seq,
        limit,
    )
    return [_checkpoint_row(r) for r in rows]


async def checkpoint_by_seq(conn: asyncpg.Connection, seq: int) -> CheckpointRow | None:
    r = await conn.fetchrow(
        """SELECT seq, body, signature, key_id, created_at, frontiers::text AS frontiers
           FROM audit_checkpoints WHERE seq = $1""",
        seq,
    )
    return _checkpoint_row(r) if r else None


async def latest_checkpoint(conn: asyncpg.Connection) -> CheckpointRow | None:
    r = await conn.fetchrow(
        """SELECT seq, body, signature, key_id, created_at, frontiers::text AS frontiers
           FROM audit_checkpoints ORDER BY seq DESC LIMIT 1"""
    )
    return _checkpoint_row(r) if r else None


async def covering_checkpoint(conn: asyncpg.Connection, chain: ChainId, seq: int) -> CheckpointRow | None:
    """The first checkpoint that signed `chain` with more than `seq` entries."""
    r = await conn.fetchrow(
        """SELECT seq, body, signature, key_id, created_at, frontiers::text AS frontiers
           FROM audit_checkpoints
           WHERE (frontiers -> ($1 || '/' || $2::text) ->> 'size')::bigint > $3
           ORDER BY seq LIMIT 1""",
        chain.topic,
        str(chain.partition),
        seq,
    )
    return _checkpoint_row(r) if r else None


async def insert_checkpoint(
    conn: asyncpg.Connection,
    *,
    seq: int,
    body: bytes,
    signature: bytes,
    key_id: str,
    root: bytes,
    tree_size: int,
    created_at: datetime,
    frontiers: dict[str, Any],
) -> None:
    await conn.execute(
        """INSERT INTO audit_checkpoints
               (seq, body, signature, key_id, root, tree_size, created_at, frontiers)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)""",
        seq,
        body,
        signature,
        key_id,
        root,
        tree_size,
        created_at,
        json.dumps(frontiers),
    )


_CHECKPOINT_LOCK_KEY = 0x41554454  # "AUDT"


async def lock_checkpointing(conn: asyncpg.Connection) -> None:
    """One checkpointer at a time across replicas, until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _CHECKPOINT_LOCK_KEY)


async def trail_role_may_change_trail(pool: asyncpg.Pool) -> bool:
    """Whether the service's database role could change the trail (superuser, RLS bypass, or the
    UPDATE / DELETE / TRUNCATE privilege on the entries)."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT r.rolsuper OR r.rolbypassrls AS mighty,
                      has_table_privilege('audit_entries', 'UPDATE')
                      OR has_table_privilege('audit_entries', 'DELETE')
                      OR has_table_privilege('audit_entries', 'TRUNCATE') AS can_change
               FROM pg_roles r WHERE r.rolname = current_user"""
        )
    return row is None or bool(row["mighty"]) or bool(row["can_change"])


_IN_EVENT_TIME = f"""SELECT {_ROW} FROM audit_entries
    WHERE topic = ANY($1::text[]) AND kind = 'json' AND redelivery_of IS NULL
      AND ($2::text IS NULL OR case_id = $2)
    ORDER BY coalesce(event_time, kafka_time), (topic NOT LIKE '%collections.contacts'), id"""  # noqa: S608


async def stream_in_event_time(
    conn: asyncpg.Connection, topics: list[str], case_id: str | None = None
) -> AsyncIterator[EntryRow]:
    """The JSON entries of `topics` (of one case, or all) in event-time order, each event once (no
    redelivered copy); at one instant, contacts first (inside a transaction: a server-side cursor)."""
    async for record in conn.cursor(_IN_EVENT_TIME, topics, case_id, prefetch=2000):
        yield _entry_row(record)


async def record_creditors(conn: asyncpg.Connection, creditors: dict[str, str]) -> None:
    """Each case's creditor, as its opening entry names it (the first one kept)."""
    if not creditors:
        return
    await conn.execute(
        """INSERT INTO audit_case_creditors (case_id, creditor_id)
           SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING""",
        list(creditors),
        list(creditors.values()),
    )


async def creditor_of_case(conn: asyncpg.Connection, case_id: str) -> str | None:
    found: str | None = await conn.fetchval(
        "SELECT creditor_id FROM audit_case_creditors WHERE case_id = $1", case_id
    )
    return found
