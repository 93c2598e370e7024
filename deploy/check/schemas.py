"""Every rendered object against its schema: Kubernetes' of KUBERNETES_VERSION, or deploy/schemas."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache

import jsonschema
import kubernetes_validate

from deploy.check.render import Obj, describe
from deploy.check.report import DEPLOY, Report

# The oldest Kubernetes release the manifests support; objects are validated against its schemas.
KUBERNETES_VERSION = "1.30.0"


@lru_cache(maxsize=1)
def _kafka_topic_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((DEPLOY / "schemas" / "kafkatopic-v1beta2.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


def validate_schemas(overlay: str, objects: Sequence[Obj], report: Report) -> None:
    for obj in objects:
        where = f"overlay {overlay}: {describe(obj)}"
        if obj.get("kind") == "KafkaTopic":
            for error in _kafka_topic_validator().iter_errors(obj):
                path = "/".join(str(p) for p in error.absolute_path)
                report.fail(where, f"KafkaTopic schema: {error.message} (at /{path})")
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = "/".join(str(p) for p in error.absolute_path)
            report.fail(where, f"Kubernetes {KUBERNETES_VERSION} schema: {error.message} (at /{path})")
        except kubernetes_validate.SchemaNotFoundError as error:
            report.fail(where, f"no schema to validate it against: {error}")
        except kubernetes_validate.InvalidSchemaError as error:
            report.fail(where, f"invalid schema: {error}")
