"""/imports: bulk placement from a CSV or JSON Lines file sent as the request body."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from case_service.adapters.import_records import import_status
from case_service.api.deps import CaseApi, CaseApiDep, Placer
from case_service.application.imports import (
    ImportFormat,
    create_import,
    format_for,
    run_import,
)
from dcp_platform.problems import BadRequest, NotFound

router = APIRouter(prefix="/imports", tags=["imports"])
log = logging.getLogger(__name__)


async def _run_and_clean_up(
    service: CaseApi, import_id: str, path: str, fmt: ImportFormat, creditors: frozenset[str] | None
) -> None:
    try:
        with open(path, "rb") as source:  # noqa: ASYNC230 - a local temp file, read in small chunks
            await run_import(service.bus, import_id, source, fmt, creditors=creditors)
    except Exception:
        log.exception("import %s failed", import_id)
    finally:
        os.unlink(path)


@router.post("", status_code=202)
async def start_import(
    request: Request,
    principal: Placer,
    service: CaseApiDep,
    response: Response,
    format: Annotated[str | None, Query(pattern="^(csv|jsonl)$")] = None,
    filename: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    """Send the file as the body (`Content-Type: text/csv` or `application/x-ndjson`). The body is
    streamed to a temporary file, then imported in the background: poll GET /imports/{id}."""
    try:
        fmt = format_for(request.headers.get("content-type"), filename, format)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    fd, path = tempfile.mkstemp(prefix="case-import-", suffix=f".{fmt}")
    size = 0
    try:
        with os.fdopen(fd, "wb") as spool:
            async for chunk in request.stream():
                spool.write(chunk)
                size += len(chunk)
    except BaseException:
        os.unlink(path)
        raise
    import_id = await create_import(
        service.bus, fmt=fmt, filename=filename, actor=principal.subject, bytes_total=size
    )
    tasks: set[asyncio.Task[None]] = request.app.state.import_tasks
    task = asyncio.create_task(
        _run_and_clean_up(service, import_id, path, fmt, principal.creditors), name=f"import-{import_id}"
    )
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    response.headers["Location"] = f"/imports/{import_id}"
    return {"import_id": import_id, "status": "queued", "format": fmt, "bytes_total": size}


@router.get("/{import_id}")
async def get_import(
    import_id: str,
    _: Placer,
    service: CaseApiDep,
    rejections_limit: Annotated[int, Query(ge=0, le=10_000)] = 1000,
) -> dict[str, Any]:
    """Progress and outcome: rows read, accepted, duplicates (already placed), rejected rows with reasons."""
    async with service.engine.connect() as conn:
        status = await import_status(conn, import_id, rejections_limit)
    if status is None:
        raise NotFound(f"no import {import_id}")
    return status
