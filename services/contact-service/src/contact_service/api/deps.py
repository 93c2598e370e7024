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
from dcp_platform.personal_data import DEFAULT_ROLES, mask


@dataclass(frozen=True)
class ContactApi:
    """What the routes use: the command bus for changes and the gate, the read models for reads."""

    bus: ContactBus
    env: ContactEnvironment
    runtime: EventSourcingRuntime
    read_models: ReadModels
    personal_data_roles: frozenset[str] = DEFAULT_ROLES  # who sees contact points unmasked
    unmask_roles: frozenset[str] = frozenset({"auditor"})  # who may ask to, with a reason (recorded)

    def shown_to(self, principal: Principal, value: Any, *, reveal: bool | None = None) -> Any:
        """`value` as `principal` may see it: personal data masked unless their role may see it (or
        an audited unmask granted it: `reveal`)."""
        if reveal is None:
            reveal = principal.role.value in self.personal_data_roles
        return value if reveal else mask(value)

    async def reveals(
        self, principal: Principal, case_id: str, view: str, unmask: bool, reason: str | None
    ) -> bool:
        """Whether `principal` sees the case's contact points unmasked (`dcp_platform.disclosure`)."""
        disclosures = Disclosures(
            self.runtime.store,
            self.runtime.clock,
            source="/contact-service",
            pii_roles=self.personal_data_roles,
            unmask_roles=self.unmask_roles,
        )
        return await disclosures.reveals(principal, case_id, view, unmask, reason)

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
