"""RFC 9457 problem details: the `Problem` exceptions and the handlers that render them as problem+json."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from http import HTTPStatus
from typing import Any, ClassVar

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from dcp_platform.context import current_correlation_id
from dcp_platform.errors import DomainError, ErrorKind

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE_URI = "https://errors.dcp.example/"

_log = structlog.get_logger("dcp_platform.problems")


class ProblemType(StrEnum):
    """Stable `type` URIs; clients may switch on them, so never change one in place."""

    VALIDATION = PROBLEM_BASE_URI + "validation"
    BAD_REQUEST = PROBLEM_BASE_URI + "bad-request"
    NOT_FOUND = PROBLEM_BASE_URI + "not-found"
    CONFLICT = PROBLEM_BASE_URI + "conflict"
    CONCURRENCY_CONFLICT = PROBLEM_BASE_URI + "concurrency-conflict"
    UNAUTHORIZED = PROBLEM_BASE_URI + "unauthorized"
    FORBIDDEN = PROBLEM_BASE_URI + "forbidden"
    INTERNAL = PROBLEM_BASE_URI + "internal"
    UNAVAILABLE = PROBLEM_BASE_URI + "unavailable"


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_CONTENT_TYPE


class Problem(Exception):
    """An error the API reports as problem+json. Subclass and set `type`, `title` and `status`."""

    type: ClassVar[str] = "about:blank"
    title: ClassVar[str] = "Error"
    status: ClassVar[int] = 400

    def __init__(
        self,
        detail: str | None = None,
        *,
        instance: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.instance = instance
        self.headers = dict(headers or {})
        self.extra = extra

    def to_body(self) -> dict[str, Any]:
        return problem_body(
            type_=self.type,
            title=self.title,
            status=self.status,
            detail=self.detail,
            instance=self.instance,
            extra=self.extra,
        )


class ValidationProblem(Problem):
    type = ProblemType.VALIDATION
    title = "Request validation failed"
    status = 422


class BadRequest(Problem):
    type = ProblemType.BAD_REQUEST
    title = "Bad request"
    status = 400


class NotFound(Problem):
    type = ProblemType.NOT_FOUND
    title = "Not found"
    status = 404


class Conflict(Problem):
    type = ProblemType.CONFLICT
    title = "Conflict"
    status = 409


class ConcurrencyConflict(Problem):
    type = ProblemType.CONCURRENCY_CONFLICT
    title = "Concurrent modification"
    status = 409


class Unauthorized(Problem):
    type = ProblemType.UNAUTHORIZED
    title = "Unauthorized"
    status = 401

    def __init__(self, detail: str | None = None, *, error: str | None = None, **extra: Any) -> None:
        challenge = "Bearer" if error is None else f'Bearer error="{error}"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge}, **extra)


class Forbidden(Problem):
    type = ProblemType.FORBIDDEN
    title = "Forbidden"
    status = 403


class ServiceUnavailable(Problem):
    """What the request needs (a broker, a database) cannot be reached now; retry later."""

    type = ProblemType.UNAVAILABLE
    title = "Service unavailable"
    status = 503


class InternalError(Problem):
    type = ProblemType.INTERNAL
    title = "Internal server error"
    status = 500


def problem_body(
    *,
    type_: str,
    title: str,
    status: int,
    detail: str | None = None,
    instance: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    for key, value in (extra or {}).items():
        if key not in body:
            body[key] = value
    encoded: dict[str, Any] = jsonable_encoder(body)
    return encoded


def problem_response(problem: Problem, request: Request | None = None) -> ProblemResponse:
    body = problem.to_body()
    if "instance" not in body and request is not None:
        body["instance"] = request.url.path
    return ProblemResponse(body, status_code=problem.status, headers=problem.headers or None)


def internal_error_response(request: Request | None = None) -> ProblemResponse:
    """The 500 answer: nothing about the failure beyond the correlation id leaves the process."""
    problem = InternalError("An unexpected error occurred.", correlation_id=current_correlation_id())
    return problem_response(problem, request)


_STATUS_TYPES: dict[int, str] = {
    400: ProblemType.BAD_REQUEST,
    401: ProblemType.UNAUTHORIZED,
    403: ProblemType.FORBIDDEN,
    404: ProblemType.NOT_FOUND,
    409: ProblemType.CONFLICT,
    422: ProblemType.VALIDATION,
}


async def _handle_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc, request)


async def _handle_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    problem = ValidationProblem("The request does not match the expected schema.", errors=errors)
    return problem_response(problem, request)


async def _handle_model_validation(request: Request, exc: Exception) -> Response:
    """A value the API schema admitted but an event (or other) model refuses inside the handler: the
    client's input all the same, so 422 with the model's reasons, never a 500. Logged, so the API schema
    gets the bound it lacks."""
    from pydantic import ValidationError

    assert isinstance(exc, ValidationError)
    errors = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors(include_url=False, include_input=False)
    ]
    _log.warning("a model refused a value the API schema admitted", path=request.url.path, model=exc.title)
    problem = ValidationProblem(f"A value is not acceptable for {exc.title}.", errors=errors)
    return problem_response(problem, request)


async def _handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    try:
        title = HTTPStatus(exc.status_code).phrase
    except ValueError:
        title = "Error"
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    body = problem_body(
        type_=_STATUS_TYPES.get(exc.status_code, "about:blank"),
        title=title,
        status=exc.status_code,
        detail=detail,
        instance=request.url.path,
    )
    return ProblemResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _handle_unexpected(request: Request, exc: Exception) -> Response:
    _log.error("unhandled exception", path=request.url.path, exc_info=exc)
    return internal_error_response(request)


def map_domain_error(app: FastAPI, error: type[Exception], problem: type[Problem]) -> None:
    """Render a domain exception (which must not import the web layer) as `problem`, detail = str(error)."""

    async def handler(request: Request, exc: Exception) -> Response:
        return problem_response(problem(str(exc) or None), request)

    app.add_exception_handler(error, handler)


_KIND_STATUS: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 422,
    ErrorKind.CONFLICT: 409,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.UNAVAILABLE: 503,
}


def domain_problem_body(exc: DomainError, instance: str | None = None) -> tuple[dict[str, Any], int]:
    """The problem document of a domain error, and its status: one scheme for every service."""
    status = _KIND_STATUS[exc.kind]
    members = dict(exc.problem_members())
    previous = exc.previous_code()
    if previous is not None:
        members["previous_type"] = PROBLEM_BASE_URI + previous
    body = problem_body(
        type_=PROBLEM_BASE_URI + exc.code,
        title=exc.title,
        status=status,
        detail=str(exc) or None,
        instance=instance,
        extra=members,
    )
    return body, status


async def _handle_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    body, status = domain_problem_body(exc, request.url.path)
    return ProblemResponse(body, status_code=status)


def _input_fault(exc: BaseException) -> Problem | None:
    """The client's fault behind a database error, if it is one: text the database cannot store
    (JSON allows lone UTF-16 surrogates) or a value out of range for its column."""
    import asyncpg

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, UnicodeEncodeError):
            return BadRequest("text fields must be valid Unicode (a lone surrogate was sent)")
        if isinstance(seen, asyncpg.DataError):
            if isinstance(seen.__cause__, UnicodeEncodeError) or "surrogates not allowed" in str(seen):
                return BadRequest("text fields must be valid Unicode (a lone surrogate was sent)")
            return ValidationProblem("a value is out of range or malformed")
        seen = seen.__cause__ or getattr(seen, "orig", None)
    return None


async def _handle_database_error(request: Request, exc: Exception) -> Response:
    problem = _input_fault(exc)
    if problem is None:
        return await _handle_unexpected(request, exc)
    # A bound that belongs in the API schema: logged so that it gets one.
    _log.warning("database refused an input value", path=request.url.path, problem=problem.detail)
    return problem_response(problem, request)


def install_problem_handlers(app: FastAPI) -> None:
    import asyncpg
    from pydantic import ValidationError
    from sqlalchemy.exc import DBAPIError

    app.add_exception_handler(DBAPIError, _handle_database_error)
    app.add_exception_handler(asyncpg.PostgresError, _handle_database_error)
    app.add_exception_handler(asyncpg.InterfaceError, _handle_database_error)
    app.add_exception_handler(UnicodeEncodeError, _handle_database_error)
    app.add_exception_handler(Problem, _handle_problem)
    app.add_exception_handler(DomainError, _handle_domain_error)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(ValidationError, _handle_model_validation)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
    app.add_exception_handler(Exception, _handle_unexpected)
