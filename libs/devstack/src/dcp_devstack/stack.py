"""The local stack as a whole: ensure it runs, stop it, report on it."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# mailbox and smsgateway also run as `python -m`: imported where used, so that runpy finds them unloaded
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
    smtp_host: str = ""  # the SMTP server the e-mail channel sends through (the local mailbox)
    smtp_port: int = 0
    smtp_starttls: bool = False
    sms_gateway_url: str = ""  # the SMS provider (the local gateway, dcp_devstack.smsgateway)
    sms_gateway_api_key: str = ""
    mailbox_dir: str = ""  # where the local mailbox saves messages; "" when SMTP_HOST names another server
    sms_dir: str = ""  # where the local gateway records messages; "" when SMS_GATEWAY_URL names another
    started_components: tuple[str, ...] = ()  # the components that call started ("kafka", "mailbox", ...)

    @property
    def data_keys_url(self) -> str:
        return postgres.database_url_for(self.database_url, DATA_KEYS_DATABASE)

    def service_env(self) -> dict[str, str]:
        """What every service of the stack is started with (and what stack.env holds)."""
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "DATABASE_URL": self.database_url,
            "DATA_KEYS_DATABASE_URL": self.data_keys_url,
            "DATA_MASTER_KEYS": self.data_master_keys,
        }
        if self.smtp_host:
            env["SMTP_HOST"] = self.smtp_host
            env["SMTP_PORT"] = str(self.smtp_port)
            env["SMTP_STARTTLS"] = "true" if self.smtp_starttls else "false"
        if self.sms_gateway_url:
            env["SMS_GATEWAY_URL"] = self.sms_gateway_url
            if self.sms_gateway_api_key:
                env["SMS_GATEWAY_API_KEY"] = self.sms_gateway_api_key
        # for tests and the demo, which read what was delivered
        if self.mailbox_dir:
            env["DCP_MAILBOX_DIR"] = self.mailbox_dir
        if self.sms_dir:
            env["DCP_SMS_DIR"] = self.sms_dir
        return env


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


def sms_gateway_api_key(cfg: StackConfig) -> str:
    """``SMS_GATEWAY_API_KEY``, else the local gateway's key, generated into the data directory the first
    time (0600)."""
    explicit = _env("SMS_GATEWAY_API_KEY")
    if explicit:
        return explicit
    path = cfg.sms_api_key_file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _external_smtp() -> tuple[str, int] | None:
    """The SMTP server ``SMTP_HOST`` / ``SMTP_PORT`` (default 25) name, if they do."""
    host = _env("SMTP_HOST")
    return None if host is None else (host, int(_env("SMTP_PORT") or 25))


def _write_stack_env(cfg: StackConfig, endpoints: StackEndpoints) -> None:
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"{k}={v}" for k, v in endpoints.service_env().items()]
    fd = os.open(cfg.stack_env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds the master key
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(lines) + "\n")


def ensure_stack(cfg: StackConfig | None = None) -> StackEndpoints:
    """Make Kafka, PostgreSQL, the mailbox and the SMS gateway available and the service databases exist.

    ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL`` / ``SMTP_HOST`` / ``SMS_GATEWAY_URL`` in the environment
    win: what they name is used and nothing is started for it. Otherwise the embedded broker / server /
    mailbox / gateway is started (or reused if ours runs).
    """
    from . import mailbox, smsgateway

    cfg = cfg or StackConfig.from_env()
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    started: list[str] = []

    bootstrap = _env("KAFKA_BOOTSTRAP_SERVERS")
    database_url = _env("DATABASE_URL")
    external_smtp = _external_smtp()
    if external_smtp == (mailbox.HOST, cfg.smtp_port) and mailbox.running_pid(cfg) is not None:
        external_smtp = None  # the environment names our own mailbox (stack.env sourced): it stays ours
    sms_url = _env("SMS_GATEWAY_URL")
    ours = cfg.sms_gateway_url.rstrip("/")
    if sms_url is not None and sms_url.rstrip("/") == ours and smsgateway.running_pid(cfg) is not None:
        sms_url = None  # likewise our own gateway
    sms_key = _env("SMS_GATEWAY_API_KEY") if sms_url else sms_gateway_api_key(cfg)

    try:
        if database_url is None:
            if postgres.start(cfg):
                started.append("postgres")
            database_url = cfg.database_url
        if bootstrap is None:
            if kafka.start(cfg):
                started.append("kafka")
            bootstrap = cfg.kafka_bootstrap
        else:
            kafka.wait_ready(bootstrap, 30)
        if external_smtp is None and mailbox.start(cfg):
            started.append("mailbox")
        if sms_url is None and smsgateway.start(cfg, sms_key or ""):
            started.append("sms_gateway")
    except BaseException:
        stop_stack(cfg, started)
        raise

    postgres.create_databases(database_url, SERVICE_DATABASES)
    kafka.create_topics(bootstrap, catalogue_topics())
    endpoints = StackEndpoints(
        kafka_bootstrap=bootstrap,
        database_url=database_url,
        started=bool(started),
        data_master_keys=data_master_keys(cfg),
        smtp_host=external_smtp[0] if external_smtp else mailbox.HOST,
        smtp_port=external_smtp[1] if external_smtp else cfg.smtp_port,
        smtp_starttls=_truthy(_env("SMTP_STARTTLS")) if external_smtp else False,
        sms_gateway_url=(sms_url or cfg.sms_gateway_url).rstrip("/"),
        sms_gateway_api_key=sms_key or "",
        mailbox_dir="" if external_smtp else str(cfg.mailbox_dir),
        sms_dir="" if sms_url else str(cfg.sms_dir),
        started_components=tuple(started),
    )
    _write_stack_env(cfg, endpoints)
    return endpoints


def catalogue_topics() -> list[str]:
    """Every topic of the event catalogue and its dead-letter topic (auto-creation is off)."""
    from dcp_events import TOPICS, dlq_topic

    return [*TOPICS, *(dlq_topic(t) for t in TOPICS)]


#: The stack's components, in the order they are stopped.
COMPONENTS: tuple[str, ...] = ("sms_gateway", "mailbox", "kafka", "postgres")


def stop_stack(cfg: StackConfig | None = None, components: Iterable[str] | None = None) -> None:
    """Stop what this stack started (the SMS gateway, the mailbox, the broker, then PostgreSQL), or only
    ``components`` of it (``StackEndpoints.started_components``); servers named by env vars stay up."""
    from . import mailbox, smsgateway

    cfg = cfg or StackConfig.from_env()
    wanted = set(COMPONENTS if components is None else components)
    stops = {
        "sms_gateway": smsgateway.stop,
        "mailbox": mailbox.stop,
        "kafka": kafka.stop,
        "postgres": postgres.stop,
    }
    for name in COMPONENTS:
        if name in wanted:
            stops[name](cfg)


def stop_all(cfg: StackConfig | None = None) -> None:
    """Stop the services started by ``dcp-stack run``, then the stack."""
    cfg = cfg or StackConfig.from_env()
    stop_services(cfg)
    stop_stack(cfg)


def _host_port(hostport: str) -> tuple[str, int]:
    host, _, port = hostport.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def stack_status(cfg: StackConfig | None = None) -> dict[str, Any]:
    """Whether Kafka, PostgreSQL, the mailbox, the SMS gateway and the services run, where, and whether
    this stack manages them."""
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
        "mailbox": _mailbox_status(cfg),
        "sms_gateway": _sms_gateway_status(cfg),
        "services": services_status(cfg),
        "data_dir": str(cfg.data_dir),
    }


def _mailbox_status(cfg: StackConfig) -> dict[str, Any]:
    from . import mailbox

    external = _external_smtp()
    host, port = external or (mailbox.HOST, cfg.smtp_port)
    return {
        "running": mailbox.answers(host, port),
        "endpoint": f"smtp://{host}:{port}",
        "host": host,
        "port": port,
        "pid": mailbox.running_pid(cfg),
        "managed": external is None,
        "log": str(cfg.mailbox_log),
        "directory": None if external else str(cfg.mailbox_dir),
    }


def _sms_gateway_status(cfg: StackConfig) -> dict[str, Any]:
    from . import smsgateway

    env_url = _env("SMS_GATEWAY_URL")
    url = (env_url or cfg.sms_gateway_url).rstrip("/")
    return {
        "running": smsgateway.healthy(url),
        "endpoint": url,
        "url": url,
        "port": None if env_url else cfg.sms_port,
        "pid": smsgateway.running_pid(cfg),
        "managed": env_url is None,
        "log": str(cfg.sms_log),
        "directory": None if env_url else str(cfg.sms_dir),
    }
