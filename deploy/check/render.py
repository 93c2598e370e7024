"""Renders the Kustomize overlays with the kustomize binary `make tools` builds, and reads the objects.

Which kustomize: $KUSTOMIZE when set, else .cache/bin/kustomize (the version the Makefile pins), else a
kustomize on PATH, else `kubectl kustomize` (the Kustomize built into kubectl, of kubectl's version).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from deploy.check.report import REPO

Obj = dict[str, Any]

OVERLAYS = ("dev", "prod")
KUSTOMIZE_ENV = "KUSTOMIZE"
BUILT = Path(".cache") / "bin" / "kustomize"  # under the repository: where `make tools` puts it
TIMEOUT_SECONDS = 120


class RenderError(Exception):
    """No kustomize to render with, or kustomize refused a kustomization."""


@dataclass(frozen=True)
class Renderer:
    """A command that prints the objects of a kustomization directory given as its last argument."""

    command: tuple[str, ...]
    version: str

    def describe(self) -> str:
        return f"{' '.join(self.command)} ({self.version})"


def find_renderer(repo: Path = REPO) -> Renderer:
    """The kustomize to render with (see the module's docstring for which)."""
    explicit = os.environ.get(KUSTOMIZE_ENV)
    if explicit:
        binary = shutil.which(explicit)
        if binary is None:
            raise RenderError(f"{KUSTOMIZE_ENV}={explicit} is not an executable")
        return _kustomize(binary)
    for candidate in (repo / BUILT, shutil.which("kustomize")):
        if candidate is not None and os.access(candidate, os.X_OK):
            return _kustomize(str(candidate))
    kubectl = shutil.which("kubectl")
    if kubectl is not None:
        output = _run([kubectl, "version", "--client"])
        match = re.search(r"Kustomize Version: (\S+)", output)
        return Renderer(
            (kubectl, "kustomize"), f"kubectl's Kustomize {match[1] if match else 'of unknown version'}"
        )
    raise RenderError(
        f"kustomize not found: `make tools` builds it into {BUILT} (with Go), or set {KUSTOMIZE_ENV}"
    )


def _kustomize(binary: str) -> Renderer:
    return Renderer((binary, "build"), f"kustomize {_run([binary, 'version']).strip()}")


def _run(command: list[str]) -> str:
    try:
        result = subprocess.run(  # noqa: S603 (a kustomize or kubectl binary, fixed arguments)
            command, capture_output=True, text=True, check=False, timeout=TIMEOUT_SECONDS
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RenderError(f"{' '.join(command)}: {error}") from None
    if result.returncode != 0:
        raise RenderError(f"{' '.join(command)}: {result.stderr.strip()}")
    return result.stdout


def kustomize_build(directory: Path, renderer: Renderer | None = None) -> list[Obj]:
    """The objects `kustomize build directory` prints, in its order."""
    renderer = renderer or find_renderer()
    return [o for o in yaml.safe_load_all(_run([*renderer.command, str(directory)])) if o]


def render_overlays(repo: Path = REPO, renderer: Renderer | None = None) -> dict[str, list[Obj]]:
    renderer = renderer or find_renderer(repo)
    return {name: kustomize_build(repo / "deploy" / "k8s" / "overlays" / name, renderer) for name in OVERLAYS}


# --- reading the rendered objects ---------------------------------------------------------------------


def describe(obj: Obj) -> str:
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"


def find_object(objects: Sequence[Obj], kind: str, name: str) -> Obj | None:
    return next((o for o in objects if o.get("kind") == kind and o["metadata"].get("name") == name), None)


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


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """`repo[:tag][@digest]` -> (repo, tag, digest)."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :], digest or None
    return name, None, digest or None
