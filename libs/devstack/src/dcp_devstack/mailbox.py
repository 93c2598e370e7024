"""The local mailbox: a real SMTP server (aiosmtpd) that accepts every message and keeps it in a folder, and
the reader tests and the demo use to see what the platform's e-mail channel delivered.

Run by the stack as ``python -m dcp_devstack.mailbox --host 127.0.0.1 --port 2525 --directory DIR``
(``DCP_SMTP_PORT``; the folder is ``<data dir>/mailbox``, exported as ``DCP_MAILBOX_DIR``). Any sender and
any recipient are accepted; no STARTTLS. With ``--user``/``--password`` the server offers AUTH PLAIN and
LOGIN (over plain TCP, dev only) and refuses mail until a client logged in with them; without, it offers
no AUTH at all.

Each message is saved verbatim (the bytes after DATA) as ``DIR/<time-ns>-<n>.eml``, beside
``DIR/<time-ns>-<n>.json`` holding its envelope ``{"mail_from", "rcpt_tos", "received_at", "peer",
"login"}``. The sidecar is written first and both by rename, so a reader never sees half a message.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import hmac
import json
import logging
import os
import signal
import socket
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from .config import StackConfig
from .kafka import StackError
from .procs import live_pid, pid_argv, port_open, spawn, tail, terminate, wait_until

log = logging.getLogger(__name__)

MODULE = "dcp_devstack.mailbox"
HOST = "127.0.0.1"


# --- reading the mailbox -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMail:
    """One message the mailbox received, with the envelope it came in."""

    path: Path
    envelope_from: str
    envelope_to: tuple[str, ...]
    message: EmailMessage
    received_at: datetime

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    def text(self) -> str:
        """The plain-text body (the text/plain part of a multipart message), or "" when there is none."""
        part = self.message.get_body(preferencelist=("plain",))
        return "" if part is None else str(part.get_content())


def _arrival(path: Path) -> tuple[int, int]:
    ns, _, n = path.stem.partition("-")
    try:
        return int(ns), int(n)
    except ValueError:
        return (0, 0)


def read_messages(directory: Path) -> list[ReceivedMail]:
    """Every message in the mailbox folder, in the order the server received them."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found: list[ReceivedMail] = []
    for path in sorted(directory.glob("*.eml"), key=_arrival):
        try:
            envelope = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
            raw = path.read_bytes()
        except (OSError, ValueError):
            continue  # removed meanwhile, or not one of ours
        # the file keeps the wire's CRLF line ends; the parsed message has Python's "\n", as smtplib sent it
        message = email.message_from_bytes(
            raw.replace(b"\r\n", b"\n"), _class=EmailMessage, policy=default_policy
        )
        found.append(
            ReceivedMail(
                path=path,
                envelope_from=envelope["mail_from"],
                envelope_to=tuple(envelope["rcpt_tos"]),
                message=message,
                received_at=datetime.fromisoformat(envelope["received_at"]),
            )
        )
    return found


def _matching(directory: Path, match: Callable[[ReceivedMail], bool] | None) -> list[ReceivedMail]:
    return [m for m in read_messages(directory) if match is None or match(m)]


def _timed_out(directory: Path, count: int, timeout: float, seen: list[ReceivedMail]) -> TimeoutError:
    subjects = [m.subject for m in seen]
    return TimeoutError(
        f"{len(seen)} of {count} message(s) in {directory} after {timeout:g}s; subjects: {subjects}"
    )


def wait_for_messages(
    directory: Path,
    count: int,
    timeout: float = 10.0,
    *,
    match: Callable[[ReceivedMail], bool] | None = None,
) -> list[ReceivedMail]:
    """Wait until the folder holds at least ``count`` messages (those ``match`` accepts, when given) and
    return them all in arrival order; TimeoutError at the deadline. The mailbox is shared by every test
    of a stack, so tests pass ``match`` (a recipient, a subject) to see only their own."""
    deadline = time.monotonic() + timeout
    while True:
        seen = _matching(directory, match)
        if len(seen) >= count:
            return seen
        if time.monotonic() > deadline:
            raise _timed_out(directory, count, timeout, seen)
        time.sleep(0.05)


async def wait_for_messages_async(
    directory: Path,
    count: int,
    timeout: float = 10.0,  # noqa: ASYNC109 (the poll's deadline, not a cancellation)
    *,
    match: Callable[[ReceivedMail], bool] | None = None,
) -> list[ReceivedMail]:
    """:func:`wait_for_messages` for async code: polls without blocking the event loop."""
    deadline = time.monotonic() + timeout
    while True:
        seen = _matching(directory, match)
        if len(seen) >= count:
            return seen
        if time.monotonic() > deadline:
            raise _timed_out(directory, count, timeout, seen)
        await asyncio.sleep(0.05)


# --- the server --------------------------------------------------------------------------------------


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


class MailboxHandler:
    """aiosmtpd handler: every message is accepted and saved in ``directory``."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self._received += 1
        received_at = datetime.now(UTC)
        stem = f"{time.time_ns()}-{self._received:06d}"
        auth = getattr(session, "auth_data", None)
        login = getattr(auth, "login", None)
        sidecar = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "received_at": received_at.isoformat(),
            "peer": str(session.peer),
            "login": login.decode(errors="replace") if isinstance(login, bytes) else None,
        }
        _atomic_write(self.directory / f"{stem}.json", json.dumps(sidecar, ensure_ascii=False).encode())
        _atomic_write(self.directory / f"{stem}.eml", envelope.original_content)
        log.info("received %s from %s for %s", stem, envelope.mail_from, ", ".join(envelope.rcpt_tos))
        return "250 OK message saved"


def _authenticator(user: str, password: str) -> Callable[..., Any]:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        ok = (
            isinstance(auth_data, LoginPassword)
            and hmac.compare_digest(auth_data.login, user.encode())
            and hmac.compare_digest(auth_data.password, password.encode())
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return check


async def serve(
    host: str, port: int, directory: Path, *, user: str | None = None, password: str | None = None
) -> None:
    """Accept mail on ``host:port`` until SIGTERM or SIGINT."""
    from aiosmtpd.smtp import SMTP

    handler = MailboxHandler(directory)
    loop = asyncio.get_running_loop()
    options: dict[str, Any] = {"hostname": "dcp-mailbox.local", "enable_SMTPUTF8": True, "loop": loop}
    if user is not None:
        # no TLS on a local dev server: AUTH is offered over plain TCP, and required
        options.update(
            authenticator=_authenticator(user, password or ""), auth_required=True, auth_require_tls=False
        )

    def factory() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Requiring AUTH while not requiring TLS": on purpose here
            return SMTP(handler, **options)

    server = await loop.create_server(factory, host, port)
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    log.info("mailbox on smtp://%s:%d saving to %s (auth %s)", host, port, directory, "on" if user else "off")
    await stopping.wait()
    server.close()
    await server.wait_closed()


def answers(host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether an SMTP server greets on ``host:port`` (a 220 banner)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            banner = conn.recv(512)
            with contextlib.suppress(OSError):
                conn.sendall(b"QUIT\r\n")
            return banner.startswith(b"220")
    except OSError:
        return False


# --- managed by the stack ----------------------------------------------------------------------------


def _argv(cfg: StackConfig) -> list[str]:
    return ["-m", MODULE, "--host", HOST, "--port", str(cfg.smtp_port), "--directory", str(cfg.mailbox_dir)]


def running_pid(cfg: StackConfig) -> int | None:
    return live_pid(cfg.mailbox_pid_file, MODULE)


def start(cfg: StackConfig, timeout: float = 15.0) -> bool:
    """Start the mailbox unless ours already runs as configured. True when this call started it."""
    argv = _argv(cfg)
    pid = running_pid(cfg)
    if pid is not None and pid_argv(pid)[1:] != argv:
        log.info("the mailbox runs with other settings (port or folder); restarting it")
        stop(cfg)
        pid = None
    started = pid is None
    if pid is None:
        if port_open(HOST, cfg.smtp_port):
            raise StackError(
                f"port {cfg.smtp_port} is taken by a process this stack did not start; stop it, "
                "or set DCP_SMTP_PORT, or point SMTP_HOST (and SMTP_PORT) at that server"
            )
        cfg.mailbox_dir.mkdir(parents=True, exist_ok=True)
        pid = spawn(
            [sys.executable, *argv],
            log_file=cfg.mailbox_log,
            pid_file=cfg.mailbox_pid_file,
            cwd=cfg.repo_root,
        )
    failure = wait_until(lambda: answers(HOST, cfg.smtp_port), pid=pid, timeout=timeout)
    if failure is not None:
        if started:
            terminate(pid, 5)
            cfg.mailbox_pid_file.unlink(missing_ok=True)
        raise StackError(
            f"the mailbox on port {cfg.smtp_port} {failure} during start-up\n"
            f"--- {cfg.mailbox_log} ---\n{tail(cfg.mailbox_log)}"
        )
    return started


def stop(cfg: StackConfig, timeout: float = 10.0) -> bool:
    """Stop our mailbox. True if it was running (the messages stay in the folder)."""
    pid = running_pid(cfg)
    if pid is not None:
        terminate(pid, timeout)
    cfg.mailbox_pid_file.unlink(missing_ok=True)
    return pid is not None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--directory", type=Path, required=True, help="where the messages are saved")
    parser.add_argument("--user", help="require AUTH PLAIN/LOGIN with this user (and --password)")
    parser.add_argument("--password", help="the password of --user")
    args = parser.parse_args(argv)
    if (args.user is None) != (args.password is None):
        parser.error("--user and --password go together")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(serve(args.host, args.port, args.directory, user=args.user, password=args.password))


if __name__ == "__main__":
    main()
