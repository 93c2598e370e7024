"""The local Apache Kafka: one broker, or a cluster of ``DCP_KAFKA_BROKERS`` (KRaft, each node broker and
controller), from the Maven Central jars."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ._aio import run_sync
from .config import BROKERS_FILE, KafkaNode, StackConfig
from .procs import live_pid, pid_alive, port_open, tail, terminate

if TYPE_CHECKING:
    from aiokafka.admin import AIOKafkaAdminClient

log = logging.getLogger(__name__)

BROKER_MAIN = "kafka.Kafka"
_MARKER = ".complete"

_LOG4J2 = """\
Configuration:
  name: dcp-local-kafka
  Appenders:
    Console:
      name: STDOUT
      target: SYSTEM_OUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.request.logger
        level: WARN
      - name: state.change.logger
        level: WARN
      - name: org.apache.kafka.controller
        level: WARN
      - name: kafka.log.LogCleaner
        level: WARN
"""


class StackError(RuntimeError):
    """The local stack could not be started or stopped."""


def _pom(cfg: StackConfig) -> Path:
    return cfg.repo_root / "deploy" / "local" / "pom.xml"


def _pom_digest(cfg: StackConfig) -> str:
    return hashlib.sha256(_pom(cfg).read_bytes()).hexdigest()


def ensure_jars(cfg: StackConfig) -> bool:
    """Fetch the broker jars into the cache once. True when they had to be fetched (mvn ran)."""
    libs = cfg.kafka_libs
    marker = libs / _MARKER
    digest = _pom_digest(cfg)
    if marker.is_file() and marker.read_text().strip() == digest:
        return False
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError(
            "Apache Maven (mvn) is needed once to fetch the Kafka jars; install it (apt install maven)"
        )
    if libs.exists():
        shutil.rmtree(libs)
    libs.mkdir(parents=True)
    cmd = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(_pom(cfg)),
        f"-Dmaven.repo.local={cfg.cache_dir / 'm2'}",
        "dependency:copy-dependencies",
        f"-DoutputDirectory={libs}",
    ]
    log.info("fetching Kafka jars: %s", " ".join(cmd))
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0 or not any(libs.glob("kafka_2.13-*.jar")):
        raise StackError(f"fetching the Kafka jars failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    marker.write_text(digest + "\n")
    return True


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise StackError(
            "a Java runtime (17+) is needed for the Kafka broker; install one (apt install default-jre)"
        )
    return java


def _random_cluster_id() -> str:
    # Same format as `kafka-storage random-uuid`: 16 random bytes, URL-safe base64 without padding,
    # never starting with '-' (Kafka's Uuid.randomUuid() rule).
    while True:
        value = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if not value.startswith("-"):
            return value


def _server_properties(cfg: StackConfig, node: KafkaNode) -> str:
    nodes = cfg.kafka_nodes()
    replicas = cfg.kafka_replication_factor
    min_isr = str(2 if replicas >= 3 else 1)
    props = {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "listeners": f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(node.directory / "data"),
        "num.partitions": "3",
        "default.replication.factor": str(replicas),
        "offsets.topic.replication.factor": str(replicas),
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": str(replicas),
        "share.coordinator.state.topic.min.isr": min_isr,
        "min.insync.replicas": min_isr,
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "delete.topic.enable": "true",
        "log.retention.hours": "168",
    }
    if len(nodes) == 1:
        props["controller.quorum.bootstrap.servers"] = f"127.0.0.1:{node.controller_port}"
    else:
        # a static quorum of every node: each formatted with the same cluster id
        props["controller.quorum.voters"] = ",".join(
            f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in nodes
        )
        # a broker killed and restarted must rejoin quickly, and leaders move back to it
        props["replica.lag.time.max.ms"] = "10000"
        props["unclean.leader.election.enable"] = "false"
    return "".join(f"{k}={v}\n" for k, v in props.items())


def _formatted(node: KafkaNode, props: str) -> bool:
    formatted_for = node.directory / "formatted.properties"
    return (
        formatted_for.is_file()
        and formatted_for.read_text() == props
        and (node.directory / "data" / "meta.properties").is_file()
    )


def _prepare(cfg: StackConfig, java: str) -> None:
    """Write each node's configuration; format the storage once (again, for every node, if the ports
    or the cluster's size changed)."""
    nodes = cfg.kafka_nodes()
    wanted = {node.node_id: _server_properties(cfg, node) for node in nodes}
    for node in nodes:
        node.directory.mkdir(parents=True, exist_ok=True)
        (node.directory / "log4j2.yaml").write_text(_LOG4J2)
    if all(_formatted(node, wanted[node.node_id]) for node in nodes):
        for node in nodes:
            (node.directory / "server.properties").write_text(wanted[node.node_id])
        return
    # first start, or the listeners changed: the quorum is re-created from scratch
    cluster_id = _random_cluster_id()
    for node in nodes:
        log_dir = node.directory / "data"
        if log_dir.exists():
            shutil.rmtree(log_dir)
        props_file = node.directory / "server.properties"
        props_file.write_text(wanted[node.node_id])
        cmd = [
            java,
            "-cp",
            f"{cfg.kafka_libs}/*",
            f"-Dlog4j2.configurationFile={node.directory / 'log4j2.yaml'}",
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(props_file),
            *(["--standalone"] if len(nodes) == 1 else []),
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise StackError(f"formatting the Kafka storage failed:\n{result.stdout}\n{result.stderr}")
        (node.directory / "formatted.properties").write_text(wanted[node.node_id])


def node_pid(node: KafkaNode) -> int | None:
    return live_pid(node.pid_file, BROKER_MAIN)


def running_pid(cfg: StackConfig) -> int | None:
    """The first running broker of the local cluster (the only one on a single node)."""
    for node in cfg.kafka_nodes():
        pid = node_pid(node)
        if pid is not None:
            return pid
    return None


def _launch(cfg: StackConfig, node: KafkaNode, java: str) -> int:
    log_file = node.directory / "broker.log"
    heap = "768m" if cfg.kafka_brokers == 1 else "512m"
    cmd = [
        java,
        "-Xms256m",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={node.directory / 'log4j2.yaml'}",
        "-cp",
        f"{cfg.kafka_libs}/*",
        BROKER_MAIN,
        str(node.directory / "server.properties"),
    ]
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(  # noqa: S603
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    node.pid_file.write_text(f"{proc.pid}\n")
    return proc.pid


def start(cfg: StackConfig, timeout: float = 90.0) -> bool:
    """Start every broker of the local cluster that does not run yet. True when this call started one."""
    nodes = cfg.kafka_nodes()
    missing = [node for node in nodes if node_pid(node) is None]
    if not missing:
        _wait_nodes(cfg, nodes, timeout)
        return False
    for node in missing:
        if port_open("127.0.0.1", node.port) or port_open("127.0.0.1", node.controller_port):
            raise StackError(
                f"port {node.port} or {node.controller_port} is taken by a process this stack "
                "did not start; stop it, or set DCP_KAFKA_PORT / DCP_KAFKA_CONTROLLER_PORT, "
                "or point KAFKA_BOOTSTRAP_SERVERS at it"
            )
    ensure_jars(cfg)
    java = _java()
    if len(missing) == len(nodes):
        _prepare(cfg, java)
    launched = {node.node_id: _launch(cfg, node, java) for node in missing}
    (cfg.data_dir / BROKERS_FILE).write_text(f"{cfg.kafka_brokers}\n")
    try:
        _wait_nodes(cfg, nodes, timeout)
    except BaseException:
        for node in missing:
            terminate(launched[node.node_id], 10)
            node.pid_file.unlink(missing_ok=True)
        raise
    return True


def _wait_nodes(cfg: StackConfig, nodes: list[KafkaNode], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for node in nodes:
        wait_ready(
            node.address,
            max(deadline - time.monotonic(), 1.0),
            pid=node_pid(node),
            log_file=node.directory / "broker.log",
        )
    if len(nodes) > 1:
        run_sync(_wait_brokers(cfg.kafka_bootstrap, len(nodes), max(deadline - time.monotonic(), 1.0)))


async def _wait_brokers(bootstrap: str, count: int, timeout: float) -> None:  # noqa: ASYNC109
    """Wait until the cluster's metadata lists ``count`` brokers (each registered with the quorum)."""
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient

    deadline = time.monotonic() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            if len((await admin.describe_cluster())["brokers"]) >= count:
                return
        except Exception:  # noqa: S110 - not ready yet
            pass
        finally:
            with contextlib.suppress(Exception):
                await admin.close()
        if time.monotonic() > deadline:
            raise StackError(
                f"the Kafka cluster at {bootstrap} did not list {count} brokers in {timeout:.0f}s"
            )
        await asyncio.sleep(0.3)


def kill_node(cfg: StackConfig, node_id: int) -> None:
    """SIGKILL one broker of the local cluster (a crash, for fault tests)."""
    node = cfg.kafka_node(node_id)
    pid = node_pid(node)
    if pid is None:
        raise StackError(f"broker {node_id} does not run")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def restart_node(cfg: StackConfig, node_id: int, timeout: float = 90.0) -> None:
    """Start one broker again after a crash, and wait until the cluster lists every broker."""
    node = cfg.kafka_node(node_id)
    if node_pid(node) is None:
        _launch(cfg, node, _java())
    _wait_nodes(cfg, cfg.kafka_nodes(), timeout)


def _pid_files(cfg: StackConfig) -> list[Path]:
    """Every broker pid file in the data directory, whatever cluster size wrote it."""
    return sorted({cfg.kafka_pid_file, *cfg.data_dir.glob("kafka-*.pid")})


def stop(cfg: StackConfig, timeout: float = 30.0) -> bool:
    """SIGTERM every broker, wait, SIGKILL after the deadline. True if a broker was running."""
    stopped = False
    running = [(f, live_pid(f, BROKER_MAIN)) for f in _pid_files(cfg)]
    for _, pid in running:  # all at once: a cluster's last broker would wait for a quorum that left
        if pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
    for pid_file, pid in running:
        if pid is not None:
            if terminate(pid, timeout):
                log.warning("a Kafka broker did not stop within %.0fs and was killed", timeout)
            stopped = True
        pid_file.unlink(missing_ok=True)
    (cfg.data_dir / BROKERS_FILE).unlink(missing_ok=True)
    return stopped


async def _metadata_ok(bootstrap: str) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except Exception:  # not ready yet
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


def is_ready(bootstrap: str) -> bool:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    if not port_open(host or "127.0.0.1", int(port)):
        return False
    return run_sync(_metadata_ok(bootstrap))


def wait_ready(
    bootstrap: str, timeout: float, *, pid: int | None = None, log_file: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if is_ready(bootstrap):
            return
        if pid is not None and not pid_alive(pid):
            detail = f"\n--- {log_file} ---\n{tail(log_file)}" if log_file else ""
            raise StackError(f"the Kafka broker exited during start-up{detail}")
        if time.monotonic() > deadline:
            detail = f"\n--- {log_file} ---\n{tail(log_file)}" if log_file else ""
            raise StackError(f"Kafka at {bootstrap} not ready after {timeout:.0f}s{detail}")
        time.sleep(0.2)


async def replication_factor(admin: AIOKafkaAdminClient) -> int:
    """The replication factor for new topics on this cluster: 3 where it has three brokers or more, else
    one copy on each broker (a single broker: 1)."""
    return max(1, min(3, len((await admin.describe_cluster())["brokers"])))


async def create_topics_async(
    bootstrap: str, topics: list[str] | dict[str, int], partitions: int = 3
) -> list[str]:
    """Create the topics that do not exist yet, replicated as :func:`replication_factor` says. ``topics``
    is a list (each with ``partitions``) or a mapping of name to partition count. Returns those created."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    wanted = dict(topics) if isinstance(topics, dict) else dict.fromkeys(topics, partitions)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if not missing:
            return []
        copies = await replication_factor(admin)
        response = await admin.create_topics(
            [NewTopic(name=t, num_partitions=wanted[t], replication_factor=copies) for t in missing]
        )
        for error in getattr(response, "topic_errors", []):
            name, code = error[0], error[1]
            if code not in (0, 36):  # 36 = TOPIC_ALREADY_EXISTS (a concurrent creator)
                raise StackError(f"creating topic {name!r} failed with Kafka error code {code}: {error[2:]}")
        # wait until the metadata shows every new topic
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if set(missing) <= set(await admin.list_topics()):
                break
            await _sleep(0.1)
        return missing
    finally:
        await admin.close()


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


def create_topics(bootstrap: str, topics: list[str] | dict[str, int], partitions: int = 3) -> list[str]:
    return run_sync(create_topics_async(bootstrap, topics, partitions))
