"""The local stack as a whole: ensure it runs, stop it, report on it."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from typing import Any

from . import kafka, postgres
from .config import DATA_KEYS_DATABASE, DATA_MASTER_KEY_FILE, SERVICE_DATABASES, StackConfig
from .procs import port_open
from .services import services_status, stop_services


@dataclass(frozen=True)
class StackEndpoints:
    kafka_bootstrap: str
    database_url: str  # server-level URL (database "postgres"); see database_url_for()
    started: bool  # True when the call that produced this started something
    data_master_keys: str = ""  # the stack's master key of the key vault (`id:base64`)

    @property
    def data_keys_url(self) -> str:
        return postgres.database_url_for(self.database_url, DATA_KEYS_DATABASE)

    def service_env(self) -> dict[str, str]:
        """What every service of the stack is started with."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "DATABASE_URL": self.database_url,
            "DATA_KEYS_DATABASE_URL": self.data_keys_url,
            "DATA_MASTER_KEYS": self.data_master_keys,
        }


def data_master_keys(cfg: StackConfig) -> str:
    """The stack's vault master key, generated into the data directory the first time (dev only: a
    deployment takes DATA_MASTER_KEYS from its secret store)."""
    path = cfg.data_dir / DATA_MASTER_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("stack:" + base64.b64encode(os.urandom(32)).decode() + "\n")
    return path.read_text().strip()


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _write_stack_env(cfg: StackConfig, endpoints: StackEndpoints) -> None:
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"{k}={v}" for k, v in endpoints.service_env().items()]
    fd = os.open(cfg.stack_env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds the master key
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(lines) + "\n")


def ensure_stack(cfg: StackConfig | None = None) -> StackEndpoints:
    """Make Kafka and PostgreSQL available and the service databases exist.

    ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL`` in the environment win: what they name is used and
    nothing is started for it. Otherwise the embedded broker / server is started (or reused if ours runs).
    """
    cfg = cfg or StackConfig.from_env()
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    started = False

    bootstrap = _env("KAFKA_BOOTSTRAP_SERVERS")
    database_url = _env("DATABASE_URL")

    if database_url is None:
        started |= postgres.start(cfg)
        database_url = cfg.database_url
    if bootstrap is None:
        try:
            started |= kafka.start(cfg)
        except BaseException:
            if started:
                postgres.stop(cfg)
            raise
        bootstrap = cfg.kafka_bootstrap
    else:
        kafka.wait_ready(bootstrap, 30)

    postgres.create_databases(database_url, SERVICE_DATABASES)
    kafka.create_topics(bootstrap, catalogue_topics())
    endpoints = StackEndpoints(
        kafka_bootstrap=bootstrap,
        database_url=database_url,
        started=started,
        data_master_keys=data_master_keys(cfg),
    )
    _write_stack_env(cfg, endpoints)
    return endpoints


def catalogue_topics() -> list[str]:
    """Every topic of the event catalogue and its dead-letter topic (auto-creation is off)."""
    from dcp_events import TOPICS, dlq_topic

    return [*TOPICS, *(dlq_topic(t) for t in TOPICS)]


def stop_stack(cfg: StackConfig | None = None) -> None:
    """Stop what this stack started (the broker, then PostgreSQL); servers named by env vars stay up."""
    cfg = cfg or StackConfig.from_env()
    kafka.stop(cfg)
    postgres.stop(cfg)


def stop_all(cfg: StackConfig | None = None) -> None:
    """Stop the services started by ``dcp-stack run``, then the stack."""
    cfg = cfg or StackConfig.from_env()
    stop_services(cfg)
    stop_stack(cfg)


def _host_port(hostport: str) -> tuple[str, int]:
    host, _, port = hostport.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def stack_status(cfg: StackConfig | None = None) -> dict[str, Any]:
    """Whether Kafka, PostgreSQL and the services run, where, and whether this stack manages them."""
    cfg = cfg or StackConfig.from_env()
    env_bootstrap = _env("KAFKA_BOOTSTRAP_SERVERS")
    env_db = _env("DATABASE_URL")

    bootstrap = env_bootstrap or cfg.kafka_bootstrap
    kpid = kafka.running_pid(cfg)
    first = bootstrap.split(",")[0]
    k_running = port_open(*_host_port(first)) and kafka.is_ready(bootstrap)

    db_url = env_db or cfg.database_url
    ppid = postgres.running_pid(cfg)
    p_running = postgres.is_ready(db_url)

    return {
        "kafka": {
            "running": k_running,
            "bootstrap": bootstrap,
            "pid": kpid,
            "managed": env_bootstrap is None,
            "log": str(cfg.kafka_nodes()[0].directory / "broker.log"),
        },
        "postgres": {
            "running": p_running,
            "database_url": db_url,
            "pid": ppid,
            "managed": env_db is None,
            "log": str(cfg.pg_dir / "postgres.log"),
        },
        "services": services_status(cfg),
        "data_dir": str(cfg.data_dir),
    }
