"""/messages: the platform sends e-mail, SMS and letters itself, each on a permit (409 when the gate
refuses, 503 when the channel is down); a case's messages and what their channels reported; the
letters batched into a print file for the letter house."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from contact_service.api import schemas
from contact_service.api.deps import ContactApiDep, Reader, Staff
from contact_service.application import messaging, queries
from contact_service.application.ports import MessageRecord
from contact_service.channels.letter_house import LetterStore
from contact_service.domain.errors import ChannelUnavailable, NothingToPrint
from dcp_events.catalogue.contacts import DeliveryStatus
from dcp_events.catalogue.enums import Channel
from dcp_platform.auth import CaseAccess, Principal, Role, require_roles

router = APIRouter(tags=["messages"])

Managers = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.ADMIN))]
Overseers = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.ADMIN, Role.AUDITOR))]


def channels_of(request: Request) -> messaging.Channels:
    channels: messaging.Channels = request.app.state.channels
    return channels


ChannelsDep = Annotated[messaging.Channels, Depends(channels_of)]


def view(message: MessageRecord) -> schemas.Message:
    return schemas.Message.model_validate(message.__dict__)


@router.post(
    "/messages",
    status_code=201,
    summary="Send an e-mail, SMS or letter on a permit (409: the gate refused; 503: the channel is down)",
    responses={
        409: {"description": "Refused by the compliance gate (ContactBlocked recorded)"},
        503: {"description": "The channel could not take it; nothing was sent"},
    },
)
async def send_message(
    body: schemas.MessageRequest, principal: Staff, api: ContactApiDep, channels: ChannelsDep
) -> schemas.Message:
    breathing = None
    if body.breathing_space_reference and body.breathing_space_start:
        breathing = (body.breathing_space_reference, body.breathing_space_start)
    message = await messaging.send_message(
        api.bus,
        api.read_models,
        api.env,
        channels,
        principal,
        body.case_id,
        Channel(body.channel),
        contact_point=body.contact_point,
        template=body.template,
        breathing_space=breathing,
    )
    return view(message)


@router.get(
    "/cases/{case_id}/messages", summary="The messages sent on a case and what their channels reported"
)
async def case_messages(case_id: str, principal: Reader, api: ContactApiDep) -> schemas.CaseMessages:
    async with api.reading() as reads:
        await queries.known_case(reads, case_id, principal, CaseAccess.READ)
        messages = await reads.messages_of_case(case_id)
    return schemas.CaseMessages(case_id=case_id, messages=[view(m) for m in messages])


@router.get("/messages/summary", summary="Messages per channel and delivery status")
async def message_summary(_principal: Overseers, api: ContactApiDep) -> schemas.MessageSummary:
    async with api.reading() as reads:
        counts = await reads.message_counts()
    by_channel: dict[str, dict[str, int]] = {}
    for (channel, status), n in sorted(counts.items()):
        by_channel.setdefault(channel, {})[status] = n
    return schemas.MessageSummary(by_channel=by_channel)


@router.post(
    "/letters/print-files",
    status_code=201,
    summary="Batch the letters written since the last print file into one for the letter house",
    responses={409: {"description": "No letter is waiting"}},
)
async def make_print_file(
    _principal: Managers, api: ContactApiDep, channels: ChannelsDep
) -> schemas.PrintFileMade:
    store = channels.adapters.get(Channel.LETTER)
    if not isinstance(store, LetterStore):
        raise ChannelUnavailable("the letter channel is not configured here")
    pending = store.pending_letters()
    if not pending:
        raise NothingToPrint("no letter is waiting for a print file")
    batch_id = f"print-{api.env.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    printed = await asyncio.to_thread(store.batch, batch_id, pending)
    for attempt_id in pending:  # handed to the letter house: the channel took them
        await messaging.report_delivery(
            api.bus,
            api.read_models,
            api.env,
            Channel.LETTER,
            DeliveryStatus.DELIVERED,
            f"in print file {printed.path.name} ({printed.sha256[:16]})",
            attempt_id=attempt_id,
        )
    return schemas.PrintFileMade(
        batch_id=batch_id, file=str(printed.path), sha256=printed.sha256, letters=printed.count
    )
