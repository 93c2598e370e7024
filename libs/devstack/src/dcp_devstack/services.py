"""The four services as background uvicorn processes (``dcp-stack run``)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .config import ServiceSpec, StackConfig
from .kafka import StackError
from .procs import live_pid, pid_alive, port_open, tail, terminate

_MARKER = "uvicorn"


def service_url(spec: ServiceSpec) -> str:
    return f"http://127.0.0.1:{spec.port}"


def recent_monday(now: datetime | None = None) -> datetime:
    """The most recent Monday 08:00 UTC at or before `now` (the demo clock's default start)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    monday = (now - timedelta(days=now.weekday())).replace(hour=8, minute=0, second=0, microsecond=0)
    return monday if monday <= now else monday - timedelta(days=7)


def manual_clock_env(start: datetime, shared_file: Path | None = None) -> dict[str, str]:
    """Environment that starts a service on a manual clock at `start` (moved by `PUT /admin/clock`);
    with `shared_file`, every process started with it keeps the clock there and moves together."""
    if start.tzinfo is None:
        raise ValueError("the clock start must carry a time zone")
    env = {"CLOCK_MODE": "manual", "CLOCK_FIXED_AT": start.astimezone(UTC).isoformat()}
    if shared_file is not None:
        env["CLOCK_FILE"] = str(shared_file)
    return env


def instance_env(cfg: StackConfig, spec: ServiceSpec) -> dict[str, str]:
    """What one process is started with beyond the stack's environment: the contact service's own URL
    (its e-mails' opt-out links and the SMS gateway's receipts point there) and where its letters go;
    for the audit service, the case service its console reads the KPIs from."""
    if spec.module == "audit_service":
        case = next(s for s in cfg.services() if s.name == "case")
        return {"CONSOLE_CASE_SERVICE_URL": os.environ.get("CONSOLE_CASE_SERVICE_URL") or service_url(case)}
    if spec.module != "contact_service":
        return {}
    return {
        "CONTACT_PUBLIC_URL": os.environ.get("CONTACT_PUBLIC_URL") or service_url(spec),
        "CONTACT_LETTERS_DIR": os.environ.get("CONTACT_LETTERS_DIR") or str(cfg.data_dir / "letters"),
    }


def _healthy(spec: ServiceSpec) -> bool:
    try:
        with urllib.request.urlopen(f"{service_url(spec)}/healthz", timeout=2) as resp:  # noqa: S310
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_services(
    cfg: StackConfig, env: dict[str, str], timeout: float = 60.0, *, replicas: int = 1
) -> list[tuple[ServiceSpec, bool]]:
    """Start ``replicas`` processes of each service (each in the service's consumer group) unless ours
    already run; wait for every /healthz. Returns (spec, started)."""
    missing = [s.module for s in cfg.services() if importlib.util.find_spec(s.module) is None]
    if missing:
        raise StackError(f"not installed in this environment: {', '.join(missing)} (run `make venv`)")
    cfg.logs_dir.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **env}
    launched: list[tuple[ServiceSpec, int, bool]] = []
    for spec in cfg.services(replicas):
        pid_file = cfg.service_pid_file(spec)
        pid = live_pid(pid_file, _MARKER)
        if pid is not None:
            launched.append((spec, pid, False))
            continue
        if port_open("127.0.0.1", spec.port):
            raise StackError(
                f"port {spec.port} for {spec.instance} is taken by another process; "
                f"set DCP_{spec.name.upper()}_PORT to another port"
            )
        log_file = cfg.service_log(spec)
        migrate = (
            None
            if spec.replica > 1
            else subprocess.run(  # noqa: S603
                [sys.executable, "-m", f"{spec.module}.main", "migrate"],
                env=full_env,
                cwd=cfg.repo_root,
                capture_output=True,
                text=True,
                check=False,
            )
        )
        if migrate is not None and migrate.returncode != 0:
            raise StackError(f"{spec.label}: migrations failed\n{migrate.stdout}{migrate.stderr}")
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            f"{spec.module}.main:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(spec.port),
        ]
        own_env = {**full_env, **instance_env(cfg, spec)}
        with open(log_file, "ab") as out:
            proc = subprocess.Popen(  # noqa: S603
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=own_env,
                cwd=cfg.repo_root,
                start_new_session=True,
            )
        pid_file.write_text(f"{proc.pid}\n")
        launched.append((spec, proc.pid, True))

    deadline = time.monotonic() + timeout
    for spec, pid, _ in launched:
        log_file = cfg.service_log(spec)
        while not _healthy(spec):
            if not pid_alive(pid):
                raise StackError(
                    f"{spec.instance} exited during start-up\n--- {log_file} ---\n{tail(log_file)}"
                )
            if time.monotonic() > deadline:
                raise StackError(
                    f"{spec.instance} not healthy after {timeout:.0f}s\n--- {log_file} ---\n{tail(log_file)}"
                )
            time.sleep(0.2)
    return [(spec, started) for spec, _, started in launched]


def stop_services(cfg: StackConfig, timeout: float = 15.0) -> list[str]:
    """Stop every process `dcp-stack run` started, each replica of each service."""
    stopped: list[str] = []
    for spec in cfg.services(cfg.running_replicas()):
        pid_file = cfg.service_pid_file(spec)
        pid = live_pid(pid_file, _MARKER)
        if pid is not None:
            terminate(pid, timeout)
            stopped.append(spec.instance)
        pid_file.unlink(missing_ok=True)
    return stopped


def services_status(cfg: StackConfig) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    for spec in cfg.services(cfg.running_replicas()):
        pid = live_pid(cfg.service_pid_file(spec), _MARKER)
        if spec.replica > 1 and pid is None:
            continue
        result[spec.instance] = {
            "running": pid is not None and _healthy(spec),
            "pid": pid,
            "url": service_url(spec),
            "log": str(cfg.service_log(spec)),
        }
    return result
