"""The propensity model in force ranks the worklist and picks the channel and hour band to try among
those the gate allows; without one, the rule-based order stands."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from contact_service.adapters.memory import InMemoryContactService
from contact_service.adapters.unit_of_work_contract import ZONES, case_opened
from contact_service.application import commands as c
from contact_service.application import queries
from contact_service.application.ports import ContactEnvironment, Scoring
from dcp_compliance import ProposedContact
from dcp_events import new_event
from dcp_events.catalogue import Assignee, CaseAssigned, CaseStrategyAssigned
from dcp_events.catalogue.enums import AssigneeKind, Channel, ContactOutcome
from dcp_events.catalogue.policies import PolicyActivated
from dcp_platform.auth import Principal, Role
from dcp_platform.clock import ManualClock
from dcp_platform.scoring import CASE_FEATURES, CONTACT_FEATURES

COLLECTOR = Principal(subject="col-1", role=Role.COLLECTOR)
START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _logistic(names: tuple[str, ...], weights: dict[str, float]) -> dict[str, object]:
    return {
        "features": list(names),
        "mean": [0.0] * len(names),
        "scale": [1.0] * len(names),
        "weights": [weights.get(n, 0.0) for n in names],
        "intercept": -2.0,
    }


# pays when reached: the model weighs right-party contacts; calls in the evening reach people
MODEL = {
    "kind": "logistic",
    "horizon_days": 7,
    "pay": _logistic(CASE_FEATURES, {"right_party_contacts_30d": 3.0}),
    "contact": _logistic(CONTACT_FEATURES, {"channel_phone": 1.0, "hours_17-21": 2.0}),
    "metrics": {},
}


def _activation(document: dict[str, object], version: int) -> object:
    text = json.dumps(document, sort_keys=True)
    payload = PolicyActivated(
        name="propensity-model",
        policy_version=version,
        previous_version=1,
        decision_version=str(version),
        author="sup-1",
        activated_by="sup-2",
        reason="test",
        document=text,
        document_sha256="0" * 64,
    )
    return new_event(
        payload,
        subject="propensity-model",
        source="/case-service",
        actor="sup-2",
        actorrole="supervisor",
        correlationid="corr-1",
        time=START,
    )


@pytest.fixture
def service() -> InMemoryContactService:
    return InMemoryContactService(ContactEnvironment(ManualClock(START)))


async def _open(service: InMemoryContactService) -> str:
    case_id = f"case-{uuid4().hex[:10]}"
    now = service.env.now()
    await service.handle(c.FoldCaseEvent(case_id, case_opened(case_id, "US"), now))
    assigned = CaseAssigned(
        assignee=Assignee(kind=AssigneeKind.COLLECTOR, id=COLLECTOR.subject), reason="test"
    )
    await service.handle(c.FoldCaseEvent(case_id, assigned, now))
    return case_id


def _noon_in_new_york(service: InMemoryContactService) -> None:
    clock = service.env.clock
    assert isinstance(clock, ManualClock)
    local = clock.now().astimezone(ZoneInfo(ZONES["US"])).replace(hour=12, minute=0) + timedelta(days=1)
    clock.set(local.astimezone(UTC))


async def test_the_model_in_force_ranks_the_worklist_and_chooses_channel_and_hour(
    service: InMemoryContactService,
) -> None:
    _noon_in_new_york(service)
    first, reached = await _open(service), await _open(service)
    await service.handle(
        c.RecordAttempt(
            principal=COLLECTOR,
            case_id=reached,
            proposed=ProposedContact(channel=Channel.PHONE, collector_id=COLLECTOR.subject),
            attempt_id=f"att-{uuid4().hex}",
            outcome=ContactOutcome.RIGHT_PARTY_CONTACT,
            duration_seconds=60,
        )
    )
    service.env.clock.set(service.env.now() + timedelta(minutes=30))  # type: ignore[attr-defined]
    async with service.reading() as reads:
        rule_based = await queries.worklist(reads, "col-1", COLLECTOR, service.env.now())
    assert all(i.pay_probability is None and i.best_contact is None for i in rule_based)
    assert sorted(i.case.case_id for i in rule_based) == sorted([first, reached])

    scoring = Scoring()
    scoring.follow(_activation(MODEL, 3))  # type: ignore[arg-type]
    assert scoring.model is not None and scoring.version == "3"
    async with service.reading() as reads:
        ranked = await queries.worklist(reads, "col-1", COLLECTOR, service.env.now(), model=scoring.model)
    assert [i.case.case_id for i in ranked] == [reached, first]  # the one reached is likelier to pay
    assert ranked[0].pay_probability is not None and ranked[0].pay_probability > ranked[1].pay_probability  # type: ignore[operator]
    best = ranked[1].best_contact
    assert best is not None and (best.channel, best.hour_band) == ("phone", "17-21")

    scoring.follow(_activation({"kind": "rule-based"}, 4))  # type: ignore[arg-type]
    assert scoring.model is None and scoring.version == "4"


async def test_a_strategy_ranked_by_the_rules_is_not_scored_so_a_model_can_be_an_experiment_arm(
    service: InMemoryContactService,
) -> None:
    """The champion's strategy says `rule-based`, the challenger's `propensity-model`: one worklist,
    each case ranked as its arm says, so the experiment measures the model against the rules."""
    _noon_in_new_york(service)
    ruled, scored = await _open(service), await _open(service)
    now = service.env.now()
    for case_id, order in ((ruled, "rule-based"), (scored, "propensity-model")):
        assigned = CaseStrategyAssigned(
            segment="default", strategy_id=f"standard-{order}", strategy_version=1, worklist_order=order
        )
        await service.handle(c.FoldCaseEvent(case_id, assigned, now))
    scoring = Scoring()
    scoring.follow(_activation(MODEL, 5))  # type: ignore[arg-type]
    async with service.reading() as reads:
        items = {
            i.case.case_id: i
            for i in await queries.worklist(reads, "col-1", COLLECTOR, now, model=scoring.model)
        }
    assert items[ruled].pay_probability is None and items[ruled].best_contact is None
    assert items[scored].pay_probability is not None and items[scored].best_contact is not None
