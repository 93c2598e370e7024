"""Case notes: written once, corrected by superseding, shown to the roles they name, searchable per
case, in the case's history, and masked as the rest of the case's personal data."""

from __future__ import annotations

import pytest

from dcp_platform.auth import Role

from .conftest import SUPERVISOR, CaseHarness, bearer, placement_body

pytestmark = pytest.mark.integration

AUDITOR = bearer(Role.AUDITOR, "aud-1")


async def open_case(harness: CaseHarness, reference: str) -> str:
    response = await harness.client.post("/cases", json=placement_body(reference), headers=SUPERVISOR)
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"])


async def test_a_note_is_written_superseded_searched_and_kept_in_the_history(harness: CaseHarness) -> None:
    case_id = await open_case(harness, "NOTE-1")
    first = await harness.client.post(
        f"/cases/{case_id}/notes",
        json={"category": "conversation", "text": "Debtor lost her job in May; call back after the 15th."},
        headers=SUPERVISOR,
    )
    assert first.status_code == 201, first.text
    note = first.json()
    assert note["author"] == "sup-1" and note["category"] == "conversation" and note["superseded_by"] is None
    correction = await harness.client.post(
        f"/cases/{case_id}/notes",
        json={
            "category": "conversation",
            "text": "Correction: she lost her job in June; call back after the 20th.",
            "supersedes": note["note_id"],
        },
        headers=SUPERVISOR,
    )
    assert correction.status_code == 201, correction.text
    again = await harness.client.post(
        f"/cases/{case_id}/notes",
        json={"text": "a second correction of the same note", "supersedes": note["note_id"]},
        headers=SUPERVISOR,
    )
    assert again.status_code == 409 and again.json()["type"].endswith("/note-conflict")
    unknown = await harness.client.post(
        f"/cases/{case_id}/notes", json={"text": "x", "supersedes": "note-nope"}, headers=SUPERVISOR
    )
    assert unknown.status_code == 404

    listed = (await harness.client.get(f"/cases/{case_id}/notes", headers=SUPERVISOR)).json()["notes"]
    assert [n["text"] for n in listed] == ["Correction: she lost her job in June; call back after the 20th."]
    everything = await harness.client.get(
        f"/cases/{case_id}/notes", params={"include_superseded": "true"}, headers=SUPERVISOR
    )
    assert [n["note_id"] for n in everything.json()["notes"]] == [
        correction.json()["note_id"],
        note["note_id"],
    ]
    assert everything.json()["notes"][1]["superseded_by"] == correction.json()["note_id"]
    found = await harness.client.get(
        f"/cases/{case_id}/notes", params={"q": "june 20th", "include_superseded": "true"}, headers=SUPERVISOR
    )
    assert [n["note_id"] for n in found.json()["notes"]] == [correction.json()["note_id"]]
    events = (await harness.client.get(f"/cases/{case_id}/events", headers=SUPERVISOR)).json()
    assert [e["type"] for e in events].count("collections.case.note_added.v1") == 2  # nothing edited


async def test_a_note_is_shown_to_the_roles_it_names_and_masked_outside_pii_roles(
    harness: CaseHarness,
) -> None:
    case_id = await open_case(harness, "NOTE-2")
    private = await harness.client.post(
        f"/cases/{case_id}/notes",
        json={
            "category": "vulnerability",
            "text": "Carer for her mother; prefers +447700900123 after 6pm.",
            "visible_to": ["supervisor"],
        },
        headers=SUPERVISOR,
    )
    assert private.status_code == 201, private.text
    shared = await harness.client.post(
        f"/cases/{case_id}/notes",
        json={
            "text": "Promised to send payslips; e-mail pat@example.org",
            "visible_to": ["supervisor", "auditor"],
        },
        headers=SUPERVISOR,
    )
    assert shared.status_code == 201
    audited = (await harness.client.get(f"/cases/{case_id}/notes", headers=AUDITOR)).json()["notes"]
    assert [n["note_id"] for n in audited] == [shared.json()["note_id"]]  # the private one is not theirs
    assert "pat@example.org" not in audited[0]["text"] and "p***@example.org" in audited[0]["text"]
    by_category = await harness.client.get(
        f"/cases/{case_id}/notes", params={"category": "vulnerability"}, headers=SUPERVISOR
    )
    assert [n["note_id"] for n in by_category.json()["notes"]] == [private.json()["note_id"]]
    assert "+447700900123" in by_category.json()["notes"][0]["text"]  # a supervisor sees personal data
    integration = bearer(Role.INTEGRATION, "core-banking")
    assert (await harness.client.get(f"/cases/{case_id}/notes", headers=integration)).status_code == 403
    stranger = bearer(Role.COLLECTOR, "col-nobody")
    assert (
        await harness.client.post(f"/cases/{case_id}/notes", json={"text": "x"}, headers=stranger)
    ).status_code == 403
