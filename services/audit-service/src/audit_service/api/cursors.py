"""Opaque pagination cursors."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from dcp_platform.problems import BadRequest


def encode(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError as exc:
        raise BadRequest("The cursor is not valid.") from exc
    if not isinstance(value, dict):
        raise BadRequest("The cursor is not valid.")
    return value


def after_id(cursor: str | None) -> int:
    value = decode(cursor)
    return int(value.get("id", 0)) if value else 0


def after_time_id(cursor: str | None) -> tuple[datetime, int] | None:
    value = decode(cursor)
    if not value:
        return None
    try:
        return datetime.fromisoformat(value["t"]), int(value["id"])
    except (KeyError, ValueError, TypeError) as exc:
        raise BadRequest("The cursor is not valid.") from exc
