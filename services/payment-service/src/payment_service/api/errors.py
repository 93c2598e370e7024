"""Domain errors as RFC 9457 problem+json, each with a stable `type` clients may switch on."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import Response

from dcp_platform.problems import PROBLEM_BASE_URI, ProblemResponse, problem_body
from payment_service.domain import errors

# error -> (type suffix, title, status). Never change a type in place: clients depend on it.
PROBLEMS: dict[type[errors.PaymentDomainError], tuple[str, str, int]] = {
    errors.PaymentReferenceConflict: ("payment-reference-conflict", "External reference already used", 409),
    errors.CurrencyMismatch: ("currency-mismatch", "Currency differs from the case's", 422),
    errors.ReceivedInTheFuture: ("received-in-the-future", "Time in the future", 422),
    errors.CaseUnknown: ("case-unknown", "Case not known", 404),
    errors.CaseAlreadyClosed: ("case-closed", "Case is closed", 409),
    errors.PaymentUnknown: ("not-found", "Not found", 404),
    errors.PaymentAlreadyReversed: ("payment-already-reversed", "Payment already reversed", 409),
    errors.InvalidPaymentPlan: ("invalid-payment-plan", "Payment plan refused", 422),
    errors.ActivePlanExists: ("active-plan-exists", "The case already has an active plan", 409),
    errors.InvalidSettlement: ("invalid-settlement", "Settlement refused", 422),
    errors.ActiveSettlementExists: (
        "active-settlement-exists",
        "The case already has an open settlement",
        409,
    ),
    errors.SupervisorApprovalRequired: ("supervisor-approval-required", "Supervisor approval required", 403),
}


async def _handle(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.PaymentDomainError)
    suffix, title, status = next(
        (problem for kind, problem in PROBLEMS.items() if isinstance(exc, kind)),
        ("payment-rule", "Refused by a payment rule", 422),
    )
    extra: dict[str, object] = {}
    if isinstance(exc, errors.PaymentReferenceConflict):
        extra = {"external_reference": exc.external_reference, "existing_payment_id": exc.existing_payment_id}
    elif isinstance(exc, errors.CurrencyMismatch):
        extra = {"currency": exc.given, "case_currency": exc.case_currency}
    body = problem_body(
        type_=PROBLEM_BASE_URI + suffix,
        title=title,
        status=status,
        detail=str(exc),
        instance=request.url.path,
        extra=extra,
    )
    return ProblemResponse(body, status_code=status)


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.PaymentDomainError, _handle)
