"""JSON log lines carry service, level, UTC timestamp and correlation/trace ids; personal data is masked."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import structlog
from pydantic import SecretStr

from dcp_platform.context import bind_context
from dcp_platform.logging import configure_logging, mask_sensitive, mask_text


def capture() -> io.StringIO:
    stream = io.StringIO()
    configure_logging("case-service", "DEBUG", stream=stream)
    return stream


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_log_lines_are_json_with_context() -> None:
    stream = capture()
    with bind_context(
        correlation_id="corr-1", traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    ):
        structlog.get_logger("test").info("case opened", case_id="c-1")
    (line,) = lines(stream)
    assert line["event"] == "case opened"
    assert line["level"] == "info"
    assert line["service"] == "case-service"
    assert line["correlation_id"] == "corr-1"
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert line["timestamp"].endswith("Z")


def test_phones_emails_and_secrets_are_masked() -> None:
    stream = capture()
    structlog.get_logger("test").info(
        "contacting debtor at +44 20 7946 0958 or jane.doe@example.com",
        phone="+1 (555) 123-4567",
        email="jane.doe@example.com",
        password="hunter2",
        auth_jwt_hs256_secret=SecretStr("s3cret"),
        headers={"Authorization": "Bearer eyJhbGciOi.abc.def", "accept": "application/json"},
        due_date="2024-05-01",
        amount_minor=125000,
    )
    logging.getLogger("uvicorn.error").warning("token=%s for bob@example.org", "abc")
    first, second = lines(stream)
    raw = json.dumps([first, second])
    for leak in ("7946 0958", "123-4567", "jane.doe", "hunter2", "s3cret", "eyJhbGciOi", "bob@"):
        assert leak not in raw
    assert first["password"] == "***"
    assert first["headers"] == {"Authorization": "***", "accept": "application/json"}
    assert first["email"] == "j***@example.com"
    assert first["phone"].endswith("67")
    assert first["due_date"] == "2024-05-01"
    assert first["amount_minor"] == 125000
    assert second["service"] == "case-service"


def test_mask_text_leaves_ordinary_text_alone() -> None:
    assert mask_text("case c-1 moved to stage late at 2024-05-01T10:00:00Z") == (
        "case c-1 moved to stage late at 2024-05-01T10:00:00Z"
    )
    assert mask_sensitive(None, "info", {"event": "call 0044 7700 900123", "token": "x"}) == {
        "event": "call ***23",
        "token": "***",
    }
