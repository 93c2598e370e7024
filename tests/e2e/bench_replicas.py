"""Scale-out: placements end to end with 1, 2 and 4 replicas of case-service and audit-service (one
consumer group each) on 6 and 12 partitions, each beside the one-replica figure of the same run.

On a two-core machine the ceiling is the machine, not the design: the figures show what replicas cost
(CPU per placement, by process) as much as what they add. `docs/capacity.md` takes its per-replica and
per-partition rates from here.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from dcp_devstack.benchreport import record

from .bench_pipeline import START, cpu_by_process, placement, produce
from .platform_under_test import start_platform, stop_platform
from .test_cluster_faults import settled

pytestmark = pytest.mark.integration

PLACEMENTS = int(os.environ.get("BENCH_REPLICA_PLACEMENTS", "2000"))
LAYOUTS = [(6, 1), (6, 2), (6, 4), (12, 1), (12, 2), (12, 4)]  # (partitions, replicas)


async def run_layout(
    kafka_bootstrap: str, database_server_url: str, logs: Path, partitions: int, replicas: int
) -> tuple[float, float, dict[str, float]]:
    """(placements/s end to end, CPU seconds, CPU seconds by process) of one layout."""
    platform = await start_platform(
        kafka_bootstrap,
        database_server_url,
        START,
        logs,
        replicas={"case": replicas, "audit": replicas},
        partitions=partitions,
    )
    try:
        run = uuid.uuid4().hex[:6]
        records = [placement(n, run) for n in range(PLACEMENTS)]
        before = cpu_by_process(platform)
        started = time.perf_counter()
        await produce(platform, records)
        await settled(platform, PLACEMENTS, time.monotonic() + 900, interval=0.2)
        seconds = time.perf_counter() - started
        after = cpu_by_process(platform)
    finally:
        stop_platform(platform)
    spent = {name: after[name] - before[name] for name in after}
    return PLACEMENTS / seconds, sum(spent.values()), spent


async def test_throughput_by_replicas_and_partitions(
    kafka_bootstrap: str, database_server_url: str, tmp_path: Path
) -> None:
    cores = os.cpu_count() or 1
    print(f"\n  scale-out: {PLACEMENTS:,} placements opened and audited, {cores} cores")
    base: dict[int, float] = {}
    for partitions, replicas in LAYOUTS:
        logs = tmp_path / f"p{partitions}r{replicas}"
        logs.mkdir()
        rate, cpu, spent = await run_layout(kafka_bootstrap, database_server_url, logs, partitions, replicas)
        base.setdefault(partitions, rate)
        by_process = "  ".join(f"{name} {1000 * s / PLACEMENTS:.2f}" for name, s in spent.items())
        print(
            f"  {partitions:2d} partitions, {replicas} replicas of case and audit: {rate:6.1f}/s "
            f"({rate / base[partitions]:.2f}x one replica); CPU {cpu / cores:.1f} s of {cores} cores, "
            f"ms per placement: {by_process}"
        )
        record(
            f"placements end to end, {replicas} replicas of case and audit, {partitions} partitions",
            f"{rate:,.0f}/s",
            goal="scales with the cores given",
            anchor=f"1 replica, same partitions {base[partitions]:,.0f}/s",
            ratio=rate / base[partitions],
        )
