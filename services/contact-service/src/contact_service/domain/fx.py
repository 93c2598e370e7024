"""Comparing money across currencies for the worklist: an exchange-rate table, never raw minor units.

An amount in minor units of its currency is converted to minor units of the table's base currency
through the currency's decimal places (ISO 4217, from CLDR via babel: JPY 0, USD 2, BHD 3). A currency
the table has no rate for cannot be compared: the worklist ranks such cases after the comparable ones of
the same tier, grouped by currency, by their own amounts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import yaml
from babel.numbers import get_currency_precision


@dataclass(frozen=True)
class FxTable:
    base: str
    as_of: date
    rates: Mapping[str, Decimal]  # units of `base` per unit of the currency

    def to_base_minor(self, amount_minor: int, currency: str) -> int | None:
        """`amount_minor` of `currency` in minor units of the base currency; None without a rate."""
        rate = self.rates.get(currency)
        if rate is None:
            return None
        major = Decimal(amount_minor).scaleb(-get_currency_precision(currency))
        base_major = major * rate
        return int(base_major.scaleb(get_currency_precision(self.base)).quantize(Decimal(1), ROUND_HALF_EVEN))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> FxTable:
        try:
            rates = {str(k): Decimal(str(v)) for k, v in dict(data["rates"]).items()}
            if any(r <= 0 for r in rates.values()):
                raise ValueError("every rate must be positive")
            as_of = data["as_of"]
            return cls(
                base=str(data["base"]),
                as_of=as_of if isinstance(as_of, date) else date.fromisoformat(str(as_of)),
                rates=rates,
            )
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise ValueError(f"invalid exchange-rate table: {exc}") from exc

    @classmethod
    def from_file(cls, path: Path) -> FxTable:
        return cls.from_mapping(yaml.safe_load(path.read_text(encoding="utf-8")))


def packaged_table() -> FxTable:
    return FxTable.from_file(Path(__file__).parent.parent / "config" / "fx_rates.yaml")
