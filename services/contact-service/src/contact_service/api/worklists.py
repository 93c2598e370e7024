"""/worklist: a collector's open cases by priority, each with the channels the gate allows now."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from contact_service.api import schemas
from contact_service.api.deps import ContactApiDep, Staff
from contact_service.application import queries
from dcp_events.catalogue.base import Money
from dcp_platform.auth import Role
from dcp_platform.problems import Forbidden

router = APIRouter(tags=["worklists"])


@router.get("/worklist", summary="A collector's cases by priority, with the channels allowed now")
async def get_worklist(
    principal: Staff,
    api: ContactApiDep,
    collector: Annotated[str | None, Query(max_length=128)] = None,
) -> schemas.Worklist:
    who = collector or principal.subject
    if principal.role in (Role.COLLECTOR, Role.DIALER) and who != principal.subject:
        raise Forbidden("A collector sees only their own worklist.")
    now = api.env.now()
    async with api.reading() as reads:
        scoring = api.env.scoring
        items = await queries.worklist(
            reads, who, principal if who == principal.subject else None, now, api.env.fx, scoring.model
        )
    return schemas.Worklist(
        collector=who,
        generated_at=now,
        fx_rates_as_of=api.env.fx.as_of,
        ranked_by=f"propensity-model {scoring.version}" if scoring.model is not None else "rule-based",
        items=[
            schemas.WorklistEntry(
                case_id=i.case.case_id,
                debtor_id=i.case.debtor_id,
                jurisdiction=i.case.jurisdiction,
                priority_reason=i.reason,
                expected_recovery=Money(amount_minor=i.expected_recovery_minor, currency=i.case.currency),
                expected_recovery_compared=(
                    None
                    if i.expected_recovery_in_base_minor is None
                    else Money(amount_minor=i.expected_recovery_in_base_minor, currency=api.env.fx.base)
                ),
                channels=schemas.channel_options(i.options),
                pay_probability=None if i.pay_probability is None else round(i.pay_probability, 4),
                best_contact=(
                    None
                    if i.best_contact is None
                    else schemas.BestContact(
                        channel=i.best_contact.channel,
                        hour_band=i.best_contact.hour_band,
                        probability=round(i.best_contact.probability, 4),
                    )
                ),
            )
            for i in items
        ],
    )
