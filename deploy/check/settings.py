"""The environment of a container: resolved from env and envFrom, checked against a settings class."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from deploy.check.render import Obj
from deploy.check.report import Report
from deploy.check.services import Service, environment

# Settings a deployment deliberately never sets, with the reason. Any other variable a settings class reads
# must be provided by the manifests and the compose file.
NOT_DEPLOYED: dict[str, str] = {
    "CLOCK_FIXED_AT": "only read with CLOCK_MODE=fixed or manual; deployments run CLOCK_MODE=system",
    "CLOCK_FILE": "only read with CLOCK_MODE=manual (dev replicas share a clock); deployments: system",
}
# Variables read by libraries straight from the environment (OpenTelemetry's OTEL_EXPORTER_OTLP_*), not by the
# settings classes: allowed in the manifests although no settings field reads them.
EXTERNAL_PREFIXES = ("OTEL_",)
# Containers must listen on every interface (the settings default to 127.0.0.1).
ALL_INTERFACES = "0.0.0.0"  # noqa: S104
PLACEHOLDER_URL = "postgresql://placeholder@db.invalid:5432/postgres"
PLACEHOLDER_SECRET = "placeholder-secret-value-for-deploy-check-0123456789"  # noqa: S105 (not a secret)


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
