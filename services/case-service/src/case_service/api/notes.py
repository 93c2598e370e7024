"""/cases/{case_id}/notes: a collector's diary of the case. A note is written once and never edited; a
correction supersedes it (both stay in the case history and the audit trail). Each note names the roles
it is shown to; its text is personal data, masked as the rest of the case for roles outside PII_ROLES."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from case_service.api.cases import _visible_row
from case_service.api.deps import CaseApiDep, CaseWorker, Reader
from case_service.application import commands
from dcp_events.catalogue.cases import CaseNoteAdded, NoteText
from dcp_events.catalogue.enums import NoteAudience, NoteCategory
from dcp_platform.auth import CaseAccess, Principal, Role
from dcp_platform.disclosure import Unmask, UnmaskReason

router = APIRouter(prefix="/cases/{case_id}/notes", tags=["notes"])

EVERYONE = [NoteAudience.COLLECTOR, NoteAudience.SUPERVISOR, NoteAudience.AUDITOR, NoteAudience.ADMIN]


class NoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note_id: str | None = Field(
        default=None, min_length=1, max_length=128, description="Idempotency key; generated if absent."
    )
    category: NoteCategory = NoteCategory.GENERAL
    text: NoteText
    visible_to: list[NoteAudience] = Field(
        default_factory=lambda: list(EVERYONE), min_length=1, description="The roles the note is shown to."
    )
    supersedes: str | None = Field(default=None, min_length=1, max_length=128)


class NoteView(BaseModel):
    note_id: str
    category: NoteCategory
    text: str
    visible_to: list[NoteAudience]
    author: str
    written_at: AwareDatetime
    supersedes: str | None
    superseded_by: str | None


class CaseNotes(BaseModel):
    case_id: str
    notes: list[NoteView]


def _sees(principal: Principal, note: NoteView) -> bool:
    return principal.role is Role.ADMIN or principal.role.value in {a.value for a in note.visible_to}


@router.post("", status_code=201, summary="Write a note on the case (a correction supersedes an earlier one)")
async def add_note(
    case_id: str, body: NoteRequest, principal: CaseWorker, service: CaseApiDep, response: Response
) -> NoteView:
    async with service.engine.connect() as conn:
        await _visible_row(conn, case_id, principal, CaseAccess.ACT)
    note_id = body.note_id or f"note-{uuid.uuid4().hex[:16]}"
    audience = list(dict.fromkeys(body.visible_to))
    if (
        principal.role.value in {a.value for a in NoteAudience}
        and NoteAudience(principal.role.value) not in audience
    ):
        audience.append(NoteAudience(principal.role.value))  # the author always reads what they wrote
    await service.handle(
        commands.AddNote(
            case_id, note_id, body.category, body.text, tuple(audience), principal.subject, body.supersedes
        )
    )
    notes = await _notes(service, case_id)
    response.headers["Location"] = f"/cases/{case_id}/notes/{note_id}"
    return next(n for n in notes if n.note_id == note_id)


@router.get("", summary="The case's notes, newest first (search with q, filter by category)")
async def list_notes(
    case_id: str,
    principal: Reader,
    service: CaseApiDep,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Words the text contains.")
    ] = None,
    category: NoteCategory | None = None,
    include_superseded: bool = False,
    unmask: Unmask = False,
    reason: UnmaskReason = None,
) -> CaseNotes:
    async with service.engine.connect() as conn:
        await _visible_row(conn, case_id, principal)
    reveal = await service.disclosures.reveals(
        principal, case_id, "GET /cases/{case_id}/notes", unmask, reason
    )
    words = [w.casefold() for w in (q or "").split()]
    shown: list[NoteView] = []
    for note in reversed(await _notes(service, case_id)):
        if not _sees(principal, note):
            continue
        if note.superseded_by is not None and not include_superseded:
            continue
        if category is not None and note.category is not category:
            continue
        if words and not all(w in note.text.casefold() for w in words):
            continue  # searched before masking: the words match what was written
        text = service.shown_to(principal, {"note_text": note.text}, reveal=reveal)["note_text"]
        shown.append(note.model_copy(update={"text": text}))
    return CaseNotes(case_id=case_id, notes=shown)


async def _notes(service: CaseApiDep, case_id: str) -> list[NoteView]:
    """The case's notes as written, oldest first, from its stream."""
    async with service.engine.connect() as conn:
        history = await service.store.load(case_id, conn=conn)
    notes: dict[str, NoteView] = {}
    for record in history:
        if record.event_type != CaseNoteAdded.type_name():
            continue
        added = CaseNoteAdded.model_validate(record.payload)
        notes[added.note_id] = NoteView(
            note_id=added.note_id,
            category=added.category,
            text=added.note_text,
            visible_to=added.visible_to,
            author=added.author,
            written_at=record.recorded_at,
            supersedes=added.supersedes,
            superseded_by=None,
        )
        earlier = notes.get(added.supersedes or "")
        if earlier is not None:
            notes[earlier.note_id] = earlier.model_copy(update={"superseded_by": added.note_id})
    return list(notes.values())
