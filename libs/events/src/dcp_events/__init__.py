"""Events of the debt collection platform: CloudEvents envelope, catalogue, canonical JSON, upcasting."""

from dcp_events.canonical import decode_event, encode_event, to_canonical_bytes
from dcp_events.catalogue import (
    CATALOGUE,
    TOPICS,
    EventPayload,
    Money,
    MoneyDelta,
    dlq_topic,
    model_for,
    new_event,
    parse_data,
    parse_data_as,
)
from dcp_events.envelope import ActorRole, CloudEvent, kafka_key, make_type, split_type
from dcp_events.errors import (
    CanonicalEncodingError,
    EventDataError,
    EventDecodeError,
    EventError,
    UnknownEventType,
    UpcastError,
)
from dcp_events.upcasting import upcast

__all__ = [
    "CATALOGUE",
    "TOPICS",
    "ActorRole",
    "CanonicalEncodingError",
    "CloudEvent",
    "EventDataError",
    "EventDecodeError",
    "EventError",
    "EventPayload",
    "Money",
    "MoneyDelta",
    "UnknownEventType",
    "UpcastError",
    "decode_event",
    "dlq_topic",
    "encode_event",
    "kafka_key",
    "make_type",
    "model_for",
    "new_event",
    "parse_data",
    "parse_data_as",
    "split_type",
    "to_canonical_bytes",
    "upcast",
]
