"""Dependencies of the routes as `Annotated` aliases: the command side, a read connection, roles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from dcp_platform.auth import Principal, Role, require_roles
from payment_service.application.commands import PaymentCommands


def get_commands(request: Request) -> PaymentCommands:
    commands: PaymentCommands = request.app.state.commands
    return commands


async def get_read_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    commands: PaymentCommands = request.app.state.commands
    async with commands.engine.connect() as conn:
        yield conn


Commands = Annotated[PaymentCommands, Depends(get_commands)]
ReadConnection = Annotated[AsyncConnection, Depends(get_read_connection)]

SUPERVISOR_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})

Reader = Annotated[
    Principal,
    Depends(require_roles(Role.COLLECTOR, Role.SUPERVISOR, Role.ADMIN, Role.AUDITOR, Role.INTEGRATION)),
]
PaymentPoster = Annotated[
    Principal, Depends(require_roles(Role.COLLECTOR, Role.SUPERVISOR, Role.ADMIN, Role.INTEGRATION))
]
# Chargebacks and returns come from the bank (integration) or the back office, not from collectors.
Reverser = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.ADMIN, Role.INTEGRATION))]
Negotiator = Annotated[Principal, Depends(require_roles(Role.COLLECTOR, Role.SUPERVISOR, Role.ADMIN))]
