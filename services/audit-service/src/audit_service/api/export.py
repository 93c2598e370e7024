"""`GET /audit/export`: the trail as JSON Lines or CSV, streamed from a server-side cursor."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, Depends
from starlette.responses import StreamingResponse

from audit_service.adapters import trail
from audit_service.adapters.trail import EntryRow
from audit_service.api.deps import (
    EntryFilterDep,
    PoolDep,
    RevealsPii,
    RuntimeDep,
    require_auditor,
)
from audit_service.api.views import CSV_COLUMNS, csv_row, export_line

router = APIRouter(prefix="/audit", tags=["export"], dependencies=[Depends(require_auditor)])


@router.get("/export")
async def export(
    reveal: RevealsPii,
    pool: PoolDep,
    runtime: RuntimeDep,
    flt: EntryFilterDep,
    format: Literal["jsonl", "csv"] = "jsonl",
) -> StreamingResponse:
    """Entries in chain order (topic, partition, seq). JSON Lines carry each entry's canonical bytes for
    roles that may see personal data; the standalone verifier rehashes them."""

    async def lines() -> AsyncIterator[bytes]:
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            if format == "csv":
                buffer = io.StringIO()
                writer = csv.writer(buffer)
                writer.writerow(CSV_COLUMNS)
                async for rows in _chunks(trail.stream_entries(conn, flt, chain_order=True)):
                    data_keys = await runtime.data_keys(rows)
                    for row in rows:
                        writer.writerow(csv_row(row, reveal=reveal, keys=runtime.keys, data_keys=data_keys))
                    yield buffer.getvalue().encode()
                    buffer.seek(0)
                    buffer.truncate()
                yield buffer.getvalue().encode()
            else:
                async for rows in _chunks(trail.stream_entries(conn, flt, chain_order=True)):
                    data_keys = await runtime.data_keys(rows)
                    chunk = [
                        json.dumps(
                            export_line(
                                row,
                                reveal=reveal,
                                salts=runtime.salts,
                                keys=runtime.keys,
                                data_keys=data_keys,
                            ),
                            ensure_ascii=False,
                        )
                        for row in rows
                    ]
                    yield ("\n".join(chunk) + "\n").encode()

    media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
    filename = f"audit-trail.{format}"
    return StreamingResponse(
        lines(), media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


async def _chunks(rows: AsyncIterator[EntryRow], size: int = 500) -> AsyncIterator[list[EntryRow]]:
    """The streamed rows in lists of `size` (the last one shorter): one vault look-up per list."""
    chunk: list[EntryRow] = []
    async for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
