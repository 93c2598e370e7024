"""Personal data committed to in entries: sealing, opening, and verification without the openings."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from audit_service.domain.chain import AuditChain, ChainId
from audit_service.domain.commitments import COMMITMENT, SaltDeriver, opening_problems, salted, seal, unseal
from audit_service.domain.entries import RecordFacts, build_entry, index_of, parse_entry
from audit_service.domain.masking import may_hold_personal
from audit_service.domain.verification import StoredEntry, verify_entries

EVENT = {
    "specversion": "1.0",
    "id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "type": "collections.case.opened.v3",
    "subject": "case-1",
    "time": "2026-11-29T08:00:00.000000Z",
    "data": {
        "debtor": {
            "full_name": "Siân Evans",
            "phones": [{"number": "+447700900123", "kind": "mobile"}],
            "address": {"lines": ["1 High St"], "city": "Cardiff", "country": "GB"},
        },
        "note": "call +14155550100",
        "amount": {"amount_minor": 1000, "currency": "GBP"},
    },
}


def record(offset: int = 7, event: dict[str, object] = EVENT) -> RecordFacts:
    return RecordFacts("collections.cases", 0, offset, 1764403200000, b"case-1", json.dumps(event).encode())


def test_personal_fields_are_committed_and_the_rest_stays_readable() -> None:
    entry, doc, openings = build_entry(record(), SaltDeriver(b"k" * 32))
    for secret in (b"Si\\u00e2n", "Siân".encode(), b"447700900123", b"High St", b"Cardiff", b"4155550100"):
        assert secret not in entry
    data = doc["event"]["data"]
    assert COMMITMENT in data["debtor"]["full_name"] and COMMITMENT in data["note"]
    assert data["amount"] == {"amount_minor": 1000, "currency": "GBP"}
    assert data["debtor"]["address"]["country"] == "GB" and data["debtor"]["phones"][0]["kind"] == "mobile"
    assert set(openings) == {
        "/event/data/debtor/full_name",
        "/event/data/debtor/phones/0/number",
        "/event/data/debtor/address/lines/0",
        "/event/data/debtor/address/city",
        "/event/data/note",
    }
    assert unseal(parse_entry(entry), openings)["event"] == EVENT
    salt = SaltDeriver(b"k" * 32).for_record("collections.cases", 0, 7)
    assert opening_problems(parse_entry(entry), salted(openings, salt)) == []
    assert opening_problems(parse_entry(entry), salted(openings, lambda _: b"other salt"))
    assert index_of(doc).case_id == "case-1"


def test_salts_are_derived_so_a_rebuild_commits_identically_and_another_key_does_not() -> None:
    first = build_entry(record(), SaltDeriver(b"k" * 32))[0]
    assert build_entry(record(), SaltDeriver(b"k" * 32))[0] == first
    assert build_entry(record(), SaltDeriver(b"o" * 32))[0] != first
    assert build_entry(record(offset=8), SaltDeriver(b"k" * 32))[0] != build_entry(record(offset=8))[0]


def test_an_altered_opening_is_caught_and_a_masked_export_verifies_completely() -> None:
    salts = SaltDeriver(b"k" * 32)
    chain = AuditChain(ChainId("collections.cases", 0), None)
    stored = []
    for offset in range(3):
        entry, _, openings = build_entry(record(offset), salts)
        link = chain.extend(offset, entry)
        assert link is not None
        stored.append((link, salted(openings, salts.for_record("collections.cases", 0, offset))))
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate().public_key()

    def entries(with_openings: bool, alter: bool = False) -> list[StoredEntry]:
        out = []
        for link, openings in stored:
            given = {k: list(v) for k, v in openings.items()} if with_openings else None
            if alter and given and link.seq == 1:
                given["/event/data/note"][1] = "call +14155550199"
            out.append(
                StoredEntry(
                    None,
                    "collections.cases",
                    0,
                    link.offset,
                    link.seq,
                    link.entry,
                    link.prev_hash,
                    link.hash,
                    openings=given,
                )
            )
        return out

    masked = verify_entries(entries(False), [], key)
    assert masked.broken == [] and masked.content_unchecked == 0
    full = verify_entries(entries(True), [], key)
    assert full.broken == [] and sum(v.opened for v in full.chains) == 15
    [broken] = verify_entries(entries(True, alter=True), [], key).broken
    assert (
        broken.seq == 1 and "personal data altered" in broken.reason and "/event/data/note" in broken.reason
    )


_KEYS = st.sampled_from(["full_name", "Lines", "city", "note", "amount", "contact_point", "x", "address"])
_TEXT = st.one_of(st.text(max_size=12), st.sampled_from(["+447700900123", "a@b.example", "plain"]))
_JSON = st.recursive(
    st.one_of(st.none(), st.integers(), _TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=4)),
    max_leaves=20,
)


@given(_JSON, st.booleans())
def test_an_event_skipped_as_free_of_personal_data_never_holds_any(data: object, spaced: bool) -> None:
    """The byte pre-check may walk too often, never too rarely: whatever sealing would commit, the
    pre-check lets through, however the JSON is spaced or escaped."""
    raw = json.dumps(
        {"data": data}, separators=(", ", ": ") if spaced else (",", ":"), ensure_ascii=spaced
    ).encode()
    _, openings = seal(json.loads(raw)["data"], lambda path: b"s", "/event/data")
    if openings:
        assert may_hold_personal(raw)
