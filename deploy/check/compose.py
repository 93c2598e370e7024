"""deploy/docker-compose.yml: the Compose schema subset, and the same environment, ports, images and topics
as the Kubernetes dev overlay."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import jsonschema

from deploy.check.images import dockerfile_user_id
from deploy.check.render import Obj, containers_of, find_object, pod_specs, split_image
from deploy.check.report import REPO, Report
from deploy.check.services import Service, catalogue_topics
from deploy.check.settings import ALL_INTERFACES, check_settings_env, load_settings, resolve_env


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
    deployment = find_object(k8s_dev, "Deployment", f"dcp-{service.name}")
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
