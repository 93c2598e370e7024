"""The contact service's read models in SQL (SQLAlchemy Core text on the caller's connection): the case
facts, the contact history with the gate's decisions, the promises, and the per-debtor lock."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from contact_service.application.ports import CaseRow, MessageRecord, PermitRecord, PromiseRecord
from contact_service.domain.staff import StaffEntry
from dcp_compliance import CaseFacts, ContactHistoryEntry, ContactPurpose
from dcp_events.catalogue.enums import Channel, ContactOutcome, ContactParty
from dcp_events.catalogue.staff import StaffQualification
from dcp_platform import jsontext
from dcp_platform.values import from_fields


def _case(row: Any) -> CaseRow:
    return from_fields(CaseRow, row, facts=CaseFacts.model_validate(row.facts), profile=dict(row.profile))


_CASE_COLUMNS = (
    "case_id, debtor_id, jurisdiction, status, assignee_kind, assignee_id, currency, balance_minor,"
    " risk_score, strategy_assigned_at, treatment, facts, creditor_id, profile"
)


async def load_case(conn: AsyncConnection, case_id: str, *, for_update: bool = False) -> CaseRow | None:
    lock = " FOR UPDATE" if for_update else ""
    row = (
        await conn.execute(
            text(f"SELECT {_CASE_COLUMNS} FROM case_facts WHERE case_id = :id{lock}"),  # noqa: S608
            {"id": case_id},
        )
    ).first()
    return _case(row) if row is not None else None


_CASES_BY_ID = text(
    f"SELECT {_CASE_COLUMNS} FROM case_facts WHERE case_id = ANY(CAST(:ids AS text[]))"  # noqa: S608
)
_CASES_BY_ID_FOR_UPDATE = text(
    f"SELECT {_CASE_COLUMNS} FROM case_facts WHERE case_id = ANY(CAST(:ids AS text[]))"  # noqa: S608
    " ORDER BY case_id FOR UPDATE"
)


async def load_cases(
    conn: AsyncConnection, case_ids: Sequence[str], *, for_update: bool = False
) -> dict[str, CaseRow]:
    """The cases of `case_ids` that are known, in one statement (locked in case id order when asked)."""
    if not case_ids:
        return {}
    statement = _CASES_BY_ID_FOR_UPDATE if for_update else _CASES_BY_ID
    rows = await conn.execute(statement, {"ids": list(case_ids)})
    return {row.case_id: _case(row) for row in rows}


_CASE_RECORD = (
    "case_id text, debtor_id text, jurisdiction text, status text, assignee_kind text, assignee_id text,"
    " currency text, balance_minor bigint, risk_score integer, strategy_assigned_at timestamptz,"
    " treatment jsonb, facts jsonb, creditor_id text, profile jsonb"
)
_INSERT_CASES = text(
    f"""
    INSERT INTO case_facts ({_CASE_COLUMNS})
    SELECT {_CASE_COLUMNS} FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({_CASE_RECORD})
    ON CONFLICT (case_id) DO NOTHING
    """  # noqa: S608
)
_UPDATE_CASES = text(
    f"""
    UPDATE case_facts AS t SET status = r.status, assignee_kind = r.assignee_kind,
        assignee_id = r.assignee_id, balance_minor = r.balance_minor,
        strategy_assigned_at = r.strategy_assigned_at, treatment = r.treatment, facts = r.facts,
        profile = r.profile, updated_at = now()
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({_CASE_RECORD})
    WHERE t.case_id = r.case_id
    """  # noqa: S608
)


def _case_record(case: CaseRow) -> dict[str, Any]:
    at = case.strategy_assigned_at
    return {
        "case_id": case.case_id,
        "debtor_id": case.debtor_id,
        "jurisdiction": case.jurisdiction,
        "status": case.status,
        "assignee_kind": case.assignee_kind,
        "assignee_id": case.assignee_id,
        "currency": case.currency,
        "balance_minor": case.balance_minor,
        "risk_score": case.risk_score,
        "strategy_assigned_at": None if at is None else at.isoformat(),
        "treatment": case.treatment,
        "creditor_id": case.creditor_id,
        "facts": case.facts.model_dump(mode="json"),
        "profile": case.profile,
    }


async def save_cases(conn: AsyncConnection, new: Sequence[CaseRow], changed: Sequence[CaseRow]) -> None:
    """Insert the `new` cases (a case already known is left as it is) and write the `changed` ones
    whole: one statement each, however many cases."""
    if new:
        await conn.execute(_INSERT_CASES, {"rows": jsontext.dumps([_case_record(c) for c in new])})
    if changed:
        await conn.execute(_UPDATE_CASES, {"rows": jsontext.dumps([_case_record(c) for c in changed])})


async def open_cases_of_debtor(conn: AsyncConnection, debtor_id: str) -> list[str]:
    rows = await conn.execute(
        text("SELECT case_id FROM case_facts WHERE debtor_id = :d AND status = 'open' ORDER BY case_id"),
        {"d": debtor_id},
    )
    return [r.case_id for r in rows]


async def cases_assigned_to(conn: AsyncConnection, kinds_ids: Sequence[tuple[str, str]]) -> list[CaseRow]:
    found: list[CaseRow] = []
    for kind, ident in kinds_ids:
        rows = await conn.execute(
            text(
                f"SELECT {_CASE_COLUMNS} FROM case_facts"  # noqa: S608
                " WHERE assignee_kind = :k AND assignee_id = :i AND status = 'open'"
            ),
            {"k": kind, "i": ident},
        )
        found += [_case(r) for r in rows]
    return found


async def insert_case(
    conn: AsyncConnection, facts: CaseFacts, currency: str, balance_minor: int, risk: int | None
) -> None:
    await conn.execute(
        text(
            """
            INSERT INTO case_facts
                (case_id, debtor_id, jurisdiction, currency, balance_minor, risk_score, facts)
            VALUES (:case_id, :debtor_id, :jurisdiction, :currency, :balance, :risk, CAST(:facts AS jsonb))
            ON CONFLICT (case_id) DO NOTHING
            """
        ),
        {
            "case_id": facts.case_id,
            "debtor_id": facts.debtor_id,
            "jurisdiction": facts.jurisdiction,
            "currency": currency,
            "balance": balance_minor,
            "risk": risk,
            "facts": facts.model_dump_json(),
        },
    )


async def update_case(conn: AsyncConnection, case_id: str, **columns: Any) -> None:
    """Set the given columns (`facts` as CaseFacts, `treatment` as a list)."""
    params: dict[str, Any] = {"id": case_id}
    sets = []
    for name, value in columns.items():
        if name == "facts":
            sets.append("facts = CAST(:facts AS jsonb)")
            params["facts"] = value.model_dump_json()
        elif name == "treatment":
            sets.append("treatment = CAST(:treatment AS jsonb)")
            params["treatment"] = json.dumps(value)
        else:
            sets.append(f"{name} = :{name}")
            params[name] = value
    sets.append("updated_at = now()")
    await conn.execute(text(f"UPDATE case_facts SET {', '.join(sets)} WHERE case_id = :id"), params)  # noqa: S608


_LOCK_DEBTORS = text(
    "SELECT count(pg_advisory_xact_lock(hashtextextended(d, 7001)))"
    " FROM unnest(CAST(:debtors AS text[])) AS d"
)


async def lock_debtors(conn: AsyncConnection, debtor_ids: Sequence[str]) -> None:
    """`lock_debtor` of each of `debtor_ids` in one statement, in sorted order (so that two batches
    never wait on each other's locks crosswise)."""
    if debtor_ids:
        await conn.execute(_LOCK_DEBTORS, {"debtors": sorted(set(debtor_ids))})


async def lock_debtor(conn: AsyncConnection, debtor_id: str) -> None:
    """Serialise every gate decision and record about one debtor until the transaction ends."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:d, 7001))"), {"d": debtor_id})


_HISTORY = text(
    """
    SELECT attempt_id, case_id, debtor_id, at, channel, party, outcome, collector_id, agency_id,
           contact_point, purpose
    FROM contacts
    WHERE decision = 'allow' AND debtor_id = :debtor AND at >= :since
    UNION
    SELECT attempt_id, case_id, debtor_id, at, channel, party, outcome, collector_id, agency_id,
           contact_point, purpose
    FROM contacts
    WHERE decision = 'allow' AND party = 'third_party' AND debtor_id = :debtor AND contact_point = :point
    UNION ALL
    SELECT permit_id, case_id, debtor_id, issued_at, channel, party,
           CASE WHEN party = 'third_party' THEN 'third_party_contact' ELSE 'right_party_contact' END,
           collector_id, agency_id, contact_point, purpose
    FROM contact_permits
    WHERE status = 'issued' AND debtor_id = :debtor
      AND (issued_at >= :since OR (party = 'third_party' AND contact_point = :point))
    """
)


async def history(
    conn: AsyncConnection, debtor_id: str, since: datetime, third_party_point: str | None = None
) -> list[ContactHistoryEntry]:
    """The debtor's contacts since `since` (and every earlier one with the third party asked), and
    their live permits, each counted as a contact made when it was issued: a permit reserves its place
    in every cap and cool-down (presumed a right-party contact, the most any contact counts for)."""
    rows = await conn.execute(
        _HISTORY, {"debtor": debtor_id, "since": since, "point": third_party_point or ""}
    )
    return [
        ContactHistoryEntry.model_construct(
            attempt_id=r.attempt_id,
            case_id=r.case_id,
            debtor_id=r.debtor_id,
            at=r.at,
            channel=Channel(r.channel),
            party=ContactParty(r.party),
            outcome=ContactOutcome(r.outcome),
            collector_id=r.collector_id,
            agency_id=r.agency_id,
            contact_point=r.contact_point,
            purpose=ContactPurpose(r.purpose),
        )
        for r in rows
    ]


async def find_contact(conn: AsyncConnection, attempt_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(text("SELECT * FROM contacts WHERE attempt_id = :a"), {"a": attempt_id})
    ).first()
    return dict(row._mapping) if row is not None else None


_RECORD_CONTACT = text(
    """
    INSERT INTO contacts (attempt_id, case_id, debtor_id, at, decision, channel, party, purpose,
        outcome, collector_id, agency_id, contact_point, duration_seconds, recording_ref, rule_id,
        citation, reason, next_allowed_at, pack_id, pack_version, permit_id, source)
    VALUES (:attempt_id, :case_id, :debtor_id, :at, :decision, :channel, :party, :purpose,
        :outcome, :collector_id, :agency_id, :contact_point, :duration_seconds, :recording_ref,
        :rule_id, :citation, :reason, :next_allowed_at, :pack_id, :pack_version, :permit_id, :source)
    """
)


async def record_contact(conn: AsyncConnection, row: dict[str, Any]) -> None:
    """One attempt (the row of `ContactRecord.row()`)."""
    await conn.execute(_RECORD_CONTACT, row)


_PERMIT_COLUMNS = (
    "permit_id, case_id, debtor_id, issued_at, not_after, expires_at, channel, party, purpose,"
    " collector_id, agency_id, contact_point, contact_point_sha256, pack_id, pack_version, key_id,"
    " signature, status, attempt_id, used_at"
)
_INSERT_PERMIT = text(
    f"INSERT INTO contact_permits ({_PERMIT_COLUMNS}) VALUES"  # noqa: S608
    f" ({', '.join(':' + c.strip() for c in _PERMIT_COLUMNS.split(','))})"
)


async def insert_permit(conn: AsyncConnection, record: PermitRecord) -> None:
    await conn.execute(_INSERT_PERMIT, record.row())


async def find_permit(conn: AsyncConnection, permit_id: str) -> PermitRecord | None:
    row = (
        await conn.execute(
            text(f"SELECT {_PERMIT_COLUMNS} FROM contact_permits WHERE permit_id = :p"),  # noqa: S608
            {"p": permit_id},
        )
    ).first()
    if row is None:
        return None
    return from_fields(
        PermitRecord,
        row,
        channel=Channel(row.channel),
        party=ContactParty(row.party),
        purpose=ContactPurpose(row.purpose),
    )


async def close_permit(
    conn: AsyncConnection, permit_id: str, status: str, attempt_id: str | None, at: datetime | None
) -> None:
    await conn.execute(
        text(
            "UPDATE contact_permits SET status = :s, attempt_id = coalesce(:a, attempt_id),"
            " used_at = coalesce(:at, used_at) WHERE permit_id = :p AND status = 'issued'"
        ),
        {"s": status, "a": attempt_id, "at": at, "p": permit_id},
    )


_MESSAGE_COLUMNS = (
    "attempt_id, permit_id, case_id, channel, template, provider_reference, content_sha256, status,"
    " detail, sent_at, updated_at"
)
_RECORD_MESSAGE = text(
    f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES"  # noqa: S608
    f" ({', '.join(':' + c.strip() for c in _MESSAGE_COLUMNS.split(','))})"
    " ON CONFLICT (attempt_id) DO UPDATE SET"
    " provider_reference = coalesce(excluded.provider_reference, messages.provider_reference),"
    " content_sha256 = coalesce(excluded.content_sha256, messages.content_sha256),"
    # a channel's report is never overwritten by the record of the hand-over that came after it
    " status = CASE WHEN excluded.status IN ('sending', 'sent')"
    " AND messages.status NOT IN ('sending', 'sent', 'unsent') THEN messages.status ELSE excluded.status END,"
    " detail = CASE WHEN excluded.status IN ('sending', 'sent')"
    " AND messages.status NOT IN ('sending', 'sent', 'unsent') THEN messages.detail ELSE excluded.detail END,"
    " updated_at = excluded.updated_at"
)


async def record_message(conn: AsyncConnection, record: MessageRecord) -> None:
    row = asdict(record)
    row["channel"] = record.channel.value
    await conn.execute(_RECORD_MESSAGE, row)


async def find_message(
    conn: AsyncConnection, channel: Channel, provider_reference: str
) -> MessageRecord | None:
    row = (
        await conn.execute(
            text(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE channel = :c AND provider_reference = :r"),  # noqa: S608
            {"c": channel.value, "r": provider_reference},
        )
    ).first()
    return from_fields(MessageRecord, row, channel=Channel(row.channel)) if row is not None else None


async def cases_reached_at(conn: AsyncConnection, contact_point: str) -> list[CaseRow]:
    rows = await conn.execute(
        text(
            f"SELECT {_CASE_COLUMNS} FROM case_facts WHERE status = 'open'"  # noqa: S608
            " AND facts->'contact_points' @> jsonb_build_array(jsonb_build_object('value', CAST(:v AS text)))"
            " ORDER BY case_id"
        ),
        {"v": contact_point},
    )
    return [_case(r) for r in rows]


async def messages_of_case(conn: AsyncConnection, case_id: str) -> list[MessageRecord]:
    rows = await conn.execute(
        text(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE case_id = :c ORDER BY sent_at DESC, attempt_id"),  # noqa: S608
        {"c": case_id},
    )
    return [from_fields(MessageRecord, r, channel=Channel(r.channel)) for r in rows]


async def find_message_of_attempt(conn: AsyncConnection, attempt_id: str) -> MessageRecord | None:
    row = (
        await conn.execute(
            text(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE attempt_id = :a"),  # noqa: S608
            {"a": attempt_id},
        )
    ).first()
    return from_fields(MessageRecord, row, channel=Channel(row.channel)) if row is not None else None


async def park_report(
    conn: AsyncConnection, attempt_id: str, case_id: str, report: dict[str, Any], at: datetime
) -> None:
    await conn.execute(
        text(
            "INSERT INTO parked_reports (attempt_id, case_id, report, received_at)"
            " VALUES (:a, :c, CAST(:r AS jsonb), :t) ON CONFLICT (attempt_id) DO NOTHING"
        ),
        {"a": attempt_id, "c": case_id, "r": jsontext.dumps(report), "t": at},
    )


async def take_parked_reports(
    conn: AsyncConnection, case_ids: Sequence[str]
) -> list[tuple[str, dict[str, Any]]]:
    rows = await conn.execute(
        text(
            "DELETE FROM parked_reports WHERE case_id = ANY(CAST(:ids AS text[]))"
            " RETURNING case_id, report, received_at, attempt_id"
        ),
        {"ids": list(case_ids)},
    )
    found = sorted(rows, key=lambda r: (r.received_at, r.attempt_id))
    return [(r.case_id, dict(r.report)) for r in found]


async def message_counts(conn: AsyncConnection) -> dict[tuple[str, str], int]:
    rows = await conn.execute(text("SELECT channel, status, count(*) AS n FROM messages GROUP BY 1, 2"))
    return {(r.channel, r.status): int(r.n) for r in rows}


async def contacts_of_case(conn: AsyncConnection, case_id: str, limit: int) -> list[dict[str, Any]]:
    rows = await conn.execute(
        text("SELECT * FROM contacts WHERE case_id = :c ORDER BY at DESC, attempt_id LIMIT :n"),
        {"c": case_id, "n": limit},
    )
    return [dict(r._mapping) for r in rows]


async def recent_contacts_of_case(
    conn: AsyncConnection, case_id: str, since: datetime
) -> list[tuple[datetime, Channel]]:
    rows = await conn.execute(
        text("SELECT at, channel FROM contacts WHERE case_id = :c AND decision = 'allow' AND at >= :s"),
        {"c": case_id, "s": since},
    )
    return [(r.at, Channel(r.channel)) for r in rows]


_INSERT_PROMISE = text(
    "INSERT INTO promises (promise_id, case_id, amount_minor, currency, due_on, made_at, collector_id)"
    " VALUES (:promise_id, :case_id, :amount_minor, :currency, :due_on, :made_at, :collector_id)"
)


async def insert_promise(conn: AsyncConnection, record: PromiseRecord) -> None:
    await conn.execute(_INSERT_PROMISE, asdict(record))


async def set_promise_status(conn: AsyncConnection, promise_id: str, status: str) -> None:
    await conn.execute(
        text("UPDATE promises SET status = :s WHERE promise_id = :p"), {"s": status, "p": promise_id}
    )


async def erase_contact_points(conn: AsyncConnection, case_id: str) -> None:
    await conn.execute(
        text("UPDATE contacts SET contact_point = NULL WHERE case_id = :c AND contact_point IS NOT NULL"),
        {"c": case_id},
    )


async def promises_of_case(conn: AsyncConnection, case_id: str) -> list[tuple[date, str]]:
    rows = await conn.execute(text("SELECT due_on, status FROM promises WHERE case_id = :c"), {"c": case_id})
    return [(r.due_on, r.status) for r in rows]


# --- the staff directory (collections.staff) ---------------------------------------------------------

_UPSERT_STAFF = text(
    """
    INSERT INTO staff_directory (staff_id, kind, active, qualifications, updated_at)
    VALUES (:staff_id, :kind, :active, CAST(:qualifications AS jsonb), :at)
    ON CONFLICT (staff_id) DO UPDATE SET kind = excluded.kind, active = excluded.active,
        qualifications = excluded.qualifications, updated_at = excluded.updated_at
    """
)


async def record_staff_member(conn: AsyncConnection, entry: StaffEntry, at: datetime) -> None:
    qualifications = [q.model_dump(mode="json") for q in entry.qualifications]
    await conn.execute(
        _UPSERT_STAFF,
        {
            "staff_id": entry.staff_id,
            "kind": entry.kind,
            "active": entry.active,
            "qualifications": jsontext.dumps(qualifications),
            "at": at,
        },
    )


async def staff_member(conn: AsyncConnection, staff_id: str) -> StaffEntry | None:
    row = (
        await conn.execute(
            text("SELECT staff_id, kind, active, qualifications FROM staff_directory WHERE staff_id = :id"),
            {"id": staff_id},
        )
    ).first()
    if row is None:
        return None
    qualifications = tuple(StaffQualification.model_validate(q) for q in row.qualifications)
    return StaffEntry(row.staff_id, row.kind, row.active, qualifications)
