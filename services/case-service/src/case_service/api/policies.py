"""/policies: the collection policy and the rule packs as versioned data. A supervisor or an admin
proposes a version (checked against the JSON Schema in contracts/policies and the policy's rules),
a second person approves it (required for a rule pack), and activation puts it in force in every
service without a restart (PolicyActivated on collections.policies)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import Field

from case_service.adapters import policy_store, simulation
from case_service.adapters.simulation import simulate_collection_policy
from case_service.api.deps import Analyst, CaseApiDep, Supervisor
from case_service.api.schemas import Body
from case_service.application.commands import (
    ActivatePolicyVersion,
    ApprovePolicyVersion,
    ProposePolicyVersion,
    TrainPropensityModel,
)
from case_service.application.policies import active_version, apply_activation, bundled_row
from case_service.domain.errors import UnknownPolicy
from case_service.domain.policies import BUNDLED_VERSION, is_rule_pack, policy_names, schema_for
from dcp_platform.problems import BadRequest, NotFound

router = APIRouter(prefix="/policies", tags=["policies"])

VersionNumber = Annotated[int, Path(ge=1, le=2**31 - 1, description="A version of the policy.")]


class ProposeBody(Body):
    document: dict[str, Any] = Field(
        description="The whole policy document, as its JSON Schema describes it."
    )
    reason: str = Field(min_length=1, max_length=2000)
    based_on: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="The version it was written from: refused if a newer one exists.",
    )


class TrainBody(Body):
    reason: str = Field(min_length=1, max_length=2000)
    horizon_days: int = Field(default=7, ge=1, le=90, description="Payment within this many days.")
    seed: int = Field(default=7, ge=0, le=2**31 - 1, description="Training is reproducible for a seed.")


class ApproveBody(Body):
    note: str | None = Field(default=None, min_length=1, max_length=2000)


class ActivateBody(Body):
    reason: str = Field(min_length=1, max_length=2000)
    simulation_id: str | None = Field(default=None, min_length=1, max_length=128)


def _summary(row: dict[str, Any], active: int) -> dict[str, Any]:
    return {
        "version": row["version"],
        "status": "active"
        if row["version"] == active
        else ("approved" if row["approved_by"] else "proposed"),
        "decision_version": row["decision_version"],
        "based_on": row["based_on"],
        "author": row["author"],
        "reason": row["reason"],
        "created_at": row["created_at"],
        "approved_by": row["approved_by"],
        "approved_at": row["approved_at"],
        "activated_by": row["activated_by"],
        "activated_at": row["activated_at"],
        "activation_reason": row["activation_reason"],
        "simulation_id": row["simulation_id"],
        "sha256": row["sha256"],
        "changes": row["changes"],
        "needs_approval": is_rule_pack(row.get("name", "")) and row["version"] != BUNDLED_VERSION,
    }


async def _rows(service: CaseApiDep, name: str) -> list[dict[str, Any]]:
    if name not in policy_names():
        raise UnknownPolicy(f"no policy {name!r} (known: {', '.join(policy_names())})")
    async with service.engine.connect() as conn:
        rows = await policy_store.versions(conn, name)
    if not rows or rows[0]["version"] != BUNDLED_VERSION:
        rows = [bundled_row(name, service.clock.now()), *rows]
    return rows


@router.get("")
async def list_policies(_: Analyst, service: CaseApiDep) -> dict[str, Any]:
    """Every policy with the version in force and the newest."""
    items = []
    for name in policy_names():
        rows = await _rows(service, name)
        items.append(
            {
                "name": name,
                "active_version": active_version(rows),
                "newest_version": rows[-1]["version"],
                "four_eyes": is_rule_pack(name),
            }
        )
    return {"policies": items}


@router.get("/{name}")
async def get_policy(name: str, _: Analyst, service: CaseApiDep) -> dict[str, Any]:
    rows = await _rows(service, name)
    active = active_version(rows)
    return {
        "name": name,
        "active_version": active,
        "four_eyes": is_rule_pack(name),
        "versions": [_summary({**r, "name": name}, active) for r in rows],
    }


@router.get("/{name}/schema")
async def get_schema(name: str, _: Analyst) -> dict[str, Any]:
    """The JSON Schema a document of the policy is checked against (also in contracts/policies)."""
    if name not in policy_names():
        raise UnknownPolicy(f"no policy {name!r}")
    return schema_for(name)


@router.get("/{name}/versions/{version}")
async def get_version(name: str, version: VersionNumber, _: Analyst, service: CaseApiDep) -> dict[str, Any]:
    rows = await _rows(service, name)
    row = next((r for r in rows if r["version"] == version), None)
    if row is None:
        raise UnknownPolicy(f"{name} has no version {version}")
    return {
        **_summary({**row, "name": name}, active_version(rows)),
        "name": name,
        "document": row["document"],
    }


@router.put("/{name}", status_code=201)
async def propose(name: str, body: ProposeBody, principal: Supervisor, service: CaseApiDep) -> dict[str, Any]:
    """Store a new version (not in force until activated)."""
    row = await service.handle(
        ProposePolicyVersion(name, body.document, body.reason, principal.subject, body.based_on)
    )
    return {**_summary({**row, "name": name}, -1), "name": name}


@router.post("/propensity-model/training", status_code=201)
async def train(body: TrainBody, principal: Supervisor, service: CaseApiDep) -> dict[str, Any]:
    """Train the propensity model on the platform's outcome history and store it as the next version
    of `propensity-model`, with its held-out metrics; in force once activated."""
    row = await service.handle(
        TrainPropensityModel(principal.subject, body.reason, body.horizon_days, body.seed)
    )
    return {
        **_summary({**row, "name": "propensity-model"}, -1),
        "name": "propensity-model",
        "document": row["document"],
    }


@router.post("/{name}/versions/{version}/approval")
async def approve(
    name: str, version: VersionNumber, body: ApproveBody, principal: Supervisor, service: CaseApiDep
) -> dict[str, Any]:
    """A second person's approval (four eyes): never the version's author."""
    row = await service.handle(ApprovePolicyVersion(name, version, principal.subject, body.note))
    return {**_summary({**row, "name": name}, -1), "name": name}


@router.post("/{name}/versions/{version}/activation")
async def activate(
    name: str, version: VersionNumber, body: ActivateBody, principal: Supervisor, service: CaseApiDep
) -> dict[str, Any]:
    """Put the version in force; every service switches to it as PolicyActivated reaches it."""
    activated = await service.handle(
        ActivatePolicyVersion(name, version, principal.subject, body.reason, body.simulation_id)
    )
    apply_activation(service.env, activated)  # this replica at once; the others as the event arrives
    return {
        "name": name,
        "version": activated.policy_version,
        "previous_version": activated.previous_version,
        "decision_version": activated.decision_version,
        "activated_by": activated.activated_by,
        "changes": [c.model_dump() for c in activated.changes],
    }


@router.post("/{name}/versions/{version}/simulation")
async def simulate(
    name: str,
    version: VersionNumber,
    _: Supervisor,
    service: CaseApiDep,
    days: Annotated[int, Query(ge=1, le=90, description="How many days of treatment to project.")] = 14,
) -> dict[str, Any]:
    """The candidate against the version in force, over the open portfolio: cases that change
    segment, strategy, arm or stage, and the treatment contacts per channel and day. A rule pack is
    replayed over the trail by the audit-service (POST /audit/simulations)."""
    if is_rule_pack(name):
        raise BadRequest(
            "a rule pack is replayed over the trail: POST /audit/simulations on the audit-service "
            f"with policy {name} and version {version}"
        )
    rows = await _rows(service, name)
    row = next((r for r in rows if r["version"] == version), None)
    if row is None:
        raise UnknownPolicy(f"{name} has no version {version}")
    async with service.engine.connect() as conn:
        return await simulate_collection_policy(conn, service.env, row, active_version(rows), days)


@router.get("/{name}/simulations/{simulation_id}")
async def get_simulation(name: str, simulation_id: str, _: Analyst, service: CaseApiDep) -> dict[str, Any]:
    async with service.engine.connect() as conn:
        report = await simulation.simulation(conn, simulation_id)
    if report is None or report.get("policy") != name:
        raise NotFound(f"no simulation {simulation_id} of {name}")
    return report
