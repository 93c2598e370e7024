"""Where the local stack lives and which ports it uses (everything overridable by environment variables)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

KAFKA_VERSION = "4.4.0"

#: The service databases created on the PostgreSQL server (plus ``dcp_test`` for library tests).
SERVICE_DATABASES: tuple[str, ...] = (
    "case_service",
    "contact_service",
    "payment_service",
    "audit_service",
    "dcp_test",
)


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # "case"
    module: str  # "case_service"
    port: int

    @property
    def label(self) -> str:
        return f"{self.name}-service"


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
class StackConfig:
    repo_root: Path
    data_dir: Path
    cache_dir: Path
    kafka_port: int
    kafka_controller_port: int
    pg_port: int

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
        )

    # --- Kafka -------------------------------------------------------------------------------------------
    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

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

    # --- services ----------------------------------------------------------------------------------------
    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def stack_env_file(self) -> Path:
        return self.data_dir / "stack.env"

    def services(self) -> list[ServiceSpec]:
        return [
            ServiceSpec(name=name, module=f"{name}_service", port=_env_int(f"DCP_{name.upper()}_PORT", port))
            for name, port in _SERVICES
        ]

    def service_pid_file(self, spec: ServiceSpec) -> Path:
        return self.data_dir / f"{spec.label}.pid"
