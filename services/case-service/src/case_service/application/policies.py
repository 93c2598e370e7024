"""The policy lifecycle: a version proposed (checked and stored), approved by a second person, and
activated (PolicyActivated on collections.policies, which every service follows and switches to
without a restart). Each step is an event of the policy's stream, so the trail shows who changed
the rules, how, and why."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

from case_service.application import commands as c
from case_service.application.ports import CaseEnvironment, CaseUnitOfWork
from case_service.domain.errors import (
    FourEyesRequired,
    InvalidPolicyDocument,
    PolicyVersionConflict,
    UnknownPolicy,
)
from case_service.domain.policies import (
    BUNDLED_VERSION,
    COLLECTION_POLICY,
    PROPENSITY_MODEL,
    PolicyDocumentError,
    bundled_document,
    changes,
    check_document,
    is_rule_pack,
    policy_names,
)
from case_service.domain.policy import CollectionPolicy
from dcp_events.catalogue.policies import (
    PolicyActivated,
    PolicyChange,
    PolicyVersionApproved,
    PolicyVersionProposed,
)

MAX_CHANGES = 500


def _known(name: str) -> None:
    if name not in policy_names():
        raise UnknownPolicy(f"no policy {name!r} (known: {', '.join(policy_names())})")


def bundled_row(name: str, now: datetime) -> dict[str, Any]:
    """Version 1 of a policy: the document the service was built with, in force until another is."""
    checked = check_document(name, bundled_document(name), BUNDLED_VERSION)
    return {
        "name": name,
        "version": BUNDLED_VERSION,
        "based_on": None,
        "document": checked.document,
        "sha256": checked.sha256,
        "decision_version": checked.decision_version,
        "changes": [],
        "author": "bundled",
        "reason": "the version the service was built with",
        "created_at": now,
        "approved_by": None,
        "approved_at": None,
        "approval_note": None,
        "activated_by": None,
        "activated_at": None,
        "activation_reason": None,
        "simulation_id": None,
    }


async def stored_versions(uow: CaseUnitOfWork, name: str, now: datetime) -> list[dict[str, Any]]:
    """Every version of the policy, the bundled one first (stored on first use)."""
    rows = await uow.policy_versions(name)
    if not rows or rows[0]["version"] != BUNDLED_VERSION:
        row = bundled_row(name, now)
        await uow.insert_policy_version(row)
        rows = [row, *rows]
    return rows


def active_version(rows: list[dict[str, Any]]) -> int:
    """The version last activated (the bundled one before any activation)."""
    activated = [r for r in rows if r["activated_at"] is not None]
    return max(activated, key=lambda r: r["activated_at"])["version"] if activated else BUNDLED_VERSION


def _changes(rows: list[tuple[str, str | None, str | None]]) -> list[PolicyChange]:
    clipped = [PolicyChange(path=p[:1000], before=_clip(b), after=_clip(a)) for p, b, a in rows[:MAX_CHANGES]]
    return clipped


def _clip(value: str | None) -> str | None:
    return None if value is None else value[:20_000]


async def propose_policy_version(
    command: c.ProposePolicyVersion, uow: CaseUnitOfWork, env: CaseEnvironment
) -> dict[str, Any]:
    _known(command.name)
    now = env.now()
    rows = await stored_versions(uow, command.name, now)
    newest = rows[-1]["version"]
    if command.based_on is not None and command.based_on != newest:
        raise PolicyVersionConflict(
            f"written from version {command.based_on}, but version {newest} is the newest: start from it"
        )
    base = rows[-1] if command.based_on is None else next(r for r in rows if r["version"] == command.based_on)
    version = newest + 1
    taken = frozenset(r["decision_version"] for r in rows)
    try:
        checked = check_document(command.name, command.document, version, taken)
    except PolicyDocumentError as exc:
        raise InvalidPolicyDocument(str(exc)) from exc
    diff = changes(base["document"], checked.document)
    if command.name == COLLECTION_POLICY:
        diff = [d for d in diff if d[0] != "/version"]
    if not diff:
        raise PolicyVersionConflict(f"the document is the same as version {base['version']}")
    row = {
        **bundled_row(command.name, now),
        "version": version,
        "based_on": base["version"],
        "document": checked.document,
        "sha256": checked.sha256,
        "decision_version": checked.decision_version,
        "changes": [{"path": p, "before": b, "after": a} for p, b, a in diff],
        "author": command.author,
        "reason": command.reason,
        "created_at": now,
    }
    await uow.insert_policy_version(row)
    await uow.cases.append_entry(
        f"policy-{command.name}",
        command.name,
        [
            PolicyVersionProposed(
                name=command.name,
                policy_version=version,
                based_on=base["version"],
                author=command.author,
                reason=command.reason,
                document=checked.text,
                document_sha256=checked.sha256,
                changes=_changes(diff),
            )
        ],
        uow.tx,
    )
    return row


async def approve_policy_version(
    command: c.ApprovePolicyVersion, uow: CaseUnitOfWork, env: CaseEnvironment
) -> dict[str, Any]:
    _known(command.name)
    now = env.now()
    await stored_versions(uow, command.name, now)
    row = await uow.policy_version(command.name, command.version)
    if row is None or command.version == BUNDLED_VERSION:
        raise UnknownPolicy(f"{command.name} has no version {command.version} to approve")
    if row["author"] == command.approver:
        raise FourEyesRequired(
            f"{command.approver} wrote version {command.version}: someone else approves it"
        )
    if row["approved_by"] is not None:
        return row
    values = {"approved_by": command.approver, "approved_at": now, "approval_note": command.note}
    await uow.update_policy_version(command.name, command.version, values)
    await uow.cases.append_entry(
        f"policy-{command.name}",
        command.name,
        [
            PolicyVersionApproved(
                name=command.name,
                policy_version=command.version,
                approver=command.approver,
                note=command.note,
            )
        ],
        uow.tx,
    )
    return {**row, **values}


async def activate_policy_version(
    command: c.ActivatePolicyVersion, uow: CaseUnitOfWork, env: CaseEnvironment
) -> PolicyActivated:
    _known(command.name)
    now = env.now()
    rows = await stored_versions(uow, command.name, now)
    row = next((r for r in rows if r["version"] == command.version), None)
    if row is None:
        raise UnknownPolicy(f"{command.name} has no version {command.version}")
    current = active_version(rows)
    if current == command.version:
        raise PolicyVersionConflict(f"version {command.version} of {command.name} is already in force")
    if is_rule_pack(command.name) and command.version != BUNDLED_VERSION and row["approved_by"] is None:
        raise FourEyesRequired(
            f"version {command.version} of {command.name} is not approved by a second person"
        )
    if command.simulation_id is not None and not is_rule_pack(command.name):
        report = await uow.policy_simulation(command.simulation_id)
        if report is None or (report.get("policy"), report.get("candidate_version")) != (
            command.name,
            command.version,
        ):
            raise UnknownPolicy(
                f"no simulation {command.simulation_id} of {command.name} version {command.version}"
            )
    previous = next(r for r in rows if r["version"] == current)
    diff = changes(previous["document"], row["document"])
    values = {
        "activated_by": command.activated_by,
        "activated_at": now,
        "activation_reason": command.reason,
        "simulation_id": command.simulation_id,
    }
    await uow.update_policy_version(command.name, command.version, values)
    text = json.dumps(row["document"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    activated = PolicyActivated(
        name=command.name,
        policy_version=command.version,
        previous_version=current,
        decision_version=row["decision_version"],
        author=row["author"],
        approved_by=row["approved_by"],
        activated_by=command.activated_by,
        reason=command.reason,
        changes=_changes([d for d in diff if d[0] != "/version"]),
        simulation_id=command.simulation_id,
        document=text,
        document_sha256=row["sha256"],
    )
    await uow.cases.append_entry(f"policy-{command.name}", command.name, [activated], uow.tx)
    return activated


def apply_activation(env: CaseEnvironment, activated: PolicyActivated) -> None:
    """Switch this replica's collection policy (a rule pack is switched by the compliance library's
    own follower): the experiment arms stopped so far stay stopped."""
    if activated.name != COLLECTION_POLICY:
        return
    stopped = env.policy.segmentation.stopped_arms
    env.policy = CollectionPolicy.from_mapping(json.loads(activated.document)).with_stopped_arms(stopped)


async def train_propensity_model(
    command: c.TrainPropensityModel, uow: CaseUnitOfWork, env: CaseEnvironment
) -> dict[str, Any]:
    """Learn from the outcome history, then propose the model as the next `propensity-model` version."""
    now = env.now()
    observed = await uow.outcome_history(now, command.horizon_days)
    if observed is None:
        raise InvalidPolicyDocument("no outcome history here to train on")
    from case_service.adapters.training import train

    try:
        document = await asyncio.to_thread(train, observed, command.horizon_days, command.seed, now)
    except ValueError as exc:
        raise InvalidPolicyDocument(str(exc)) from exc
    return await propose_policy_version(
        c.ProposePolicyVersion(PROPENSITY_MODEL, document, command.reason, command.author), uow, env
    )
