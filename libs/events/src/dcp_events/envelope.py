"""The CloudEvents 1.0 envelope (structured JSON mode) every event on every topic travels in."""

from __future__ import annotations

import enum
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from dcp_events.jsonvalue import JsonValue, format_utc, to_json_value

SPEC_VERSION: Final = "1.0"
PARSED_STRICT_JSON: Final = "parsed_strict_json"
"""Validation context key: the input was parsed by `canonical.loads_strict`, so its `data` is plain
JSON already and is not walked again."""
DATA_CONTENT_TYPE: Final = "application/json"
# Content type of a structured-mode CloudEvent (the Kafka `content-type` header).
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"

# "<domain>.<entity>.<verb>.v<N>", segments in snake_case, e.g. collections.case.hold_placed.v1
_SEGMENT = r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*"
BASE_TYPE_PATTERN = rf"^{_SEGMENT}\.{_SEGMENT}\.{_SEGMENT}$"
TYPE_PATTERN = rf"^{_SEGMENT}\.{_SEGMENT}\.{_SEGMENT}\.v[1-9][0-9]*$"
_TYPE_RE = re.compile(TYPE_PATTERN)
_BASE_TYPE_RE = re.compile(BASE_TYPE_PATTERN)
# CloudEvents 1.0: attribute names are lower-case ASCII letters and digits, at most 20 recommended.
ATTRIBUTE_NAME_PATTERN = r"^[a-z0-9]{1,20}$"
TRACEPARENT_PATTERN = r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
JURISDICTION_PATTERN = r"^[A-Z]{2}$"


class ActorRole(enum.StrEnum):
    """Who caused an event: a person in one of the platform roles, an integrator, or a service."""

    COLLECTOR = "collector"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"
    INTEGRATION = "integration"
    DIALER = "dialer"  # an agency's machine channel (dialer, SMS or letter gateway)
    SERVICE = "service"


def _only_text_or_datetime(value: object) -> object:
    # Pydantic would otherwise read a number as a Unix timestamp; a time on the wire is always text.
    if not isinstance(value, str | datetime):
        raise ValueError("a time must be an RFC 3339 string or a datetime")
    return value


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDateTime = Annotated[
    AwareDatetime,
    BeforeValidator(_only_text_or_datetime),
    AfterValidator(_to_utc),
    PlainSerializer(format_utc, return_type=str, when_used="json"),
]
"""A timezone-aware instant, kept in UTC, written as 2026-11-29T08:00:00.000000Z. Naive times are refused."""


def _check_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a UUID") from None


def _check_traceparent(value: str) -> str:
    _, trace_id, parent_id, _ = value.split("-")
    if set(trace_id) == {"0"} or set(parent_id) == {"0"}:
        raise ValueError("traceparent trace-id and parent-id must not be all zeros")
    return value


EventId = Annotated[str, AfterValidator(_check_uuid)]
NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=256)]


def split_type(type_str: str) -> tuple[str, int]:
    """Split "collections.case.opened.v1" into ("collections.case.opened", 1)."""
    if not _TYPE_RE.match(type_str):
        raise ValueError(f"event type {type_str!r} does not follow <domain>.<entity>.<verb>.v<N>")
    base, _, version = type_str.rpartition(".v")
    return base, int(version)


def make_type(base_type: str, version: int) -> str:
    """Join ("collections.case.opened", 1) into "collections.case.opened.v1"."""
    if not _BASE_TYPE_RE.match(base_type) or version < 1:
        raise ValueError(f"invalid event base type {base_type!r} or version {version!r}")
    return f"{base_type}.v{version}"


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event with this platform's extension attributes; `data` is the catalogue payload."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    specversion: Literal["1.0"] = SPEC_VERSION
    id: EventId = Field(description="UUID of the event; consumers deduplicate on it.")
    source: Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^\S+$")] = Field(
        description="URI-reference of the producing service, e.g. /case-service."
    )
    type: Annotated[str, StringConstraints(pattern=TYPE_PATTERN)] = Field(
        description="<domain>.<entity>.<verb>.v<N>, e.g. collections.case.opened.v1."
    )
    time: UtcDateTime = Field(description="When it happened, UTC.")
    subject: NonEmpty = Field(description="The case id; also the Kafka message key.")
    datacontenttype: Literal["application/json"] = DATA_CONTENT_TYPE
    dataschema: (
        Annotated[str, StringConstraints(min_length=1, pattern=r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$")] | None
    ) = Field(default=None, description="Absolute URI of the JSON Schema of `data`.")
    data: dict[str, Any] = Field(description="The event payload (catalogue model of `type`).")
    actor: NonEmpty = Field(description="User id or service name that caused the event.")
    actorrole: ActorRole
    correlationid: NonEmpty = Field(description="Id shared by everything one request or flow caused.")
    causationid: NonEmpty | None = Field(
        default=None, description="Id of the event or command that caused it."
    )
    sequence: StrictInt | None = Field(default=None, ge=0, description="Stream version of the aggregate.")
    jurisdiction: Annotated[str, StringConstraints(pattern=JURISDICTION_PATTERN)] | None = Field(
        default=None, description="ISO 3166-1 alpha-2 country whose rules govern the case, e.g. GB."
    )
    traceparent: (
        Annotated[str, StringConstraints(pattern=TRACEPARENT_PATTERN), AfterValidator(_check_traceparent)]
        | None
    ) = Field(default=None, description="W3C Trace Context traceparent.")
    sealeddata: Annotated[str, StringConstraints(min_length=4, max_length=1_000_000)] | None = Field(
        default=None,
        description=(
            "The whole payload, encrypted under the case's data key (AES-256-GCM, bound to id, subject "
            "and type), when it holds personal data; `data` is then the redacted payload. Once the "
            "case's key is destroyed (an erasure) only the redacted payload can be read."
        ),
    )

    @field_validator("data", mode="after")
    @classmethod
    def _data_is_plain_json(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if info.context is not None and info.context.get(PARSED_STRICT_JSON):
            return value  # parsed by `loads_strict`: plain JSON already (no floats, string keys)
        plain = to_json_value(value, path="data")
        assert isinstance(plain, dict)
        return plain

    @property
    def base_type(self) -> str:
        return split_type(self.type)[0]

    @property
    def version(self) -> int:
        return split_type(self.type)[1]

    def attributes(self) -> dict[str, JsonValue]:
        """The context attributes (everything but `data`) as JSON values, absent ones left out."""
        dumped = self.model_dump(mode="json", exclude={"data"})
        return {k: v for k, v in dumped.items() if v is not None}


def kafka_key(event: CloudEvent) -> bytes:
    """The Kafka message key: the case id (subject), so one case's events keep their order in a topic."""
    return event.subject.encode("utf-8")
