"""`dcp-demo`: run the demo collection operation against the running services (`make run`)."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from dcp_demo.api import Api, Endpoints
from dcp_demo.report import Summary, collect, render
from dcp_demo.simulation import Operation, Settings

app = typer.Typer(add_completion=False, help=__doc__)


@dataclass
class DemoResult:
    operation: Operation
    summary: Summary
    wall_seconds: float


def _default_url(name: str, port: int) -> str:
    return f"http://127.0.0.1:{os.environ.get(f'DCP_{name.upper()}_PORT') or port}"


def default_endpoints() -> Endpoints:
    """The `make run` services, honouring the same DCP_*_PORT variables as `dcp-stack`."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or (
        f"127.0.0.1:{os.environ.get('DCP_KAFKA_PORT') or 19092}"
    )
    return Endpoints(
        case=_default_url("case", 8001),
        contact=_default_url("contact", 8002),
        payment=_default_url("payment", 8003),
        audit=_default_url("audit", 8004),
        kafka_bootstrap=bootstrap,
        topic_prefix=os.environ.get("KAFKA_TOPIC_PREFIX", ""),
    )


async def run_demo(
    endpoints: Endpoints, settings: Settings, console: Console | None = None, *, settle_hours: int = 72
) -> DemoResult:
    """Set up, place, assign, simulate, settle and summarise; prints the summary on `console`."""
    console = console or Console()
    t0 = time.monotonic()
    columns = (
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    async with Api(endpoints) as api:
        with Progress(*columns, console=console) as progress:
            op = Operation(api, settings, progress)
            await op.setup()
            await op.place()
            await op.assign()
            await op.simulate()
            await op.verify_and_litigate()
            task = progress.add_task("letting deadlines pass (no contacts)", total=None)
            await op.settle(settle_hours)
            progress.update(task, description="training the propensity model on the run's history")
            await op.train_model()
            progress.update(task, description="reading the results and auditing the trail")
            summary = await collect(api, op)
            progress.update(task, total=1, completed=1)
        wall = time.monotonic() - t0
        render(
            console, op, summary, {n: endpoints.url(n) for n in ("case", "contact", "payment", "audit")}, wall
        )
    return DemoResult(op, summary, wall)


@app.command()
def demo(
    accounts: Annotated[int, typer.Option(min=10, help="Accounts in the generated portfolio.")] = 2000,
    days: Annotated[int, typer.Option(min=1, help="Days to simulate (the clock moves hour by hour).")] = 10,
    seed: Annotated[int, typer.Option(help="Seed of the random choices (same seed, same run).")] = 7,
    per_session: Annotated[
        int, typer.Option(min=1, help="Worklist items a collector works per session.")
    ] = 6,
    settle_hours: Annotated[
        int, typer.Option(min=0, help="Hours the clock moves on after the last day.")
    ] = 72,
    case_url: Annotated[str | None, typer.Option(help="case-service base URL.")] = None,
    contact_url: Annotated[str | None, typer.Option(help="contact-service base URL.")] = None,
    payment_url: Annotated[str | None, typer.Option(help="payment-service base URL.")] = None,
    audit_url: Annotated[str | None, typer.Option(help="audit-service base URL.")] = None,
    bootstrap: Annotated[str | None, typer.Option(help="Kafka bootstrap servers.")] = None,
    topic_prefix: Annotated[str | None, typer.Option(help="Prefix of every topic name.")] = None,
    workdir: Annotated[Path, typer.Option(help="Where the portfolio file is written.")] = Path(".local/demo"),
) -> None:
    """Place a generated portfolio, simulate days of collection on the services' manual clock, summarise."""
    base = default_endpoints()
    endpoints = Endpoints(
        case=case_url or base.case,
        contact=contact_url or base.contact,
        payment=payment_url or base.payment,
        audit=audit_url or base.audit,
        kafka_bootstrap=bootstrap or base.kafka_bootstrap,
        topic_prefix=base.topic_prefix if topic_prefix is None else topic_prefix,
    )
    settings = Settings(accounts=accounts, days=days, seed=seed, per_session=per_session, workdir=workdir)
    result = asyncio.run(run_demo(endpoints, settings, settle_hours=settle_hours))
    if result.summary.findings or result.summary.divergences or not result.summary.verified:
        raise typer.Exit(1)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
