"""Schema evolution on read: old event versions are upcast, one version at a time, to the current one.

A change that would break consumers is a new version of the type; the old version's model stays in the
catalogue (its schema stays published) and an upcaster here turns its data into the next version's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dcp_events.envelope import make_type, split_type
from dcp_events.errors import UnknownEventType, UpcastError

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

UPCASTERS: dict[tuple[str, int], Upcaster] = {}
"""(base type, from version) -> function producing the data of from version + 1."""


def upcaster(base_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function turning `base_type` data at `from_version` into `from_version + 1`."""

    def register(fn: Upcaster) -> Upcaster:
        key = (base_type, from_version)
        if key in UPCASTERS:
            raise ValueError(f"an upcaster for {base_type} v{from_version} is already registered")
        UPCASTERS[key] = fn
        return fn

    return register


def upcast(type_str: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Bring `data` of `type_str` to the catalogue's current version: (current type string, data).

    The input dict is not modified.
    """
    # Imported here: the catalogue imports this module to apply upcasting in parse_data.
    from dcp_events.catalogue.registry import CURRENT_VERSIONS

    try:
        base, version = split_type(type_str)
    except ValueError as exc:
        raise UnknownEventType(str(exc)) from None
    current = CURRENT_VERSIONS.get(base)
    if current is None:
        raise UnknownEventType(f"event type {type_str!r} is not in the catalogue")
    if version > current:
        raise UpcastError(f"{type_str} is newer than this consumer knows (current: v{current}); upgrade it")
    out = dict(data)
    while version < current:
        step = UPCASTERS.get((base, version))
        if step is None:
            raise UpcastError(f"no upcaster from {base} v{version} to v{version + 1}")
        out = step(dict(out))
        version += 1
    return make_type(base, version), out


@upcaster("collections.contact.attempted", 1)
def _contact_attempted_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    # v1 predates call recording and agency work: every v1 attempt was in-house and unrecorded.
    data.setdefault("agency_id", None)
    data.setdefault("recording_ref", None)
    return data
