"""deploy-check inside the test suite: the real manifests pass, and broken ones are caught.

Offline only (no cluster, no Docker engine): renders with kustomize (`make tools` builds it into
.cache/bin), schemas, and the consistency rules of deploy/check/.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from deploy import check  # noqa: E402

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def services() -> tuple[check.Service, ...]:
    return check.discover_services(REPO)


@pytest.fixture(scope="module")
def renderer() -> check.Renderer:
    try:
        return check.find_renderer(REPO)
    except check.RenderError as error:
        pytest.fail(f"{error} (make tools builds kustomize)")


@pytest.fixture(scope="module")
def rendered(renderer: check.Renderer) -> dict[str, list[Obj]]:
    return check.render_overlays(REPO, renderer)


@pytest.fixture
def prod(rendered: dict[str, list[Obj]]) -> list[Obj]:
    return copy.deepcopy(rendered["prod"])


def find(objects: list[Obj], kind: str, name: str) -> Obj:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"].startswith(name))


def container(objects: list[Obj], kind: str = "Deployment", name: str = "dcp-case-service") -> Obj:
    first: Obj = find(objects, kind, name)["spec"]["template"]["spec"]["containers"][0]
    return first


def overlay_problems(
    objects: list[Obj], services: tuple[check.Service, ...], overlay: str = "prod"
) -> list[str]:
    report = check.Report()
    check.check_overlay(overlay, objects, services, report)
    return report.problems


def test_deploy_check_passes_on_the_repository() -> None:
    report = check.run_checks(REPO)
    assert report.problems == []


def test_the_unmodified_overlays_have_no_problem(
    prod: list[Obj], services: tuple[check.Service, ...]
) -> None:
    assert overlay_problems(prod, services) == []


def test_overlays_render_with_the_kustomize_the_makefile_pins(renderer: check.Renderer) -> None:
    pinned = re.search(r"^KUSTOMIZE_VERSION := (\S+)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert pinned is not None
    assert renderer.command[-1] == "build", f"rendered with {renderer.describe()}: run make tools"
    assert renderer.version == f"kustomize {pinned[1]}", f"{renderer.describe()}: run make tools"
    if check.render.KUSTOMIZE_ENV not in os.environ:
        assert Path(renderer.command[0]) == REPO / check.render.BUILT


def test_config_map_hash_is_kustomizes(tmp_path: Path, renderer: check.Renderer) -> None:
    # The suffix Kustomize (v5.5.0 and the pinned one) gives audit-service's ConfigMap with this data; the
    # pods' references are renamed with it (resolve_env finds the ConfigMap by that name).
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [deployment.yaml]\n"
        "configMapGenerator:\n"
        "  - name: dcp-audit-service-config\n"
        "    literals: [HTTP_PORT=8004, SERVICE_NAME=audit-service]\n"
    )
    (tmp_path / "deployment.yaml").write_text(
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata: {name: dcp-audit-service}\n"
        "spec:\n"
        "  selector: {matchLabels: {app: audit}}\n"
        "  template:\n"
        "    metadata: {labels: {app: audit}}\n"
        "    spec:\n"
        "      containers:\n"
        "        - name: app\n"
        "          image: audit-service:1\n"
        "          envFrom: [{configMapRef: {name: dcp-audit-service-config}}]\n"
    )
    objects = check.kustomize_build(tmp_path, renderer)
    assert (
        find(objects, "ConfigMap", "dcp-audit")["metadata"]["name"] == "dcp-audit-service-config-88gddkc2gc"
    )
    env_from = container(objects, name="dcp-audit-service")["envFrom"]
    assert {"configMapRef": {"name": "dcp-audit-service-config-88gddkc2gc"}} in env_from


def test_every_service_and_setting_is_seen(services: tuple[check.Service, ...]) -> None:
    assert {s.name for s in services} == {p.parent.name for p in REPO.glob("services/*/pyproject.toml")}
    for service in services:
        names = service.env_names()
        assert {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "HTTP_PORT", "DCP_ENV"} <= names
        assert next(v for v in service.env if v.field == "database_url").secret


# --- a missing environment variable -------------------------------------------------------------------


def test_missing_secret_reference_is_caught(prod: list[Obj], services: tuple[check.Service, ...]) -> None:
    env = container(prod)["env"]
    env[:] = [e for e in env if e["name"] != "DATABASE_URL"]
    problems = overlay_problems(prod, services)
    assert any(
        "Deployment/dcp-case-service" in p and "DATABASE_URL" in p and "not provided" in p for p in problems
    )


def test_missing_config_map_key_is_caught_for_deployment_and_job(
    prod: list[Obj], services: tuple[check.Service, ...]
) -> None:
    del find(prod, "ConfigMap", "dcp-common-config")["data"]["KAFKA_BOOTSTRAP_SERVERS"]
    problems = [p for p in overlay_problems(prod, services) if "KAFKA_BOOTSTRAP_SERVERS" in p]
    assert any("Deployment/dcp-payment-service" in p for p in problems)
    assert any("Job/dcp-payment-service-migrate" in p for p in problems)


def test_a_new_settings_field_must_be_deployed(prod: list[Obj], services: tuple[check.Service, ...]) -> None:
    case = next(s for s in services if s.name == "case-service")

    class GrownSettings(case.settings_class):  # type: ignore[name-defined,misc]
        case_new_knob: int = 3

    grown = dataclasses.replace(case, settings_class=GrownSettings, env=check.settings_env(GrownSettings))
    problems = overlay_problems(prod, (grown,))
    assert any("CASE_NEW_KNOB" in p and "GrownSettings.case_new_knob" in p for p in problems)


def test_a_secret_given_as_a_value_is_caught(prod: list[Obj], services: tuple[check.Service, ...]) -> None:
    for var in container(prod)["env"]:
        if var["name"] == "AUTH_JWT_HS256_SECRET":
            var.pop("valueFrom")
            var["value"] = "not-so-secret"
    problems = overlay_problems(prod, services)
    assert any("AUTH_JWT_HS256_SECRET is a secret setting" in p for p in problems)


def test_a_variable_nothing_reads_is_caught(prod: list[Obj], services: tuple[check.Service, ...]) -> None:
    find(prod, "ConfigMap", "dcp-case-service-config")["data"]["HTTP_PROT"] = "8001"
    assert any("HTTP_PROT is set but" in p for p in overlay_problems(prod, services))


def test_a_value_the_settings_refuse_is_caught(prod: list[Obj], services: tuple[check.Service, ...]) -> None:
    find(prod, "ConfigMap", "dcp-common-config")["data"]["LOG_LEVEL"] = "VERBOSE"
    assert any(
        "refuses the configured values" in p and "log_level" in p for p in overlay_problems(prod, services)
    )


def test_dev_environment_in_production_is_caught(
    prod: list[Obj], services: tuple[check.Service, ...]
) -> None:
    find(prod, "ConfigMap", "dcp-common-config")["data"]["DCP_ENV"] = "dev"
    assert any("DCP_ENV must not be dev" in p for p in overlay_problems(prod, services))


# --- a wrong port -------------------------------------------------------------------------------------


def test_wrong_container_port_is_caught(prod: list[Obj], services: tuple[check.Service, ...]) -> None:
    container(prod)["ports"][0]["containerPort"] = 8080
    problems = overlay_problems(prod, services)
    assert any("container ports [8080] must be [8001]" in p for p in problems)
    # the named probe port and the Service's named targetPort now resolve to 8080 too
    assert any("readinessProbe port" in p for p in problems)
    assert any("Service/dcp-case-service" in p for p in problems)


def test_metrics_open_beyond_monitoring_or_on_another_port_are_caught(
    prod: list[Obj], services: tuple[check.Service, ...]
) -> None:
    policy = find(prod, "NetworkPolicy", "dcp-case-service")
    metrics_rule = next(r for r in policy["spec"]["ingress"] if r.get("from"))
    del metrics_rule["from"]  # the metrics port open to every pod
    problems = overlay_problems(prod, services)
    assert any("metrics port 9100 must be open to a monitoring namespace only" in p for p in problems)
    container(prod)["ports"][1]["containerPort"] = 9200
    problems = overlay_problems(prod, services)
    assert any("METRICS_PORT='9100' but the container's metrics port is 9200" in p for p in problems)
    assert any("prometheus.io/port is '9100': /metrics is served on 9200" in p for p in problems)


def test_wrong_service_port_is_caught(prod: list[Obj], services: tuple[check.Service, ...]) -> None:
    find(prod, "Service", "dcp-contact-service")["spec"]["ports"][0]["port"] = 80
    assert any("Service/dcp-contact-service" in p and "80" in p for p in overlay_problems(prod, services))


def test_wrong_http_port_setting_is_caught(prod: list[Obj], services: tuple[check.Service, ...]) -> None:
    find(prod, "ConfigMap", "dcp-audit-service-config")["data"]["HTTP_PORT"] = "8005"
    assert any("HTTP_PORT='8005', expected '8004'" in p for p in overlay_problems(prod, services))


def test_wrong_image_is_caught(prod: list[Obj], services: tuple[check.Service, ...]) -> None:
    container(prod, "Job", "dcp-case-service-migrate")["image"] = (
        "registry.example.com/dcp/payment-service:0.1.0"
    )
    problems = overlay_problems(prod, services)
    assert any("is not the case-service image" in p for p in problems)
    assert any("different images" in p for p in problems)


# --- topics and scaling -------------------------------------------------------------------------------


def test_missing_topic_is_caught(prod: list[Obj], services: tuple[check.Service, ...]) -> None:
    prod.remove(find(prod, "KafkaTopic", "collections-payments-dlq"))
    problems = overlay_problems(prod, services)
    assert any("catalogue topic collections.payments.dlq has no KafkaTopic" in p for p in problems)


def test_topic_losing_audit_data_is_caught(prod: list[Obj], services: tuple[check.Service, ...]) -> None:
    find(prod, "KafkaTopic", "collections-cases")["spec"]["config"]["retention.ms"] = 604800000
    assert any("audit-relevant topic" in p for p in overlay_problems(prod, services))


def test_production_replication_is_enforced(prod: list[Obj], services: tuple[check.Service, ...]) -> None:
    find(prod, "KafkaTopic", "integration-payments")["spec"]["config"]["min.insync.replicas"] = 1
    assert any("min.insync.replicas 2" in p for p in overlay_problems(prod, services))


def test_hpa_above_the_partition_count_is_caught(
    prod: list[Obj], services: tuple[check.Service, ...]
) -> None:
    find(prod, "HorizontalPodAutoscaler", "dcp-case-service")["spec"]["maxReplicas"] = 13
    assert any("maxReplicas 13 exceeds the partitions" in p for p in overlay_problems(prod, services))


def test_open_egress_is_caught(prod: list[Obj], services: tuple[check.Service, ...]) -> None:
    find(prod, "NetworkPolicy", "dcp-case-service")["spec"]["egress"].append({})
    assert any("egress rule" in p for p in overlay_problems(prod, services))


def test_secret_objects_are_refused(prod: list[Obj], services: tuple[check.Service, ...]) -> None:
    prod.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "dcp-case-service-secrets"}})
    assert any("Secrets are never in the manifests" in p for p in overlay_problems(prod, services))


def test_schema_violations_are_caught(prod: list[Obj]) -> None:
    find(prod, "Deployment", "dcp-case-service")["spec"]["replica"] = 2
    find(prod, "KafkaTopic", "collections-cases")["spec"]["partition"] = 12
    report = check.Report()
    check.validate_schemas("prod", prod, report)
    assert any("Deployment/dcp-case-service" in p and "replica" in p for p in report.problems)
    assert any("KafkaTopic/collections-cases" in p and "partition" in p for p in report.problems)


# --- the renderer on modified files -------------------------------------------------------------------


def test_a_modified_overlay_file_is_rendered_and_caught(
    tmp_path: Path, services: tuple[check.Service, ...], renderer: check.Renderer
) -> None:
    shutil.copytree(REPO / "deploy" / "k8s", tmp_path / "k8s")
    patch = tmp_path / "k8s" / "overlays" / "prod" / "apps" / "hpa-patch.yaml"
    patch.write_text(patch.read_text().replace("maxReplicas: 6", "maxReplicas: 20"))
    objects = check.kustomize_build(tmp_path / "k8s" / "overlays" / "prod", renderer)
    problems = overlay_problems(objects, services)
    assert sum("maxReplicas 20 exceeds" in p for p in problems) == len(services)


def test_unknown_kustomize_fields_are_refused(tmp_path: Path, renderer: check.Renderer) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\nnamePrefixx: x-\n")
    with pytest.raises(check.RenderError, match="namePrefix"):
        check.kustomize_build(tmp_path, renderer)


def test_an_overlay_that_does_not_render_fails_deploy_check(tmp_path: Path, renderer: check.Renderer) -> None:
    for name in ("libs", "services"):
        (tmp_path / name).symlink_to(REPO / name)
    shutil.copytree(REPO / "deploy" / "k8s", tmp_path / "deploy" / "k8s")
    (tmp_path / "deploy" / "k8s" / "overlays" / "prod" / "apps" / "hpa-patch.yaml").unlink()
    report = check.run_checks(tmp_path, renderer=renderer)
    assert any(p.startswith("deploy/k8s: render failed") and "hpa-patch.yaml" in p for p in report.problems)


def test_a_missing_kustomize_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(check.render.KUSTOMIZE_ENV, str(tmp_path / "kustomize"))
    with pytest.raises(check.RenderError, match=r"KUSTOMIZE=.* is not an executable"):
        check.find_renderer(REPO)


# --- Dockerfile and compose ---------------------------------------------------------------------------


def dockerfile_problems(text: str, services: tuple[check.Service, ...]) -> list[str]:
    report = check.Report()
    check.check_dockerfile(text, services, report, REPO)
    return report.problems


def test_dockerfile_rules(services: tuple[check.Service, ...]) -> None:
    text = (REPO / "deploy" / "Dockerfile").read_text()
    assert dockerfile_problems(text, services) == []
    assert any("HEALTHCHECK" in p for p in dockerfile_problems(text + "HEALTHCHECK CMD true\n", services))
    assert any(
        "non-root USER" in p for p in dockerfile_problems(text.replace("USER 10001:10001", ""), services)
    )
    broken = text.replace("COPY libs/compliance/ libs/compliance/\n", "")
    assert any("dcp-compliance" in p for p in dockerfile_problems(broken, services))
    tools = text.replace("ENTRYPOINT", "RUN apt-get install -y gcc\nENTRYPOINT")
    assert any("build tools" in p for p in dockerfile_problems(tools, services))


def compose_problems(
    compose: Obj, services: tuple[check.Service, ...], rendered: dict[str, list[Obj]]
) -> list[str]:
    report = check.Report()
    check.check_compose(compose, services, rendered["dev"], report, REPO)
    return report.problems


def test_compose_rules(services: tuple[check.Service, ...], rendered: dict[str, list[Obj]]) -> None:
    compose = yaml.safe_load((REPO / "deploy" / "docker-compose.yml").read_text())
    assert compose_problems(compose, services, rendered) == []

    broken = copy.deepcopy(compose)
    del broken["services"]["payment-service"]["environment"]["KAFKA_BOOTSTRAP_SERVERS"]
    broken["services"]["case-service"]["ports"] = ["8080:8001"]
    broken["services"]["kafka-topics"]["environment"]["DCP_TOPICS"] = "collections.cases"
    broken["services"]["audit-service"]["healthcheck_typo"] = {}
    problems = compose_problems(broken, services, rendered)
    assert any("payment-service" in p and "KAFKA_BOOTSTRAP_SERVERS" in p for p in problems)
    assert any("case-service must publish 8001:8001" in p for p in problems)
    assert any("DCP_TOPICS: missing" in p and "collections.payments" in p for p in problems)
    assert any("compose schema" in p and "healthcheck_typo" in p for p in problems)
