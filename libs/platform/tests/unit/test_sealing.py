"""Sealing personal data in published events: the redacted payload stays a valid payload of its type
and shows none of the personal values; the sealed payload opens only under its case's key, for that
one event."""

from __future__ import annotations

import json
import os

import pytest

from dcp_events.canonical import to_canonical_bytes
from dcp_events.catalogue.examples import EXAMPLES
from dcp_events.catalogue.registry import model_for
from dcp_platform.personal_data import is_personal
from dcp_platform.sealing import MasterKeys, SealError, holds_personal, open_payload, redacted, seal_payload


def _personal_texts(node: object, key: str | None = None) -> set[str]:
    if isinstance(node, dict):
        return set().union(*(_personal_texts(v, k) for k, v in node.items())) if node else set()
    if isinstance(node, list):
        return set().union(*(_personal_texts(v, key) for v in node)) if node else set()
    return {node} if isinstance(node, str) and is_personal(key, node) and node != "[erased]" else set()


PERSONAL = {t: e for t, e in EXAMPLES.items() if holds_personal(e.model_dump(mode="json"))}


def test_the_catalogue_has_events_with_personal_data_to_seal() -> None:
    assert {
        "collections.case.opened",
        "collections.case.debtor_updated",
        "collections.contact.contact_person_agreed",
    } <= {t.rsplit(".v", 1)[0] for t in PERSONAL}, sorted(PERSONAL)


@pytest.mark.parametrize("event_type", sorted(PERSONAL))
def test_the_redacted_payload_is_valid_and_shows_no_personal_value(event_type: str) -> None:
    data = PERSONAL[event_type].model_dump(mode="json")
    out = redacted(data)
    model_for(event_type).model_validate(out)  # consumers that cannot open it still handle it
    shown = json.dumps(out, ensure_ascii=False)
    for value in _personal_texts(data):
        assert value not in shown, (event_type, value)


def test_free_text_keeps_its_words_and_loses_numbers_and_addresses() -> None:
    out = redacted({"note": "call back on +447700900123 or a@example.org", "full_name": "Ann Lee"})
    assert out == {"note": "call back on +44*******123 or a***@example.org", "full_name": "[erased]"}


def test_list_entries_holding_personal_data_are_dropped() -> None:
    out = redacted({"phones": [{"number": "+447700900123", "kind": "mobile"}], "tags": ["vip"]})
    assert out == {"phones": [], "tags": ["vip"]}


def _sealed(key: bytes) -> tuple[bytes, str]:
    plain = to_canonical_bytes({"full_name": "Ann Lee"})
    return plain, seal_payload(key, plain, event_id="e-1", subject="case-1", event_type="t.v1")


def test_a_sealed_payload_opens_under_its_key_for_its_event_only() -> None:
    key = os.urandom(32)
    plain, token = _sealed(key)
    assert b"Ann" not in token.encode()
    assert open_payload(key, token, event_id="e-1", subject="case-1", event_type="t.v1") == plain
    with pytest.raises(SealError):
        open_payload(os.urandom(32), token, event_id="e-1", subject="case-1", event_type="t.v1")
    with pytest.raises(SealError):  # moved onto another event
        open_payload(key, token, event_id="e-2", subject="case-1", event_type="t.v1")
    with pytest.raises(SealError):
        open_payload(key, token, event_id="e-1", subject="case-2", event_type="t.v1")
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    with pytest.raises(SealError):
        open_payload(key, flipped, event_id="e-1", subject="case-1", event_type="t.v1")


def test_master_keys_wrap_and_rotate_without_showing_the_keys() -> None:
    old, new = os.urandom(32), os.urandom(32)
    import base64

    first = MasterKeys.parse("k1:" + base64.b64encode(old).decode())
    key_id, wrapped = first.wrap("case-1", b"d" * 32)
    rotated = MasterKeys.parse(f"k2:{base64.b64encode(new).decode()},k1:{base64.b64encode(old).decode()}")
    assert rotated.current_id == "k2"
    assert rotated.unwrap("case-1", key_id, wrapped) == b"d" * 32
    assert base64.b64encode(old).decode() not in repr(rotated)
    with pytest.raises(ValueError, match="32 bytes"):
        MasterKeys.parse("k1:" + base64.b64encode(b"short").decode())
