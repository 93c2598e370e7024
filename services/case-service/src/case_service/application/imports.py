"""Bulk placement: a CSV or JSON Lines portfolio file, streamed row by row, opened in chunked transactions.

Each row is validated on its own; a bad row is recorded with its reason and the import goes on.
A row whose account already has a case counts as a duplicate (re-importing a file opens nothing
twice). Memory stays flat whatever the file size: one chunk of rows is held at a time.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from case_service.application import commands as c
from case_service.application.commands import ImportProgress
from case_service.application.ports import CaseBus
from dcp_events.catalogue.base import CaseAmounts, Money
from dcp_events.catalogue.debtor import Account, Debtor, EmailAddress, PhoneNumber, PostalAddress

ImportFormat = Literal["csv", "jsonl"]
CHUNK_ROWS = 500


class PlacementRow(BaseModel):
    """One account of a portfolio file (CSV columns or JSON Lines keys; money in minor units)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    creditor_id: str = Field(min_length=1, max_length=128)
    account_reference: str = Field(min_length=1, max_length=128)
    product: str = Field(min_length=1, max_length=128)
    placement_id: str | None = None
    debtor_id: str = Field(min_length=1, max_length=128)
    full_name: str = Field(min_length=1, max_length=200)
    national_id: str | None = None
    language: str
    time_zone: str
    time_zone_source: str = "declared"
    phone: str | None = None
    phone_kind: str = "mobile"
    consent_to_call: bool = False
    consent_to_sms: bool = False
    email: str | None = None
    consent_to_email: bool = False
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    currency: str
    principal_minor: int = Field(ge=0)
    interest_minor: int = Field(default=0, ge=0)
    fees_minor: int = Field(default=0, ge=0)
    total_balance_minor: int | None = Field(default=None, ge=0)
    due_since: date | None = None
    days_past_due: int | None = Field(default=None, ge=1)
    jurisdiction: str
    risk_score: int | None = Field(default=None, ge=0, le=1000)


def _reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{where}: {err.get('msg', '')}" if where else str(err.get("msg", "")))
    return "; ".join(parts)


def placement_from_row(raw: dict[str, Any], today: date) -> c.Placement:
    """A validated placement, or ValueError with a reason a person can act on."""
    cleaned = {k.strip(): v for k, v in raw.items() if k is not None and v not in ("", None)}
    try:
        row = PlacementRow.model_validate(cleaned)

        def money(minor: int) -> Money:
            return Money(amount_minor=minor, currency=row.currency)

        total = row.total_balance_minor
        if total is None:
            total = row.principal_minor + row.interest_minor + row.fees_minor
        amounts = CaseAmounts(
            principal=money(row.principal_minor),
            interest=money(row.interest_minor),
            fees=money(row.fees_minor),
            total_balance=money(total),
        )
        address = None
        if row.address_line1 or row.city or row.country:
            address = PostalAddress(
                lines=[line for line in (row.address_line1, row.address_line2) if line],
                city=row.city or "",
                region=row.region,
                postal_code=row.postal_code,
                country=row.country or "",
            )
        debtor = Debtor(
            debtor_id=row.debtor_id,
            full_name=row.full_name,
            national_id=row.national_id,
            phones=[
                PhoneNumber(
                    number=row.phone,
                    kind=row.phone_kind,
                    consent_to_call=row.consent_to_call,
                    consent_to_sms=row.consent_to_sms,
                )
            ]
            if row.phone
            else [],
            emails=[EmailAddress(address=row.email, consent_to_email=row.consent_to_email)]
            if row.email
            else [],
            address=address,
            language=row.language,
            time_zone=row.time_zone,
            time_zone_source=row.time_zone_source,
        )
        account = Account(
            creditor_id=row.creditor_id, account_reference=row.account_reference, product=row.product
        )
    except ValidationError as exc:
        raise ValueError(_reason(exc)) from None
    if row.due_since is None and row.days_past_due is None:
        raise ValueError("due_since or days_past_due is required")
    due_since = row.due_since if row.due_since is not None else today - timedelta(days=row.days_past_due or 0)
    return c.Placement(
        debtor=debtor,
        account=account,
        amounts=amounts,
        due_since=due_since,
        jurisdiction=row.jurisdiction,
        risk_score=row.risk_score,
        placement_id=row.placement_id,
    )


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are unique: a duplicate is refused, never silently last-one-wins."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {key!r} appears twice")
        result[key] = value
    return result


def iter_rows(source: IO[bytes], fmt: ImportFormat) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(row number, raw row) pairs, or (row number, reason) for a line that is not a row at all.

    Row numbers count data rows from 1 (the CSV header is not a row).
    """
    text = io.TextIOWrapper(source, encoding="utf-8-sig", newline="")
    try:
        yield from _rows(text, fmt)
    finally:
        text.detach()  # the caller owns `source`: the wrapper must not close it


def _rows(text: io.TextIOWrapper, fmt: ImportFormat) -> Iterator[tuple[int, dict[str, Any] | str]]:
    if fmt == "csv":
        reader = csv.DictReader(text)
        for number, record in enumerate(reader, start=1):
            if None in record:
                yield number, f"more fields than the header's {len(reader.fieldnames or [])}"
            else:
                yield number, dict(record)
        return
    number = 0
    for line in text:
        if not line.strip():
            continue
        number += 1
        try:
            value = json.loads(line, object_pairs_hook=_unique_keys)
        except ValueError as exc:
            yield number, f"not JSON: {exc}"
            continue
        except RecursionError:
            yield number, "not JSON this platform accepts: nested too deeply"
            continue
        yield number, value if isinstance(value, dict) else "a JSON Lines row must be an object"


async def create_import(
    bus: CaseBus, *, fmt: ImportFormat, filename: str | None, actor: str | None, bytes_total: int | None
) -> str:
    import_id = str(uuid.uuid4())
    await bus.handle(c.CreateImport(import_id, fmt, filename, actor, bytes_total))
    return import_id


async def run_import(
    bus: CaseBus,
    import_id: str,
    source: IO[bytes],
    fmt: ImportFormat,
    *,
    on_progress: Callable[[ImportProgress], None] | None = None,
    chunk_rows: int = CHUNK_ROWS,
    creditors: frozenset[str] | None = None,
) -> ImportProgress:
    """Import every row of `source`; progress is committed with each chunk (GET /imports/{id})."""
    progress = ImportProgress()
    await bus.handle(c.SetImportStatus(import_id, "running"))
    try:
        chunk: list[tuple[int, dict[str, Any] | str]] = []
        for item in iter_rows(source, fmt):
            chunk.append(item)
            if len(chunk) >= chunk_rows:
                progress = await _chunk(bus, import_id, chunk, progress, source, creditors)
                chunk = []
                if on_progress is not None:
                    on_progress(progress)
        if chunk:
            progress = await _chunk(bus, import_id, chunk, progress, source, creditors)
        if on_progress is not None:
            on_progress(progress)
    except Exception as exc:
        await bus.handle(c.SetImportStatus(import_id, "failed", error=f"{type(exc).__name__}: {exc}"[:2000]))
        raise
    await bus.handle(c.SetImportStatus(import_id, "completed"))
    return progress


async def _chunk(
    bus: CaseBus,
    import_id: str,
    rows: list[tuple[int, dict[str, Any] | str]],
    progress: ImportProgress,
    source: IO[bytes],
    creditors: frozenset[str] | None = None,
) -> ImportProgress:
    bytes_read = source.tell() if source.seekable() else progress.bytes_read
    result: ImportProgress = await bus.handle(c.ImportChunk(import_id, rows, progress, bytes_read, creditors))
    return result


def format_for(content_type: str | None, filename: str | None, explicit: str | None) -> ImportFormat:
    if explicit in ("csv", "jsonl"):
        return explicit  # type: ignore[return-value]
    ct = (content_type or "").split(";")[0].strip().lower()
    if ct in ("text/csv", "application/csv"):
        return "csv"
    if ct in ("application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/json-seq"):
        return "jsonl"
    name = (filename or "").lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    raise ValueError(
        "say the file's format: Content-Type text/csv or application/x-ndjson, or ?format=csv|jsonl"
    )
