"""The one settings object every service reads from the environment (pydantic-settings)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url

from dcp_platform.clock import Clock, FixedClock, ManualClock, SharedManualClock, SystemClock

if TYPE_CHECKING:
    from dcp_platform.sealing import EventSealer

# Used only when DCP_ENV=dev (the default) and AUTH_JWT_HS256_SECRET is unset; never accepted elsewhere.
DEV_HS256_SECRET = "dcp-dev-only-hs256-secret-not-for-production"  # noqa: S105
MIN_HS256_SECRET_BYTES = 32

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:15432/postgres"
DEFAULT_KAFKA_BOOTSTRAP_SERVERS = "127.0.0.1:19092"


def _filled(secret: SecretStr | None) -> bool:
    return secret is not None and bool(secret.get_secret_value().strip())


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class ServiceSettings(BaseSettings):
    """Runtime configuration of one service. Subclass per service to set `service_name` and `http_port`."""

    model_config = SettingsConfigDict(
        extra="ignore", case_sensitive=False, frozen=True, populate_by_name=True
    )

    service_name: str = "dcp"
    env: str = Field(default="dev", validation_alias="DCP_ENV")

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # `/metrics` on a port of its own (not on `http_port`), for a NetworkPolicy that lets only the
    # monitoring namespace reach it; unset: on the service's port.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)

    # Server URL (the `postgres` maintenance database); the service's own database is derived from it.
    database_url: str = Field(default=DEFAULT_DATABASE_URL, repr=False)
    service_database_url: str | None = Field(default=None, repr=False)

    kafka_bootstrap_servers: str = DEFAULT_KAFKA_BOOTSTRAP_SERVERS
    # Prepended to every topic name (e.g. "staging."); empty in a normal deployment.
    kafka_topic_prefix: str = ""

    # The key vault of the personal data sealed in published events (`dcp_platform.sealing`): a
    # PostgreSQL database every service shares, and the master keys that wrap its data keys
    # (`id:base64-of-32-bytes[,...]`, the first wraps new keys). Required outside DCP_ENV=dev.
    data_keys_database_url: SecretStr | None = None
    data_master_keys: SecretStr | None = None

    auth_jwt_hs256_secret: SecretStr | None = None
    # Roles that see personal data (names, contact points, national ids, addresses) unmasked in API
    # answers (comma-separated); every other role gets them masked. Default: collector, supervisor, admin.
    pii_roles: str | None = None
    # Roles outside PII_ROLES that may see one case's personal data unmasked with `?unmask=true&reason=`
    # (each disclosure recorded as an event): comma-separated, default auditor.
    pii_unmask_roles: str | None = None
    auth_jwt_jwks_url: str | None = None
    auth_jwt_issuer: str = "dcp"
    auth_jwt_audience: str = "dcp-api"

    log_level: LogLevel = "INFO"
    # "manual": the clock starts at CLOCK_FIXED_AT (or now) and moves only through PUT /admin/clock;
    # for demos and end-to-end tests, refused outside DCP_ENV=dev.
    clock_mode: Literal["system", "fixed", "manual"] = "system"
    clock_fixed_at: datetime | None = None
    # With CLOCK_MODE=manual: a file the manual clock is kept in, shared by every process naming it
    # (replicas in the local stack move together); it starts at CLOCK_FIXED_AT when it does not exist.
    clock_file: Path | None = None

    # How far ahead a date a client gives may lie (a hold's expiry, a due date): `dcp_platform.horizon`.
    input_max_years_ahead: int = Field(default=10, ge=1, le=100)

    readiness_timeout_seconds: float = 2.0
    # OpenTelemetry: none (default), otlp (OTEL_EXPORTER_OTLP_* variables), console, memory (tests).
    otel_traces_exporter: Literal["none", "otlp", "console", "memory"] = Field(
        default="none", validation_alias="OTEL_TRACES_EXPORTER"
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.is_dev and self.auth_jwt_hs256_secret is None and not self.auth_jwt_jwks_url:
            raise ValueError(
                "AUTH_JWT_HS256_SECRET or AUTH_JWT_JWKS_URL is required when DCP_ENV is not 'dev'"
            )
        if not self.is_dev and self.auth_jwt_hs256_secret is not None:
            secret = self.auth_jwt_hs256_secret.get_secret_value()
            if secret == DEV_HS256_SECRET:
                raise ValueError(
                    "AUTH_JWT_HS256_SECRET is the published development secret: refused outside dev"
                )
            if len(secret.encode()) < MIN_HS256_SECRET_BYTES:
                raise ValueError(
                    f"AUTH_JWT_HS256_SECRET must be at least {MIN_HS256_SECRET_BYTES} bytes outside dev "
                    "(RFC 7518 section 3.2: a key as long as the hash)"
                )
        if self.vault_dsn is not None and not _filled(self.data_master_keys):
            raise ValueError("DATA_MASTER_KEYS is required with DATA_KEYS_DATABASE_URL")
        if not self.is_dev and self.vault_dsn is None:
            raise ValueError(
                "DATA_KEYS_DATABASE_URL and DATA_MASTER_KEYS are required when DCP_ENV is not 'dev' "
                "(personal data in published events is sealed under keys kept there)"
            )
        if self.clock_mode == "fixed" and self.clock_fixed_at is None:
            raise ValueError("CLOCK_FIXED_AT is required when CLOCK_MODE=fixed")
        if self.clock_mode == "manual" and not self.is_dev:
            raise ValueError("CLOCK_MODE=manual is only allowed when DCP_ENV=dev")
        if self.clock_fixed_at is not None and self.clock_fixed_at.tzinfo is None:
            raise ValueError("CLOCK_FIXED_AT must carry a timezone")
        return self

    @property
    def vault_dsn(self) -> str | None:
        """The key vault's database (None: not configured; an empty value counts as none)."""
        url = self.data_keys_database_url
        return url.get_secret_value().strip() if _filled(url) and url is not None else None

    def make_sealer(self) -> EventSealer | None:
        """The sealer of personal data in published and consumed events (None: sealing is off)."""
        from dcp_platform.sealing import EventSealer, vault_from

        if self.vault_dsn is None:
            return None
        keys = self.data_master_keys.get_secret_value() if self.data_master_keys is not None else None
        vault = vault_from(self.vault_dsn, keys, self.kafka_topic_prefix)
        return None if vault is None else EventSealer(vault)

    @property
    def unmask_roles(self) -> frozenset[str]:
        from dcp_platform.disclosure import roles_from

        return roles_from(self.pii_unmask_roles, frozenset({"auditor"}))

    @property
    def personal_data_roles(self) -> frozenset[str]:
        from dcp_platform.personal_data import roles_from

        return roles_from(self.pii_roles)

    @property
    def is_dev(self) -> bool:
        return self.env.lower() == "dev"

    @property
    def hs256_secret(self) -> SecretStr | None:
        """The HS256 key: the configured one, the dev default in dev, otherwise none (HS256 disabled)."""
        if self.auth_jwt_hs256_secret is not None:
            return self.auth_jwt_hs256_secret
        return SecretStr(DEV_HS256_SECRET) if self.is_dev else None

    @property
    def database_name(self) -> str:
        """The service's own database, e.g. `case_service` for `case-service`."""
        return self.service_name.replace("-", "_")

    def _service_url(self) -> URL:
        if self.service_database_url:
            return make_url(self.service_database_url)
        return make_url(self.database_url).set(database=self.database_name)

    @property
    def database_dsn(self) -> str:
        """libpq-style URL of the service database (for asyncpg.connect)."""
        url = self._service_url().set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    @property
    def sqlalchemy_url(self) -> str:
        """SQLAlchemy URL of the service database with the asyncpg driver."""
        url = self._service_url().set(drivername="postgresql+asyncpg")
        return url.render_as_string(hide_password=False)

    @property
    def database_url_for_logs(self) -> str:
        return self._service_url().render_as_string(hide_password=True)

    def make_clock(self) -> Clock:
        if self.clock_mode == "fixed" and self.clock_fixed_at is not None:
            return FixedClock(self.clock_fixed_at)
        if self.clock_mode == "manual":
            if self.clock_file is not None:
                return SharedManualClock(self.clock_file, self.clock_fixed_at)
            return ManualClock(self.clock_fixed_at)
        return SystemClock()
