"""JSON logs on stdout (structlog), one object per line, with personal data and secrets masked."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from dcp_platform.context import get_request_context

MASK = "***"

_SECRET_KEY = re.compile(
    r"pass(word|wd)?|secret|token|authorization|api[_-]?key|cookie|credential|private[_-]?key|dsn",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"(?<![\w.+-])([\w.+-])[\w.+-]*@([\w-]+(?:\.[\w-]+)+)")
# 7-15 digits with the usual separators, not part of a longer token, and not an ISO date.
_PHONE = re.compile(r"(?<![\w-])(?!\d{4}-\d{2}-\d{2})\+?\d(?:[\s().-]{0,2}\d){5,13}(\d)(?![\w-])")
_BEARER = re.compile(r"(?i)\bbearer\s+[\w.~+/=-]+")
_UNMASKED_KEYS = frozenset(
    {
        "timestamp",
        "level",
        "logger",
        "service",
        "correlation_id",
        "trace_id",
        "span_id",
        "duration_ms",
        "status",
    }
)


def mask_text(text: str) -> str:
    """Mask e-mail addresses, phone numbers and bearer tokens inside free text."""
    text = _BEARER.sub("Bearer " + MASK, text)
    text = _EMAIL.sub(lambda m: f"{m.group(1)}{MASK}@{m.group(2)}", text)
    return _PHONE.sub(lambda m: f"{MASK}{m.group(0)[-2:]}", text)


def _mask_value(key: str | None, value: Any) -> Any:
    if key is not None and _SECRET_KEY.search(key):
        return MASK
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: _mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask_value(None, v) for v in value]
    if hasattr(value, "get_secret_value"):  # pydantic SecretStr / SecretBytes
        return MASK
    return value


def mask_sensitive(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: secrets-looking keys become ***, phones and e-mails in values are masked."""
    for key in list(event_dict):
        if key in _UNMASKED_KEYS:
            continue
        event_dict[key] = _mask_value(None if key == "event" else key, event_dict[key])
    return event_dict


def _add_request_context(service: str) -> Processor:
    def processor(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault("service", service)
        ctx = get_request_context()
        if ctx is not None:
            event_dict.setdefault("correlation_id", ctx.correlation_id)
            event_dict.setdefault("trace_id", ctx.trace.trace_id)
            event_dict.setdefault("span_id", ctx.trace.span_id)
        return event_dict

    return processor


def _drop_color_message(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    event_dict.pop("color_message", None)  # uvicorn's duplicate of the message
    return event_dict


def configure_logging(service: str, level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send structlog and standard-library logging (uvicorn, aiokafka, ...) to `stream` as JSON lines."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        _drop_color_message,
        structlog.stdlib.PositionalArgumentsFormatter(),
        _add_request_context(service),
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            mask_sensitive,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers[:] = []
        uvicorn_logger.propagate = True
    # The request middleware logs every request with its correlation id; uvicorn's access log would repeat it.
    logging.getLogger("uvicorn.access").disabled = True


def redact_mapping(values: MutableMapping[str, Any]) -> dict[str, Any]:
    """A masked copy of `values`, for logging configuration or payloads."""
    return {key: _mask_value(key, value) for key, value in values.items()}
