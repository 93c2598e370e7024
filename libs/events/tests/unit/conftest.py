"""Shared builders for the event library's unit tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

CASE_ID = "4b0f3c2e-9a7d-4e1b-8c55-0d2f6a1b9e77"


@pytest.fixture
def envelope_fields() -> dict[str, Any]:
    """The attributes of a valid CloudEvent, as a producer would pass them."""
    return {
        "id": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "source": "/case-service",
        "type": "collections.case.closed.v1",
        "time": datetime(2026, 11, 29, 8, 0, tzinfo=UTC),
        "subject": CASE_ID,
        "data": {
            "reason": "paid_in_full",
            "final_balance": {"amount_minor": 0, "currency": "GBP"},
            "note": None,
        },
        "actor": "usr-alice",
        "actorrole": "collector",
        "correlationid": "corr-1",
        "sequence": 7,
        "jurisdiction": "GB",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    }
