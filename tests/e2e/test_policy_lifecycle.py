"""A rule pack changed at runtime: proposed in case-service, approved by a second person, replayed over
the trail by the audit-service, activated, and in force in the contact gate of the running platform
without a restart; the gate's decisions name the new version, and rolling back to the bundled version
is one more activation."""

from __future__ import annotations

import copy
from datetime import timedelta

from .journeys import (
    assign_directly,
    contact_service_sees,
    eventually,
    expect,
    only,
    open_case,
    placement,
    register_staff,
    wait_trail,
)
from .platform_under_test import Platform


async def test_a_stricter_rule_pack_is_in_force_in_the_gate_without_a_restart(platform: Platform) -> None:
    day = platform.new_day()
    await platform.set_clock(day + timedelta(hours=8, minutes=30))  # 08:30 in London (UTC in winter)
    await register_staff(platform, "col-gb-pol", "collector", ["GB"], ["en"])
    body = placement(
        "GB",
        time_zone="Europe/London",
        language="en-GB",
        currency="GBP",
        principal_minor=40_000,
        country_code="447",
    )
    case_id = str((await open_case(platform, body, "sup-pol-1"))["case_id"])
    await assign_directly(platform, case_id, "col-gb-pol", "sup-pol-1")

    async with (
        platform.client("case", "supervisor", "sup-pol-1") as author,
        platform.client("case", "supervisor", "sup-pol-2") as approver,
        platform.client("contact", "collector", "col-gb-pol") as contact,
        platform.client("audit", "supervisor", "sup-pol-2") as audit,
    ):
        await contact_service_sees(contact, case_id)

        async def decision() -> dict[str, object]:
            return expect(
                await contact.post("/contact-checks", json={"case_id": case_id, "channel": "phone"}), 200
            )

        before = await decision()
        assert before["verdict"] == "allow" and before["pack_version"] == "2026.1"

        document = expect(await author.get("/policies/rule-pack-GB/versions/1"), 200)["document"]
        stricter = copy.deepcopy(document)
        stricter["version"] = "2026.1.5"
        quiet = next(r for r in stricter["rules"] if r["id"] == "GB-CONC-TIME")
        quiet["parameters"]["start"] = "09:00:00"
        proposed = expect(
            await author.put(
                "/policies/rule-pack-GB", json={"document": stricter, "reason": "no calls before nine"}
            ),
            201,
        )
        version = proposed["version"]
        expect(await approver.post(f"/policies/rule-pack-GB/versions/{version}/approval", json={}), 200)

        async def replayed() -> dict[str, object] | None:
            response = await audit.post(
                "/audit/simulations",
                json={
                    "policy": "rule-pack-GB",
                    "version": version,
                    "from": (day - timedelta(days=30)).isoformat(),
                    "to": (day + timedelta(days=1)).isoformat(),
                },
            )
            return response.json() if response.status_code == 201 else None

        report = await eventually(replayed, "the audit-service to replay the candidate over the trail")
        activated = expect(
            await author.post(
                f"/policies/rule-pack-GB/versions/{version}/activation",
                json={"reason": "replayed over the last 30 days", "simulation_id": report["simulation_id"]},
            ),
            200,
        )
        assert activated["decision_version"] == "2026.1.5"

        async def refused_by_the_new_version() -> dict[str, object] | None:
            found = await decision()
            return found if found["verdict"] == "deny" else None

        after = await eventually(refused_by_the_new_version, "the gate to switch to the activated pack")
        assert after["rule_id"] == "GB-CONC-TIME" and after["pack_version"] == "2026.1.5"
        refused = expect(
            await contact.post("/contact-permits", json={"case_id": case_id, "channel": "phone"}), 409
        )
        assert refused["rule_id"] == "GB-CONC-TIME"
        [blocked] = only(
            await wait_trail(platform, case_id, "collections.contact.blocked"), "collections.contact.blocked"
        )
        assert blocked["decision"]["rule_pack_version"] == "2026.1.5"
        activation = only(
            await wait_trail(platform, "rule-pack-GB", "collections.policy.activated"),
            "collections.policy.activated",
        )
        assert activation[-1]["event"]["data"]["simulation_id"] == report["simulation_id"]

        # rolling back is activating the bundled version again: the gate follows at once
        expect(
            await author.post("/policies/rule-pack-GB/versions/1/activation", json={"reason": "roll back"}),
            200,
        )

        async def allowed_again() -> bool:
            return (await decision())["verdict"] == "allow"

        await eventually(allowed_again, "the gate to return to the bundled pack")
        assert (await decision())["pack_version"] == "2026.1"
