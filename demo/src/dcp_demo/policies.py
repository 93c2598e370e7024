"""What a collections manager does with the policies during the run: a change of the collection policy
simulated on the portfolio, approved by a second manager and activated mid-run; a stricter rule pack
replayed over the trail and held back on what it would have refused; and, at the end, a propensity
model trained on the run's own history, activated, and the worklists ranked by it."""

from __future__ import annotations

import asyncio
import copy
from datetime import datetime
from typing import Any

from dcp_demo.api import Api

AUTHOR = {"role": "supervisor", "subject": "mgr-strategy"}
APPROVER = {"role": "supervisor", "subject": "mgr-risk"}


async def _active_document(api: Api, name: str) -> tuple[int, int, dict[str, Any]]:
    policy = await api.ok("case", "GET", f"/policies/{name}", **AUTHOR)
    active = int(policy["active_version"])
    newest = max(int(v["version"]) for v in policy["versions"])
    version = await api.ok("case", "GET", f"/policies/{name}/versions/{active}", **AUTHOR)
    return active, newest, dict(version["document"])


async def change_collection_policy(api: Api) -> dict[str, Any]:
    """High-risk cases from a risk score of 650 (was 700) get the intensive strategy."""
    _, newest, document = await _active_document(api, "collection-policy")
    candidate = copy.deepcopy(document)
    for segment in candidate["segmentation"]["segments"]:
        if segment["id"] == "high-risk":
            segment["when"]["risk_score_min"] = max(100, int(segment["when"].get("risk_score_min", 700)) - 50)
    proposed = await api.ok(
        "case",
        "PUT",
        "/policies/collection-policy",
        json={
            "document": candidate,
            "reason": "intensive from a lower risk score",
            "based_on": newest,
        },
        **AUTHOR,
    )
    version = int(proposed["version"])
    report = await api.ok(
        "case", "POST", f"/policies/collection-policy/versions/{version}/simulation", **AUTHOR
    )
    await api.ok(
        "case",
        "POST",
        f"/policies/collection-policy/versions/{version}/approval",
        json={"note": f"simulated: {report['cases_changing'].get('strategy', 0)} cases change strategy"},
        **APPROVER,
    )
    activated = await api.ok(
        "case",
        "POST",
        f"/policies/collection-policy/versions/{version}/activation",
        json={"reason": "simulated and approved", "simulation_id": report["simulation_id"]},
        **AUTHOR,
    )
    return {
        "version": version,
        "previous_version": activated["previous_version"],
        "changes": [c["path"] for c in activated["changes"]],
        "simulation": {
            "id": report["simulation_id"],
            "open_cases": report["open_cases"],
            "cases_changing": report["cases_changing"],
            "person_contacts_change": report["capacity"]["change"],
        },
        "approved_by": APPROVER["subject"],
        "activated_by": AUTHOR["subject"],
    }


async def replay_stricter_pack(api: Api, start: datetime, end: datetime, tag: int) -> dict[str, Any]:
    """No GB calls before 09:00: replayed over the run's contacts, and held back."""
    _, _, document = await _active_document(api, "rule-pack-GB")
    candidate = copy.deepcopy(document)
    candidate["version"] = f"{document['version']}.{tag}"
    for rule in candidate["rules"]:
        if rule["parameters"].get("kind") == "quiet_hours":
            rule["parameters"]["start"] = "09:00:00"
    proposed = await api.ok(
        "case",
        "PUT",
        "/policies/rule-pack-GB",
        json={"document": candidate, "reason": "no calls before nine"},
        **AUTHOR,
    )
    version = int(proposed["version"])
    body = {"policy": "rule-pack-GB", "version": version, "from": start.isoformat(), "to": end.isoformat()}
    for _ in range(60):  # the proposal reaches the audit trail through the outbox and Kafka
        response = await api.call(
            "audit", "POST", "/audit/simulations", json=body, role=AUTHOR["role"], subject=AUTHOR["subject"]
        )
        if response.status_code != 404:
            break
        await asyncio.sleep(0.25)
    if response.status_code != 201:
        raise RuntimeError(f"POST /audit/simulations -> {response.status_code}: {response.text[:300]}")
    report = response.json()
    return {
        "version": version,
        "pack_version": candidate["version"],
        "contacts_rechecked": report["contacts_rechecked"],
        "would_refuse": report["would_refuse"],
        "would_refuse_by_rule": report["would_refuse_by_rule"],
        "decision": "held back (not activated)",
    }


async def train_and_activate_model(api: Api, seed: int, horizon_days: int, collector: str) -> dict[str, Any]:
    response = await api.call(
        "case",
        "POST",
        "/policies/propensity-model/training",
        json={"reason": "trained on the run's own history", "horizon_days": horizon_days, "seed": seed},
        role=AUTHOR["role"],
        subject=AUTHOR["subject"],
    )
    if response.status_code != 201:
        return {"trained": False, "why": response.json().get("detail", response.text[:300])}
    trained = response.json()
    version = int(trained["version"])
    await api.ok(
        "case",
        "POST",
        f"/policies/propensity-model/versions/{version}/approval",
        json={"note": "held-out lift checked"},
        **APPROVER,
    )
    await api.ok(
        "case",
        "POST",
        f"/policies/propensity-model/versions/{version}/activation",
        json={"reason": "beats the rule-based order on the held-out slice"},
        **AUTHOR,
    )
    worklist: dict[str, Any] = {}
    for _ in range(40):  # contact-service follows the activation within moments
        worklist = await api.ok(
            "contact", "GET", "/worklist", params={"collector": collector}, role="supervisor", subject="sup-1"
        )
        if worklist.get("ranked_by", "rule-based") != "rule-based":
            break
        await asyncio.sleep(0.25)
    first = next((i for i in worklist.get("items", []) if i.get("best_contact")), None)
    return {
        "trained": True,
        "version": version,
        "metrics": trained["document"]["metrics"],
        "horizon_days": horizon_days,
        "ranked_by": worklist.get("ranked_by"),
        "example": None
        if first is None
        else {
            "case_id": first["case_id"],
            "pay_probability": first["pay_probability"],
            "best_contact": first["best_contact"],
        },
    }
