"""End-to-end fixtures: the four services running against the stack, driven through HTTP and Kafka."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from .platform_under_test import Platform, start_platform, stop_platform

# A Monday in November; each scenario moves the shared clock forward from here.
START = datetime(2026, 11, 30, 13, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def platform(
    kafka_bootstrap: str, database_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    logs = Path(tmp_path_factory.mktemp("e2e-logs"))
    running = asyncio.run(start_platform(kafka_bootstrap, database_server_url, START, logs))
    try:
        yield running
    finally:
        stop_platform(running)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The fuzzing runs last: the thousands of cases, holds and imports it makes on the shared platform
    would otherwise be aged, escalated and relayed under the scenarios that follow it."""
    fuzzing = [item for item in items if "test_api_robustness" in item.nodeid]
    if fuzzing:
        items[:] = [item for item in items if item not in fuzzing] + fuzzing
