"""JSON text of plain values for the database's jsonb parameters (not the canonical bytes the audit
chain hashes: those are `dcp_events.canonical`)."""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> str:
    """Compact JSON text of a JSON tree; orjson where it can (about 5x the standard library's encoder
    on the store's event batches), the standard library for what orjson refuses (integers past 64 bits)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
