"""Small process helpers: pid files, liveness, graceful stop, port probes, log tails."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours still "exists": treat it as dead
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True


def pid_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def pid_argv(pid: int) -> list[str]:
    """The process's arguments, split as it was started (empty when it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [arg.decode(errors="replace") for arg in raw.split(b"\0") if arg]


def live_pid(pid_file: Path, marker: str) -> int | None:
    """The pid recorded in ``pid_file`` if that process is alive and its command line contains ``marker``."""
    pid = read_pid(pid_file)
    if pid is None or not pid_alive(pid):
        return None
    if marker and marker not in pid_cmdline(pid):
        return None
    return pid


def spawn(
    cmd: Sequence[str],
    *,
    log_file: Path,
    pid_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start ``cmd`` detached in its own session (process group), output appended to ``log_file``, its pid
    written to ``pid_file``, so it outlives the caller and :func:`terminate` stops it with its children."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(  # noqa: S603
            list(cmd),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=None if env is None else dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    pid_file.write_text(f"{proc.pid}\n")
    return proc.pid


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def terminate(pid: int, timeout: float, *, group: bool = True) -> bool:
    """SIGTERM (to the process group when it leads one), wait, then SIGKILL. True if it had to be killed."""

    def send(sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if group and os.getpgid(pid) == pid:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)

    send(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not pid_alive(pid):
            return False
        time.sleep(0.1)
    send(signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and pid_alive(pid):
        _reap(pid)
        time.sleep(0.05)
    return True


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def wait_until(ready: Callable[[], bool], *, pid: int, timeout: float, interval: float = 0.1) -> str | None:
    """Poll ``ready`` until it is true (None), the process ``pid`` exits ("exited"), or ``timeout`` passes
    ("timed out"); the caller words the error."""
    deadline = time.monotonic() + timeout
    while not ready():
        _reap(pid)
        if not pid_alive(pid):
            return "exited"
        if time.monotonic() > deadline:
            return "timed out"
        time.sleep(interval)
    return None


def tail(path: Path, lines: int = 30) -> str:
    try:
        content = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(content[-lines:])
