"""The canonical bytes the audit chain hashes: the fast encoder writes exactly what the reference
(standard library) encoder writes, for any JSON tree; outside its range it falls back to it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcp_events.canonical import CanonicalEncodingError, reference_dump, to_canonical_bytes

text = st.text(alphabet=st.characters(exclude_categories=["Cs"]))
json_trees = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | text,
    lambda children: st.lists(children) | st.dictionaries(text, children),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(json_trees)
def test_the_fast_encoder_writes_the_reference_bytes(tree: object) -> None:
    assert to_canonical_bytes(tree) == reference_dump(tree)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [True, None, 'é\u2028\x7f\x00\x1f"\\'], "A": {}, "é": 0, "\U0001f600": -1},
        {"big": 2**80, "small": -(2**70)},  # past orjson's 64-bit range: the reference encoder writes it
    ],
)
def test_edge_values_keep_their_canonical_bytes(value: object) -> None:
    assert to_canonical_bytes(value) == reference_dump(value)  # type: ignore[arg-type]


def test_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(CanonicalEncodingError, match="surrogate"):
        to_canonical_bytes({"name": "\ud800"})


def test_keys_sort_by_code_point() -> None:
    assert to_canonical_bytes({"é": 1, "z": 2, "\U0001f600": 3, "Z": 4}) == (
        '{"Z":4,"z":2,"é":1,"\U0001f600":3}'.encode()
    )
