"""Every catalogue event survives the envelope and the wire unchanged; payload rules hold."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from dcp_events import (
    CATALOGUE,
    TOPICS,
    CloudEvent,
    EventDataError,
    UnknownEventType,
    decode_event,
    dlq_topic,
    encode_event,
    kafka_key,
    model_for,
    new_event,
    parse_data,
    parse_data_as,
)
from dcp_events.catalogue import (
    CURRENT,
    CaseAmounts,
    CaseOpened,
    CaseStageChanged,
    ContactAttempted,
    ContactAttemptedV1,
    ContactBlocked,
    Money,
    MoneyDelta,
    PaymentPlanAgreed,
    PaymentReceived,
    case_id_for_account,
    schema_uri,
)
from dcp_events.catalogue.examples import EXAMPLES

AT = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
CASE = "4b0f3c2e-9a7d-4e1b-8c55-0d2f6a1b9e77"


def _wrap(payload: Any, **overrides: Any) -> CloudEvent:
    fields: dict[str, Any] = {
        "subject": CASE,
        "source": "/case-service",
        "actor": "usr-alice",
        "actorrole": "collector",
        "correlationid": "corr-1",
        "time": AT,
    }
    return new_event(payload, **{**fields, **overrides})


def test_catalogue_covers_architecture_section_3() -> None:
    names = {m.__name__ for m in CATALOGUE.values()}
    assert names >= {
        "CaseOpened", "CaseStrategyAssigned", "CaseAssigned", "CaseStageChanged", "CaseHoldPlaced",
        "CaseHoldReleased", "CaseBalanceChanged", "CaseClosed", "ContactAttempted", "ContactBlocked",
        "PromiseMade", "DisputeRaised", "CeaseRequested", "ChannelOptedOut", "ContactPreferencesSet",
        "PaymentReceived", "PaymentReversed", "PromiseKept", "PromiseBroken", "PaymentPlanAgreed",
        "InstallmentMissed", "PaymentPlanCompleted", "PaymentPlanBroken", "SettlementAgreed",
        "SettlementLapsed", "AccountPlaced", "PlacementUpdated", "PlacementRecalled", "PaymentPosted",
        "ContactPermitIssued", "ContactPermitExpired", "MessageDeliveryReported", "ContactReported",
        "FinancialStatementRecorded", "StaffMemberChanged", "ExperimentArmStopped",
        "PolicyVersionProposed", "PolicyVersionApproved", "PolicyActivated",
    }  # fmt: skip
    assert TOPICS == [
        "collections.cases", "collections.contacts", "collections.payments", "collections.staff",
        "collections.policies", "integration.placements", "integration.payments", "integration.contacts",
    ]  # fmt: skip
    for type_str, model in CATALOGUE.items():
        assert type_str == f"{model.event_type}.v{model.version}"
        assert model.topic in TOPICS
        assert model.model_config.get("extra") == "forbid"


def test_every_catalogue_type_has_an_example() -> None:
    assert sorted(EXAMPLES) == sorted(CATALOGUE)
    for type_str, payload in EXAMPLES.items():
        assert type(payload) is CATALOGUE[type_str]


@pytest.mark.parametrize("type_str", sorted(CATALOGUE))
def test_every_event_round_trips_through_envelope_and_bytes(type_str: str) -> None:
    payload = EXAMPLES[type_str]
    event = _wrap(payload, causationid="cmd-9", sequence=3, jurisdiction="GB")
    assert event.type == type_str
    assert event.dataschema == schema_uri(type_str)
    raw = encode_event(event)
    back = decode_event(raw)
    assert back == event
    assert encode_event(back) == raw
    assert kafka_key(back) == CASE.encode()
    parsed = parse_data(back)
    current = CURRENT[payload.event_type]
    assert type(parsed) is current
    if type(payload) is current:
        assert parsed == payload


def test_model_for_and_unknown_types() -> None:
    assert model_for("collections.case.opened.v1") is CaseOpened
    assert model_for("collections.contact.attempted.v1") is ContactAttemptedV1
    with pytest.raises(UnknownEventType, match=r"collections\.case\.exploded\.v1"):
        model_for("collections.case.exploded.v1")
    event = CloudEvent(
        id="0f8fad5b-d9cb-469f-a165-70867728950e", source="/x", type="collections.case.exploded.v1", time=AT,
        subject=CASE, data={}, actor="svc", actorrole="service", correlationid="c",
    )  # fmt: skip
    with pytest.raises(UnknownEventType):
        parse_data(event)


def test_dlq_topic_naming() -> None:
    assert dlq_topic("collections.cases") == "collections.cases.dlq"


def test_new_event_needs_an_aware_time_and_sets_a_fresh_id() -> None:
    payload = EXAMPLES["collections.case.closed.v1"]
    a, b = _wrap(payload), _wrap(payload)
    assert a.id != b.id
    with pytest.raises(ValidationError):
        _wrap(payload, time=datetime(2026, 1, 1))  # noqa: DTZ001
    assert (
        _wrap(payload, id="0F8FAD5B-D9CB-469F-A165-70867728950E").id == "0f8fad5b-d9cb-469f-a165-70867728950e"
    )


def test_parse_data_reports_invalid_data_as_event_data_error() -> None:
    event = _wrap(EXAMPLES["collections.case.closed.v1"])
    broken = event.model_copy(update={"data": {**event.data, "reason": "vanished"}})
    with pytest.raises(EventDataError, match="reason"):
        parse_data(broken)


def test_parse_data_as_checks_the_type() -> None:
    event = _wrap(EXAMPLES["collections.payment.received.v1"])
    assert parse_data_as(event, PaymentReceived).amount.amount_minor == 5000
    with pytest.raises(EventDataError, match="not a CaseOpened"):
        parse_data_as(event, CaseOpened)


# Money


def test_money_accepts_integer_minor_units_up_to_the_bigint_safe_limit() -> None:
    from dcp_events.catalogue.base import MAX_MINOR

    assert Money(amount_minor=0, currency="JPY").amount_minor == 0
    assert Money.model_validate_json(f'{{"amount_minor": {MAX_MINOR}, "currency": "EUR"}}').currency == "EUR"
    with pytest.raises(ValidationError):
        Money.model_validate_json('{"amount_minor": 123456789012345678901, "currency": "EUR"}')


@pytest.mark.parametrize(
    "raw",
    [
        {"amount_minor": -1, "currency": "GBP"},
        {"amount_minor": 10.0, "currency": "GBP"},
        {"amount_minor": 10.5, "currency": "GBP"},
        {"amount_minor": "10", "currency": "GBP"},
        {"amount_minor": True, "currency": "GBP"},
        {"amount_minor": 10, "currency": "gbp"},
        {"amount_minor": 10, "currency": "XYZ"},
        {"amount_minor": 10, "currency": "GB"},
        {"amount_minor": 10, "currency": "GBP", "amount": 10},
    ],
)
def test_money_refuses_negatives_floats_and_unknown_currencies(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Money.model_validate(raw)


def test_money_delta_is_signed_but_integer() -> None:
    assert MoneyDelta(delta_minor=-5000, currency="USD").delta_minor == -5000
    with pytest.raises(ValidationError):
        MoneyDelta.model_validate({"delta_minor": -50.0, "currency": "USD"})


def test_case_amounts_must_share_a_currency() -> None:
    gbp, eur = Money(amount_minor=1, currency="GBP"), Money(amount_minor=1, currency="EUR")
    with pytest.raises(ValidationError, match="mix currencies"):
        CaseAmounts(principal=gbp, interest=gbp, fees=eur, total_balance=gbp)


# Payload rules


def test_case_opened_validates_debtor_details() -> None:
    base = EXAMPLES["collections.case.opened.v1"].model_dump(mode="json")
    assert CaseOpened.model_validate(base).debtor.time_zone == "Europe/London"
    for path, value in [
        (("debtor", "time_zone"), "Mars/Olympus_Mons"),
        (("debtor", "phones", 0, "number"), "07700 900123"),
        (("debtor", "time_zone_source"), "guess"),
        (("risk_score",), 1001),
        (("jurisdiction",), "UK1"),
        (("due_since",), "2026-10-15T00:00:00Z"),
        (("days_past_due",), -1),
    ]:
        bad: Any = CaseOpened.model_validate(base).model_dump(mode="json")
        target = bad
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        with pytest.raises(ValidationError):
            CaseOpened.model_validate(bad)


def test_payload_models_refuse_unknown_fields_and_naive_times() -> None:
    data = EXAMPLES["collections.contact.blocked.v1"].model_dump(mode="json")
    with pytest.raises(ValidationError, match="Extra inputs"):
        ContactBlocked.model_validate({**data, "surprise": 1})
    with pytest.raises(ValidationError):
        ContactBlocked.model_validate({**data, "next_allowed_at": "2026-11-29T08:00:00"})
    assert ContactBlocked.model_validate(data).next_allowed_at == AT


def test_stage_change_must_change_stage() -> None:
    with pytest.raises(ValidationError, match="to itself"):
        CaseStageChanged(from_stage="late", to_stage="late", days_past_due=70, reason="x")  # type: ignore[arg-type]


def test_payment_plan_installments_must_add_up() -> None:
    data = EXAMPLES["collections.payment.plan_agreed.v1"].model_dump(mode="json")
    data["total"]["amount_minor"] += 1
    with pytest.raises(ValidationError, match="add up"):
        PaymentPlanAgreed.model_validate(data)


def test_v2_contact_attempt_carries_recording_and_agency() -> None:
    payload = EXAMPLES["collections.contact.attempted.v2"]
    assert isinstance(payload, ContactAttempted)
    assert payload.recording_ref == "rec-2026-11-29-0002"
    assert payload.agency_id is None


def test_case_id_for_account_is_stable_and_distinct() -> None:
    assert case_id_for_account("acme", "A-1") == case_id_for_account("acme", "A-1")
    assert case_id_for_account("acme", "A-1") != case_id_for_account("acme", "A-2")
    assert case_id_for_account("acme", "A-1") != case_id_for_account("acm", "eA-1")
    assert date.fromisoformat("2026-01-01")  # dates on the wire are ISO text
