"""deploy-check: render every Kustomize overlay and check the deployment offline (`python -m deploy.check`).

What it checks, and against what (one module each):

- render: every overlay renders with kustomize (the binary `make tools` builds into .cache/bin; see
  deploy.check.render for the fallbacks); schemas: every object validates against the Kubernetes schemas of
  KUBERNETES_VERSION (`kubernetes-validate`, strict: unknown fields refused), KafkaTopics against
  deploy/schemas;
- services + settings: each service's settings class (found in `<svc>_service.main` at check time, so new
  fields count at once): every environment variable it reads is provided to the Deployment and to the
  migration Job (env or envFrom ConfigMap), secret fields only from a Secret, no variable set that nothing
  reads, the rendered values load into the settings class;
- manifests: image, command, container port, Service port, probe ports = the service and its settings'
  default port; probes, security context, resources, graceful shutdown, PodDisruptionBudget, NetworkPolicy
  (default deny, ingress on the service port, egress to DNS, PostgreSQL and Kafka only), HPA maxReplicas <=
  the partitions of the topics the service consumes (its subscriptions, read from the app at check time);
- topics: a KafkaTopic for every catalogue topic and its DLQ, with the retention and replication rules of
  docs/operations.md;
- images: deploy/Dockerfile (hadolint, base image, stages, user, constraints, migrations layout, context
  filter) and constraints.txt pins every runtime dependency of the services at the installed version;
- compose: deploy/docker-compose.yml against the Compose schema subset, and the same environment, ports,
  images and topics as Kubernetes.

Exit status 1 with one line per problem when anything fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from deploy.check.compose import check_compose
from deploy.check.images import check_constraints, check_dockerfile, hadolint
from deploy.check.manifests import check_overlay
from deploy.check.render import Obj, Renderer, RenderError, find_renderer, kustomize_build, render_overlays
from deploy.check.report import REPO, Report
from deploy.check.schemas import KUBERNETES_VERSION, validate_schemas
from deploy.check.services import Service, discover_services, settings_env

__all__ = [
    "KUBERNETES_VERSION",
    "REPO",
    "Obj",
    "RenderError",
    "Renderer",
    "Report",
    "Service",
    "check_compose",
    "check_dockerfile",
    "check_overlay",
    "discover_services",
    "find_renderer",
    "kustomize_build",
    "render_overlays",
    "run_checks",
    "settings_env",
    "validate_schemas",
]


def run_checks(
    repo: Path = REPO, rendered: Mapping[str, list[Obj]] | None = None, renderer: Renderer | None = None
) -> Report:
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
            renderer = renderer or find_renderer(repo)
            rendered = render_overlays(repo, renderer)
        except RenderError as error:
            report.fail("deploy/k8s", f"render failed: {error}")
            return report
        report.note(f"overlays rendered with {renderer.describe()}")
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
