"""Dependencies of the routes: the contact API (command bus and read models) and the role aliases."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from contact_service.application.ports import ContactBus, ContactEnvironment, ContactReads, ReadModels
from dcp_platform.auth import Principal, Role, require_roles
from dcp_platform.disclosure import Disclosures
from dcp_platform.eventsourcing.runtime import EventSourcingRuntime


@dataclass(frozen=True)
class ContactApi:
    """What the routes use: the command bus for changes and the gate, the read models for reads."""

    bus: ContactBus
    env: ContactEnvironment
    runtime: EventSourcingRuntime
    read_models: ReadModels
    disclosures: Disclosures  # who sees contact points, and the audited unmask

    def shown_to(self, principal: Principal, value: Any, *, reveal: bool | None = None) -> Any:
        return self.disclosures.shown_to(principal, value, reveal=reveal)

    def reading(self) -> AbstractAsyncContextManager[ContactReads]:
        """`async with api.reading() as reads`: the read models on a connection of their own."""
        return self.read_models()

    async def handle(self, command: object) -> Any:
        return await self.bus.handle(command)


def get_contact_api(request: Request) -> ContactApi:
    api: ContactApi = request.app.state.contact_api
    return api


ContactApiDep = Annotated[ContactApi, Depends(get_contact_api)]

Staff = Annotated[Principal, Depends(require_roles(Role.COLLECTOR, Role.SUPERVISOR, Role.ADMIN, Role.DIALER))]
"""Who may ask the gate, record attempts and read worklists (collectors on their own cases, an agency's
dialer on its agency's)."""
People = Annotated[Principal, Depends(require_roles(Role.COLLECTOR, Role.SUPERVISOR, Role.ADMIN))]
"""Who may record what a debtor agreed or asked (a promise, a dispute, a cease): a person who heard it."""
Reader = Annotated[
    Principal, Depends(require_roles(Role.COLLECTOR, Role.SUPERVISOR, Role.ADMIN, Role.AUDITOR))
]
"""Who may read a case's contact history and options."""
