"""The base of every domain error: a refusal named for the rule it guards, with a stable code.

Plain Python (domain modules import it; no web imports). The platform renders every `DomainError`
as RFC 9457 problem+json in one place (`dcp_platform.problems.install_problem_handlers`): `type` is
`https://errors.dcp.example/<code>` in every service, the HTTP status follows the error's `kind`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class ErrorKind(StrEnum):
    """What kind of refusal it is; the API turns each into one HTTP status."""

    INVALID = "invalid"  # 422: the request can never succeed as it is
    CONFLICT = "conflict"  # 409: refused in the aggregate's current state
    NOT_FOUND = "not-found"  # 404
    FORBIDDEN = "forbidden"  # 403: the caller may not do this
    UNAVAILABLE = "unavailable"  # 503: a system the command needs (a mail server, a gateway) is down


class DomainError(Exception):
    """A command the domain refuses. Subclasses set `code` (the stable suffix of the problem type
    URI: never change one in place, clients switch on it), `title` and `kind`."""

    code: ClassVar[str] = "domain-rule"
    title: ClassVar[str] = "Refused by a domain rule"
    kind: ClassVar[ErrorKind] = ErrorKind.CONFLICT

    def __init_subclass__(
        cls, *, code: str | None = None, title: str | None = None, kind: ErrorKind | None = None
    ) -> None:
        """`class HoldNotFound(CaseRuleViolation, code="hold-not-found", kind=ErrorKind.NOT_FOUND)`."""
        super().__init_subclass__()
        if code is not None:
            cls.code = code
        if title is not None:
            cls.title = title
        if kind is not None:
            cls.kind = kind

    def problem_members(self) -> dict[str, Any]:
        """Extension members of the problem document (RFC 9457 section 3.2)."""
        return {}

    def previous_code(self) -> str | None:
        """The code under an earlier type URI of the same problem, published as `previous_type`."""
        return None
