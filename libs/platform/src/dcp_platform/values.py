"""Building a value object from another that carries the same names: a database row, a settings
object, a mapping. One mapper instead of a `field=row.field` line per field in every adapter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def from_fields(cls: type[T], source: Any, **overrides: Any) -> T:
    """An instance of dataclass `cls`, each field read from `source` under its own name (a mapping,
    a SQLAlchemy row, an asyncpg record, or any object with those attributes), except `overrides`."""
    mapping: Any = getattr(source, "_mapping", source)
    keyed = isinstance(mapping, Mapping) or hasattr(mapping, "keys")  # asyncpg records have keys()
    names = [f.name for f in fields(cls) if f.init and f.name not in overrides]  # type: ignore[arg-type]
    values = {n: mapping[n] if keyed else getattr(source, n) for n in names}
    return cls(**values, **overrides)
