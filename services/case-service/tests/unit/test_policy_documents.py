"""Policy documents: the JSON Schemas published in contracts/policies are the ones the service checks
with, the bundled versions pass them, and a version's changes are named by JSON pointer."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from case_service.domain.policies import (
    COLLECTION_POLICY,
    PolicyDocumentError,
    bundled_document,
    changes,
    check_document,
    collection_policy_schema,
    policy_names,
    rule_pack_schema,
)

CONTRACTS = Path(__file__).parents[4] / "contracts" / "policies"


def test_the_published_schemas_are_the_ones_the_service_checks_with() -> None:
    assert json.loads((CONTRACTS / "collection-policy.schema.json").read_text()) == collection_policy_schema()
    assert json.loads((CONTRACTS / "rule-pack.schema.json").read_text()) == rule_pack_schema()


@pytest.mark.parametrize("name", policy_names())
def test_every_bundled_version_passes_its_checks(name: str) -> None:
    checked = check_document(name, bundled_document(name), 1)
    assert len(checked.sha256) == 64


def test_a_collection_policy_names_the_version_it_is_stored_as() -> None:
    checked = check_document(COLLECTION_POLICY, bundled_document(COLLECTION_POLICY), 7)
    assert checked.document["version"] == 7 and checked.decision_version == "7"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["ageing"].update(stage_thresholds={"late": "soon"}), "/ageing/stage_thresholds/late"),
        (lambda d: d["segmentation"]["segments"].pop(), "last segmentation rule must match every case"),
        (lambda d: d.update(colour="blue"), "Additional properties"),
        (
            lambda d: d["segmentation"]["strategies"]["standard"]["experiment"]["arms"][0].update(percent=70),
            "100 %",
        ),
    ],
)
def test_a_document_that_breaks_the_schema_or_the_rules_is_refused_with_where(
    edit: object, message: str
) -> None:
    document = copy.deepcopy(bundled_document(COLLECTION_POLICY))
    edit(document)  # type: ignore[operator]
    with pytest.raises(PolicyDocumentError, match=message.replace("(", r"\(")):
        check_document(COLLECTION_POLICY, document, 2)


def test_a_pack_for_another_jurisdiction_or_a_taken_version_is_refused() -> None:
    gb = bundled_document("rule-pack-GB")
    with pytest.raises(PolicyDocumentError, match="is not US"):
        check_document("rule-pack-US", gb, 2)
    with pytest.raises(PolicyDocumentError, match="already a version"):
        check_document("rule-pack-GB", gb, 2, frozenset({gb["version"]}))


def test_changes_name_each_leaf_by_json_pointer() -> None:
    before = {"a": {"b": 1, "c": [1, 2]}, "gone": True}
    after = {"a": {"b": 2, "c": [1, 3]}, "new/key": "x"}
    assert changes(before, after) == [
        ("/a/b", "1", "2"),
        ("/a/c/1", "2", "3"),
        ("/gone", "true", None),
        ("/new~1key", None, '"x"'),
    ]
