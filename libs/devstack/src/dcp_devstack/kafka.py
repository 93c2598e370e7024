"""A single-node Apache Kafka broker (KRaft, broker + controller) from the Maven Central jars."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

from ._aio import run_sync
from .config import StackConfig
from .procs import live_pid, port_open, tail, terminate

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


def _server_properties(cfg: StackConfig) -> str:
    port, cport = cfg.kafka_port, cfg.kafka_controller_port
    log_dir = cfg.kafka_dir / "data"
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"127.0.0.1:{cport}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": "3",
        "default.replication.factor": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "min.insync.replicas": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "delete.topic.enable": "true",
        "log.retention.hours": "168",
    }
    return "".join(f"{k}={v}\n" for k, v in props.items())


def _prepare(cfg: StackConfig, java: str) -> Path:
    """Write the configuration and format the storage once (again if the ports changed)."""
    kdir = cfg.kafka_dir
    kdir.mkdir(parents=True, exist_ok=True)
    props_file = kdir / "server.properties"
    props = _server_properties(cfg)
    formatted_for = kdir / "formatted.properties"
    (kdir / "log4j2.yaml").write_text(_LOG4J2)
    log_dir = kdir / "data"
    if (
        formatted_for.is_file()
        and formatted_for.read_text() == props
        and (log_dir / "meta.properties").is_file()
    ):
        props_file.write_text(props)
        return props_file
    # first start, or the listeners changed: the single-node quorum is re-created from scratch
    if log_dir.exists():
        shutil.rmtree(log_dir)
    props_file.write_text(props)
    cmd = [
        java,
        "-cp",
        f"{cfg.kafka_libs}/*",
        f"-Dlog4j2.configurationFile={kdir / 'log4j2.yaml'}",
        "kafka.tools.StorageTool",
        "format",
        "-t",
        _random_cluster_id(),
        "-c",
        str(props_file),
        "--standalone",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise StackError(f"formatting the Kafka storage failed:\n{result.stdout}\n{result.stderr}")
    formatted_for.write_text(props)
    return props_file


def running_pid(cfg: StackConfig) -> int | None:
    return live_pid(cfg.kafka_pid_file, BROKER_MAIN)


def start(cfg: StackConfig, timeout: float = 90.0) -> bool:
    """Start the broker unless ours already runs. True when this call started it."""
    pid = running_pid(cfg)
    if pid is not None:
        wait_ready(cfg.kafka_bootstrap, timeout, pid=pid, log_file=cfg.kafka_dir / "broker.log")
        return False
    if port_open("127.0.0.1", cfg.kafka_port) or port_open("127.0.0.1", cfg.kafka_controller_port):
        raise StackError(
            f"port {cfg.kafka_port} or {cfg.kafka_controller_port} is taken by a process this stack "
            "did not start; stop it, or set DCP_KAFKA_PORT / DCP_KAFKA_CONTROLLER_PORT, "
            "or point KAFKA_BOOTSTRAP_SERVERS at it"
        )
    ensure_jars(cfg)
    java = _java()
    props_file = _prepare(cfg, java)
    log_file = cfg.kafka_dir / "broker.log"
    cmd = [
        java,
        "-Xms256m",
        "-Xmx768m",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={cfg.kafka_dir / 'log4j2.yaml'}",
        "-cp",
        f"{cfg.kafka_libs}/*",
        BROKER_MAIN,
        str(props_file),
    ]
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(  # noqa: S603
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    cfg.kafka_pid_file.write_text(f"{proc.pid}\n")
    try:
        wait_ready(cfg.kafka_bootstrap, timeout, pid=proc.pid, log_file=log_file)
    except BaseException:
        terminate(proc.pid, 10)
        cfg.kafka_pid_file.unlink(missing_ok=True)
        raise
    return True


def stop(cfg: StackConfig, timeout: float = 30.0) -> bool:
    """SIGTERM the broker, wait, SIGKILL after the deadline. True if a broker was running."""
    pid = running_pid(cfg)
    if pid is None:
        cfg.kafka_pid_file.unlink(missing_ok=True)
        return False
    if terminate(pid, timeout):
        log.warning("the Kafka broker did not stop within %.0fs and was killed", timeout)
    cfg.kafka_pid_file.unlink(missing_ok=True)
    return True


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
    from .procs import pid_alive

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


async def create_topics_async(bootstrap: str, topics: list[str], partitions: int = 3) -> list[str]:
    """Create the topics that do not exist yet (replication factor 1). Returns the ones created."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [NewTopic(name=t, num_partitions=partitions, replication_factor=1) for t in missing]
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


def create_topics(bootstrap: str, topics: list[str], partitions: int = 3) -> list[str]:
    return run_sync(create_topics_async(bootstrap, topics, partitions))
