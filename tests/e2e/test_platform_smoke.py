"""The four services start as processes, answer health and readiness, and share a movable clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from .platform_under_test import Platform

pytestmark = pytest.mark.integration


async def test_all_four_services_are_ready_and_follow_the_shared_clock(platform: Platform) -> None:
    later = platform.now + timedelta(hours=3)
    await platform.set_clock(later)
    for name in ("case", "contact", "payment", "audit"):
        async with platform.client(name) as client:
            assert (await client.get("/readyz")).status_code == 200
            assert (await client.get("/admin/clock")).json()["now"] in (
                later.isoformat(),
                later.isoformat().replace("+00:00", "Z"),
            )
            openapi = (await client.get("/openapi.json")).json()
            assert openapi["info"]["title"] == f"{name}-service"
