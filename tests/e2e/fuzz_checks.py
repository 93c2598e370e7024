"""Schemathesis hooks for the API robustness suite (loaded through SCHEMATHESIS_HOOKS)."""

from __future__ import annotations

import json
from typing import Any

import schemathesis


@schemathesis.check
def problem_json_for_client_errors(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx answer is RFC 9457 problem+json with a `type` and the status repeated."""
    if 400 <= response.status_code < 500:
        content_type = response.headers.get("content-type", [""])
        content_type = content_type[0] if isinstance(content_type, list) else content_type
        if not content_type.startswith("application/problem+json"):
            raise AssertionError(f"{response.status_code} answered with {content_type!r}, not problem+json")
        body = json.loads(response.content)
        if not isinstance(body.get("type"), str) or not body["type"]:
            raise AssertionError("problem+json without a `type`")
        if body.get("status") != response.status_code:
            raise AssertionError(
                f"problem status {body.get('status')} differs from HTTP {response.status_code}"
            )
    return None


@schemathesis.serializer("message/rfc822")
def raw_message(ctx: Any, value: Any) -> bytes:
    """A raw e-mail (POST /channels/email/inbound): the generated text sent as the message's bytes."""
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()
