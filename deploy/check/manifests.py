"""The rules about one rendered overlay's workloads: commands, images, environment, ports, probes, security,
PodDisruptionBudgets, HorizontalPodAutoscalers and NetworkPolicies (topics: deploy.check.topics)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from deploy.check.images import dockerfile_user_id
from deploy.check.render import Obj, containers_of, describe, find_object, pod_specs, split_image
from deploy.check.report import DEPLOY, Report
from deploy.check.services import Service, catalogue_topics
from deploy.check.settings import ALL_INTERFACES, check_settings_env, load_settings, resolve_env
from deploy.check.topics import check_topics, kafka_cluster

PRODUCTION_OVERLAYS = frozenset({"prod"})
# uvicorn's graceful shutdown in dcp_platform.app.serve (timeout_graceful_shutdown).
GRACEFUL_SHUTDOWN_SECONDS = 20
DNS_PORT, POSTGRES_PORT, KAFKA_PORTS = 53, 5432, frozenset({9092, 9093})


def _labels_match(selector: Mapping[str, Any] | None, labels: Mapping[str, Any]) -> bool:
    match = dict((selector or {}).get("matchLabels") or {})
    if (selector or {}).get("matchExpressions"):
        return False
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


def _port_number(port: Any, container: Obj) -> int | None:
    if isinstance(port, int):
        return port
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            return int(declared["containerPort"])
    return None


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
    check_topics(overlay, topics, next(iter(prefixes), ""), cluster, production, report)


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
    deployment = find_object(objects, "Deployment", base)
    job = find_object(objects, "Job", f"{base}-migrate")
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
        if find_object(objects, kind, name) is None:
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
        _check_metrics_port(where, workload, container, env.values.get("METRICS_PORT"), service, report)
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
    if not account or find_object(objects, "ServiceAccount", str(account)) is None:
        report.fail(where, f"serviceAccountName {account!r} is not a ServiceAccount of the manifests")


def metrics_port_of(container: Obj) -> int | None:
    """The container port named `metrics` (METRICS_PORT: /metrics apart from the service's port)."""
    for declared in container.get("ports") or []:
        if declared.get("name") == "metrics":
            return int(declared["containerPort"])
    return None


def _check_metrics_port(
    where: str, deployment: Obj, container: Obj, setting: str | None, service: Service, report: Report
) -> None:
    """/metrics on its own port: declared as the container port `metrics`, the same as METRICS_PORT,
    and the port Prometheus is told to scrape."""
    declared = metrics_port_of(container)
    if (setting or None) != (str(declared) if declared is not None else None):
        report.fail(where, f"METRICS_PORT={setting!r} but the container's metrics port is {declared!r}")
    annotations = ((deployment["spec"].get("template") or {}).get("metadata") or {}).get("annotations") or {}
    scraped = annotations.get("prometheus.io/port")
    expected = declared if declared is not None else service.port
    if scraped is not None and str(scraped) != str(expected):
        report.fail(where, f"prometheus.io/port is {scraped!r}: /metrics is served on {expected}")


def _check_server_container(
    where: str, deployment: Obj, spec: Obj, container: Obj, service: Service, report: Report
) -> None:
    ports = [int(p["containerPort"]) for p in container.get("ports") or [] if p.get("name") != "metrics"]
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
    svc = find_object(objects, "Service", base)
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
    pdb = find_object(objects, "PodDisruptionBudget", base)
    if pdb is not None and not _labels_match(pdb["spec"].get("selector"), labels):
        report.fail(f"overlay {overlay}: {describe(pdb)}", "selector does not match the Deployment's pods")
    hpa = find_object(objects, "HorizontalPodAutoscaler", base)
    if hpa is not None:
        _check_hpa(overlay, hpa, service, topics, prefix, report)
    policy = find_object(objects, "NetworkPolicy", base)
    if policy is not None:
        peers = _peer_ports(objects, exclude=base)
        _check_network_policy(
            overlay, policy, labels, service, container, server=True, report=report, peers=peers
        )
    migrate_policy = find_object(objects, "NetworkPolicy", f"{base}-migrate")
    if migrate_policy is not None and job is not None:
        job_labels = ((job["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
        _check_network_policy(overlay, migrate_policy, job_labels, service, {}, server=False, report=report)


def _peer_ports(objects: Sequence[Obj], *, exclude: str) -> list[tuple[Mapping[str, Any], int]]:
    """The platform's other services: the pod labels each Service selects, and each of its ports."""
    out: list[tuple[Mapping[str, Any], int]] = []
    for obj in objects:
        if obj.get("kind") != "Service" or obj["metadata"]["name"] == exclude:
            continue
        selector = (obj.get("spec") or {}).get("selector") or {}
        for port in (obj.get("spec") or {}).get("ports") or []:
            if isinstance(port.get("port"), int) and selector:
                out.append((selector, int(port["port"])))
    return out


def _to_peer(rule: Obj, ports: set[int], peers: Sequence[tuple[Mapping[str, Any], int]]) -> bool:
    """An egress rule to another service's pods (a podSelector in the namespace, the labels its Service
    selects) on that Service's port only."""
    targets = rule.get("to") or []
    if not targets or any(set(t) != {"podSelector"} for t in targets):
        return False
    for target in targets:
        labels = (target["podSelector"] or {}).get("matchLabels") or {}
        if not all(
            any(port == p and all(labels.get(k) == v for k, v in selector.items()) for selector, p in peers)
            for port in ports
        ):
            return False
    return True


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
    peers: Sequence[tuple[Mapping[str, Any], int]] = (),
) -> None:
    where = f"overlay {overlay}: {describe(policy)}"
    spec = policy["spec"]
    if not _labels_match(spec.get("podSelector"), pod_labels):
        report.fail(where, "podSelector does not select the pods it is meant for")
    if set(spec.get("policyTypes") or []) != {"Ingress", "Egress"}:
        report.fail(where, "policyTypes must be Ingress and Egress")
    metrics_port = metrics_port_of(container) if server else None
    for rule in spec.get("ingress") or []:
        ingress_ports = [_port_number(p.get("port"), container) for p in rule.get("ports") or []]
        if server and metrics_port is not None and ingress_ports == [metrics_port]:
            sources = rule.get("from") or []
            if not sources or any(set(src) != {"namespaceSelector"} for src in sources):
                report.fail(
                    where, f"the metrics port {metrics_port} must be open to a monitoring namespace only"
                )
            continue
        if not server or not ingress_ports or any(p != service.port for p in ingress_ports):
            report.fail(
                where,
                f"ingress must be the service port {service.port} only"
                + (f" (and the metrics port {metrics_port} from monitoring)" if metrics_port else "")
                if server
                else "a migration Job accepts no ingress",
            )
    allowed = {DNS_PORT, POSTGRES_PORT, *(KAFKA_PORTS if server else ())}
    seen: set[int] = set()
    for rule in spec.get("egress") or []:
        ports = {int(p["port"]) for p in rule.get("ports") or [] if isinstance(p.get("port"), int)}
        if not rule.get("to") or not rule.get("ports"):
            ports = {-1}
        if not ports <= allowed and not (server and _to_peer(rule, ports, peers)):
            report.fail(
                where,
                f"egress rule {rule} is not limited to DNS, PostgreSQL"
                + (" and Kafka, or another of the platform's services on its port" if server else ""),
            )
        seen |= ports
    needed = {DNS_PORT, POSTGRES_PORT} | ({9092} if server else set())
    if not needed <= seen:
        report.fail(where, f"egress lacks ports {sorted(needed - seen)}")
