"""Policies as versioned data: the collection policy and each jurisdiction's rule pack, checked before
they are stored (the JSON Schema published in contracts/policies, then the rules a schema cannot
say), compared with the version they were written from, and activated at runtime.

Names: `collection-policy` (decided by case-service: buckets, stages, segmentation, strategies,
experiments) and `rule-pack-<JURISDICTION>` (decided by the contact gate and by case-service's
hold and vulnerability rules). The bundled file is version 1 of each; a stored version n > 1 is in
force once activated. A rule pack is activated only after a second person's approval (four eyes).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import yaml

from case_service.domain.errors import PolicyError
from case_service.domain.policy import CollectionPolicy
from dcp_compliance import (
    RULE_PACK_POLICY_PREFIX,
    PackError,
    RulePack,
    available_packs,
    bundled_pack,
    pack_from_document,
)
from dcp_platform.scoring import PropensityModel

COLLECTION_POLICY = "collection-policy"
PROPENSITY_MODEL = "propensity-model"
RULE_BASED_ORDER: dict[str, Any] = {
    "kind": "rule-based",
    "note": "worklists by promises, strategy steps due, then expected recovery (balance x risk score)",
}
BUNDLED_VERSION = 1
MAX_DOCUMENT_CHARS = 400_000


class PolicyDocumentError(ValueError):
    """A document that is not a valid version of its policy (the message says where and why)."""


def is_rule_pack(name: str) -> bool:
    return name.startswith(RULE_PACK_POLICY_PREFIX)


def jurisdiction_of(name: str) -> str:
    return name.removeprefix(RULE_PACK_POLICY_PREFIX)


def policy_names() -> list[str]:
    jurisdictions = sorted({j for j, _ in available_packs()})
    return [COLLECTION_POLICY, PROPENSITY_MODEL, *(RULE_PACK_POLICY_PREFIX + j for j in jurisdictions)]


def canonical_text(document: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@cache
def _packaged_schema(file: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        resources.files("case_service.config").joinpath(file).read_text("utf-8")
    )
    return schema


def collection_policy_schema() -> dict[str, Any]:
    return _packaged_schema("collection-policy.schema.json")


def propensity_model_schema() -> dict[str, Any]:
    return _packaged_schema("propensity-model.schema.json")


def rule_pack_schema() -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://dcp.example/contracts/policies/rule-pack.schema.json",
        **RulePack.model_json_schema(),
    }


def schema_for(name: str) -> dict[str, Any]:
    if is_rule_pack(name):
        return rule_pack_schema()
    return propensity_model_schema() if name == PROPENSITY_MODEL else collection_policy_schema()


@dataclass(frozen=True)
class CheckedDocument:
    """A document that passed every check, as stored and published."""

    document: dict[str, Any]
    text: str
    sha256: str
    decision_version: str  # what the decisions made under it name


def bundled_document(name: str) -> dict[str, Any]:
    """Version 1: the document the service was built with."""
    if name == PROPENSITY_MODEL:
        return dict(RULE_BASED_ORDER)
    if name == COLLECTION_POLICY:
        text = resources.files("case_service.config").joinpath("collection_policy.yaml").read_text("utf-8")
        document: dict[str, Any] = yaml.safe_load(text)
        return document
    dumped: dict[str, Any] = bundled_pack(jurisdiction_of(name)).model_dump(mode="json")
    return dumped


def check_document(
    name: str, document: Any, version: int, taken_decision_versions: frozenset[str] = frozenset()
) -> CheckedDocument:
    """Validate `document` as version `version` of policy `name`; PolicyDocumentError says why not.
    The collection policy's `version` is set to `version` (its decisions name it); a rule pack keeps
    its own, which no other version of the pack may already carry."""
    if not isinstance(document, dict):
        raise PolicyDocumentError("the document is a JSON object")
    document = json.loads(json.dumps(document))  # a copy with plain JSON values only
    if name == COLLECTION_POLICY:
        document["version"] = version
    errors = sorted(
        jsonschema.Draft202012Validator(schema_for(name)).iter_errors(document), key=lambda e: list(e.path)
    )
    if errors:
        first = errors[0]
        where = "/" + "/".join(str(p) for p in first.absolute_path)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise PolicyDocumentError(f"{where}: {first.message}{more}")
    if name == COLLECTION_POLICY:
        try:
            CollectionPolicy.from_mapping(document)
        except PolicyError as exc:
            raise PolicyDocumentError(str(exc)) from exc
        decision_version = str(version)
    elif name == PROPENSITY_MODEL:
        try:
            PropensityModel.from_document(document, str(version))
        except (KeyError, TypeError, ValueError) as exc:
            raise PolicyDocumentError(f"not a model this platform can serve: {exc}") from exc
        decision_version = str(version)
    else:
        try:
            pack = pack_from_document(document)
        except PackError as exc:
            raise PolicyDocumentError(str(exc)) from exc
        if pack.jurisdiction != jurisdiction_of(name):
            raise PolicyDocumentError(f"/jurisdiction: {pack.jurisdiction} is not {jurisdiction_of(name)}")
        if pack.version in taken_decision_versions:
            raise PolicyDocumentError(
                f"/version: {pack.version} is already a version of this pack; give a new one"
            )
        decision_version = pack.version
    text = canonical_text(document)
    if len(text) > MAX_DOCUMENT_CHARS:
        raise PolicyDocumentError(f"the document is {len(text)} characters; at most {MAX_DOCUMENT_CHARS}")
    return CheckedDocument(document, text, hashlib.sha256(text.encode()).hexdigest(), decision_version)


def changes(before: Any, after: Any, path: str = "") -> list[tuple[str, str | None, str | None]]:
    """(JSON pointer, before, after) of every leaf that differs, values as JSON text (None: absent)."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[tuple[str, str | None, str | None]] = []
        for key in sorted(set(before) | set(after)):
            pointer = f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"
            if key not in before:
                out.append((pointer, None, canonical_text(after[key])))
            elif key not in after:
                out.append((pointer, canonical_text(before[key]), None))
            else:
                out += changes(before[key], after[key], pointer)
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [
            c
            for i, (b, a) in enumerate(zip(before, after, strict=True))
            for c in changes(b, a, f"{path}/{i}")
        ]
    if before == after and type(before) is type(after):
        return []
    return [(path or "/", canonical_text(before), canonical_text(after))]
