"""Experiments judged by intention to treat, with harm guards that stop a challenger on their own:
a case counts in the arm it was first given whatever happens after, and a challenger with more
complaints than its guard allows is stopped by the hourly review (ExperimentArmStopped, cases moved
to the champion, no case given it again)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaConsumer

from dcp_events.canonical import decode_event
from dcp_events.catalogue import payments
from dcp_events.catalogue.base import Money
from dcp_events.catalogue.enums import PaymentMethod

from .conftest import SUPERVISOR, CaseHarness, case_service, eventually, placement_body

pytestmark = pytest.mark.integration

POLICY = Path(__file__).parents[2] / "src/case_service/config/collection_policy.yaml"


def _policy(tmp: Path) -> Path:
    policy = yaml.safe_load(POLICY.read_text())
    strategies = policy["segmentation"]["strategies"]
    strategies["standard"]["experiment"] = {
        "id": "guarded-exp",
        "arms": [
            {"arm": "champion", "percent": 50},
            {"arm": "challenger", "percent": 50, "strategy": "sms-first"},
        ],
        # a small test: a few cases decide, and any increase in complaints is too much
        "test": {
            "min_cases": 4,
            "tau": 0.5,
            "guard_alpha": 0.1,
            "guards": {"complaints": {"max_increase": 0}},
        },
    }
    strategies["digital-first"]["experiment"] = {
        "id": "itt-exp",
        "arms": [
            {"arm": "champion", "percent": 50},
            {"arm": "challenger", "percent": 50, "strategy": "sms-first"},
        ],
    }
    policy["assignment"]["automatic"]["enabled"] = False
    path = tmp / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    return path


@pytest.fixture(scope="module")
async def harness(
    database_server_url: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[CaseHarness]:
    policy = str(_policy(tmp_path_factory.mktemp("policy")))
    async with case_service(database_server_url, kafka_bootstrap, case_policy_file=policy) as running:
        yield running


async def _open(harness: CaseHarness, reference: str, **overrides: Any) -> dict[str, Any]:
    r = await harness.client.post("/cases", json=placement_body(reference, **overrides), headers=SUPERVISOR)
    assert r.status_code == 201, r.text
    return await harness.case(str(r.json()["case_id"]))


async def _experiment(harness: CaseHarness, experiment_id: str) -> dict[str, Any]:
    r = await harness.client.get("/kpis/experiments", headers=SUPERVISOR)
    assert r.status_code == 200, r.text
    [found] = [e for e in r.json()["experiments"] if e["experiment_id"] == experiment_id]
    return dict(found)


def _arm(experiment: dict[str, Any], arm: str) -> dict[str, Any]:
    [found] = [a for a in experiment["arms"] if a["arm"] == arm]
    return dict(found)


async def test_a_challenger_raising_complaints_beyond_its_guard_is_stopped_and_its_cases_moved(
    harness: CaseHarness,
) -> None:
    cases = [await _open(harness, f"GUARD-{n}") for n in range(16)]
    assert {c["experiment_id"] for c in cases} == {"guarded-exp"}
    challengers = [c["case_id"] for c in cases if c["experiment_arm"] == "challenger"]
    champions = [c["case_id"] for c in cases if c["experiment_arm"] == "champion"]
    assert len(challengers) >= 4 and len(champions) >= 4, (challengers, champions)
    for case_id in challengers:
        r = await harness.client.post(
            f"/cases/{case_id}/holds",
            json={"hold_type": "complaint", "reason": "complaint about the text messages"},
            headers=SUPERVISOR,
        )
        assert r.status_code == 201, r.text

    before = await _experiment(harness, "guarded-exp")
    [guards] = [ch["guards"] for ch in before["challengers"] if ch["arm"] == "challenger"]
    complaints = next(g for g in guards if g["guard"] == "complaints")
    assert complaints["status"] == "breached" and complaints["challenger"]["rate"] == 1.0
    assert complaints["champion"]["rate"] == 0.0 and complaints["low"] > 0
    assert _arm(before, "challenger")["status"] == "running"  # until the review reads it

    consumer = AIOKafkaConsumer(
        harness.prefix + "collections.policies",
        bootstrap_servers=harness.bootstrap,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        harness.move_clock(harness.clock.now() + timedelta(hours=1, minutes=1))

        async def moved() -> bool:
            arms = [(await harness.case(cid))["experiment_arm"] for cid in challengers]
            return arms == ["champion"] * len(challengers)

        await eventually(moved, "the challenger's cases to be moved to the champion")
        deadline = time.monotonic() + 20
        stopped = None
        while stopped is None and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    event = decode_event(record.value)
                    if event.type == "collections.policy.experiment_arm_stopped.v1":
                        stopped = event
        assert stopped is not None, "ExperimentArmStopped on collections.policies"
    finally:
        await consumer.stop()
    assert stopped.subject == "guarded-exp"
    assert stopped.data["arm"] == "challenger" and stopped.data["champion_arm"] == "champion"
    assert stopped.data["guard"]["guard"] == "complaints"
    assert stopped.data["guard"]["challenger_rate_bp"] == 10_000

    after = await _experiment(harness, "guarded-exp")
    arm = _arm(after, "challenger")
    assert arm["status"] == "stopped" and "complaints" in arm["stopped"]["reason"]
    # intention to treat: the moved cases still count in the arm they were first given
    assert arm["cases"] == len(challengers)
    assert _arm(after, "champion")["cases"] == len(champions)

    # no case is given a stopped arm: every new one in the experiment goes to the champion
    new = [await _open(harness, f"GUARD-NEW-{n}") for n in range(6)]
    assert {c["experiment_arm"] for c in new} == {"champion"}


async def test_a_case_counts_in_the_arm_it_was_first_given_after_it_is_re_segmented(
    harness: CaseHarness,
) -> None:
    low = {"principal": 30000, "interest": 0, "fees": 0, "total_balance": 30000}
    amounts = {k: {"amount_minor": v, "currency": "GBP"} for k, v in low.items()}
    case = await _open(harness, "ITT-1", days_past_due=55, amounts=amounts)
    assert case["segment"] == "early-low-balance" and case["experiment_id"] == "itt-exp"
    first_arm = case["experiment_arm"]

    # ten days on it is 65 days past due: re-segmented to the default segment's strategy
    harness.move_clock(harness.clock.now() + timedelta(days=10))

    async def resegmented() -> dict[str, Any] | None:
        now = await harness.case(case["case_id"])
        return now if now["segment"] == "default" else None

    moved = await eventually(resegmented, "the ageing to re-segment the case")
    assert moved["experiment_id"] != "itt-exp"

    await harness.publish(
        payments.PaymentReceived(
            payment_id="pay-itt-1",
            amount=Money(amount_minor=12000, currency="GBP"),
            method=PaymentMethod.CARD,
            external_reference="ext-itt-1",
            received_at=harness.clock.now(),
        ),
        case["case_id"],
    )

    async def paid() -> dict[str, Any] | None:
        experiment = await _experiment(harness, "itt-exp")
        arm = _arm(experiment, first_arm)
        [gbp] = arm["recovery"] or [None]
        return experiment if gbp is not None and gbp["rate"] and gbp["rate"] > 0 else None

    experiment = await eventually(paid, "the payment in the first arm's figures")
    arm = _arm(experiment, first_arm)
    assert arm["cases"] == 1 and arm["recovery"] == [
        {"currency": "GBP", "rate": 0.4, "low": None, "high": None, "n": 1}
    ]
    other = "challenger" if first_arm == "champion" else "champion"
    assert _arm(experiment, other)["cases"] == 0
    # the current-strategy view moves the money with the case; the experiment's does not
    strategies = (await harness.client.get("/kpis/strategies", headers=SUPERVISOR)).json()["strategies"]
    itt_rows = [s for s in strategies if s["experiment_id"] == "itt-exp"]
    assert sum(s["recovered_minor"] for s in itt_rows) == 0
