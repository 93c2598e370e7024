"""A value object built from a row, a mapping or an object carrying the same names."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from dcp_platform.values import from_fields


@dataclass(frozen=True)
class Reference:
    payment_id: str
    amount_minor: int
    currency: str


def test_from_a_mapping_an_object_and_with_overrides() -> None:
    row = {"payment_id": "pay-1", "amount_minor": 500, "currency": "GBP", "extra": "ignored"}
    assert from_fields(Reference, row) == Reference("pay-1", 500, "GBP")
    assert from_fields(Reference, SimpleNamespace(**row)) == Reference("pay-1", 500, "GBP")
    assert from_fields(Reference, row, currency="EUR") == Reference("pay-1", 500, "EUR")


def test_from_a_database_row_mapping() -> None:
    row = SimpleNamespace(_mapping={"payment_id": "pay-2", "amount_minor": 7, "currency": "USD"})
    assert from_fields(Reference, row) == Reference("pay-2", 7, "USD")


def test_a_missing_name_is_an_error_not_a_default() -> None:
    with pytest.raises(KeyError):
        from_fields(Reference, {"payment_id": "pay-3", "amount_minor": 1})
