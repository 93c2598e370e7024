"""Audited unmasking: a role that sees debtors' personal data masked (an auditor, by default) may ask to
see one case's unmasked with `?unmask=true&reason=...`. The disclosure is recorded as an event
(`PersonalDataDisclosed`, on the case's topic, so the audit trail holds it) before anything is shown;
without a reason, or for a role not in `PII_UNMASK_ROLES`, it is refused."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Query

from dcp_events.catalogue.cases import PersonalDataDisclosed
from dcp_platform.auth import Principal
from dcp_platform.clock import Clock
from dcp_platform.eventsourcing.events import event_for
from dcp_platform.eventsourcing.store import EventStore
from dcp_platform.personal_data import mask
from dcp_platform.problems import Forbidden, ValidationProblem

Unmask = Annotated[
    bool,
    Query(description="Show personal data unmasked (roles in PII_UNMASK_ROLES, with `reason`; recorded)."),
]
UnmaskReason = Annotated[
    str | None,
    Query(min_length=10, max_length=500, description="Why the personal data must be seen (recorded)."),
]


def reveals(
    principal: Principal,
    *,
    unmask: bool,
    reason: str | None,
    pii_roles: frozenset[str],
    unmask_roles: frozenset[str],
) -> bool:
    """Whether `principal` sees personal data unmasked: a role in `pii_roles` always; one in
    `unmask_roles` when it asks with a reason (the caller records the disclosure); 403 or 422 for an
    unmask request that may not be granted."""
    role = principal.role.value
    if role in pii_roles:
        return True
    if not unmask:
        return False
    if role not in unmask_roles:
        raise Forbidden(f"Role '{role}' may not unmask personal data.")
    if not reason or not reason.strip():
        raise ValidationProblem(
            "Unmasking personal data needs a reason.",
            errors=[{"loc": ["query", "reason"], "msg": "required with unmask=true", "type": "missing"}],
        )
    return True


async def record_disclosure(
    store: EventStore,
    clock: Clock,
    *,
    source: str,
    case_id: str,
    view: str,
    reason: str,
    jurisdiction: str | None = None,
) -> None:
    """Append `PersonalDataDisclosed` for the case (a stream of its own per disclosure: the case's
    version, which its writers check, does not move)."""
    event = event_for(
        PersonalDataDisclosed(view=view, reason=reason.strip()),
        subject=case_id,
        source=source,
        clock=clock,
        jurisdiction=jurisdiction,
    )
    await store.append(f"disclosure-{uuid.uuid4()}", 0, [event])


def roles_from(text: str | None, default: frozenset[str]) -> frozenset[str]:
    if text is None:
        return default
    return frozenset(r.strip() for r in text.split(",") if r.strip())


class Disclosures:
    """One service's audited unmasking: who sees personal data, who may ask to, and where each
    disclosure is recorded."""

    def __init__(
        self,
        store: EventStore,
        clock: Clock,
        *,
        source: str,
        pii_roles: frozenset[str],
        unmask_roles: frozenset[str],
    ) -> None:
        self._store = store
        self._clock = clock
        self._source = source
        self.pii_roles = pii_roles
        self.unmask_roles = unmask_roles

    def shown_to(self, principal: Principal, value: Any, *, reveal: bool | None = None) -> Any:
        """`value` as `principal` may see it: personal data masked unless their role may see it (or
        an audited unmask granted it: `reveal`)."""
        if reveal is None:
            reveal = principal.role.value in self.pii_roles
        return value if reveal else mask(value)

    async def reveals(
        self, principal: Principal, case_id: str, view: str, unmask: bool, reason: str | None
    ) -> bool:
        """Whether `principal` sees the case's personal data unmasked; an audited unmask is recorded
        (`PersonalDataDisclosed`) before anything is shown."""
        granted = reveals(
            principal, unmask=unmask, reason=reason, pii_roles=self.pii_roles, unmask_roles=self.unmask_roles
        )
        if granted and principal.role.value not in self.pii_roles:
            assert reason is not None
            await record_disclosure(
                self._store, self._clock, source=self._source, case_id=case_id, view=view, reason=reason
            )
        return granted
