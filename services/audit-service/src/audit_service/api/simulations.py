"""`/audit/simulations`: a candidate rule pack (a version proposed on collections.policies) replayed over
the trail before it is activated: the contacts it would have refused, by rule, with their entries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from audit_service.api.deps import PoolDep, RuntimeDep
from audit_service.application.simulation import candidate_pack, simulate_pack
from dcp_platform.auth import Principal, Role, require_roles
from dcp_platform.problems import BadRequest, Forbidden, NotFound

router = APIRouter(prefix="/audit", tags=["simulations"])

_strategy_roles = require_roles(Role.SUPERVISOR, Role.ADMIN, Role.AUDITOR)


async def _platform_wide(principal: Annotated[Principal, Depends(_strategy_roles)]) -> Principal:
    if principal.creditors is not None:
        raise Forbidden("A rule pack is replayed over every creditor's contacts: a scoped token is refused.")
    return principal


Caller = Annotated[Principal, Depends(_platform_wide)]


class SimulationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: str = Field(min_length=1, max_length=64, description="rule-pack-<JURISDICTION>")
    version: int = Field(ge=2, le=2**31 - 1, description="A version proposed with PUT /policies/{name}.")
    start: AwareDatetime = Field(alias="from")
    end: AwareDatetime = Field(alias="to")


@router.post("/simulations", status_code=201)
async def simulate(
    body: SimulationRequest, principal: Caller, pool: PoolDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Replay the window's contacts through the candidate and the versions they were decided under."""
    if body.start >= body.end:
        raise BadRequest("`from` must be before `to`")
    pack = await candidate_pack(pool, body.policy, body.version, runtime.keys)
    report = await simulate_pack(
        pool, body.policy, body.version, pack, body.start, body.end, runtime.keys, runtime.vault
    )
    now: datetime = runtime.clock.now()
    report["created_at"] = now.isoformat()
    report["created_by"] = principal.subject
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO audit_simulations (simulation_id, policy, version, created_at, created_by, report)"
            " VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
            report["simulation_id"],
            body.policy,
            body.version,
            now,
            principal.subject,
            orjson.dumps(report).decode(),
        )
    return report


@router.get("/simulations/{simulation_id}")
async def get_simulation(simulation_id: str, _: Caller, pool: PoolDep) -> dict[str, Any]:
    async with pool.acquire() as conn:
        stored = await conn.fetchval(
            "SELECT report FROM audit_simulations WHERE simulation_id = $1", simulation_id
        )
    if stored is None:
        raise NotFound(f"no simulation {simulation_id}")
    report: dict[str, Any] = orjson.loads(stored) if isinstance(stored, str | bytes) else dict(stored)
    return report
