"""`/payments` and `/cases/{case_id}/payments`: post, list, read and reverse payments."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from dcp_events.catalogue.enums import PaymentMethod
from dcp_platform.auth import CaseAccess
from dcp_platform.problems import BadRequest
from payment_service.adapters import projections
from payment_service.api.deps import (
    PaymentApiDep,
    PaymentPoster,
    ReadConnection,
    Reader,
    Reverser,
    read_back,
    require_case,
    require_case_filter,
    require_case_for_command,
    visible_row,
)
from payment_service.api.schemas import PaymentIn, PaymentOut, PaymentPage, ReversalIn
from payment_service.application.commands import PaymentOutcome, RecordPayment, ReversePayment

router = APIRouter(tags=["payments"])

PaymentStatusFilter = Literal["applied", "unapplied", "reversed"]


@router.post(
    "/payments",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "The same external reference again: the first payment."}},
)
async def post_payment(
    body: PaymentIn, api: PaymentApiDep, response: Response, principal: PaymentPoster
) -> PaymentOut:
    """Record a payment. Idempotent by `external_reference`: a retry returns the first payment (200);
    the same reference with another case or amount is refused (409 payment-reference-conflict).
    A payment for a case not known yet is held unapplied and applied when the case appears; on a closed
    case it is applied (case-service books a credit due back, or a recovery after write-off).
    A collector posts only on a case assigned to them, their team or agency (403 otherwise, also for a
    case not known yet); supervisors, admins and integration post on any."""
    await require_case_for_command(api, principal, body.case_id, CaseAccess.ACT)
    outcome: PaymentOutcome = await api.handle(
        RecordPayment(
            case_id=body.case_id,
            amount=body.amount.to_event(),
            method=PaymentMethod(body.method),
            external_reference=body.external_reference,
            received_at=body.received_at,
        )
    )
    if not outcome.created:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/payments/{outcome.payment_id}"
    row = await read_back(api, lambda conn: projections.get_payment(conn, outcome.payment_id))
    return PaymentOut.from_row(row)


def _cursor(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit():
        raise BadRequest("cursor is not one this API gave out")
    return int(value)


@router.get("/payments")
async def list_payments(
    conn: ReadConnection,
    principal: Reader,
    status_filter: Annotated[PaymentStatusFilter | None, Query(alias="status")] = None,
    case_id: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> PaymentPage:
    """Payments, oldest first; `status=unapplied` lists the ones held for an unknown or closed case.
    A collector must give `case_id`, a case they may read (403 otherwise)."""
    await require_case_filter(conn, principal, case_id)
    rows = await projections.list_payments(
        conn, status=status_filter, case_id=case_id, after=_cursor(cursor), limit=limit
    )
    next_cursor = str(rows[-1]["seq"]) if len(rows) == limit else None
    return PaymentPage(items=[PaymentOut.from_row(r) for r in rows], next_cursor=next_cursor)


@router.get("/payments/{payment_id}")
async def get_payment(payment_id: str, conn: ReadConnection, principal: Reader) -> PaymentOut:
    row = await projections.get_payment(conn, payment_id)
    return PaymentOut.from_row(await visible_row(conn, principal, row, f"payment {payment_id}"))


@router.post("/payments/{payment_id}/reversal")
async def reverse_payment(
    payment_id: str, body: ReversalIn, api: PaymentApiDep, principal: Reverser
) -> PaymentOut:
    """Reverse a payment (chargeback, returned payment): the case balance is restored, and a promise
    or installment the payment had kept is broken. A payment is reversed once (409 after that)."""
    async with api.engine.connect() as conn:
        existing = await projections.get_payment(conn, payment_id)
    if existing is not None:
        await require_case_for_command(api, principal, existing["case_id"], CaseAccess.ACT)
    await api.handle(ReversePayment(payment_id, body.reason, body.reference, body.reversed_at))
    row = await read_back(api, lambda conn: projections.get_payment(conn, payment_id))
    return PaymentOut.from_row(row)


@router.get("/cases/{case_id}/payments")
async def case_payments(
    case_id: str,
    conn: ReadConnection,
    principal: Reader,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> PaymentPage:
    await require_case(conn, principal, case_id)
    rows = await projections.list_payments(conn, case_id=case_id, after=_cursor(cursor), limit=limit)
    next_cursor = str(rows[-1]["seq"]) if len(rows) == limit else None
    return PaymentPage(items=[PaymentOut.from_row(r) for r in rows], next_cursor=next_cursor)
