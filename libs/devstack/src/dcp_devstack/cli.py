"""``dcp-stack``: start, stop and inspect the local stack; run the tests, the services and the benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from .config import StackConfig
from .kafka import StackError
from .services import (
    manual_clock_env,
    recent_monday,
    service_url,
    services_status,
    start_services,
    stop_services,
)
from .stack import StackEndpoints, ensure_stack, stack_status, stop_all, stop_stack

app = typer.Typer(
    help="Local stack: Apache Kafka (KRaft) + PostgreSQL + a mailbox (SMTP) + an SMS gateway, no Docker.",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)


def _ensure(cfg: StackConfig) -> tuple[StackEndpoints, float]:
    t0 = time.monotonic()
    with console.status("starting the local stack (Kafka + PostgreSQL + mailbox + SMS gateway)…"):
        try:
            endpoints = ensure_stack(cfg)
        except StackError as exc:
            err.print(f"[bold red]stack failed:[/] {exc}")
            raise typer.Exit(1) from exc
    return endpoints, time.monotonic() - t0


def _stack_env(endpoints: StackEndpoints) -> dict[str, str]:
    return endpoints.service_env()


def _rel(path: str | Path) -> str:
    """A path relative to the repo root when it lies inside it (shorter tables)."""
    root = StackConfig.from_env().repo_root
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


def _print_endpoints(cfg: StackConfig, endpoints: StackEndpoints, seconds: float) -> None:
    verb = "started" if endpoints.started else "already running"
    console.print(f"[green]stack {verb}[/] in {seconds:.1f}s")
    console.print(f"  KAFKA_BOOTSTRAP_SERVERS={endpoints.kafka_bootstrap}")
    console.print(f"  DATABASE_URL={endpoints.database_url}")
    console.print(f"  SMTP_HOST={endpoints.smtp_host} SMTP_PORT={endpoints.smtp_port}")
    console.print(f"  SMS_GATEWAY_URL={endpoints.sms_gateway_url}")
    if endpoints.mailbox_dir:
        console.print(f"  mail received: {_rel(endpoints.mailbox_dir)}")
    if endpoints.sms_dir:
        console.print(f"  SMS sent: {_rel(endpoints.sms_dir)}")
    console.print(f"  (also in {cfg.stack_env_file})")


Brokers = Annotated[
    int | None,
    typer.Option(
        "--brokers",
        min=1,
        max=9,
        help="Kafka brokers in the local cluster (3: replication factor 3, min.insync.replicas 2); "
        "default DCP_KAFKA_BROKERS, else the size last started here, else 1.",
    ),
]


def _config(brokers: int | None = None) -> StackConfig:
    if brokers is not None:
        os.environ["DCP_KAFKA_BROKERS"] = str(brokers)
    return StackConfig.from_env()


@app.command()
def up(brokers: Brokers = None) -> None:
    """Start Kafka, PostgreSQL, the mailbox and the SMS gateway (unless KAFKA_BOOTSTRAP_SERVERS /
    DATABASE_URL / SMTP_HOST / SMS_GATEWAY_URL name ones to use)."""
    cfg = _config(brokers)
    endpoints, seconds = _ensure(cfg)
    _print_endpoints(cfg, endpoints, seconds)


@app.command()
def down() -> None:
    """Stop the services started by `run`, then the SMS gateway, the mailbox, Kafka and PostgreSQL."""
    cfg = StackConfig.from_env()
    t0 = time.monotonic()
    try:
        stop_all(cfg)
    except StackError as exc:
        err.print(f"[bold red]stop failed:[/] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"[green]stopped[/] in {time.monotonic() - t0:.1f}s")


@app.command()
def status() -> None:
    """Show whether Kafka, PostgreSQL, the mailbox, the SMS gateway and the services run."""
    info = stack_status(StackConfig.from_env())
    table = Table(title="local stack")
    for column in ("component", "state", "endpoint", "pid", "log"):
        table.add_column(column, overflow="fold")

    def state(entry: dict[str, object]) -> str:
        return "[green]running[/]" if entry["running"] else "[red]stopped[/]"

    k, p = info["kafka"], info["postgres"]
    table.add_row(
        "kafka",
        state(k),
        k["bootstrap"],
        str(k["pid"] or "-"),
        _rel(k["log"]) if k["managed"] else "(external)",
    )
    table.add_row(
        "postgres",
        state(p),
        p["database_url"],
        str(p["pid"] or "-"),
        _rel(p["log"]) if p["managed"] else "(external)",
    )
    for name, key in (("mailbox", "mailbox"), ("sms-gateway", "sms_gateway")):
        entry = info[key]
        table.add_row(
            name,
            state(entry),
            entry["endpoint"],
            str(entry["pid"] or "-"),
            _rel(entry["log"]) if entry["managed"] else "(external)",
        )
    for name, svc in info["services"].items():
        table.add_row(name, state(svc), svc["url"], str(svc["pid"] or "-"), _rel(svc["log"]))
    console.print(table)


def _run_pytest(cfg: StackConfig, args: list[str], what: str) -> int:
    endpoints, seconds = _ensure(cfg)
    _print_endpoints(cfg, endpoints, seconds)
    env = {**os.environ, **_stack_env(endpoints)}
    cmd = [sys.executable, "-m", "pytest", *args]
    console.print(f"[bold]{what}:[/] {' '.join(cmd)}")
    try:
        code = subprocess.call(cmd, cwd=cfg.repo_root, env=env)  # noqa: S603
    finally:
        if endpoints.started:
            with console.status("stopping what this command started…"):
                stop_stack(cfg, endpoints.started_components)
    return code


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def test(
    pytest_args: Annotated[list[str] | None, typer.Argument(help="arguments for pytest (after --)")] = None,
) -> None:
    """Ensure the stack, run pytest in the repo root with its endpoints, stop what this command started."""
    cfg = StackConfig.from_env()
    code = _run_pytest(cfg, list(pytest_args or []), "pytest")
    if code == 5:
        err.print("[bold red]pytest collected no tests[/] — treated as a failure")
    raise typer.Exit(code)


def _parse_start(value: str | None) -> datetime:
    if value is None:
        return recent_monday()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO 8601 date-time: {value!r}") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@app.command()
def run(
    start: Annotated[
        str | None,
        typer.Option(
            help="Start of the services' manual clock (ISO 8601; default: the last Monday 08:00 UTC)."
        ),
    ] = None,
    system_clock: Annotated[
        bool, typer.Option("--system-clock", help="Run the services on the real clock instead.")
    ] = False,
    replicas: Annotated[
        int,
        typer.Option(
            min=1,
            max=9,
            help="Processes of each service, in one consumer group (replica r listens on the "
            "service's port + 100 * (r - 1)); the relay, timers and checkpoints are shared by locks.",
        ),
    ] = 1,
    brokers: Brokers = None,
) -> None:
    """Ensure the stack, start the four services in the background and print where they are.

    The services run on a manual clock (CLOCK_MODE=manual, dev only) starting at `--start`, so the demo
    (`dcp-demo`) can move time with `PUT /admin/clock`; services already running keep their clock.
    """
    cfg = _config(brokers)
    clock_start = None if system_clock else _parse_start(start)
    endpoints, seconds = _ensure(cfg)
    _print_endpoints(cfg, endpoints, seconds)
    t0 = time.monotonic()
    env = _stack_env(endpoints)
    if clock_start is not None:
        clock_file = cfg.data_dir / "clock"
        if not any(svc["pid"] for svc in services_status(cfg).values()):
            clock_file.unlink(missing_ok=True)  # no process keeps it: start from `--start`
        env.update(manual_clock_env(clock_start, clock_file))
    with console.status("starting the services…"):
        try:
            result = start_services(cfg, env, replicas=replicas)
        except StackError as exc:
            err.print(f"[bold red]services failed:[/] {exc}")
            stop_services(cfg)
            raise typer.Exit(1) from exc
    table = Table(title=f"services (ready in {time.monotonic() - t0:.1f}s)")
    for column in ("service", "URL", "API docs", "state", "log"):
        table.add_column(column, overflow="fold")
    for spec, started in result:
        url = service_url(spec)
        table.add_row(
            spec.instance,
            url,
            f"{url}/docs",
            "started" if started else "already running",
            _rel(cfg.service_log(spec)),
        )
    console.print(table)
    if clock_start is not None and any(started for _, started in result):
        console.print(
            f"manual clock (CLOCK_MODE=manual) from [bold]{clock_start.isoformat()}[/]; "
            "move it with PUT /admin/clock (admin token)"
        )
    console.print(
        "token for the API: [bold]make token ROLE=collector[/]   stop everything: [bold]make down[/]"
    )


def _bench_files(root: Path) -> list[str]:
    found: list[str] = []
    for top in ("libs", "services", "tests"):
        for path in sorted((root / top).rglob("bench_*.py")):
            if any(part.startswith(".") or part in ("node_modules", "__pycache__") for part in path.parts):
                continue
            found.append(str(path.relative_to(root)))
    return found


@app.command()
def bench() -> None:
    """Run the benchmarks (bench_*.py under libs/, services/ and tests/) against the stack, output shown."""
    cfg = StackConfig.from_env()
    files = _bench_files(cfg.repo_root)
    if not files:
        console.print("no benchmarks (bench_*.py) under libs/, services/ or tests/ yet")
        return
    args = [*files, "-s", "-p", "no:cacheprovider", "-p", "dcp_devstack.benchreport"]
    code = _run_pytest(cfg, args, "benchmarks")
    raise typer.Exit(code)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
