"""Where the local stack lives and which ports it uses (everything overridable by environment variables)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

KAFKA_VERSION = "4.4.0"

#: In the data directory: how many brokers the local cluster was started with (read when
#: ``DCP_KAFKA_BROKERS`` is unset, so ``dcp-stack run`` and ``down`` find the cluster ``up`` started).
BROKERS_FILE = "kafka.brokers"

#: The service databases created on the PostgreSQL server (plus ``dcp_test`` for library tests).
SERVICE_DATABASES: tuple[str, ...] = (
    "case_service",
    "contact_service",
    "payment_service",
    "audit_service",
    "data_keys",
    "dcp_test",
)

#: The key vault's database (every service's DATA_KEYS_DATABASE_URL) and, in the data directory, the
#: file with the stack's master key (DATA_MASTER_KEYS), generated once.
DATA_KEYS_DATABASE = "data_keys"
DATA_MASTER_KEY_FILE = "data-master-key"

#: In the data directory: the local SMS gateway's API key (SMS_GATEWAY_API_KEY), generated once.
SMS_API_KEY_FILE = "sms-gateway-api-key"


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # "case"
    module: str  # "case_service"
    port: int
    replica: int = 1  # 1..N with `dcp-stack run --replicas N`; replica r listens on port + 100 * (r - 1)

    @property
    def label(self) -> str:
        return f"{self.name}-service"

    @property
    def instance(self) -> str:
        """The process's name: the service's label, with the replica number from the second one on."""
        return self.label if self.replica == 1 else f"{self.label}-{self.replica}"


_SERVICES: tuple[tuple[str, int], ...] = (
    ("case", 8001),
    ("contact", 8002),
    ("payment", 8003),
    ("audit", 8004),
)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer port number, got {raw!r}") from exc


def _brokers(data_dir: Path) -> int:
    """``DCP_KAFKA_BROKERS``, else the size of the cluster last started in this data directory, else 1."""
    raw = os.environ.get("DCP_KAFKA_BROKERS", "").strip()
    if not raw:
        try:
            raw = (data_dir / BROKERS_FILE).read_text().strip()
        except OSError:
            return 1
    if not raw.isdigit() or not 1 <= int(raw) <= 9:
        raise ValueError(f"DCP_KAFKA_BROKERS must be a number of brokers from 1 to 9, got {raw!r}")
    return int(raw)


def find_repo_root() -> Path:
    """The repository root: ``DCP_REPO_ROOT``, else this package's checkout, else the cwd upwards."""
    explicit = os.environ.get("DCP_REPO_ROOT")
    if explicit:
        return Path(explicit).resolve()
    here = Path(__file__).resolve()
    # libs/devstack/src/dcp_devstack/config.py -> repo root is four levels up (editable install)
    candidate = here.parents[4] if len(here.parents) > 4 else here.parent
    if (candidate / "libs" / "devstack").is_dir():
        return candidate
    cwd = Path.cwd().resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / "libs" / "devstack").is_dir() and (folder / "pyproject.toml").is_file():
            return folder
    return cwd


@dataclass(frozen=True)
class KafkaNode:
    """One broker of the local cluster: a combined broker and KRaft controller."""

    node_id: int
    port: int
    controller_port: int
    directory: Path
    pid_file: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass(frozen=True)
class StackConfig:
    repo_root: Path
    data_dir: Path
    cache_dir: Path
    kafka_port: int
    kafka_controller_port: int
    pg_port: int
    kafka_brokers: int = 1
    smtp_port: int = 2525
    sms_port: int = 8025

    @classmethod
    def from_env(cls) -> StackConfig:
        root = find_repo_root()
        data = Path(os.environ.get("DCP_DATA_DIR") or root / ".local").resolve()
        cache = Path(os.environ.get("DCP_CACHE_DIR") or root / ".cache").resolve()
        return cls(
            repo_root=root,
            data_dir=data,
            cache_dir=cache,
            kafka_port=_env_int("DCP_KAFKA_PORT", 19092),
            kafka_controller_port=_env_int("DCP_KAFKA_CONTROLLER_PORT", 19093),
            pg_port=_env_int("DCP_PG_PORT", 15432),
            kafka_brokers=_brokers(data),
            smtp_port=_env_int("DCP_SMTP_PORT", 2525),
            sms_port=_env_int("DCP_SMS_PORT", 8025),
        )

    # --- Kafka -------------------------------------------------------------------------------------------
    def kafka_nodes(self) -> list[KafkaNode]:
        """The brokers of the local cluster. One broker keeps the single-node layout (``kafka/``,
        ``kafka.pid``); node *i* of a cluster listens on the base ports plus ``2 * (i - 1)``."""
        if self.kafka_brokers == 1:
            return [
                KafkaNode(1, self.kafka_port, self.kafka_controller_port, self.kafka_dir, self.kafka_pid_file)
            ]
        return [
            KafkaNode(
                node_id=i,
                port=self.kafka_port + 2 * (i - 1),
                controller_port=self.kafka_controller_port + 2 * (i - 1),
                directory=self.kafka_dir / f"node-{i}",
                pid_file=self.data_dir / f"kafka-{i}.pid",
            )
            for i in range(1, self.kafka_brokers + 1)
        ]

    def kafka_node(self, node_id: int) -> KafkaNode:
        for node in self.kafka_nodes():
            if node.node_id == node_id:
                return node
        raise ValueError(f"the local cluster has no broker {node_id} (it has {self.kafka_brokers})")

    @property
    def kafka_replication_factor(self) -> int:
        """Replication factor of the stack's topics: 3 on a cluster of three or more, else every broker."""
        return min(self.kafka_brokers, 3)

    @property
    def kafka_bootstrap(self) -> str:
        return ",".join(node.address for node in self.kafka_nodes())

    @property
    def kafka_libs(self) -> Path:
        return self.cache_dir / "kafka" / KAFKA_VERSION / "libs"

    @property
    def kafka_dir(self) -> Path:
        return self.data_dir / "kafka"

    @property
    def kafka_pid_file(self) -> Path:
        return self.data_dir / "kafka.pid"

    # --- PostgreSQL --------------------------------------------------------------------------------------
    @property
    def pg_dir(self) -> Path:
        return self.data_dir / "postgres"

    @property
    def pg_data(self) -> Path:
        return self.pg_dir / "data"

    @property
    def pg_pid_file(self) -> Path:
        return self.data_dir / "postgres.pid"

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/postgres"

    # --- mailbox (SMTP) and SMS gateway -----------------------------------------------------------------
    @property
    def mailbox_dir(self) -> Path:
        """Where the local mailbox saves every message it receives (``DCP_MAILBOX_DIR``)."""
        return self.data_dir / "mailbox"

    @property
    def mailbox_pid_file(self) -> Path:
        return self.data_dir / "mailbox.pid"

    @property
    def mailbox_log(self) -> Path:
        return self.logs_dir / "mailbox.log"

    @property
    def sms_dir(self) -> Path:
        """Where the local SMS gateway records the messages (``DCP_SMS_DIR``)."""
        return self.data_dir / "sms"

    @property
    def sms_pid_file(self) -> Path:
        return self.data_dir / "sms-gateway.pid"

    @property
    def sms_log(self) -> Path:
        return self.logs_dir / "sms-gateway.log"

    @property
    def sms_api_key_file(self) -> Path:
        return self.data_dir / SMS_API_KEY_FILE

    @property
    def sms_gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.sms_port}"

    # --- services ----------------------------------------------------------------------------------------
    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def stack_env_file(self) -> Path:
        return self.data_dir / "stack.env"

    def services(self, replicas: int = 1) -> list[ServiceSpec]:
        """Each service's processes: ``replicas`` of each, one consumer group per service."""
        specs = []
        for name, default_port in _SERVICES:
            port = _env_int(f"DCP_{name.upper()}_PORT", default_port)
            for replica in range(1, replicas + 1):
                specs.append(ServiceSpec(name, f"{name}_service", port + 100 * (replica - 1), replica))
        return specs

    def service_pid_file(self, spec: ServiceSpec) -> Path:
        return self.data_dir / f"{spec.instance}.pid"

    def service_log(self, spec: ServiceSpec) -> Path:
        return self.logs_dir / f"{spec.instance}.log"

    def running_replicas(self) -> int:
        """How many replicas of each service the pid files left by `dcp-stack run` name (at least 1)."""
        found = [1]
        for pid_file in self.data_dir.glob("*-service-*.pid"):
            suffix = pid_file.stem.rpartition("-")[2]
            if suffix.isdigit():
                found.append(int(suffix))
        return max(found)
