"""Values the database cannot take are the client's fault: 4xx problem+json, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from dcp_platform.app import create_service_app
from dcp_platform.settings import ServiceSettings

pytestmark = pytest.mark.integration


class Note(BaseModel):
    body: str
    count: int


async def test_unstorable_text_and_out_of_range_numbers_are_client_errors(database: Any) -> None:
    async with database.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE notes (body text, count bigint)"))
    router = APIRouter()

    @router.post("/notes")
    async def add_note(note: Note) -> dict[str, str]:
        async with database.engine.begin() as conn:
            await conn.execute(text("INSERT INTO notes VALUES (:b, :c)"), {"b": note.body, "c": note.count})
        return {}

    app = create_service_app(
        ServiceSettings(service_name="probe", database_url=database.url),
        routers=[router],
        include_default_readiness_checks=False,
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://probe") as client:
        surrogate = await client.post(
            "/notes", content=b'{"body": "\\ud83d", "count": 1}', headers={"content-type": "application/json"}
        )
        huge = await client.post("/notes", json={"body": "ok", "count": 2**70})
        fine = await client.post("/notes", json={"body": "ok", "count": 3})

    assert surrogate.status_code == 400, surrogate.text
    assert surrogate.headers["content-type"].startswith("application/problem+json")
    assert surrogate.json()["type"].endswith("/bad-request")
    assert huge.status_code == 422, huge.text
    assert huge.json()["type"].endswith("/validation")
    assert fine.status_code == 200
