"""Domain errors as RFC 9457 problem+json with stable type URIs (https://errors.dcp.example/case/<code>)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import Response

from case_service.application.cases import CaseNotFound
from case_service.domain import errors
from dcp_platform.problems import PROBLEM_BASE_URI, NotFound, ProblemResponse, problem_body, problem_response

CASE_PROBLEM_BASE = f"{PROBLEM_BASE_URI}case/"

_STATUS: dict[type[errors.CaseRuleViolation], int] = {
    errors.InvalidPlacement: 422,
    errors.CurrencyMismatch: 422,
    errors.HoldNotFound: 404,
}


async def _case_rule(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.CaseRuleViolation)
    status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 409)
    body = problem_body(
        type_=CASE_PROBLEM_BASE + exc.code,
        title=type(exc).__name__,
        status=status,
        detail=str(exc),
        instance=request.url.path,
    )
    return ProblemResponse(body, status_code=status)


async def _not_found(request: Request, exc: Exception) -> Response:
    return problem_response(NotFound(f"no case {exc}"), request)


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.CaseRuleViolation, _case_rule)
    app.add_exception_handler(CaseNotFound, _not_found)
