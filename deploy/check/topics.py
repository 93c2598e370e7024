"""The KafkaTopics of a rendered overlay: one for every catalogue topic and its DLQ, with the retention and
replication rules of docs/operations.md, on the Kafka cluster the services are configured with."""

from __future__ import annotations

import re
from collections.abc import Mapping

from deploy.check.render import Obj, describe
from deploy.check.report import Report
from deploy.check.services import catalogue_topics

DLQ_MIN_RETENTION_MS = 30 * 24 * 3600 * 1000


def kafka_cluster(bootstrap: str | None) -> tuple[str, str] | None:
    """(cluster, namespace) of a Strimzi bootstrap address `<cluster>-kafka-bootstrap.<ns>.svc:port`."""
    match = re.match(r"^([a-z0-9-]+)-kafka-bootstrap\.([a-z0-9-]+)\.svc", (bootstrap or "").split(",")[0])
    return (match.group(1), match.group(2)) if match else None


def check_topics(
    overlay: str,
    topics: Mapping[str, Obj],
    prefix: str,
    cluster: tuple[str, str] | None,
    production: bool,
    report: Report,
) -> None:
    expected = {prefix + t: dlq for t, dlq in catalogue_topics().items()}
    # The audit service's signed checkpoints: kept forever like the catalogue's topics (auditors read
    # every checkpoint from it; docs/operations.md).
    expected[prefix + "audit.checkpoints"] = False
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
