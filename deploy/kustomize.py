"""A small Kustomize in Python: renders this repository's overlays where `kubectl kustomize` is absent.

It implements only the subset `deploy/k8s` uses, and refuses anything else instead of ignoring it:

- `resources`: YAML files (several documents each) and directories holding a kustomization;
- `configMapGenerator` with `literals` and `behavior` create / merge / replace, the content-hash name
  suffix computed as Kustomize does (sha256 of the JSON of kind and data, first ten hex digits with
  0 1 3 a e mapped to g h k m t), and references to the ConfigMap in pod specs renamed;
- `patches` (file `path` or inline `patch`, optional `target` by group / version / kind / name / namespace /
  labelSelector): strategic merge (maps merged, `null` deletes, the lists of built-in kinds merged by their
  merge key: containers, env, volumes by `name`, volumeMounts by `mountPath`, ports by port number; every
  other list replaced, as for custom resources) and JSON 6902 (add, remove, replace, test);
- `namespace`, `labels` (`pairs`, `includeTemplates`; never selectors), `images` (newName, newTag, digest).

Transformers run in Kustomize's order: patches, namespace, labels, images. When kubectl is on PATH,
`deploy.check` renders with both and requires the same objects.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUPPORTED_FIELDS = frozenset(
    {"apiVersion", "kind", "resources", "namespace", "labels", "configMapGenerator", "images", "patches"}
)
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PersistentVolume",
        "StorageClass",
        "PriorityClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    }
)
# Strategic-merge keys of the built-in list fields this repository patches.
MERGE_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "ports": ("containerPort", "port"),
}
_GENERATED = "__kustomize_generated__"  # marks generated ConfigMaps until their names are hashed


class KustomizeError(Exception):
    """The kustomization is invalid or uses a feature this renderer does not implement."""


def render(directory: Path) -> list[Obj]:
    """The objects `kubectl kustomize directory` prints (as a list, in resource order)."""
    objects = _build(directory.resolve())
    _hash_generated_names(objects)
    return objects


def _load_kustomization(directory: Path) -> Obj:
    for name in KUSTOMIZATION_FILES:
        path = directory / name
        if path.is_file():
            data = yaml.safe_load(path.read_text())
            if not isinstance(data, dict):
                raise KustomizeError(f"{path}: not a mapping")
            unsupported = set(data) - SUPPORTED_FIELDS
            if unsupported:
                raise KustomizeError(
                    f"{path}: fields not implemented by deploy.kustomize: {sorted(unsupported)}"
                )
            return data
    raise KustomizeError(f"{directory}: no kustomization.yaml")


def _load_documents(path: Path) -> list[Obj]:
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    for document in documents:
        if not isinstance(document, dict) or "kind" not in document or "metadata" not in document:
            raise KustomizeError(f"{path}: every document must be a Kubernetes object")
    return documents


def _build(directory: Path) -> list[Obj]:
    kustomization = _load_kustomization(directory)
    objects: list[Obj] = []
    for entry in kustomization.get("resources") or []:
        path = directory / entry
        objects.extend(_build(path) if path.is_dir() else _load_documents(path))
    for generator in kustomization.get("configMapGenerator") or []:
        _generate_config_map(objects, generator, directory)
    for patch in kustomization.get("patches") or []:
        _apply_patch(objects, patch, directory)
    namespace = kustomization.get("namespace")
    if namespace:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED_KINDS:
                obj["metadata"]["namespace"] = namespace
    for entry in kustomization.get("labels") or []:
        _add_labels(objects, entry, directory)
    for image in kustomization.get("images") or []:
        _set_images(objects, image)
    _check_unique(objects, directory)
    return objects


def _check_unique(objects: list[Obj], directory: Path) -> None:
    seen: set[tuple[str, str, str, str]] = set()
    for obj in objects:
        key = (obj.get("apiVersion", ""), obj["kind"], obj["metadata"].get("namespace", ""), name_of(obj))
        if key in seen:
            raise KustomizeError(f"{directory}: {key[1]}/{key[3]} is defined twice")
        seen.add(key)


def name_of(obj: Obj) -> str:
    return str(obj["metadata"]["name"])


# --- configMapGenerator -------------------------------------------------------------------------------


def _generate_config_map(objects: list[Obj], generator: Obj, directory: Path) -> None:
    unsupported = set(generator) - {"name", "literals", "behavior"}
    if unsupported:
        raise KustomizeError(f"{directory}: configMapGenerator fields not implemented: {sorted(unsupported)}")
    name = generator["name"]
    data: dict[str, str] = {}
    for literal in generator.get("literals") or []:
        key, sep, value = str(literal).partition("=")
        if not sep:
            raise KustomizeError(f"{directory}: configMapGenerator {name}: literal {literal!r} has no '='")
        data[key] = value
    behavior = generator.get("behavior", "create")
    existing = [o for o in objects if o["kind"] == "ConfigMap" and o.get(_GENERATED) and name_of(o) == name]
    if behavior == "create":
        if existing:
            raise KustomizeError(f"{directory}: ConfigMap {name} already generated; use behavior: merge")
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name},
                "data": data,
                _GENERATED: True,
            }
        )
    elif behavior in ("merge", "replace"):
        if len(existing) != 1:
            raise KustomizeError(
                f"{directory}: behavior {behavior} needs exactly one generated ConfigMap {name}"
            )
        target = existing[0]
        target["data"] = {**target.get("data", {}), **data} if behavior == "merge" else data
    else:
        raise KustomizeError(f"{directory}: configMapGenerator {name}: unknown behavior {behavior!r}")


def config_map_hash(data: dict[str, str]) -> str:
    """Kustomize's name suffix of a generated ConfigMap (api/hasher/hasher.go, encodeConfigMap).

    Kustomize looks the name up as the single key "metadata/name", finds nothing and hashes "" as the name:
    the suffix depends on the data only.
    """
    encoded = json.dumps(
        {"data": data, "kind": "ConfigMap", "name": ""},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    # Go's encoding/json escapes these three characters (and two line separators) in strings.
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028")):
        encoded = encoded.replace(raw, escaped)
    encoded = encoded.replace("\u2029", "\\u2029")
    digest = hashlib.sha256(encoded.encode()).hexdigest()[:10]
    return digest.translate(str.maketrans("013ae", "ghkmt"))


def pod_specs(obj: Obj) -> Iterator[Obj]:
    """The pod specs inside a workload object."""
    kind = obj["kind"]
    spec = obj.get("spec") or {}
    if kind == "Pod":
        yield spec
    elif kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        template = spec.get("template") or {}
        if "spec" in template:
            yield template["spec"]
    elif kind == "CronJob":
        template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
        if "spec" in template:
            yield template["spec"]


def containers_of(pod_spec: Obj) -> list[Obj]:
    return [*(pod_spec.get("initContainers") or []), *(pod_spec.get("containers") or [])]


def _hash_generated_names(objects: list[Obj]) -> None:
    renames: dict[tuple[str, str], str] = {}
    for obj in objects:
        if obj.pop(_GENERATED, False):
            old = name_of(obj)
            new = f"{old}-{config_map_hash(obj.get('data') or {})}"
            obj["metadata"]["name"] = new
            renames[(obj["metadata"].get("namespace", ""), old)] = new
    for obj in objects:
        namespace = obj["metadata"].get("namespace", "")
        for spec in pod_specs(obj):
            for ref in _config_map_refs(spec):
                ref["name"] = renames.get((namespace, ref["name"]), ref["name"])


def _config_map_refs(pod_spec: Obj) -> Iterator[Obj]:
    for container in containers_of(pod_spec):
        for source in container.get("envFrom") or []:
            if "configMapRef" in source:
                yield source["configMapRef"]
        for var in container.get("env") or []:
            ref = (var.get("valueFrom") or {}).get("configMapKeyRef")
            if ref is not None:
                yield ref
    for volume in pod_spec.get("volumes") or []:
        if "configMap" in volume:
            yield volume["configMap"]
        for source in (volume.get("projected") or {}).get("sources") or []:
            if "configMap" in source:
                yield source["configMap"]


# --- patches ------------------------------------------------------------------------------------------


def _apply_patch(objects: list[Obj], entry: Obj, directory: Path) -> None:
    unsupported = set(entry) - {"path", "patch", "target"}
    if unsupported:
        raise KustomizeError(f"{directory}: patch fields not implemented: {sorted(unsupported)}")
    if "path" in entry:
        source = str(directory / entry["path"])
        patch = yaml.safe_load((directory / entry["path"]).read_text())
    else:
        source = "inline patch"
        patch = yaml.safe_load(entry["patch"])
    target = entry.get("target")
    if isinstance(patch, list):
        if target is None:
            raise KustomizeError(f"{source}: a JSON 6902 patch needs a target")
        selected = [o for o in objects if _matches(o, target)]
    elif isinstance(patch, dict):
        if target is None:
            target = {
                "group": _group(patch.get("apiVersion", "")),
                "kind": patch.get("kind"),
                "name": re.escape(str(patch.get("metadata", {}).get("name"))),
            }
        selected = [o for o in objects if _matches(o, target)]
        patch = copy.deepcopy(patch)
        metadata = patch.pop("metadata", {}) or {}
        metadata.pop("name", None)
        metadata.pop("namespace", None)
        patch.pop("apiVersion", None)
        patch.pop("kind", None)
        if metadata:
            patch["metadata"] = metadata
    else:
        raise KustomizeError(f"{source}: a patch is a mapping (strategic merge) or a list (JSON 6902)")
    if not selected:
        raise KustomizeError(f"{source}: the patch matches no resource ({target})")
    for obj in selected:
        if isinstance(patch, list):
            _json6902(obj, patch, source)
        else:
            group = _group(str(obj.get("apiVersion", "")))
            builtin = "." not in group or group.endswith(".k8s.io")  # core, apps, batch, networking.k8s.io...
            _strategic_merge(obj, patch, builtin, source)


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def _matches(obj: Obj, target: Obj) -> bool:
    unsupported = set(target) - {"group", "version", "kind", "name", "namespace", "labelSelector"}
    if unsupported:
        raise KustomizeError(f"patch target fields not implemented: {sorted(unsupported)}")
    api_version = str(obj.get("apiVersion", ""))
    checks = [
        ("group", _group(api_version)),
        ("version", api_version.rpartition("/")[2]),
        ("kind", obj["kind"]),
        ("namespace", obj["metadata"].get("namespace", "")),
    ]
    for field, actual in checks:
        if target.get(field) is not None and target[field] != actual:
            return False
    if target.get("name") is not None and not re.fullmatch(str(target["name"]), name_of(obj)):
        return False
    selector = target.get("labelSelector")
    if selector:
        labels = obj["metadata"].get("labels") or {}
        for term in str(selector).split(","):
            if "!=" in term:
                key, value = (s.strip() for s in term.split("!=", 1))
                if labels.get(key) == value:
                    return False
            elif "=" in term:
                key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
                if labels.get(key) != value:
                    return False
            else:
                raise KustomizeError(f"labelSelector term not implemented: {term!r}")
    return True


def _strategic_merge(obj: Obj, patch: Obj, builtin: bool, source: str) -> None:
    for key, value in patch.items():
        if key.startswith("$"):
            raise KustomizeError(f"{source}: strategic-merge directive {key} not implemented")
        if value is None:
            obj.pop(key, None)
        elif isinstance(value, dict) and isinstance(obj.get(key), dict):
            _strategic_merge(obj[key], value, builtin, source)
        elif isinstance(value, list) and builtin and key in MERGE_KEYS and isinstance(obj.get(key), list):
            obj[key] = _merge_list(obj[key], value, MERGE_KEYS[key], source)
        else:
            obj[key] = copy.deepcopy(value)


def _merge_list(current: list[Any], patch: list[Any], keys: tuple[str, ...], source: str) -> list[Any]:
    merged = copy.deepcopy(current)
    for item in patch:
        key = next((k for k in keys if isinstance(item, dict) and k in item), None)
        if key is None:
            raise KustomizeError(f"{source}: list item without a merge key {keys}: {item!r}")
        match = next((m for m in merged if isinstance(m, dict) and m.get(key) == item[key]), None)
        if match is None:
            merged.append(copy.deepcopy(item))
        else:
            _strategic_merge(match, item, True, source)
    return merged


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise KustomizeError(f"JSON pointer {path!r} must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _json6902(obj: Obj, operations: list[Obj], source: str) -> None:
    for operation in operations:
        op, parts = operation.get("op"), _pointer(str(operation.get("path")))
        parent: Any = obj
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last = parts[-1]
        try:
            if op == "test":
                current = parent[int(last)] if isinstance(parent, list) else parent[last]
                if current != operation.get("value"):
                    raise KustomizeError(f"{source}: test failed at {operation['path']}")
            elif op in ("add", "replace"):
                value = copy.deepcopy(operation.get("value"))
                if isinstance(parent, list):
                    if op == "add":
                        parent.insert(len(parent) if last == "-" else int(last), value)
                    else:
                        parent[int(last)] = value
                else:
                    if op == "replace" and last not in parent:
                        raise KustomizeError(f"{source}: replace of missing {operation['path']}")
                    parent[last] = value
            elif op == "remove":
                del parent[int(last) if isinstance(parent, list) else last]
            else:
                raise KustomizeError(f"{source}: JSON 6902 op {op!r} not implemented")
        except (KeyError, IndexError, ValueError, TypeError) as error:
            raise KustomizeError(f"{source}: {op} {operation.get('path')}: {error!r}") from None


# --- labels and images --------------------------------------------------------------------------------


def _add_labels(objects: list[Obj], entry: Obj, directory: Path) -> None:
    unsupported = set(entry) - {"pairs", "includeSelectors", "includeTemplates"}
    if unsupported or entry.get("includeSelectors"):
        raise KustomizeError(f"{directory}: labels: only pairs and includeTemplates are implemented")
    pairs = {str(k): str(v) for k, v in (entry.get("pairs") or {}).items()}
    for obj in objects:
        obj["metadata"].setdefault("labels", {}).update(pairs)
        if entry.get("includeTemplates"):
            template = (obj.get("spec") or {}).get("template")
            if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job") and template:
                template.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """`repo[:tag][@digest]` -> (repo, tag, digest)."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :], digest or None
    return name, None, digest or None


def _set_images(objects: list[Obj], entry: Obj) -> None:
    unsupported = set(entry) - {"name", "newName", "newTag", "digest"}
    if unsupported:
        raise KustomizeError(f"images fields not implemented: {sorted(unsupported)}")
    for obj in objects:
        for spec in pod_specs(obj):
            for container in containers_of(spec):
                name, tag, digest = split_image(str(container.get("image", "")))
                if name != entry["name"]:
                    continue
                name = entry.get("newName", name)
                if "newTag" in entry:
                    tag = str(entry["newTag"])
                if "digest" in entry:
                    tag, digest = None, str(entry["digest"])
                container["image"] = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
