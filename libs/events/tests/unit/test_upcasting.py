"""Old event versions stay readable: they are upcast on read to the current version."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from dcp_events import CloudEvent, UpcastError, decode_event, encode_event, parse_data, upcast
from dcp_events.catalogue import CURRENT_VERSIONS, ContactAttempted, ContactAttemptedV1
from dcp_events.catalogue.examples import EXAMPLES
from dcp_events.upcasting import UPCASTERS

V1_DATA = {
    "attempt_id": "att-1",
    "channel": "phone",
    "party": "debtor",
    "collector_id": "usr-alice",
    "outcome": "no_answer",
    "duration_seconds": 0,
}


def _v1_event() -> CloudEvent:
    return CloudEvent(
        id="0f8fad5b-d9cb-469f-a165-70867728950e",
        source="/contact-service",
        type="collections.contact.attempted.v1",
        time=datetime(2025, 3, 1, 10, 0, tzinfo=UTC),
        subject="case-1",
        data=V1_DATA,
        actor="usr-alice",
        actorrole="collector",
        correlationid="corr-1",
    )


def test_v1_is_a_real_breaking_change_from_v2() -> None:
    assert ContactAttemptedV1.model_validate(V1_DATA)
    with pytest.raises(ValidationError, match="recording_ref"):
        ContactAttempted.model_validate(V1_DATA)
    assert CURRENT_VERSIONS["collections.contact.attempted"] == 2


def test_parse_data_upcasts_v1_events_read_from_the_wire() -> None:
    event = decode_event(encode_event(_v1_event()))
    payload = parse_data(event)
    assert isinstance(payload, ContactAttempted)
    assert payload == ContactAttempted(**V1_DATA, agency_id=None, recording_ref=None)  # type: ignore[arg-type]
    assert event.data == V1_DATA  # the stored event is untouched: its bytes stay hashable


def test_upcast_chains_to_current_and_leaves_current_alone() -> None:
    type_str, data = upcast("collections.contact.attempted.v1", V1_DATA)
    assert type_str == "collections.contact.attempted.v2"
    assert data["recording_ref"] is None and data["agency_id"] is None
    assert "recording_ref" not in V1_DATA
    current = EXAMPLES["collections.contact.attempted.v2"].model_dump(mode="json")
    assert upcast("collections.contact.attempted.v2", current) == (
        "collections.contact.attempted.v2",
        current,
    )


def test_every_superseded_version_has_an_upcaster_chain() -> None:
    for base, current in CURRENT_VERSIONS.items():
        for version in range(1, current):
            assert (base, version) in UPCASTERS, f"{base} v{version} cannot be read"


def test_versions_from_the_future_are_refused() -> None:
    with pytest.raises(UpcastError, match="newer"):
        upcast("collections.contact.attempted.v3", V1_DATA)


def test_invalid_data_errors_name_the_field_but_never_its_value() -> None:
    from dcp_events import parse_data
    from dcp_events.catalogue.examples import EXAMPLES
    from dcp_events.envelope import CloudEvent
    from dcp_events.errors import EventDataError

    data = EXAMPLES["collections.case.opened.v1"].model_dump(mode="json")
    data["debtor"]["national_id"] = "QQ123456C"
    data["debtor"]["full_name"] = 12345  # invalid: a name is text
    event = CloudEvent(
        id="6f1c7a52-3f0e-5d1b-9a51-0d0c0c0a5e11",
        source="/test",
        type="collections.case.opened.v1",
        time="2026-11-29T08:00:00Z",
        subject="case-1",
        data=data,
        actor="t",
        actorrole="service",
        correlationid="c",
    )
    try:
        parse_data(event)
    except EventDataError as exc:
        message = str(exc)
    else:
        raise AssertionError("invalid data was accepted")
    assert "debtor.full_name" in message
    assert "12345" not in message and "QQ123456C" not in message
