"""problem+json for the contact service's domain errors, with stable types."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import Response

from contact_service.domain.errors import (
    CaseNotAssigned,
    CaseUnknown,
    ContactRefused,
    InvalidPromise,
    PromiseRefused,
)
from dcp_platform import problems
from dcp_platform.problems import PROBLEM_BASE_URI, Problem, problem_response


class ContactRefusedProblem(Problem):
    type = PROBLEM_BASE_URI + "contact-refused"
    title = "Contact refused by the compliance gate"
    status = 409


class PromiseRefusedProblem(Problem):
    type = PROBLEM_BASE_URI + "promise-refused"
    title = "Promise refused by the compliance rules"
    status = 409


class InvalidPromiseProblem(Problem):
    type = PROBLEM_BASE_URI + "invalid-promise"
    title = "Invalid promise to pay"
    status = 422


async def _contact_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ContactRefused)
    d = exc.decision
    problem = ContactRefusedProblem(
        f"{d.rule_id}: {d.reason}",
        attempt_id=exc.attempt_id,
        rule_id=d.rule_id,
        citation=d.citation,
        reason=d.reason,
        next_allowed_at=d.next_allowed_at,
        rule_pack_id=d.pack_id,
        rule_pack_version=d.pack_version,
        time_zone=d.time_zone,
        time_zone_source=d.time_zone_source,
    )
    return problem_response(problem, request)


async def _promise_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PromiseRefused)
    d = exc.decision
    problem = PromiseRefusedProblem(
        f"{d.rule_id}: {d.reason}",
        rule_id=d.rule_id,
        citation=d.citation,
        reason=d.reason,
        rule_pack_id=d.pack_id,
        rule_pack_version=d.pack_version,
    )
    return problem_response(problem, request)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ContactRefused, _contact_refused)
    app.add_exception_handler(PromiseRefused, _promise_refused)
    problems.map_domain_error(app, InvalidPromise, InvalidPromiseProblem)
    problems.map_domain_error(app, CaseUnknown, problems.NotFound)
    problems.map_domain_error(app, CaseNotAssigned, problems.Forbidden)
