"""The letter channel's store: each letter rendered to PDF under the letters directory (its SHA-256 in
the message record and the delivery event), then batched into print files for the letter house."""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

from contact_service.channels.base import OutboundMessage, Sent
from contact_service.channels.letters import (
    Itemization,
    LetterContext,
    PrintFile,
    RenderedLetter,
    write_letter,
    write_print_file,
)
from contact_service.domain.errors import ChannelUnavailable
from dcp_events.catalogue.enums import Channel


def _context_json(context: LetterContext) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(asdict(context), default=str))
    return data


def _context_of(data: dict[str, Any]) -> LetterContext:
    dates = {
        "letter_date",
        "due_date",
        "validation_period_end",
        "breathing_space_start",
        "dispute_received_on",
    }
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key in dates and value is not None:
            value = date.fromisoformat(value)
        elif key in ("mailing_address", "collector_address") or (
            key == "verification_documents" and value is not None
        ):
            value = tuple(value)
        elif key == "itemization" and value is not None:
            value = Itemization(
                **{**value, "itemization_date": date.fromisoformat(value["itemization_date"])}
            )
        values[key] = value
    return LetterContext(**values)


class LetterStore:
    """Letters on disk: `<dir>/pending/<attempt id>.pdf` (+ its context), moved into a print file."""

    channel = Channel.LETTER

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def pending(self) -> Path:
        return self.directory / "pending"

    async def send(self, message: OutboundMessage) -> Sent:
        letter = message.letter
        if not isinstance(letter, tuple) or not isinstance(letter[1], RenderedLetter):
            raise ChannelUnavailable("no rendered letter to post")
        context, rendered = letter
        try:
            path = await asyncio.to_thread(write_letter, self.pending, message.attempt_id, rendered)
            sidecar = path.with_suffix(".json")
            await asyncio.to_thread(
                sidecar.write_text,
                json.dumps(
                    {
                        "template_id": rendered.template_id,
                        "pages": rendered.page_count,
                        "context": _context_json(context),
                    }
                ),
            )
        except OSError as exc:
            raise ChannelUnavailable(f"the letter store is not writable: {exc}") from exc
        return Sent(path.name, rendered.sha256)

    def pending_letters(self) -> list[str]:
        return sorted(p.stem for p in self.pending.glob("*.pdf"))

    def batch(self, batch_id: str, attempt_ids: list[str]) -> PrintFile:
        """Put the pending letters `attempt_ids` into one print file (`<dir>/print/<batch>.zip`) and
        take them out of pending."""
        entries: list[tuple[str, LetterContext, RenderedLetter]] = []
        for attempt_id in attempt_ids:
            pdf = (self.pending / f"{attempt_id}.pdf").read_bytes()
            meta = json.loads((self.pending / f"{attempt_id}.json").read_text())
            digest = hashlib.sha256(pdf).hexdigest()
            rendered = RenderedLetter(meta["template_id"], "", pdf, digest, int(meta.get("pages", 0)))
            entries.append((attempt_id, _context_of(meta["context"]), rendered))
        printed = write_print_file(self.directory / "print", batch_id, entries)
        for attempt_id in attempt_ids:
            (self.pending / f"{attempt_id}.pdf").unlink(missing_ok=True)
            (self.pending / f"{attempt_id}.json").unlink(missing_ok=True)
        return printed
