"""Reads the collection policy YAML (the packaged default, or a file named in the settings)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from case_service.domain.policy import CollectionPolicy

DEFAULT_POLICY = "collection_policy.yaml"


def load_policy(path: str | Path | None = None) -> CollectionPolicy:
    if path is None:
        text = resources.files("case_service.config").joinpath(DEFAULT_POLICY).read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return CollectionPolicy.from_mapping(yaml.safe_load(text))
