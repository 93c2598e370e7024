"""Dependencies of the routes as `Annotated` aliases: the payment API (command bus and reads), a read
connection, roles; and the per-case access check every case-scoped route makes
(`dcp_platform.auth.require_case_access`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dcp_platform.auth import (
    CaseAccess,
    CaseAssignment,
    Principal,
    Role,
    is_case_scoped,
    require_case_access,
    require_roles,
)
from dcp_platform.eventsourcing.store import ConcurrencyConflict
from dcp_platform.problems import Forbidden, NotFound
from payment_service.adapters import case_facts
from payment_service.application.ports import PaymentBus, PaymentEnvironment

MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class PaymentApi:
    """What the routes use: the command bus for changes, the engine for reads."""

    bus: PaymentBus
    env: PaymentEnvironment
    engine: AsyncEngine

    async def handle(self, command: object) -> Any:
        """Run the command in a transaction of its own, again when another writer of the same case
        got there first (its ledger moved on between load and append)."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return await self.bus.handle(command)
            except ConcurrencyConflict:
                if attempt == MAX_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")


def get_payment_api(request: Request) -> PaymentApi:
    api: PaymentApi = request.app.state.payment_api
    return api


PaymentApiDep = Annotated[PaymentApi, Depends(get_payment_api)]


async def get_read_connection(api: PaymentApiDep) -> AsyncIterator[AsyncConnection]:
    async with api.engine.connect() as conn:
        yield conn


ReadConnection = Annotated[AsyncConnection, Depends(get_read_connection)]

SUPERVISOR_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})

Reader = Annotated[
    Principal,
    Depends(require_roles(Role.COLLECTOR, Role.SUPERVISOR, Role.ADMIN, Role.AUDITOR, Role.INTEGRATION)),
]
"""Who may read payments (the bank's system reads what it posted and how it was applied)."""
ArrangementReader = Annotated[
    Principal, Depends(require_roles(Role.COLLECTOR, Role.SUPERVISOR, Role.ADMIN, Role.AUDITOR))
]
"""Who may read promises, plans and settlements: what was agreed with a debtor (no integration)."""
PaymentPoster = Annotated[
    Principal, Depends(require_roles(Role.COLLECTOR, Role.SUPERVISOR, Role.ADMIN, Role.INTEGRATION))
]
# Chargebacks and returns come from the bank (integration) or the back office, not from collectors.
Reverser = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.ADMIN, Role.INTEGRATION))]
Negotiator = Annotated[Principal, Depends(require_roles(Role.COLLECTOR, Role.SUPERVISOR, Role.ADMIN))]


async def require_case(
    conn: AsyncConnection, principal: Principal, case_id: str, access: CaseAccess = CaseAccess.READ
) -> None:
    """403 unless the caller may read (or act on) the case. A collector passes only on a case this
    service knows to be assigned to them, their team or their agency (from `CaseAssigned`); so never
    on a case it does not know yet."""
    assignment = await case_facts.assignment(conn, case_id) or CaseAssignment(case_id)
    require_case_access(principal, assignment, access)


async def visible_row(
    conn: AsyncConnection, principal: Principal, row: Mapping[str, Any] | None, what: str
) -> Mapping[str, Any]:
    """The read-model row of one payment, promise, plan or settlement: 404 when there is none, 403
    when the caller may not read its case."""
    if row is None:
        raise NotFound(f"no {what}")
    await require_case(conn, principal, row["case_id"])
    return row


async def read_back(
    api: PaymentApi, read: Callable[[AsyncConnection], Awaitable[Mapping[str, Any] | None]]
) -> Mapping[str, Any]:
    """The read-model row a command just wrote (in the same request: it is there)."""
    async with api.engine.connect() as conn:
        row = await read(conn)
    assert row is not None
    return row


async def require_case_filter(conn: AsyncConnection, principal: Principal, case_id: str | None) -> None:
    """A list: a collector must name one case (`case_id`) they may read; 403 otherwise."""
    if case_id is None:
        if is_case_scoped(principal):
            raise Forbidden("Collectors list by case: give case_id (assigned to you, your team or agency).")
        if principal.creditors is not None:
            raise Forbidden("A caller acting for some creditors lists by case: give case_id (one of theirs).")
        return
    await require_case(conn, principal, case_id)


async def require_case_for_command(
    api: PaymentApi, principal: Principal, case_id: str, access: CaseAccess = CaseAccess.ACT
) -> None:
    """`require_case` on a connection of its own, released before the command takes one."""
    async with api.engine.connect() as conn:
        await require_case(conn, principal, case_id, access)
