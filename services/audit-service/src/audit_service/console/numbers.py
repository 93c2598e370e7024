"""Numbers, rates and money as the user's language writes them (CLDR, via babel): money in minor
units is shown in its currency's own decimal places (JPY 0, USD 2, BHD 3)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_currency, format_decimal, format_percent, get_currency_precision

_LOCALES = {"en": "en_GB", "zh": "zh_Hans_CN"}


@dataclass(frozen=True)
class Numbers:
    lang: str

    @property
    def locale(self) -> str:
        return _LOCALES.get(self.lang, "en_GB")

    def count(self, value: int | None) -> str:
        return "-" if value is None else format_decimal(value, locale=self.locale)

    def rate(self, value: float | None) -> str:
        """A share (0.452) as a percentage with one decimal ("45.2%"); "-" when there is none."""
        return "-" if value is None else format_percent(value, "#,##0.0%", locale=self.locale)

    def money(self, amount_minor: int | None, currency: str) -> str:
        if amount_minor is None:
            return "-"
        major = Decimal(amount_minor).scaleb(-get_currency_precision(currency))
        return format_currency(major, currency, locale=self.locale)
